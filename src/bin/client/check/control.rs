//! The cases about control frames (RFC 6455 §5.5): a ping and its pong, a
//! pong nobody asked for, a ping too long to be one, the closing handshake
//! from our side, and close frames whose code or payload no endpoint may
//! send (§7.4), each of which fails the connection with 1002.

use super::bugs;
use super::data::{frame_of, HELLO};
use super::judge::{answer, close_code, close_words, compare, holds, must_close, silence, words};
use super::session::{Heard, Msg};
use super::{case, Area, Case, Ctx, Outcome, Verdict};
use crate::frames::masked;
use socket_server::protocol::close;
use socket_server::protocol::frame::OpCode;

/// Close codes no close frame may carry (§7.4.1, §7.4.2): one from each
/// range, and each code §7.4.1 keeps for an endpoint's own reports.
const BAD_CODES: [(u16, &str, &str); 8] = [
    (0, "§7.4.2", "0-999 are not used"),
    (999, "§7.4.2", "0-999 are not used"),
    (1004, "§7.4.1", "1004 is reserved"),
    (
        1005,
        "§7.4.1",
        "1005 only reports that no code came, and is never sent",
    ),
    (
        1006,
        "§7.4.1",
        "1006 only reports a connection lost, and is never sent",
    ),
    (
        1015,
        "§7.4.1",
        "1015 only reports a failed TLS handshake, and is never sent",
    ),
    (1016, "§7.4.2", "1016-2999 are kept for later RFCs"),
    (2999, "§7.4.2", "1016-2999 are kept for later RFCs"),
];

pub fn cases() -> Vec<Case> {
    let case = |name, section, rule, run: fn(&Ctx) -> Outcome| {
        case(Area::Control, name, section, rule, run)
    };
    let mut cases = vec![
        case(
            "ping-pong",
            "§5.5.2",
            "a ping is answered with a pong that carries the same data",
            ping_pong,
        ),
        case(
            "unsolicited-pong",
            "§5.5.3",
            "a pong nobody asked for needs no answer: the next message is answered as usual",
            unsolicited_pong,
        ),
        case(
            "ping-over-125",
            "§5.5",
            "a ping of 126 bytes (a control frame carries at most 125) fails the connection with 1002",
            ping_over_125,
        ),
        case(
            "close-handshake",
            "§5.5.1",
            "a close with 1000 is answered with a close (1000, or no code), then the server \
             closes the TCP connection first (§7.1.1)",
            close_handshake,
        ),
    ];
    for (code, section, why) in BAD_CODES {
        let rule = format!("a close with code {code} ({why}) fails the connection with 1002");
        let run = move |ctx: &Ctx| bad_close(ctx, &code.to_be_bytes());
        cases.push(super::case(
            Area::Control,
            format!("close-code-{code}"),
            section,
            rule,
            run,
        ));
    }
    cases.push(case(
        "close-payload-1-byte",
        "§5.5.1",
        "a close whose payload is one byte (a code takes two) fails the connection with 1002",
        |ctx| bad_close(ctx, &[0x03]),
    ));
    cases
}

fn ping_pong(ctx: &Ctx) -> Outcome {
    let mut session = ctx.websocket()?;
    let data = b"Hello, ping";
    session.send(&masked(OpCode::Ping, data));
    let why = match session.next() {
        Heard::Pong(pong) if pong == data => return Ok(Verdict::Passed),
        Heard::Pong(pong) => format!(
            "the pong carries {} bytes that are not the ping's",
            pong.len()
        ),
        Heard::Message(message) if message.text => {
            let why = format!(
                "the ping was answered with a text message, {}, not a pong",
                message.words()
            );
            return Err(session.fail_as(why, Some(bugs::B14)));
        }
        Heard::Silent => return Err(silence(&session, ctx, "the pong")),
        other => format!("{} where the pong was due", words(&other)),
    };
    Err(session.fail(why))
}

fn unsolicited_pong(ctx: &Ctx) -> Outcome {
    let mut session = ctx.websocket()?;
    session.send(&masked(OpCode::Pong, b"unasked"));
    let sent = Msg::of_text(HELLO);
    session.send(&frame_of(&sent));
    let got = answer(
        &mut session,
        ctx,
        "the answer to the message after the pong",
    )?;
    if holds(&got.data, b"unasked") {
        let why = format!("the pong was answered as a message: {}", got.words());
        return Err(session.fail(why));
    }
    Ok(compare(ctx, &session, &sent, &got, None))
}

fn ping_over_125(ctx: &Ctx) -> Outcome {
    let mut session = ctx.websocket()?;
    session.send(&masked(OpCode::Ping, &[b'p'; 126]));
    Ok(must_close(&mut session, ctx, 1002, Some(bugs::B14)))
}

/// We start the closing handshake (§7.1.2): the server answers with its
/// own close (§5.5.1), sends nothing after it, and then, as the server,
/// closes the TCP connection first (§7.1.1).
fn close_handshake(ctx: &Ctx) -> Outcome {
    let mut session = ctx.websocket()?;
    session.send(&masked(OpCode::Close, &close::payload(1000, "bye")));
    let due = "where a close frame was due";
    let why = match session.next() {
        Heard::Close(payload)
            if matches!(close_code(&payload), Some(1000) | None) && payload.len() != 1 =>
        {
            return Ok(match session.end() {
                Ok(()) => Verdict::Passed,
                Err(why) => session.fail(format!(
                    "after its close frame, the server did not close the TCP connection: {why}"
                )),
            });
        }
        Heard::Close(payload) => format!("the server answered 1000 with {}", close_words(&payload)),
        Heard::Message(message) if message.text => {
            let why = format!(
                "the close was answered with a text message, {}, {due}",
                message.words()
            );
            return Err(session.fail_as(why, Some(bugs::B14)));
        }
        Heard::Silent => return Err(silence(&session, ctx, "the server's close frame")),
        other => format!("{} {due}", words(&other)),
    };
    Err(session.fail(why))
}

/// A close frame whose payload is `payload`, which no endpoint may send:
/// the server fails the connection with 1002 (§7.1.7), not an echo.
fn bad_close(ctx: &Ctx, payload: &[u8]) -> Outcome {
    let mut session = ctx.websocket()?;
    session.send(&masked(OpCode::Close, payload));
    Ok(must_close(&mut session, ctx, 1002, Some(bugs::B14)))
}
