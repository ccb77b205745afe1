//! `--trace`: every byte of a connection, dissected for people.
//!
//! Off by default. With `--trace`, each client's request head, the accept
//! key worked out step by step, the response, and every frame in both
//! directions go to the log, one block each, at TRACE level under the
//! target `socket_server::trace`. A frame's block draws its first two bytes
//! the way RFC 6455 §5.2 draws a frame header, with the values in the
//! boxes, and then says in words what each field means.
//!
//! The functions here only format: they take what the protocol kept
//! (`protocol/seen.rs`) or the record read, and return the text of one
//! block. The record calls them only when
//! tracing is on, so nothing is formatted otherwise. Anything the peer sent
//! goes through `console::escape`, so a trace cannot forge a log line.

use crate::protocol::close;
use crate::protocol::frame::{Header, OpCode};
use crate::protocol::handshake::AcceptKey;
use crate::protocol::seen::{Direction, Seen};
use crate::server::console::{escape, escape_up_to};

/// How many bytes of a frame or payload are shown in hex.
pub const SHOWN_HEX: usize = 16;

/// A request head as received, or a response as sent: one line each, with
/// the line ends shown (`\r\n`), and then the body, if it is short.
pub fn http(id: &str, what: &str, bytes: &[u8]) -> String {
    let head_len = find(bytes, b"\r\n\r\n").map_or(bytes.len(), |at| at + 4);
    let (head, body) = bytes.split_at(head_len);
    let mut block = format!("[{id}] {what}, {} bytes:", bytes.len());
    for line in head.split_inclusive(|&b| b == b'\n') {
        block.push_str(&format!("\n{}", escape_up_to(line, line.len())));
    }
    match body.len() {
        0 => {}
        1..=200 => block.push_str(&format!("\n{}", escape(body))),
        n => block.push_str(&format!("\n({n} bytes of body)")),
    }
    block
}

/// How `Sec-WebSocket-Accept` was worked out (RFC 6455 §4.2.2 step 5.4).
pub fn accept_key(id: &str, key: &AcceptKey) -> String {
    format!(
        "[{id}] Sec-WebSocket-Accept, worked out (RFC 6455 §4.2.2):\
         \nkey + GUID: {}\
         \nSHA-1:      {}\
         \nbase64:     {}",
        escape(key.key_and_guid.as_bytes()),
        key.sha1
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        key.accept
    )
}

/// One frame, drawn as RFC 6455 §5.2 draws a frame header, then in words.
pub fn frame(id: &str, seen: &Seen) -> String {
    let header = &seen.header;
    let total = header.header_len as u64 + header.payload_len;
    let way = match seen.direction {
        Direction::In => "in".to_string(),
        Direction::Out => "out".to_string(),
        Direction::ToAll { members } => format!("out to all {members} members"),
    };
    let mut first = seen.header_bytes.clone();
    first.extend_from_slice(&seen.wire[..seen.wire.len().min(SHOWN_HEX)]);
    let mut block = format!(
        "[{id}] frame {way}, {total} bytes: {}",
        hex(&first, total as usize)
    );
    block.push_str(&diagram(seen));
    block.push_str(&fields(seen));
    block
}

/// The §5.2 boxes for the first two bytes, and the extended length if the
/// frame has one.
fn diagram(seen: &Seen) -> String {
    let header = &seen.header;
    let bits = |mask: u8| u8::from(seen.header_bytes[0] & mask != 0);
    let masked = u8::from(header.mask.is_some());
    let seven = seen.header_bytes[1] & 0x7F;
    // The extended length, if there is one, gets the next 32-bit column.
    let extension: [String; 6] = match seven {
        126 | 127 => [
            "-------------------------------+".to_string(),
            "    Extended payload length    |".to_string(),
            format!("{:^31}|", if seven == 126 { "(16)" } else { "(64)" }),
            format!("{:31}|", ""),
            format!("{:31}|", ""),
            format!("{:^31}|", header.payload_len),
        ],
        _ => Default::default(),
    };
    let [border, name1, name2, name3, name4, values] = &extension;
    let line = format!("\n+-+-+-+-+-------+-+-------------+{border}");
    let mut text = line.clone();
    text.push_str(&format!("\n|F|R|R|R| opcode|M| Payload len |{name1}"));
    text.push_str(&format!("\n|I|S|S|S|  (4)  |A|     (7)     |{name2}"));
    text.push_str(&format!("\n|N|V|V|V|       |S|             |{name3}"));
    text.push_str(&format!("\n| |1|2|3|       |K|             |{name4}"));
    text.push_str(&line);
    text.push_str(&format!(
        "\n|{}|{}|{}|{}|{:^7}|{}|{:^13}|{values}",
        bits(0x80),
        bits(0x40),
        bits(0x20),
        bits(0x10),
        format!("{:#x}", header.opcode as u8),
        masked,
        seven
    ));
    text.push_str(&line);
    text
}

/// Each field in words, then the payload.
fn fields(seen: &Seen) -> String {
    let header = &seen.header;
    let mut text = String::new();
    let fin = match header.fin {
        true => "FIN 1: the last frame of its message",
        false => "FIN 0: more frames of this message follow",
    };
    text.push_str(&format!("\n{fin}"));
    text.push_str(&format!(
        "\nopcode {:#x}: {}",
        header.opcode as u8,
        opcode_name(header.opcode)
    ));
    if seen.compressed() {
        text.push_str("\nRSV1 1: compressed, permessage-deflate (RFC 7692 §6)");
    }
    match header.mask {
        Some(key) => text.push_str(&format!("\nMASK 1: masking key {}", hex(&key, 4))),
        None => text.push_str("\nMASK 0: not masked (a server never masks, §5.1)"),
    }
    let length_bytes = &seen.header_bytes[2..seen.header_bytes.len() - mask_len(header)];
    let form = match length_bytes.len() {
        0 => "in the 7-bit form".to_string(),
        2 => format!("in the 16-bit form: 126, then {}", hex(length_bytes, 2)),
        _ => format!("in the 64-bit form: 127, then {}", hex(length_bytes, 8)),
    };
    text.push_str(&format!("\npayload length {}, {form}", header.payload_len));
    let total = header.payload_len as usize;
    if header.payload_len == 0 {
        // Nothing more to show.
    } else if header.mask.is_some() {
        text.push_str(&format!("\npayload as sent: {}", hex(&seen.wire, total)));
        text.push_str(&format!("\nunmasked:        {}", hex(&seen.plain, total)));
    } else {
        text.push_str(&format!("\npayload: {}", hex(&seen.plain, total)));
    }
    if let Some(meaning) = meaning(seen) {
        text.push_str(&format!("\n{meaning}"));
    }
    text
}

/// What the payload says: text, a close code and reason, ping data.
fn meaning(seen: &Seen) -> Option<String> {
    let header = &seen.header;
    let payload_len = header.payload_len as usize;
    // `bytes` are the first of `total`: say so if some were left out.
    let shown = |bytes: &[u8], total: usize| {
        let mut text = escape_up_to(bytes, bytes.len());
        if total > bytes.len() {
            text.push_str(&format!("... ({total} bytes)"));
        }
        text
    };
    if let Some((inflated, total)) = &seen.inflated {
        let what = if seen.text { "text" } else { "data" };
        return Some(format!("inflated, {what}: \"{}\"", shown(inflated, *total)));
    }
    if seen.compressed() {
        // Compressed bytes are no text: the message is read once whole.
        return Some("DEFLATE data: inflated once the whole message is in".to_string());
    }
    match header.opcode {
        OpCode::Close => Some(match seen.plain.as_slice() {
            [] => "close with no code (1005, no status received)".to_string(),
            [high, low, reason @ ..] => {
                let code = u16::from_be_bytes([*high, *low]);
                let meaning = close::meaning(code);
                let reason = shown(reason, payload_len - 2);
                format!("close code {code} ({meaning}), reason \"{reason}\"")
            }
            [_] => "close with a one-byte payload (not allowed)".to_string(),
        }),
        OpCode::Ping | OpCode::Pong => {
            Some(format!("data: \"{}\"", shown(&seen.plain, payload_len)))
        }
        OpCode::Text | OpCode::Continuation if seen.text && payload_len > 0 => {
            Some(format!("text: \"{}\"", shown(&seen.plain, payload_len)))
        }
        _ => None,
    }
}

fn mask_len(header: &Header) -> usize {
    if header.mask.is_some() {
        4
    } else {
        0
    }
}

/// The RFC's names for the opcodes (§5.2, §11.8).
fn opcode_name(opcode: OpCode) -> &'static str {
    match opcode {
        OpCode::Continuation => "continuation (the next part of a message)",
        OpCode::Text => "text",
        OpCode::Binary => "binary",
        OpCode::Close => "close",
        OpCode::Ping => "ping",
        OpCode::Pong => "pong",
    }
}

/// Bytes in hex, at most [`SHOWN_HEX`] of them, then how many more of
/// `total` there are.
pub fn hex(bytes: &[u8], total: usize) -> String {
    let shown = &bytes[..bytes.len().min(SHOWN_HEX)];
    let mut text: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
    if total > shown.len() {
        text.push(format!("... {} more", total - shown.len()));
    }
    text.join(" ")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
