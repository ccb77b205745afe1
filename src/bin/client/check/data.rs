//! The cases about data frames (RFC 6455 §5.2, §5.6): text and binary
//! messages at the lengths where §5.2's three length forms meet, two
//! frames in one write, a frame a byte at a time, and many clients at once.
//! Each message is one frame, masked as a client must (§5.3).

use super::bugs;
use super::judge::{answer, compare};
use super::session::{Msg, Session};
use super::{case, Area, Case, Ctx, Expect, Outcome, Verdict};
use crate::frames::masked;
use socket_server::protocol::frame::OpCode;
use std::time::Duration;

/// The lengths where a length form ends or begins (§5.2): 7 bits up to
/// 125, 16 bits from 126 to 65535, 64 bits from 65536; and 1 MiB.
const LENGTHS: [(usize, &str); 6] = [
    (0, "0"),
    (125, "125"),
    (126, "126"),
    (65535, "65535"),
    (65536, "65536"),
    (1 << 20, "1MiB"),
];
/// How many clients are connected at once in `many-clients`.
const CLIENTS: usize = 20;
/// What one of them may read: its answer is a few bytes.
const CLIENT_CAP: usize = 64 * 1024;
/// The pause between two bytes of a frame sent a byte at a time: enough
/// for each to be read on its own.
const BYTE_PAUSE: Duration = Duration::from_millis(10);
/// The message the cases send when its content does not matter. Not one
/// of the tutorial's commands, so that its answer repeats it.
pub const HELLO: &str = "Hello, server";

pub fn cases(expect: Expect) -> Vec<Case> {
    let answered = match expect {
        Expect::Echo => "comes back the same",
        Expect::Reply => "is answered",
    };
    let mut cases = length_cases(answered);
    let case = |name, section, rule: String, run: fn(&Ctx) -> Outcome| {
        case(Area::Data, name, section, rule, run)
    };
    cases.push(case(
        "two-frames-one-write",
        "§5.2",
        format!("two messages sent in one write are two messages: each {answered}"),
        two_frames,
    ));
    cases.push(case(
        "frame-byte-by-byte",
        "§5.2",
        format!("a message whose frame comes one byte at a time {answered}"),
        byte_by_byte,
    ));
    // No section of RFC 6455 says a server serves more than one client:
    // every server does, and the PHP did not (B4).
    let mut many = case(
        "many-clients",
        "",
        format!("{CLIENTS} clients connected at once: each one's message {answered}"),
        many_clients,
    );
    many.section = None;
    many.long = true;
    cases.push(many);
    cases
}

/// A text message and a binary one at each of [`LENGTHS`]: the length
/// forms are §5.2's; binary data, whatever its bytes, is §5.6's.
fn length_cases(answered: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for (text, kind, section) in [(true, "text", "§5.2"), (false, "binary", "§5.6")] {
        for (length, name) in LENGTHS {
            let form = match length {
                0..=125 => "the 7-bit length",
                126..=65535 => "126 and a 16-bit length",
                _ => "127 and a 64-bit length",
            };
            let rule = format!("a {kind} message of {length} bytes ({form}) {answered}");
            let run = move |ctx: &Ctx| one_message(ctx, message(text, length));
            let mut one = case(Area::Data, format!("{kind}-{name}"), section, rule, run);
            one.long = length > 65535;
            cases.push(one);
        }
    }
    cases
}

/// A message of `length` bytes: letters for text (valid UTF-8, and a shift
/// or a cut shows), every byte value in turn for binary.
fn message(text: bool, length: usize) -> Msg {
    let data = match text {
        true => (0..length).map(|i| b'a' + (i % 26) as u8).collect(),
        false => (0..length).map(|i| i as u8).collect(),
    };
    Msg { text, data }
}

/// Our one frame of `message`.
pub fn frame_of(message: &Msg) -> Vec<u8> {
    let opcode = if message.text {
        OpCode::Text
    } else {
        OpCode::Binary
    };
    masked(opcode, &message.data)
}

fn one_message(ctx: &Ctx, sent: Msg) -> Outcome {
    let mut session = ctx.websocket()?;
    session.send(&frame_of(&sent));
    let got = answer(&mut session, ctx, "the answer")?;
    Ok(compare(ctx, &session, &sent, &got, None))
}

/// Send `HELLO` alone and judge its answer: what the same message, in one
/// frame of its own, is answered with. The cases that then send it
/// otherwise compare their answers with this one.
fn first_answer(ctx: &Ctx, session: &mut Session) -> Result<Msg, Verdict> {
    let sent = Msg::of_text(HELLO);
    session.send(&frame_of(&sent));
    let got = answer(session, ctx, "the answer to a first message")?;
    match compare(ctx, session, &sent, &got, None) {
        Verdict::Passed => Ok(got),
        verdict => Err(verdict),
    }
}

/// Two frames in one write: two answers. The PHP read them as one frame
/// and answered once, the second frame garbled into the first (B14).
fn two_frames(ctx: &Ctx) -> Outcome {
    let mut session = ctx.websocket()?;
    let reference = first_answer(ctx, &mut session)?;
    let sent = Msg::of_text(HELLO);
    session.send(&[frame_of(&sent), frame_of(&sent)].concat());
    session.note("(the two frames above went in one write)".into());
    for n in ["first", "second"] {
        let got = answer(&mut session, ctx, &format!("the {n} of two answers"))?;
        if bugs::merged(&reference.data, &got.data) {
            let why = format!(
                "one answer of {} bytes that begins as the answer to one message ({} bytes) \
                 and goes on: the two frames were read as one",
                got.data.len(),
                reference.data.len()
            );
            return Err(session.fail_as(why, Some(bugs::B14)));
        }
        match compare(ctx, &session, &sent, &got, Some(&reference)) {
            Verdict::Passed => {}
            verdict => return Err(verdict),
        }
    }
    Ok(Verdict::Passed)
}

/// One frame, a byte at a time, each on its own write: the server must
/// wait for the whole frame, however it comes (§5.2 says where it ends).
fn byte_by_byte(ctx: &Ctx) -> Outcome {
    let mut session = ctx.websocket()?;
    let reference = first_answer(ctx, &mut session)?;
    let sent = Msg::of_text(HELLO);
    for byte in frame_of(&sent) {
        session.send(&[byte]);
        std::thread::sleep(BYTE_PAUSE);
    }
    let got = answer(
        &mut session,
        ctx,
        "the answer to the frame sent a byte at a time",
    )?;
    if bugs::cut_short(&reference.data, &got.data) {
        let why = format!(
            "the answer, {}, is only the start of the answer the same message gets in one \
             piece, {}: the frame was answered before all of it came",
            got.words(),
            reference.words()
        );
        return Err(session.fail_as(why, Some(bugs::B14)));
    }
    Ok(compare(ctx, &session, &sent, &got, Some(&reference)))
}

/// Many clients connected together, each handshaken, each sending one
/// message, each answered: the PHP served one (B4).
fn many_clients(ctx: &Ctx) -> Outcome {
    let mut sessions = Vec::new();
    for _ in 0..CLIENTS {
        sessions.push(ctx.connect_capped(CLIENT_CAP)?);
    }
    for session in &mut sessions {
        session.send_head(&ctx.usual_request());
    }
    for (n, session) in sessions.iter_mut().enumerate() {
        let client = format!("client {} of {CLIENTS}", n + 1);
        match session.read_head() {
            Ok(head) if crate::handshake::status(&head) == Some(101) => {}
            Ok(head) => {
                let line = crate::handshake::status_line(&head);
                return Err(session.fail(format!("{client} was refused: {line}")));
            }
            Err(why) => {
                ctx.still_there()?;
                return Err(
                    session.fail(format!("{client} got no answer to its handshake ({why})"))
                );
            }
        }
    }
    let sent: Vec<Msg> = (1..=CLIENTS)
        .map(|n| Msg::of_text(&format!("Hello from client {n}")))
        .collect();
    for (session, message) in sessions.iter_mut().zip(&sent) {
        session.send(&frame_of(message));
    }
    for (n, (session, message)) in sessions.iter_mut().zip(&sent).enumerate() {
        let got = answer(
            session,
            ctx,
            &format!("the answer to client {} of {CLIENTS}", n + 1),
        )?;
        match compare(ctx, session, message, &got, None) {
            Verdict::Passed => {}
            verdict => return Err(verdict),
        }
    }
    Ok(Verdict::Passed)
}
