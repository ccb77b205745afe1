//! The message size limit (RFC 6455 §10.4, close code 1009 from §7.4.1),
//! and large messages under the default limit. Autobahn case group 9.

use crate::common::*;
use crate::*;

/// The limit the small-limit tests start the server with.
const LIMIT: usize = 1000;

fn small_limit_server() -> Server {
    Server::echo(&["--max-message-size", &LIMIT.to_string()])
}

/// The header of a masked client frame declaring `declared` bytes in the
/// 16-bit length form (126 <= declared <= 65535), with its masking key.
fn header_16(first: u8, declared: u16) -> Vec<u8> {
    let [high, low] = declared.to_be_bytes();
    vec![first, 0x80 | 126, high, low, 0x0B, 0xAD, 0xF0, 0x0D]
}

/// `len` bytes of a repeating pattern, different at each offset mod 251.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn a_message_one_byte_over_the_limit_fails_with_1009_on_its_header_alone() {
    // RFC 6455 §10.4: an endpoint should protect itself from messages too
    // large to buffer; §7.4.1: 1009 is "a message that is too big for it to
    // process". The header declares the size, so only the header is sent: a
    // server that waited for (or buffered) the payload would hang here.
    let server = small_limit_server();
    let over = LIMIT as u16 + 1;
    fails_with(
        &server,
        "8-byte header, binary, 1001",
        &header_16(0x82, over),
        MESSAGE_TOO_BIG,
    );
    fails_with(
        &server,
        "8-byte header, text, 1001",
        &header_16(0x81, over),
        MESSAGE_TOO_BIG,
    );
    for declared in [1 << 20, 1 << 40, i64::MAX as u64] {
        let header = header_declaring(0x82, declared);
        let case = format!("14-byte header declaring {declared}");
        fails_with(&server, &case, &header, MESSAGE_TOO_BIG);
    }
    // A whole 1001-byte frame, too.
    let bytes = whole(BINARY, &pattern(LIMIT + 1));
    fails_with(&server, "whole 1001-byte frame", &bytes, MESSAGE_TOO_BIG);
}

#[test]
fn a_message_exactly_at_the_limit_is_echoed() {
    // RFC 6455 §10.4: the limit is the largest message accepted, inclusive.
    let server = small_limit_server();
    let mut client = server.client();
    client.send(&whole(BINARY, &pattern(LIMIT)));
    expect_echo(&mut client, BINARY, &pattern(LIMIT));
    let text = "é".repeat(LIMIT / 2);
    client.send(&whole(TEXT, text.as_bytes()));
    expect_echo(&mut client, TEXT, text.as_bytes());
}

#[test]
fn the_limit_applies_to_the_sum_of_fragments() {
    // RFC 6455 §10.4 limits messages, not frames: fragments (§5.4) that are
    // each small but add up to more than the limit fail with 1009, as soon
    // as the header of the fragment that crosses the limit arrives.
    let server = small_limit_server();
    let bytes = [fragment(false, BINARY, &pattern(600)), header_16(0x80, 401)].concat();
    fails_with(
        &server,
        "600 then a 401-byte header",
        &bytes,
        MESSAGE_TOO_BIG,
    );
    let bytes = [fragment(false, TEXT, b"x"), header_declaring(0x00, 1 << 40)].concat();
    fails_with(
        &server,
        "1 then a 2^40-byte header",
        &bytes,
        MESSAGE_TOO_BIG,
    );
    let hundred = pattern(100);
    let mut bytes = unfinished(BINARY, &[&hundred[..]; 10]);
    bytes.extend(fragment(true, CONTINUATION, &[0]));
    fails_with(&server, "10 x 100 then 1", &bytes, MESSAGE_TOO_BIG);
}

#[test]
fn fragments_adding_up_to_exactly_the_limit_are_echoed() {
    // RFC 6455 §10.4 and §5.4: the sum may reach the limit.
    let server = small_limit_server();
    let mut client = server.client();
    let data = pattern(LIMIT);
    let tenths: Vec<&[u8]> = data.chunks(100).collect();
    client.send(&fragments(BINARY, &tenths));
    expect_echo(&mut client, BINARY, &data);
    client.send(&fragments(BINARY, &[&data[..999], &data[999..], b""]));
    expect_echo(&mut client, BINARY, &data);
}

#[test]
fn control_frames_between_fragments_do_not_count_towards_the_limit() {
    // RFC 6455 §5.4: control frames injected between fragments are not part
    // of the message, so their payloads are not part of its size.
    let server = small_limit_server();
    let mut client = server.client();
    let data = pattern(LIMIT);
    client.send(
        &[
            fragment(false, BINARY, &data[..500]),
            whole(PING, &[b'p'; 125]),
            whole(PONG, &[b'q'; 125]),
            fragment(true, CONTINUATION, &data[500..]),
        ]
        .concat(),
    );
    expect_pong(&mut client, &[b'p'; 125]);
    expect_echo(&mut client, BINARY, &data);
}

#[test]
fn the_limit_is_per_message_not_per_connection() {
    // RFC 6455 §10.4: each message is measured on its own.
    let server = small_limit_server();
    let mut client = server.client();
    let messages: Vec<u8> = (0..5)
        .flat_map(|_| whole(BINARY, &pattern(LIMIT)))
        .collect();
    client.send(&messages);
    for _ in 0..5 {
        expect_echo(&mut client, BINARY, &pattern(LIMIT));
    }
}

#[test]
fn one_byte_over_the_default_16_mib_limit_fails_with_1009_on_its_header_alone() {
    // RFC 6455 §10.4 with the default limit of 16 MiB.
    let server = Server::echo(&[]);
    let header = header_declaring(0x82, (16 << 20) + 1);
    fails_with(
        &server,
        "header declaring 16 MiB + 1",
        &header,
        MESSAGE_TOO_BIG,
    );
}

#[test]
fn a_1_mib_text_message_in_64_kib_fragments_is_echoed_exactly() {
    // RFC 6455 §5.4 and §5.6: 64 KiB fragments cut through multi-byte
    // characters; the echo is one text message, byte for byte.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let mut text = "κόσμε 𝄞 € ".repeat(60_000).into_bytes();
    text.truncate(1 << 20);
    while std::str::from_utf8(&text).is_err() {
        text.pop();
    }
    let pieces: Vec<&[u8]> = text.chunks(64 << 10).collect();
    client.send(&fragments(TEXT, &pieces));
    expect_echo(&mut client, TEXT, &text);
}

#[test]
fn a_4_mib_binary_message_in_frames_of_mixed_sizes_is_echoed_exactly() {
    // RFC 6455 §5.2 and §5.4: fragments of every length form, including the
    // boundaries, add up to one message.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let data = pattern(4 << 20);
    let sizes = [1, 125, 126, 65535, 65536, 300_000, 0, 7];
    let mut pieces = Vec::new();
    let mut rest = &data[..];
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    client.send(&fragments(BINARY, &pieces));
    expect_echo(&mut client, BINARY, &data);
    // And as a single frame.
    client.send(&whole(BINARY, &data));
    expect_echo(&mut client, BINARY, &data);
}

#[test]
fn a_16_mib_message_at_the_default_limit_is_echoed_exactly() {
    // RFC 6455 §10.4: 16 MiB is the default limit, so it is accepted; sent
    // in 64 KiB fragments and then as one frame with a 64-bit length.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let data = pattern(16 << 20);
    let pieces: Vec<&[u8]> = data.chunks(64 << 10).collect();
    client.send(&fragments(BINARY, &pieces));
    expect_echo(&mut client, BINARY, &data);
    client.send(&whole(BINARY, &data));
    expect_echo(&mut client, BINARY, &data);
}
