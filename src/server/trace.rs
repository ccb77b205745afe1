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

use crate::protocol::blocks::{self, Block, Ending, Kind, Symbol};
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
    if seen.compressed() {
        text.push_str(&deflate_blocks(seen));
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
    if seen.deflated {
        // Compressed bytes are no text: the message inflates once whole.
        // (On a last frame without the text, inflating failed: the
        // failure's line that follows says why.)
        let later = "DEFLATE data: the message inflates once its last frame is in";
        return (!header.fin).then(|| later.to_string());
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

/// How many bytes of a literal run or a match's copy are shown.
const SHOWN_COPY: usize = 24;

/// The first frame of a compressed message: the DEFLATE blocks of its
/// payload (RFC 1951 §3.2.3), each with its first symbols, as
/// `protocol::blocks` reads them from the bytes the frame kept.
fn deflate_blocks(seen: &Seen) -> String {
    let kept_all = seen.plain.len() as u64 == seen.header.payload_len;
    let described = blocks::describe(&seen.plain, seen.header.fin && kept_all);
    let mut text = String::new();
    for (number, block) in described.blocks.iter().enumerate() {
        text.push_str(&format!(
            "\nDEFLATE block {}: {}",
            number + 1,
            block_kind(block)
        ));
        text.push_str(&symbols(block));
    }
    match described.end {
        Ending::Complete => {}
        Ending::MoreBytes if !kept_all => text.push_str(&format!(
            "\n  ... more (the trace keeps the first {} bytes)",
            seen.plain.len()
        )),
        Ending::MoreBytes => text.push_str("\n  ... more in the message's next frame"),
        Ending::MoreBlocks => text.push_str("\n... more blocks"),
        Ending::Broken(why) => text.push_str(&format!("\n  not DEFLATE from here: {why}")),
    }
    text
}

/// A block's header: BFINAL, then BTYPE and what it says (RFC 1951
/// §3.2.3).
fn block_kind(block: &Block) -> String {
    let bfinal = match block.last {
        true => "BFINAL 1 (the last)",
        false => "BFINAL 0",
    };
    let kind = match &block.kind {
        Kind::Stored { len, data } => format!(
            "BTYPE 00: stored (RFC 1951 §3.2.4), LEN {len}: \"{}\"",
            escape_up_to(data, SHOWN_COPY)
        ),
        Kind::SyncFlush => "BTYPE 00: stored, empty: the sync flush, its LEN and NLEN cut off \
             (RFC 7692 §7.2.1)"
            .to_string(),
        Kind::Fixed => "BTYPE 01: fixed Huffman codes (RFC 1951 §3.2.6)".to_string(),
        Kind::Dynamic(counts) => format!(
            "BTYPE 10: dynamic Huffman codes (RFC 1951 §3.2.7)\
             \n  HLIT {}, HDIST {}, HCLEN {}: codes for {} literals/lengths, {} distances, \
             {} code lengths",
            counts.hlit,
            counts.hdist,
            counts.hclen,
            257 + usize::from(counts.hlit),
            1 + usize::from(counts.hdist),
            4 + usize::from(counts.hclen)
        ),
    };
    format!("{bfinal}, {kind}")
}

/// A Huffman block's first symbols, one line each, literals in a row on
/// one line; then how many more it has.
fn symbols(block: &Block) -> String {
    let mut text = String::new();
    let mut run = Vec::new();
    let literals = |text: &mut String, run: &mut Vec<u8>| {
        let word = if run.len() == 1 {
            "literal "
        } else {
            "literals"
        };
        if !run.is_empty() {
            text.push_str(&format!("\n  {word} \"{}\"", escape_up_to(run, run.len())));
        }
        run.clear();
    };
    for symbol in &block.symbols {
        let line = match symbol {
            Symbol::Literal(byte) => {
                run.push(*byte);
                continue;
            }
            Symbol::Match {
                length,
                distance,
                copied,
            } => {
                let copy = copied.as_ref().map_or(String::new(), |bytes| {
                    format!(", \"{}\"", escape_up_to(bytes, SHOWN_COPY))
                });
                format!(
                    "match    <{length}, {distance}>: {length} bytes from {distance} back{copy}"
                )
            }
            Symbol::EndOfBlock => "end of block".to_string(),
        };
        literals(&mut text, &mut run);
        text.push_str(&format!("\n  {line}"));
    }
    literals(&mut text, &mut run);
    match block.more {
        0 => {}
        1 => text.push_str("\n  ... 1 more symbol"),
        more => text.push_str(&format!("\n  ... {more} more symbols")),
    }
    text
}

fn mask_len(header: &Header) -> usize {
    if header.mask.is_some() {
        4
    } else {
        0
    }
}

/// The RFC's name for an opcode (`OpCode::name`), and for a
/// continuation what it means.
fn opcode_name(opcode: OpCode) -> &'static str {
    match opcode {
        OpCode::Continuation => "continuation (the next part of a message)",
        other => other.name(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::buffers::Inbox;
    use crate::protocol::frame::tests::client_frame;
    use crate::protocol::reader::MessageReader;

    /// The trace of each frame of `frames`, read by a reader that traces
    /// and agreed to permessage-deflate.
    fn traced(frames: &[Vec<u8>]) -> Vec<String> {
        let mut reader = MessageReader::new(1 << 20, true);
        reader.agree_deflate();
        let mut inbox = Inbox::default();
        inbox.extend(&frames.concat());
        // One call reads them all: only the last frame is an event.
        reader.read_event(&mut inbox);
        let seen = reader.seen_frames();
        seen.iter().map(|seen| frame("id", seen)).collect()
    }

    /// Would fail if the continuation were shown as text, or the text
    /// inflated were not shown on the last frame.
    #[test]
    fn a_fragmented_compressed_message_shows_its_blocks_then_its_text() {
        // RFC 7692 §7.2.3.1's "Hello", cut in two frames: RSV1 on the
        // first only (§6.1).
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let first = client_frame(0x41, &hello[..3]);
        let last = client_frame(0x80, &hello[3..]);
        let shown = traced(&[first, last]);
        let first = &shown[0];
        assert!(
            first.contains("\nDEFLATE block 1: BFINAL 0, BTYPE 01"),
            "{first}"
        );
        assert!(first.contains("\n  literals \"He\"\n  ... more in the message's next frame"));
        assert!(first.contains("\nDEFLATE data: the message inflates once its last"));
        // The continuation is DEFLATE too, not text; the text comes last.
        let last = &shown[1];
        assert!(
            !last.contains("DEFLATE block") && !last.contains("\ntext:"),
            "{last}"
        );
        assert!(last.ends_with("\ninflated, text: \"Hello\""), "{last}");
    }

    /// Would fail if the description of a broken stream stopped silently.
    #[test]
    fn bytes_that_are_not_deflate_say_why() {
        // BTYPE 11: "reserved (error)". The message fails: no text.
        let shown = traced(&[client_frame(0xc1, &[0xff])]);
        let broken = "\n  not DEFLATE from here: reserved block type 11";
        assert!(shown[0].ends_with(broken), "{}", shown[0]);
    }
}
