//! The frame itself (RFC 6455 §5.2, §5.3): the three length forms,
//! reserved bits and opcodes, masking, and frames that TCP delivers cut up
//! or packed together. Autobahn case groups 1, 3 and 4.

use crate::common::*;
use crate::*;
use std::io::Read;

/// A masked client frame whose length is written in a chosen form, minimal
/// or not: `7` is the 7-bit field alone, `16` is 126 and then 16 bits, `64`
/// is 127 and then 64 bits (RFC 6455 §5.2).
fn frame_with_length_form(first: u8, payload: &[u8], form: u8) -> Vec<u8> {
    let len = payload.len();
    let mut frame = vec![first];
    match form {
        7 => frame.push(0x80 | len as u8),
        16 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    let mask = [0x0F, 0xF0, 0xAA, 0x55];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// `len` bytes of printable ASCII: valid text at any length and any cut.
fn ascii(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// `len` bytes running through every byte value.
fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

#[test]
fn rfc_example_masked_hello_is_answered_with_the_rfc_example_unmasked_hello() {
    // RFC 6455 §5.7: "A single-frame masked text message" from a client, and
    // "A single-frame unmasked text message", as a server sends it.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    let mut reply = [0; 7];
    client.stream.read_exact(&mut reply).expect("the echo");
    assert_eq!(reply, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
}

#[test]
fn text_and_binary_echo_exactly_at_every_length_form_boundary() {
    // RFC 6455 §5.2: payload length 0-125 in 7 bits; 126-65535 as 126 then
    // 16 bits; 65536 and up as 127 then 64 bits.
    let server = Server::echo(&[]);
    let mut client = server.client();
    for len in [0, 1, 125, 126, 127, 65535, 65536, 65537] {
        println!("length {len}");
        client.send(&whole(TEXT, &ascii(len)));
        expect_echo(&mut client, TEXT, &ascii(len));
        client.send(&whole(BINARY, &bytes(len)));
        expect_echo(&mut client, BINARY, &bytes(len));
    }
}

#[test]
fn server_frames_are_unmasked_final_and_use_the_shortest_length_form() {
    // RFC 6455 §5.1: a server MUST NOT mask its frames; §5.2: "the minimal
    // number of bytes MUST be used to encode the length". Read raw bytes.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let cases: [(usize, &[u8]); 6] = [
        (0, &[0x82, 0x00]),
        (125, &[0x82, 0x7D]),
        (126, &[0x82, 0x7E, 0x00, 0x7E]),
        (65535, &[0x82, 0x7E, 0xFF, 0xFF]),
        (65536, &[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]),
        (70000, &[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]),
    ];
    for (len, header) in cases {
        client.send(&whole(BINARY, &bytes(len)));
        let mut got = vec![0; header.len() + len];
        client.stream.read_exact(&mut got).expect("the echo");
        assert_eq!(hex(&got[..header.len()]), hex(header), "length {len}");
        assert_same_bytes(&got[header.len()..], &bytes(len), "payload");
    }
}

#[test]
fn a_set_reserved_bit_on_any_frame_fails_with_1002() {
    // RFC 6455 §5.2: RSV1, RSV2 and RSV3 "MUST be 0 unless an extension is
    // negotiated that defines meanings for non-zero values". This server
    // negotiates no extension, so any set bit fails the connection.
    let server = Server::echo(&[]);
    for (bit, name) in [
        (0x40, "RSV1"),
        (0x20, "RSV2"),
        (0x10, "RSV3"),
        (0x70, "all three"),
    ] {
        let flagged =
            |opcode: u8, payload: &[u8]| masked_frame(0x80 | bit | opcode, payload, [1, 2, 3, 4]);
        let cases = [
            ("text", flagged(TEXT, b"hello")),
            ("binary", flagged(BINARY, &[1, 2, 3])),
            ("empty text", flagged(TEXT, b"")),
            ("ping", flagged(PING, b"ping")),
            ("pong", flagged(PONG, b"pong")),
            ("close", flagged(CLOSE, &NORMAL.to_be_bytes())),
            (
                "continuation",
                [
                    fragment(false, TEXT, b"start"),
                    flagged(CONTINUATION, b"end"),
                ]
                .concat(),
            ),
        ];
        for (kind, bytes) in cases {
            fails_with(
                &server,
                &format!("{name} on {kind}"),
                &bytes,
                PROTOCOL_ERROR,
            );
        }
    }
}

#[test]
fn frames_before_a_reserved_bit_are_answered_and_frames_after_it_ignored() {
    // RFC 6455 §5.2 (RSV bits) and §7.1.7: once the connection is failed,
    // nothing more is processed; what came before was valid and is answered.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(
        &[
            whole(TEXT, b"before"),
            whole(PING, b"before"),
            masked_frame(0xC1, b"bad", [9, 8, 7, 6]),
            whole(PING, b"after"),
            whole(TEXT, b"after"),
        ]
        .concat(),
    );
    expect_echo(&mut client, TEXT, b"before");
    expect_pong(&mut client, b"before");
    expect_failure(&mut client, PROTOCOL_ERROR);
}

#[test]
fn reserved_data_opcodes_3_to_7_fail_with_1002() {
    // RFC 6455 §5.2: "%x3-7 are reserved for further non-control frames";
    // "If an unknown opcode is received, the receiving endpoint MUST _Fail
    // the WebSocket Connection_."
    each_opcode_fails_with_1002(0x3..=0x7);
}

#[test]
fn reserved_control_opcodes_b_to_f_fail_with_1002() {
    // RFC 6455 §5.2: "%xB-F are reserved for further control frames".
    each_opcode_fails_with_1002(0xB..=0xF);
}

/// Each opcode, in an empty frame and in one with a payload, fails a fresh
/// connection with 1002.
fn each_opcode_fails_with_1002(opcodes: std::ops::RangeInclusive<u8>) {
    let server = Server::echo(&[]);
    for opcode in opcodes {
        for payload in [&b""[..], b"reserved"] {
            let bytes = masked_frame(0x80 | opcode, payload, [5, 6, 7, 8]);
            let what = format!("opcode {opcode:#x}, {} payload bytes", payload.len());
            fails_with(&server, &what, &bytes, PROTOCOL_ERROR);
        }
    }
}

#[test]
fn a_reserved_opcode_after_a_message_or_inside_one_fails_with_1002() {
    // RFC 6455 §5.2: an unknown opcode fails the connection wherever it is.
    let server = Server::echo(&[]);
    // After a whole message: the message is echoed, then the failure.
    let mut client = server.client();
    client.send(
        &[
            whole(TEXT, b"fine"),
            whole(0x4, b""),
            whole(PING, b"ignored"),
        ]
        .concat(),
    );
    expect_echo(&mut client, TEXT, b"fine");
    expect_failure(&mut client, PROTOCOL_ERROR);
    // Between the fragments of a message: nothing is echoed.
    let bytes = [
        fragment(false, TEXT, b"frag"),
        whole(0xC, b""),
        fragment(true, CONTINUATION, b"ment"),
    ]
    .concat();
    fails_with(&server, "opcode 0xC mid-message", &bytes, PROTOCOL_ERROR);
}

#[test]
fn an_unmasked_client_frame_fails_with_1002() {
    // RFC 6455 §5.1: "The server MUST close the connection upon receiving a
    // frame that is not masked", with status code 1002 (§7.4.1).
    let server = Server::echo(&[]);
    let cases: [(&str, &[u8]); 5] = [
        (
            "text \"Hello\" (RFC 6455 §5.7)",
            &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'],
        ),
        ("empty binary", &[0x82, 0x00]),
        ("ping", &[0x89, 0x01, b'p']),
        ("close 1000", &[0x88, 0x02, 0x03, 0xE8]),
        ("16-bit length", &[0x82, 0x7E, 0x01, 0x00]),
    ];
    for (case, bytes) in cases {
        fails_with(&server, case, bytes, PROTOCOL_ERROR);
    }
    // A continuation frame without its mask, in the middle of a message.
    let bytes = [
        fragment(false, TEXT, b"masked "),
        vec![0x80, 0x02, b'n', b'o'],
    ]
    .concat();
    fails_with(&server, "unmasked continuation", &bytes, PROTOCOL_ERROR);
}

#[test]
fn an_all_zero_masking_key_is_still_a_masked_frame() {
    // RFC 6455 §5.3: the MASK bit says a key is present; a key of four zero
    // bytes is a key like any other (it just leaves the payload as it is).
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&masked_frame(0x81, b"zero key", [0, 0, 0, 0]));
    expect_echo(&mut client, TEXT, b"zero key");
}

#[test]
fn a_64_bit_length_with_its_most_significant_bit_set_fails_with_1002() {
    // RFC 6455 §5.2: in the 64-bit form "the most significant bit MUST be
    // 0". Only the header is sent: the server must not wait for a payload.
    let server = Server::echo(&[]);
    for declared in [1 << 63, u64::MAX, (1 << 63) | 5] {
        for opcode in [TEXT, BINARY] {
            let header = header_declaring(0x80 | opcode, declared);
            fails_with(
                &server,
                &format!("length {declared:#x}"),
                &header,
                PROTOCOL_ERROR,
            );
        }
    }
}

#[test]
fn a_length_below_126_in_the_16_bit_form_fails_with_1002() {
    // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the
    // length"; 0-125 fit in the 7-bit field.
    let server = Server::echo(&[]);
    for len in [0, 5, 125] {
        for opcode in [TEXT, BINARY] {
            let bytes = frame_with_length_form(0x80 | opcode, &ascii(len), 16);
            fails_with(
                &server,
                &format!("{len} in 16 bits"),
                &bytes,
                PROTOCOL_ERROR,
            );
        }
    }
}

#[test]
fn a_length_below_65536_in_the_64_bit_form_fails_with_1002() {
    // RFC 6455 §5.2: minimal length encoding; 0-65535 fit in 7 or 16 bits.
    let server = Server::echo(&[]);
    for len in [0, 5, 125, 126, 65535] {
        let bytes = frame_with_length_form(0x82, &bytes(len), 64);
        fails_with(
            &server,
            &format!("{len} in 64 bits"),
            &bytes,
            PROTOCOL_ERROR,
        );
    }
    // The same frames in their minimal forms are fine (a control for the above).
    let mut client = server.client();
    for (len, form) in [(5, 7), (126, 16), (65535, 16), (65536, 64)] {
        client.send(&frame_with_length_form(0x82, &bytes(len), form));
        expect_echo(&mut client, BINARY, &bytes(len));
    }
}

#[test]
fn a_frame_sent_one_byte_at_a_time_is_understood() {
    // RFC 6455 §5.2 describes frames, not reads: TCP may deliver a frame in
    // any number of pieces, and each piece must be taken as it comes.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let every_byte = |frame: &[u8]| (1..frame.len()).collect::<Vec<_>>();

    let hello = whole(TEXT, b"Hello, one byte at a time");
    send_in_pieces(&mut client, &hello, &every_byte(&hello));
    expect_echo(&mut client, TEXT, b"Hello, one byte at a time");

    let ping = whole(PING, b"ping, byte by byte");
    send_in_pieces(&mut client, &ping, &every_byte(&ping));
    expect_pong(&mut client, b"ping, byte by byte");

    // 16-bit length form: header and payload byte by byte.
    let medium = whole(BINARY, &bytes(300));
    send_in_pieces(&mut client, &medium, &every_byte(&medium));
    expect_echo(&mut client, BINARY, &bytes(300));

    // 64-bit length form: the 14 header bytes one by one, then the payload.
    let large = whole(BINARY, &bytes(65536 + 3));
    send_in_pieces(&mut client, &large, &(1..=14).collect::<Vec<_>>());
    expect_echo(&mut client, BINARY, &bytes(65536 + 3));
}

#[test]
fn several_frames_in_one_write_are_each_answered_in_order() {
    // RFC 6455 §5.2: frames follow one another on the stream; one read may
    // hold many of them, and each must be handled, in order.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(
        &[
            whole(TEXT, b"one"),
            whole(BINARY, &[0, 1, 2, 0xFF]),
            whole(PING, b"three"),
            fragment(false, TEXT, b"fo"),
            fragment(true, CONTINUATION, b"ur"),
            whole(PONG, b"unsolicited"),
            whole(BINARY, b""),
            whole(TEXT, &ascii(200)),
            close_frame(NORMAL, b"done"),
        ]
        .concat(),
    );
    expect_echo(&mut client, TEXT, b"one");
    expect_echo(&mut client, BINARY, &[0, 1, 2, 0xFF]);
    expect_pong(&mut client, b"three");
    expect_echo(&mut client, TEXT, b"four");
    expect_echo(&mut client, BINARY, b"");
    expect_echo(&mut client, TEXT, &ascii(200));
    expect_close_echo(&mut client, NORMAL);
}

#[test]
fn a_header_split_across_two_writes_at_any_byte_is_understood() {
    // RFC 6455 §5.2: a header is 2 to 14 bytes and may arrive cut anywhere,
    // as may the payload (whose unmasking must carry on at the right key
    // byte, §5.3). One frame of each length form, cut at every header byte
    // and at the first payload bytes; then the same behind a whole frame.
    let server = Server::echo(&[]);
    let mut client = server.client();
    for (len, header_len) in [(5, 6), (200, 8), (70_000, 14)] {
        let payload = bytes(len);
        let frame = whole(BINARY, &payload);
        for cut in 1..header_len + 4 {
            println!("length {len}, cut at {cut}");
            send_in_pieces(&mut client, &frame, &[cut]);
            expect_echo(&mut client, BINARY, &payload);
            // The cut frame follows a whole one in the first write.
            let both = [whole(TEXT, b"first"), frame.clone()].concat();
            let first_len = both.len() - frame.len();
            send_in_pieces(&mut client, &both, &[first_len + cut]);
            expect_echo(&mut client, TEXT, b"first");
            expect_echo(&mut client, BINARY, &payload);
        }
    }
}
