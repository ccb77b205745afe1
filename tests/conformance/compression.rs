//! permessage-deflate (RFC 7692) with `--deflate`: the offer and its
//! answer, compressed messages both ways (checked with an independent
//! DEFLATE, `miniz_oxide`), fragments, and every rule about RSV1. Autobahn
//! case groups 12 and 13: their payload sizes and their matrix of offers.

use crate::common::{
    handshake_request, masked_frame, Server, BINARY, CLOSE, CONTINUATION, PATIENCE, PING, PONG,
    TEXT,
};
use crate::*;

/// RFC 6455 §7.4.1: 1013, "try again later": the server holds too much.
const TRY_AGAIN_LATER: u16 = 1013;
use std::io::{Read, Write};
use std::net::TcpStream;

/// §7.2.1: the tail of a sync flush, left off every compressed message.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// RSV1: "Per-Message Compressed" (§6).
const RSV1: u8 = 0x40;

/// The answer every acceptable offer gets: no context kept either way.
const PLAIN_ANSWER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// Connect, offer `extensions` (none if empty), and return the stream and
/// the response head.
fn connect(server: &Server, extensions: &str) -> (TcpStream, String) {
    let mut stream = server.connect();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let offer = match extensions {
        "" => String::new(),
        offer => format!("Sec-WebSocket-Extensions: {offer}\r\n"),
    };
    let request = handshake_request(server.addr, &offer);
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        stream.read_exact(&mut byte).expect("the response head");
        head.push(byte[0]);
    }
    (stream, String::from_utf8(head).unwrap())
}

/// The value of the answer's `Sec-WebSocket-Extensions`, if any.
fn agreed(head: &str) -> Option<&str> {
    head.lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
}

/// `data` as raw DEFLATE by another implementation, ending in a sync
/// flush's tail or a final block (§7.2.3.4 allows either), tail removed.
fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = miniz_oxide::deflate::compress_to_vec(data, 6);
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    out
}

/// A compressed message's payload, inflated by the other implementation:
/// the tail put back (§7.2.2), then an empty final block, which that
/// decoder wants.
fn decompress(payload: &[u8]) -> Vec<u8> {
    let input = [payload, &TAIL, &[0x03, 0x00]].concat();
    miniz_oxide::inflate::decompress_to_vec(&input).expect("DEFLATE that another decoder reads")
}

/// One server frame: its first byte and its payload.
fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).expect("a frame");
    assert_eq!(head[1] & 0x80, 0, "a server frame is never masked (§5.1)");
    let len = match head[1] & 0x7F {
        126 => {
            let mut b = [0u8; 2];
            stream.read_exact(&mut b).unwrap();
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            stream.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    assert!(len <= 64 << 20, "a frame of {len} bytes");
    let mut payload = vec![0; len as usize];
    stream.read_exact(&mut payload).unwrap();
    (head[0], payload)
}

/// The next whole message: (opcode, whether it came compressed, its data).
fn read_message(stream: &mut TcpStream) -> (u8, bool, Vec<u8>) {
    let (first, mut data) = read_frame(stream);
    let compressed = first & RSV1 != 0;
    let mut fin = first & 0x80 != 0;
    while !fin {
        let (next, more) = read_frame(stream);
        assert_eq!(
            next & 0x70,
            0,
            "RSV1 only on a message's first frame (§6.1)"
        );
        data.extend(more);
        fin = next & 0x80 != 0;
    }
    let data = if compressed { decompress(&data) } else { data };
    (first & 0x0F, compressed, data)
}

/// A close frame comes, with `code`.
fn expect_close(stream: &mut TcpStream, code: u16) {
    let (first, payload) = read_frame(stream);
    assert_eq!(first & 0x0F, CLOSE, "a close frame, not {first:#x}");
    assert_eq!(payload.get(..2), Some(&code.to_be_bytes()[..]));
}

/// Text of `len` bytes that compresses, as chat and JSON do.
fn text_of(len: usize) -> Vec<u8> {
    let words = b"{\"from\":\"ana\",\"text\":\"hello there\",\"n\":42} ";
    (0..len).map(|i| words[(i * 7 / 5) % words.len()]).collect()
}

#[test]
fn without_deflate_the_offer_is_ignored_and_rsv1_fails_the_connection() {
    let server = Server::echo(&[]);
    let (mut stream, head) = connect(&server, "permessage-deflate; client_max_window_bits");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(agreed(&head), None, "{head}");
    let frame = masked_frame(0x80 | RSV1 | TEXT, &compress(b"Hello"), [1, 2, 3, 4]);
    stream.write_all(&frame).unwrap();
    expect_close(&mut stream, PROTOCOL_ERROR);
}

#[test]
fn the_browsers_offers_are_agreed_with_no_context_takeover() {
    let server = Server::echo(&["--deflate"]);
    for offer in [
        "permessage-deflate; client_max_window_bits", // Chromium
        "permessage-deflate",                         // Firefox
    ] {
        let (_, head) = connect(&server, offer);
        assert_eq!(agreed(&head), Some(PLAIN_ANSWER), "{offer}: {head}");
    }
    let (_, head) = connect(&server, "x-webkit-deflate-frame");
    assert_eq!(agreed(&head), None, "an extension we do not speak: {head}");
}

#[test]
fn compressed_messages_of_every_size_come_back_whole_and_compressed() {
    // Autobahn 12.x's sizes, text and binary.
    let server = Server::echo(&["--deflate", "--max-message-size", "20000000"]);
    let (mut stream, head) = connect(&server, "permessage-deflate");
    assert_eq!(agreed(&head), Some(PLAIN_ANSWER));
    for len in [
        16,
        64,
        256,
        1024,
        4096,
        8192,
        16384,
        32768,
        65536,
        131072,
        1 << 20,
    ] {
        for opcode in [TEXT, BINARY] {
            let data = text_of(len);
            let frame = masked_frame(0x80 | RSV1 | opcode, &compress(&data), [9, 8, 7, 6]);
            stream.write_all(&frame).unwrap();
            let (op, compressed, echoed) = read_message(&mut stream);
            assert_eq!((op, echoed.len()), (opcode, len));
            assert!(echoed == data, "{len} bytes came back changed");
            // Short ones may come back plain (RSV1 clear), which §6 allows:
            // too short to gain from it (`extensions::COMPRESS_FROM`).
            assert!(
                compressed || len < 1024,
                "{len} bytes that compress came back plain"
            );
        }
    }
}

#[test]
fn a_fragmented_compressed_message_and_a_plain_one_on_the_same_connection() {
    let server = Server::echo(&["--deflate"]);
    let (mut stream, _) = connect(&server, "permessage-deflate");
    // §6.1: RSV1 on the first fragment only; the compressed bytes are cut
    // anywhere, with a ping between the pieces (§5.4).
    let data = text_of(5000);
    let compressed = compress(&data);
    let (a, b) = compressed.split_at(compressed.len() / 2);
    stream
        .write_all(&masked_frame(RSV1 | TEXT, a, [1, 1, 1, 1]))
        .unwrap();
    stream
        .write_all(&masked_frame(0x80 | PING, b"x", [2, 2, 2, 2]))
        .unwrap();
    assert_eq!(read_frame(&mut stream), (0x80 | PONG, b"x".to_vec()));
    stream
        .write_all(&masked_frame(0x80 | CONTINUATION, b, [3, 3, 3, 3]))
        .unwrap();
    assert_eq!(read_message(&mut stream).2, data);
    // §6: a message without RSV1 is not compressed, on any connection.
    stream
        .write_all(&masked_frame(0x80 | TEXT, b"plain", [4, 4, 4, 4]))
        .unwrap();
    assert_eq!(read_message(&mut stream), (TEXT, false, b"plain".to_vec()));
}

#[test]
fn rsv1_on_a_control_frame_or_a_continuation_fails_with_1002() {
    let server = Server::echo(&["--deflate"]);
    // §6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of
    // control frames and non-first fragments of a data message."
    let (mut stream, _) = connect(&server, "permessage-deflate");
    stream
        .write_all(&masked_frame(0x80 | RSV1 | PING, b"", [1, 2, 3, 4]))
        .unwrap();
    expect_close(&mut stream, PROTOCOL_ERROR);
    let (mut stream, _) = connect(&server, "permessage-deflate");
    stream
        .write_all(&masked_frame(RSV1 | TEXT, &compress(b"ab"), [1, 2, 3, 4]))
        .unwrap();
    stream
        .write_all(&masked_frame(0x80 | RSV1 | CONTINUATION, b"", [1, 2, 3, 4]))
        .unwrap();
    expect_close(&mut stream, PROTOCOL_ERROR);
}

#[test]
fn a_decompression_bomb_stops_at_the_message_limit_with_1009() {
    let server = Server::echo(&["--deflate", "--max-message-size", "100000"]);
    let (mut stream, _) = connect(&server, "permessage-deflate");
    // 10 MB of zeros is about 10 KB of DEFLATE: small on the wire, and the
    // server stops inflating at its 100,000-byte limit (RFC 6455 §10.4).
    let bomb = compress(&vec![0; 10_000_000]);
    assert!(bomb.len() < 20_000, "{}", bomb.len());
    stream
        .write_all(&masked_frame(0x80 | RSV1 | BINARY, &bomb, [1, 2, 3, 4]))
        .unwrap();
    expect_close(&mut stream, MESSAGE_TOO_BIG);
}

#[test]
fn a_bomb_past_what_the_server_can_hold_fails_with_1013_and_no_one_else() {
    // --max-buffered is all clients' memory together: a message inflating
    // past what is left of it fails its own connection with 1013 (try
    // again later), as one that arrives that big does; others go on.
    // (20 MB: past the 16 MiB size limit too, which must not be what
    // stops it: the server would have held 16 MiB by then.)
    let server = Server::echo(&["--deflate", "--max-buffered", "2000000"]);
    let (mut other, _) = connect(&server, "permessage-deflate");
    let (mut stream, _) = connect(&server, "permessage-deflate");
    let bomb = compress(&vec![0; 20_000_000]);
    stream
        .write_all(&masked_frame(0x80 | RSV1 | BINARY, &bomb, [1, 2, 3, 4]))
        .unwrap();
    expect_close(&mut stream, TRY_AGAIN_LATER);
    other
        .write_all(&masked_frame(0x80 | TEXT, b"still here", [1, 2, 3, 4]))
        .unwrap();
    assert_eq!(read_message(&mut other).2, b"still here");
}

#[test]
fn data_that_is_not_deflate_fails_with_1007() {
    let server = Server::echo(&["--deflate"]);
    // BTYPE 11 is reserved (RFC 1951 §3.2.3); and a stored block whose
    // NLEN is not the complement of its LEN (§3.2.4).
    for broken in [
        &[0xff, 0xff, 0xff][..],
        &[0x00, 0x05, 0x00, 0x05, 0x00, b'a'],
    ] {
        let (mut stream, _) = connect(&server, "permessage-deflate");
        stream
            .write_all(&masked_frame(0x80 | RSV1 | TEXT, broken, [1, 2, 3, 4]))
            .unwrap();
        expect_close(&mut stream, INVALID_DATA);
    }
}

#[test]
fn compressed_text_that_is_not_utf8_fails_with_1007() {
    let server = Server::echo(&["--deflate"]);
    let (mut stream, _) = connect(&server, "permessage-deflate");
    let frame = masked_frame(
        0x80 | RSV1 | TEXT,
        &compress(&[b'a', 0xC3, 0x28]),
        [1, 2, 3, 4],
    );
    stream.write_all(&frame).unwrap();
    expect_close(&mut stream, INVALID_DATA);
}

/// Every combination of the four parameters, each window size 8 to 15
/// (Autobahn 13.x): agreed, answered as the RFC says, and messages both
/// ways come through.
#[test]
fn every_offer_of_the_matrix_is_agreed_and_works() {
    let server = Server::echo(&["--deflate"]);
    let data = text_of(20_000);
    for params in 0..16u8 {
        for bits in 8..=15u8 {
            let mut offer = String::from("permessage-deflate");
            let with = |bit: u8| params & bit != 0;
            if with(1) {
                offer += "; server_no_context_takeover";
            }
            if with(2) {
                offer += "; client_no_context_takeover";
            }
            if with(4) {
                offer += &format!("; server_max_window_bits={bits}");
            }
            if with(8) {
                offer += &format!("; client_max_window_bits={bits}");
            }
            let (mut stream, head) = connect(&server, &offer);
            let answer = agreed(&head).unwrap_or_else(|| panic!("{offer}: {head}"));
            let window = format!("; server_max_window_bits={bits}");
            assert_eq!(answer.ends_with(&window), with(4), "{offer}: {answer}");
            stream
                .write_all(&masked_frame(
                    0x80 | RSV1 | TEXT,
                    &compress(&data),
                    [5, 6, 7, 8],
                ))
                .unwrap();
            assert_eq!(read_message(&mut stream).2, data, "{offer}");
            if !with(4) && bits > 8 {
                break; // the window size matters only when it was named
            }
        }
    }
}
