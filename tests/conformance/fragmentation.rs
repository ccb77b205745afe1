//! Messages in fragments (RFC 6455 §5.4). Autobahn case group 5.

use crate::common::*;
use crate::*;

#[test]
fn fragmented_text_is_echoed_as_one_text_message() {
    // RFC 6455 §5.4: a message is a first frame with FIN clear and the
    // message's opcode, then continuation frames, the last with FIN set;
    // the message is their payloads concatenated.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&fragments(
        TEXT,
        &[b"Hello", b", ", b"fragmented ", b"world"],
    ));
    expect_echo(&mut client, TEXT, b"Hello, fragmented world");
    client.send(&fragments(TEXT, &[b"two", b" pieces"]));
    expect_echo(&mut client, TEXT, b"two pieces");
}

#[test]
fn fragmented_binary_is_echoed_as_one_binary_message() {
    // RFC 6455 §5.4: the opcode of the first fragment is the message's type.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&fragments(
        BINARY,
        &[&[0x00, 0xFF], &[0x80], &[0xC0, 0xAF, 0xFE]],
    ));
    expect_echo(&mut client, BINARY, &[0x00, 0xFF, 0x80, 0xC0, 0xAF, 0xFE]);
}

#[test]
fn a_message_in_thousands_of_fragments_is_reassembled() {
    // RFC 6455 §5.4 sets no limit on the number of fragments.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let data: Vec<u8> = (0..6000).map(|i| (i % 251) as u8).collect();
    // Pieces of 1 to 7 bytes: 1500 fragments.
    let pieces: Vec<&[u8]> = {
        let (mut rest, mut pieces, mut size) = (&data[..], Vec::new(), 0);
        while !rest.is_empty() {
            size = size % 7 + 1;
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            pieces.push(piece);
            rest = tail;
        }
        pieces
    };
    client.send(&fragments(BINARY, &pieces));
    expect_echo(&mut client, BINARY, &data);
    // One byte per fragment, for a text message.
    let text = b"one byte per fragment".repeat(20);
    let bytes: Vec<&[u8]> = text.chunks(1).collect();
    client.send(&fragments(TEXT, &bytes));
    expect_echo(&mut client, TEXT, &text);
}

#[test]
fn empty_fragments_are_allowed_at_the_start_middle_and_end() {
    // RFC 6455 §5.4 puts no lower bound on a fragment's payload; a message
    // of empty fragments is an empty message.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&fragments(TEXT, &[b"", b"a", b"", b"", b"b", b""]));
    expect_echo(&mut client, TEXT, b"ab");
    client.send(&fragments(TEXT, &[b"", b"", b""]));
    expect_echo(&mut client, TEXT, b"");
    client.send(&fragments(BINARY, &[b"", b""]));
    expect_echo(&mut client, BINARY, b"");
}

#[test]
fn a_continuation_with_no_message_in_progress_fails_with_1002() {
    // RFC 6455 §5.4: continuation frames continue a message whose first
    // frame came before them; one with nothing to continue is an error.
    let server = Server::echo(&[]);
    let cases = [
        (
            "continuation with FIN",
            fragment(true, CONTINUATION, b"orphan"),
        ),
        (
            "continuation without FIN",
            fragment(false, CONTINUATION, b"orphan"),
        ),
        ("empty continuation", fragment(true, CONTINUATION, b"")),
        (
            "continuation then text",
            [
                fragment(false, CONTINUATION, b"x"),
                fragment(true, TEXT, b"y"),
            ]
            .concat(),
        ),
    ];
    for (case, bytes) in cases {
        fails_with(&server, case, &bytes, PROTOCOL_ERROR);
    }
}

#[test]
fn a_continuation_after_a_finished_message_fails_with_1002() {
    // RFC 6455 §5.4: a frame with FIN set ends its message; a continuation
    // after it has nothing to continue. The finished message is echoed.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(
        &[
            fragments(TEXT, &[b"do", b"ne"]),
            fragment(true, CONTINUATION, b"late"),
        ]
        .concat(),
    );
    expect_echo(&mut client, TEXT, b"done");
    expect_failure(&mut client, PROTOCOL_ERROR);
}

#[test]
fn a_new_data_frame_in_the_middle_of_a_message_fails_with_1002() {
    // RFC 6455 §5.4: "the fragments of one message MUST NOT be interleaved
    // between the fragments of another message"; only control frames may
    // come between fragments. Nothing may be echoed.
    let server = Server::echo(&[]);
    let cases = [
        (
            "text, text",
            [fragment(false, TEXT, b"a"), fragment(true, TEXT, b"b")].concat(),
        ),
        (
            "text, binary",
            [fragment(false, TEXT, b"a"), fragment(true, BINARY, b"b")].concat(),
        ),
        (
            "binary, text",
            [fragment(false, BINARY, b"a"), fragment(false, TEXT, b"b")].concat(),
        ),
        (
            "text, continuation, binary",
            [
                fragment(false, TEXT, b"a"),
                fragment(false, CONTINUATION, b"b"),
                fragment(true, BINARY, b"c"),
            ]
            .concat(),
        ),
        (
            "empty text, text",
            [fragment(false, TEXT, b""), fragment(true, TEXT, b"")].concat(),
        ),
    ];
    for (case, bytes) in cases {
        fails_with(&server, case, &bytes, PROTOCOL_ERROR);
    }
}

#[test]
fn control_frames_between_fragments_leave_the_message_intact() {
    // RFC 6455 §5.4: "Control frames ... MAY be injected in the middle of a
    // fragmented message." Pings are answered; the message is unchanged.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(
        &[
            fragment(false, TEXT, b"con"),
            whole(PING, b"1"),
            fragment(false, CONTINUATION, b"trol "),
            whole(PONG, b"unsolicited"),
            whole(PING, b"2"),
            fragment(false, CONTINUATION, b"frames "),
            whole(PING, b""),
            fragment(true, CONTINUATION, b"between"),
        ]
        .concat(),
    );
    expect_pong(&mut client, b"1");
    expect_pong(&mut client, b"2");
    expect_pong(&mut client, b"");
    expect_echo(&mut client, TEXT, b"control frames between");
}

#[test]
fn a_close_between_fragments_ends_the_connection_without_the_partial_message() {
    // RFC 6455 §5.4 allows a close between fragments; §5.5.1: the server
    // answers it and sends no more data, so the unfinished message is never
    // echoed.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(
        &[
            fragment(false, TEXT, b"never "),
            fragment(false, CONTINUATION, b"finished"),
        ]
        .concat(),
    );
    client.send(&close_frame(NORMAL, b""));
    expect_close_echo(&mut client, NORMAL);
}

#[test]
fn nothing_is_echoed_before_the_final_fragment_arrives() {
    // RFC 6455 §5.4: the message is only whole once the FIN frame arrives.
    // A ping after each fragment proves the server answered everything it
    // had: the pong must come, not a piece of the message.
    let server = Server::echo(&[]);
    let mut client = server.client();
    for (i, piece) in [&b"wait "[..], b"for ", b"it"].iter().enumerate() {
        let kind = if i == 0 { BINARY } else { CONTINUATION };
        client.send(&fragment(false, kind, piece));
        client.send(&whole(PING, b"sync"));
        expect_pong(&mut client, b"sync");
    }
    client.send(&fragment(true, CONTINUATION, b"!"));
    expect_echo(&mut client, BINARY, b"wait for it!");
}

#[test]
fn every_byte_value_survives_fragmentation_and_masking() {
    // RFC 6455 §5.3: each frame has its own masking key, applied from the
    // frame's first payload byte; §5.4: fragments concatenate exactly.
    // Fragments of 1, 2, 3, ... bytes, each with a different key, carry all
    // 256 byte values several times.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let data: Vec<u8> = (0..4).flat_map(|_| 0..=255u8).collect();
    let mut pieces = Vec::new();
    let (mut start, mut size) = (0, 1);
    while start < data.len() {
        let end = (start + size).min(data.len());
        pieces.push(&data[start..end]);
        (start, size) = (end, size + 1);
    }
    client.send(&fragments(BINARY, &pieces));
    expect_echo(&mut client, BINARY, &data);
}
