//! Each inspector event as JSON, from what the protocol kept: a frame
//! dissected as `--trace` dissects it, a request head, the handshake's key
//! worked out, a refusal, a page, and the connection's own events.
//!
//! Like `trace.rs`, these only format: the feed calls them only when an
//! event is to be sent (`Feed::detail`, `Feed::table_event`), so nothing is
//! formatted otherwise. Whatever a peer sent is cut to a few hundred bytes
//! (a frame's payload to what the protocol keeps, `seen::KEPT`; a head to
//! [`HEAD_SHOWN`]) and escaped by `json.rs`.

use super::json::Object;
use crate::protocol::close;
use crate::protocol::connection::{Dropped, Event, State};
use crate::protocol::frame::OpCode;
use crate::protocol::handshake::{Accepted, GUID};
use crate::protocol::http::Refusal;
use crate::protocol::seen::{Direction, Seen, KEPT};

/// How much of a request head an event shows: a browser's is about 600
/// bytes; the parser takes up to 8 KiB.
pub(crate) const HEAD_SHOWN: usize = 1024;

/// One frame, field by field, as RFC 6455 §5.2 draws it: its header's
/// bits, the masking key, the length and the form it took, the payload as
/// sent and unmasked (the first `seen::KEPT` bytes), and what it says.
pub(crate) fn frame(o: &mut Object, id: &str, seen: &Seen) {
    let header = &seen.header;
    let byte = |n: usize| seen.header_bytes.get(n).copied().unwrap_or(0);
    let bit = |mask: u8| u64::from(byte(0) & mask != 0);
    o.str("id", id);
    match seen.direction {
        Direction::In => o.str("dir", "in"),
        Direction::Out => o.str("dir", "out"),
        Direction::ToAll { members } => o.str("dir", "all").num("members", members as u64),
    };
    o.bool("fin", header.fin)
        .num("rsv1", bit(0x40))
        .num("rsv2", bit(0x20))
        .num("rsv3", bit(0x10))
        .num("opcode", header.opcode as u64)
        .str("opname", header.opcode.name())
        .bool("masked", header.mask.is_some());
    match &header.mask {
        Some(key) => o.hex("key", key),
        None => o.null("key"),
    };
    let form = match byte(1) & 0x7f {
        126 => "16-bit",
        127 => "64-bit",
        _ => "7-bit",
    };
    o.num("len", header.payload_len)
        .num("len7", u64::from(byte(1) & 0x7f))
        .str("form", form)
        .hex("header", &seen.header_bytes)
        .hex("wire", excerpt(&seen.wire))
        .hex("plain", excerpt(&seen.plain));
    meaning(o, seen);
}

/// The first [`KEPT`] bytes: what an event shows of a payload (the trace
/// keeps more of a compressed frame, to read its blocks).
fn excerpt(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(KEPT)]
}

/// What the payload says: text, a close code and reason, ping data, or
/// that it is compressed (and, on a compressed message's last frame, what
/// it inflates to).
fn meaning(o: &mut Object, seen: &Seen) {
    // RSV1 is set on a compressed message's first frame only (RFC 7692 §6.1).
    let compressed = seen.compressed() || seen.deflated;
    if compressed {
        o.bool("compressed", true);
    }
    if let Some((inflated, total)) = &seen.inflated {
        o.text("inflated", excerpt(inflated))
            .num("inflated_len", *total as u64);
        return;
    }
    match seen.header.opcode {
        OpCode::Close => match seen.plain.as_slice() {
            [high, low, reason @ ..] => {
                let code = u16::from_be_bytes([*high, *low]);
                o.num("code", u64::from(code))
                    .str("code_means", close::meaning(code))
                    .text("reason", reason);
            }
            _ => {
                o.null("code");
            }
        },
        OpCode::Ping | OpCode::Pong => {
            o.text("data", &seen.plain);
        }
        OpCode::Text | OpCode::Continuation if seen.text && !compressed => {
            o.text("text", excerpt(&seen.plain));
        }
        _ => {}
    }
}

/// A request head as it came (or the first bytes of one that was no
/// request), cut to [`HEAD_SHOWN`].
pub(crate) fn request(o: &mut Object, id: &str, head: &[u8], refusal: Option<&Refusal>) {
    let shown = &head[..head.len().min(HEAD_SHOWN)];
    o.str("id", id)
        .num("bytes", head.len() as u64)
        .text("head", shown)
        .bool("cut", shown.len() < head.len());
    if let Some(refusal) = refusal {
        o.num("status", u64::from(refusal.status))
            .str("reason", refusal.reason);
    }
}

/// The handshake done: `Sec-WebSocket-Accept` worked out step by step
/// (RFC 6455 §4.2.2 step 5.4), and the 101 we answered.
pub(crate) fn handshake(o: &mut Object, id: &str, accepted: &Accepted) {
    let key = &accepted.accept_key;
    let client_key = key.key_and_guid.strip_suffix(GUID).unwrap_or("");
    o.str("id", id)
        .str("key", client_key)
        .str("guid", GUID)
        .str("key_guid", &key.key_and_guid)
        .hex("sha1", &key.sha1)
        .str("accept", &key.accept)
        .opt_str("subprotocol", accepted.subprotocol)
        .bool("deflate", accepted.deflate.is_some())
        .text("response", &accepted.response);
}

/// A refusal: its status, its reason, and the whole response.
pub(crate) fn refused(o: &mut Object, id: &str, refusal: &Refusal, response: &[u8]) {
    o.str("id", id)
        .num("status", u64::from(refusal.status))
        .str("reason", refusal.reason)
        .text("response", response);
}

/// A plain GET answered: a page from `www/`.
pub(crate) fn page(o: &mut Object, id: &str, method: &str, target: &str, status: u16) {
    let target = &target[..floor_char_boundary(target, HEAD_SHOWN)];
    o.str("id", id)
        .str("method", method)
        .str("target", target)
        .num("status", u64::from(status));
}

/// The largest `n <= at` that is a character boundary of `text`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|&n| text.is_char_boundary(n))
        .unwrap_or(0)
}

/// Is this event part of the table's story (a close, a timeout, a drop:
/// at most a few in a connection's life), rather than a detail that may be
/// sampled away (a ping answered, a pong)?
pub(crate) fn is_table_event(event: &Event) -> bool {
    !matches!(event, Event::Ponged | Event::PongCame | Event::LateMessage)
}

/// One of the connection's events, in a word (`what`) and its details.
/// (A message is not one: its frames are shown; nor is a request head:
/// [`request`].)
pub(crate) fn event(o: &mut Object, id: &str, event: &Event) {
    o.str("id", id);
    match event {
        Event::Pinged => o.str("what", "ping").str("detail", "idle: we sent a ping"),
        Event::Ponged => o
            .str("what", "pong")
            .str("detail", "a ping came: we answered"),
        Event::PongCame => o.str("what", "pong-came").str("detail", "a pong came"),
        Event::LateMessage => o
            .str("what", "late")
            .str("detail", "a message after our close frame: not answered"),
        Event::PeerClosed(frame) => o
            .str("what", "peer-closed")
            .opt_num("code", frame.code.map(u64::from))
            .str("reason", &frame.reason),
        Event::Failed(violation) => o
            .str("what", "failed")
            .num("code", u64::from(violation.close_code()))
            .str("detail", &violation.to_string()),
        Event::Closing(code, reason) => o
            .str("what", "closing")
            .num("code", u64::from(*code))
            .str("reason", reason),
        Event::Hangup { handshaken } => o.str("what", "hangup").str(
            "detail",
            match handshaken {
                false => "left before its handshake was done",
                true => "closed TCP without a close frame (1006)",
            },
        ),
        Event::Dropped(why) => o
            .str("what", "dropped")
            .bool("timeout", is_timeout(why))
            .str("detail", &why.to_string()),
        Event::Request(..) | Event::BadRequest(..) | Event::Message(_) => o.str("what", "other"),
        Event::Joined | Event::Left => o.str("what", "other"),
    };
}

/// Is it one of the events [`event`] tells?
pub(crate) fn is_told(event: &Event) -> bool {
    !matches!(
        event,
        Event::Request(..)
            | Event::BadRequest(..)
            | Event::Message(_)
            | Event::Joined
            | Event::Left
    )
}

/// Was it dropped because a timer ran out?
fn is_timeout(why: &Dropped) -> bool {
    matches!(
        why,
        Dropped::NoHandshake(_) | Dropped::NoPong | Dropped::NoCloseReply(_) | Dropped::NotReading
    )
}

/// A state in a word, as the page shows it.
pub(crate) fn state_name(state: State) -> &'static str {
    match state {
        State::Handshaking { .. } => "handshaking",
        State::Open { .. } => "open",
        State::Closing { .. } => "closing",
        State::Flushing { .. } => "flushing",
        State::Lingering { .. } => "lingering",
        State::Gone => "gone",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::parse_header;
    use crate::server::inspect::json::tests::object;

    /// RFC 6455 §5.7's masked "Hello", as the reader keeps it.
    #[test]
    fn the_rfcs_masked_hello() {
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let header = parse_header(&bytes, true).unwrap().unwrap();
        let mut seen = Seen::incoming(header, &bytes[..6], true);
        seen.wire = bytes[6..].to_vec();
        seen.plain = b"Hello".to_vec();
        let text = object(|o| frame(o, "abc", &seen));
        assert_eq!(
            text,
            r#"{"id":"abc","dir":"in","fin":true,"rsv1":0,"rsv2":0,"rsv3":0,"opcode":1,"opname":"text","masked":true,"key":"37 fa 21 3d","len":5,"len7":5,"form":"7-bit","header":"81 85 37 fa 21 3d","wire":"7f 9f 4d 51 58","plain":"48 65 6c 6c 6f","text":"Hello"}"#
        );
    }

    #[test]
    fn a_close_we_send_and_a_room_frame() {
        let close = Seen::outgoing(OpCode::Close, b"\x03\xe8bye");
        let text = object(|o| frame(o, "x", &close));
        assert!(text.contains(r#""dir":"out","fin":true"#), "{text}");
        assert!(text.contains(r#""masked":false,"key":null"#), "{text}");
        assert!(text.contains(r#""code":1000,"code_means":"normal closure","reason":"bye""#));
        let mut bytes = vec![0x81, 126, 0x01, 0x00];
        bytes.extend([b'a'; 256]);
        let all = Seen::to_all(&bytes, 3).unwrap();
        let text = object(|o| frame(o, "x", &all));
        assert!(text.contains(r#""dir":"all","members":3"#), "{text}");
        assert!(text.contains(r#""len":256,"len7":126,"form":"16-bit","header":"81 7e 01 00""#));
        // The payload is cut to what the protocol keeps.
        assert!(text.contains(&format!(r#""text":"{}""#, "a".repeat(125))));
    }

    #[test]
    fn a_head_is_cut_and_a_target_too() {
        let head = vec![b'q'; 5000];
        let text = object(|o| request(o, "x", &head, None));
        assert!(text.contains(r#""bytes":5000"#) && text.contains(r#""cut":true"#));
        assert_eq!(text.matches('q').count(), HEAD_SHOWN);
        let target = "é".repeat(1000);
        let text = object(|o| page(o, "x", "GET", &target, 404));
        assert_eq!(text.matches('é').count(), HEAD_SHOWN / 2);
    }

    #[test]
    fn the_key_worked_out() {
        let key = crate::protocol::handshake::accept_key("dGhlIHNhbXBsZSBub25jZQ==");
        let accepted = Accepted {
            response: b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec(),
            subprotocol: None,
            deflate: None,
            accept_key: key,
        };
        let text = object(|o| handshake(o, "x", &accepted));
        assert!(
            text.contains(r#""key":"dGhlIHNhbXBsZSBub25jZQ==""#),
            "{text}"
        );
        assert!(text.contains(r#""accept":"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=""#));
        assert!(text
            .contains(r#""sha1":"b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea""#));
    }
}
