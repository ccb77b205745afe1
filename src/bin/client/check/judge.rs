//! How a case judges what came back: an answer awaited, an answer compared
//! with what was sent (`--expect echo`) or only looked at (`--expect
//! reply`), and a connection that must fail with a given close code
//! (§7.1.7). Each failure says what came instead, in words.

use super::bugs::{self, Bug};
use super::session::{Heard, Msg, Session};
use super::{Ctx, Expect, Verdict};
use crate::shown::quoted;
use socket_server::protocol::close;

/// Wait for the server's next message, `what` in the words of the case:
/// a pong nobody asked for (§5.5.3) and a ping of the server's are let by.
pub fn answer(session: &mut Session, ctx: &Ctx, what: &str) -> Result<Msg, Verdict> {
    loop {
        let why = match session.next() {
            Heard::Message(message) => return Ok(message),
            Heard::Ping(_) | Heard::Pong(_) => continue,
            Heard::Silent => return Err(silence(session, ctx, what)),
            other => format!("{} where {what} was due", words(&other)),
        };
        return Err(session.fail(why));
    }
}

/// Nothing whole came in time. If bytes came that make no whole frame,
/// say so; their length field may be the PHP's (B16).
pub fn silence(session: &Session, ctx: &Ctx, what: &str) -> Verdict {
    let pending = session.pending();
    let secs = ctx.seconds();
    if pending.is_empty() {
        return session.fail(format!(
            "nothing came within {secs} while waiting for {what}"
        ));
    }
    let n = pending.len();
    let mut why =
        format!("within {secs}, {n} bytes came that make no whole frame, while waiting for {what}");
    let evidence = bugs::swapped_length(pending);
    if let Some(evidence) = &evidence {
        why += &format!(": {evidence}");
    }
    session.fail_as(why, evidence.map(|_| bugs::B16))
}

/// Is `got` the answer `sent` deserves? With `--expect echo`, the same
/// message. With `--expect reply`, any well-formed one that shows the
/// server had all of `sent`: it holds `sent`, or it is `reference`, the
/// answer to the same message sent in one frame. Otherwise the answer's
/// words cannot say, and the case is not judged.
pub fn compare(
    ctx: &Ctx,
    session: &Session,
    sent: &Msg,
    got: &Msg,
    reference: Option<&Msg>,
) -> Verdict {
    if got.text && std::str::from_utf8(&got.data).is_err() {
        let why = "the answer is a text message that is not UTF-8 (§5.6, §8.1)";
        return session.fail(why);
    }
    match ctx.expect {
        Expect::Echo if got == sent => Verdict::Passed,
        Expect::Echo => session.fail(difference(sent, got)),
        Expect::Reply if holds(&got.data, &sent.data) || reference == Some(got) => Verdict::Passed,
        Expect::Reply => Verdict::NotJudged {
            reason: format!(
                "the answer, {}, does not hold what was sent ({}): with --expect reply, \
                 only that an answer came can be told; an echo (--expect echo) would say more",
                got.words(),
                sent.words()
            ),
            excused: true,
        },
    }
}

/// How an echo differs from what was sent.
fn difference(sent: &Msg, got: &Msg) -> String {
    if sent.text != got.text {
        return format!("{} came back as {}", sent.words(), got.words());
    }
    let same = sent
        .data
        .iter()
        .zip(&got.data)
        .take_while(|(a, b)| a == b)
        .count();
    format!(
        "{} came back as {}: they differ from byte {same} on",
        sent.words(),
        got.words()
    )
}

/// Does `got` hold `sent` anywhere in it? Only where that is cheap to
/// tell: a large message within a far larger answer is not looked for.
pub fn holds(got: &[u8], sent: &[u8]) -> bool {
    if sent.is_empty() {
        return true;
    }
    if got.len() < sent.len() || sent.len() > 4096 && got.len() > sent.len() + 4096 {
        return false;
    }
    got.windows(sent.len()).any(|window| window == sent)
}

/// The next thing must be a close frame with `code`: the server fails the
/// connection, as §7.1.7 says, with the code §7.4.1 gives the rule broken.
/// `text_is` names the bug a text answer looks like: B14, where the PHP
/// answered a ping or a close with text.
pub fn must_close(session: &mut Session, ctx: &Ctx, code: u16, text_is: Option<Bug>) -> Verdict {
    let meaning = close::meaning(code);
    let due = format!("a close frame with {code} ({meaning}) was due");
    let why = match session.next() {
        Heard::Close(payload) if close_code(&payload) == Some(code) => return Verdict::Passed,
        Heard::Close(payload) => format!("the server closed ({}) where {due}", close_words(&payload)),
        Heard::Message(message) => {
            let bug = text_is.filter(|_| message.text);
            let why = format!("the server answered with a message, {}, where {due}", message.words());
            return session.fail_as(why, bug);
        }
        Heard::Pong(data) => format!("the server answered with a pong ({} bytes) where {due}", data.len()),
        Heard::Silent => return silence(session, ctx, &due.replace(" was due", "")),
        Heard::Ended => format!(
            "the server closed the TCP connection with no close frame, where {due} (§7.1.7: it SHOULD send one)"
        ),
        other => format!("{} where {due}", words(&other)),
    };
    session.fail(why)
}

/// The code of a close payload (§5.5.1), if it has one.
pub fn close_code(payload: &[u8]) -> Option<u16> {
    match payload {
        [high, low, ..] => Some(u16::from_be_bytes([*high, *low])),
        _ => None,
    }
}

/// A close payload in words: `code 1002 (protocol error), reason "..."`.
pub fn close_words(payload: &[u8]) -> String {
    match payload {
        [] => "a close frame with no code".into(),
        [_] => "a close frame with a one-byte payload, which §5.5.1 does not allow".into(),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            let reason = quoted(&String::from_utf8_lossy(reason));
            format!("code {code}, {}, reason {reason}", close::meaning(code))
        }
    }
}

/// What the server did, in words, for the rest of `Heard`.
pub fn words(heard: &Heard) -> String {
    match heard {
        Heard::Message(message) => format!("a message, {}", message.words()),
        Heard::Ping(data) => format!("a ping of {} bytes", data.len()),
        Heard::Pong(data) => format!("a pong of {} bytes", data.len()),
        Heard::Close(payload) => format!("the server closed ({})", close_words(payload)),
        Heard::Broken(why) => why.clone(),
        Heard::Silent => "nothing, in time".into(),
        Heard::Ended => "the server closed the TCP connection with no close frame".into(),
        Heard::Failed(e) => format!("the connection failed ({e})"),
        Heard::Full => format!(
            "the server sent more than the {} MiB a case reads",
            super::CAP >> 20
        ),
    }
}
