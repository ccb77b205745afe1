//! The cases about fragmented messages (RFC 6455 §5.4): a message in
//! three frames is one message, answered once and whole; a ping between
//! its frames is answered at once; a continuation frame with no message
//! begun fails the connection.

use super::data::{frame_of, HELLO};
use super::judge::{answer, compare, holds, must_close, silence, words};
use super::session::{Heard, Msg};
use super::{case, Area, Case, Ctx, Outcome, Verdict};
use crate::frames::{client_frame, MASK};
use socket_server::protocol::frame::OpCode;
use std::thread::sleep;
use std::time::Duration;

/// The pause between two frames of a message: each is read apart.
const PAUSE: Duration = Duration::from_millis(20);

pub fn cases() -> Vec<Case> {
    let case = |name, section, rule, run: fn(&Ctx) -> Outcome| {
        case(Area::Fragments, name, section, rule, run)
    };
    vec![
        case(
            "fragmented-message",
            "§5.4",
            "a text message in three frames is one message: answered once, whole",
            fragmented,
        ),
        case(
            "ping-between-fragments",
            "§5.4",
            "a ping between the frames of a message is answered with its pong at once, \
             and the message after its last frame",
            ping_between,
        ),
        case(
            "continuation-alone",
            "§5.4",
            "a continuation frame with no message to continue fails the connection with 1002",
            continuation_alone,
        ),
    ]
}

/// A frame of a message in pieces: the first is text, the rest
/// continuations; only the last has FIN set.
fn piece(first: bool, last: bool, text: &str) -> Vec<u8> {
    let opcode = if first {
        OpCode::Text
    } else {
        OpCode::Continuation
    };
    client_frame(opcode, last, text.as_bytes(), Some(MASK))
}

fn fragmented(ctx: &Ctx) -> Outcome {
    let mut session = ctx.websocket()?;
    let pieces = ["Hello, ", "frag", "mented"];
    for (n, text) in pieces.iter().enumerate() {
        session.send(&piece(n == 0, n + 1 == pieces.len(), text));
        sleep(PAUSE);
    }
    // Then another message: what answers it shows whether the first was
    // answered once, or once a piece.
    let after = Msg::of_text(HELLO);
    session.send(&frame_of(&after));
    let whole = Msg::of_text(&pieces.concat());
    let got = answer(&mut session, ctx, "the answer to the fragmented message")?;
    if holds(&got.data, pieces[0].as_bytes()) && !holds(&got.data, &whole.data) {
        let why = format!(
            "the answer, {}, is to the first frame alone: a message is its frames joined",
            got.words()
        );
        return Err(session.fail(why));
    }
    match compare(ctx, &session, &whole, &got, None) {
        Verdict::Passed => {}
        verdict => return Err(verdict),
    }
    let got = answer(&mut session, ctx, "the answer to the message after it")?;
    if holds(&got.data, pieces[2].as_bytes()) {
        let why = format!("the next answer, {}, is to a piece again", got.words());
        return Err(session.fail(why));
    }
    Ok(compare(ctx, &session, &after, &got, None))
}

fn ping_between(ctx: &Ctx) -> Outcome {
    let mut session = ctx.websocket()?;
    session.send(&piece(true, false, "Hello, "));
    sleep(PAUSE);
    let data = b"in between";
    session.send(&client_frame(OpCode::Ping, true, data, Some(MASK)));
    // §5.5.2: the pong comes "as soon as is practical", here before the
    // message's last frame is even sent.
    let why = match session.next() {
        Heard::Pong(pong) if pong == data => None,
        Heard::Pong(pong) => Some(format!(
            "the pong carries {} bytes, not the ping's ({})",
            pong.len(),
            data.len()
        )),
        Heard::Silent => {
            return Err(silence(
                &session,
                ctx,
                "the pong to a ping between two frames",
            ))
        }
        Heard::Message(message) => Some(format!(
            "a message came where the pong was due, {}: the first frame was answered alone",
            message.words()
        )),
        other => Some(format!("{} where the pong was due", words(&other))),
    };
    if let Some(why) = why {
        return Err(session.fail(why));
    }
    session.send(&piece(false, true, "fragments"));
    let whole = Msg::of_text("Hello, fragments");
    let got = answer(
        &mut session,
        ctx,
        "the answer to the message the ping came within",
    )?;
    Ok(compare(ctx, &session, &whole, &got, None))
}

fn continuation_alone(ctx: &Ctx) -> Outcome {
    let mut session = ctx.websocket()?;
    session.send(&piece(false, true, "orphan"));
    Ok(must_close(&mut session, ctx, 1002, None))
}
