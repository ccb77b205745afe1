//! The opening handshake's cases (RFC 6455 §4): the accept key, the 101
//! and its headers, a subprotocol offered, a version the server does not
//! speak, a request without its key, and a request that comes in pieces.
//! Each asks on a connection of its own and reads the response head; a
//! head that never comes is first put to the probe (`Ctx::still_there`).

use super::bugs::{self, Bug};
use super::session::Session;
use super::{case, Area, Case, Ctx, Outcome, Verdict};
use crate::handshake::{self, header, status_line, KEY, SUBPROTOCOL};
use crate::shown::quoted;
use socket_server::dissect;
use socket_server::protocol::accept_key;
use std::time::Duration;

/// How long the request in pieces waits between two pieces: long enough
/// for a server to read each piece apart (the PHP answered the first).
const PAUSE: Duration = Duration::from_millis(100);

pub fn cases() -> Vec<Case> {
    let case = |name, section, rule, run: fn(&Ctx) -> Outcome| {
        case(Area::Handshake, name, section, rule, run)
    };
    vec![
        case(
            "handshake-accept-key",
            "§4.2.2",
            "the 101's Sec-WebSocket-Accept is the base64 of the SHA-1 of our key and the GUID",
            accept,
        ),
        case(
            "handshake-101-headers",
            "§4.2.2",
            "the answer is HTTP/1.1 101 with Upgrade: websocket and Connection: Upgrade",
            headers,
        ),
        case(
            "handshake-subprotocol",
            "§4.2.2",
            "offered the subprotocol chat, the 101 names chat or none: only one that was offered",
            subprotocol,
        ),
        case(
            "handshake-wrong-version",
            "§4.4",
            "a request for version 12 is refused (426 Upgrade Required, or another 4xx) \
             with Sec-WebSocket-Version naming 13",
            wrong_version,
        ),
        case(
            "handshake-missing-key",
            "§4.2.1",
            "a request without Sec-WebSocket-Key is refused with 400 Bad Request (or another 4xx)",
            missing_key,
        ),
        case(
            "handshake-in-pieces",
            "§4.2.1",
            "a request that comes in four pieces, 100 ms apart, is answered once it is whole, with a 101",
            in_pieces,
        ),
    ]
}

/// Send `request` on a new connection; the session and its response head.
/// No head at all is a failure, looking like `unanswered` (the PHP's bug
/// that leaves this one unanswered) once the probe was answered.
fn ask<'c>(
    ctx: &'c Ctx<'c>,
    request: &[u8],
    unanswered: Option<Bug>,
) -> Result<(Session<'c>, String), Verdict> {
    let mut session = ctx.connect()?;
    session.send_head(request);
    match session.read_head() {
        Ok(head) => Ok((session, head)),
        Err(why) => {
            ctx.still_there()?;
            let reason =
                format!("no answer to this request ({why}), though the probe's was answered");
            Err(session.fail_as(reason, unanswered))
        }
    }
}

/// The usual request must be answered with a 101.
fn switched<'c>(
    ctx: &'c Ctx<'c>,
    protocol: Option<&str>,
) -> Result<(Session<'c>, String), Verdict> {
    let (session, head) = ask(ctx, &ctx.request(Some(KEY), protocol, 13), None)?;
    match handshake::status(&head) {
        Some(101) => Ok((session, head)),
        _ => Err(session.fail(format!("the handshake was refused: {}", status_line(&head)))),
    }
}

fn accept(ctx: &Ctx) -> Outcome {
    let (mut session, head) = switched(ctx, None)?;
    let expected = accept_key(KEY);
    let got = header(&head, "Sec-WebSocket-Accept");
    if got == expected.accept {
        return Ok(Verdict::Passed);
    }
    // The arithmetic, done again, for the learner to compare.
    session.block(dissect::accept_key("", &expected));
    let got = if got.is_empty() { "missing" } else { got };
    let why = format!(
        "Sec-WebSocket-Accept is {}, where our key makes it {}",
        quoted(got),
        expected.accept
    );
    Err(session.fail(why))
}

fn headers(ctx: &Ctx) -> Outcome {
    let (session, head) = switched(ctx, None)?;
    let checks = [
        (
            head.starts_with("HTTP/1.1 101 "),
            "the status line is not HTTP/1.1 101",
        ),
        (handshake::upgrades(&head), "Upgrade: websocket is missing"),
        (
            handshake::connection_upgrade(&head),
            "Connection: Upgrade is missing",
        ),
    ];
    let broken: Vec<&str> = checks
        .iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, what)| *what)
        .collect();
    match broken.is_empty() {
        true => Ok(Verdict::Passed),
        false => Err(session.fail(format!("in the 101, {}", broken.join("; ")))),
    }
}

fn subprotocol(ctx: &Ctx) -> Outcome {
    let (session, head) = switched(ctx, Some(SUBPROTOCOL))?;
    match header(&head, "Sec-WebSocket-Protocol") {
        "" | SUBPROTOCOL => Ok(Verdict::Passed),
        other => Err(session.fail(format!(
            "the 101 names the subprotocol {other:?}, which was not offered (only {SUBPROTOCOL:?} was)"
        ))),
    }
}

/// A request refused as §4.2.1 and §4.4 say: a 4xx, and `also` holds of
/// its head (or says what is missing).
fn refused(ctx: &Ctx, request: &[u8], also: impl Fn(&str) -> Option<String>) -> Outcome {
    let (session, head) = ask(ctx, request, Some(bugs::B11))?;
    let why = match handshake::status(&head) {
        Some(101) => "the server accepted it with a 101".to_string(),
        Some(400..=499) => match also(&head) {
            None => return Ok(Verdict::Passed),
            Some(missing) => missing,
        },
        _ => format!("the answer is {}, not a 4xx", status_line(&head)),
    };
    Err(session.fail(why))
}

fn wrong_version(ctx: &Ctx) -> Outcome {
    refused(ctx, &ctx.request(Some(KEY), None, 12), |head| {
        let versions = header(head, "Sec-WebSocket-Version");
        let names_13 = versions.split(',').any(|v| v.trim() == "13");
        (!names_13).then(|| {
            format!(
                "the refusal ({}) does not say which versions the server speaks: \
                 Sec-WebSocket-Version: 13 is missing",
                status_line(head)
            )
        })
    })
}

fn missing_key(ctx: &Ctx) -> Outcome {
    refused(ctx, &ctx.request(None, None, 13), |_| None)
}

/// The usual request in four pieces: the request line and Host; Upgrade
/// and Connection; the key and the version; the empty line. The server
/// must wait for the empty line (RFC 9112 §2.1) before it answers.
fn in_pieces(ctx: &Ctx) -> Outcome {
    let request = String::from_utf8(ctx.usual_request()).expect("our request is text");
    let lines: Vec<&str> = request.split_inclusive("\r\n").collect();
    let pieces = [
        lines[..2].concat(),
        lines[2..4].concat(),
        lines[4..6].concat(),
        lines[6..].concat(),
    ];
    let mut session = ctx.connect()?;
    for (n, piece) in pieces.iter().enumerate() {
        session.send_head(piece.as_bytes());
        if n + 1 < pieces.len() && session.listen(PAUSE) {
            // Something came before the request was whole.
            let answer = match session.read_head() {
                Ok(head) => status_line(&head),
                Err(why) => why,
            };
            let why = format!(
                "the server answered after piece {} of {}, before the request was whole: {answer}",
                n + 1,
                pieces.len()
            );
            return Err(session.fail_as(why, Some(bugs::B8)));
        }
    }
    let head = match session.read_head() {
        Ok(head) => head,
        Err(why) => {
            ctx.still_there()?;
            let why = format!("no answer to the request in pieces ({why}), though the probe's whole request was answered");
            return Err(session.fail_as(why, Some(bugs::B8)));
        }
    };
    match handshake::status(&head) {
        Some(101) if header(&head, "Sec-WebSocket-Accept") == accept_key(KEY).accept => {
            Ok(Verdict::Passed)
        }
        Some(101) => Err(session.fail(
            "the 101 has the wrong Sec-WebSocket-Accept (handshake-accept-key shows the right one)",
        )),
        _ => {
            let why = format!("the request in pieces was refused: {}", status_line(&head));
            Err(session.fail_as(why, Some(bugs::B8)))
        }
    }
}
