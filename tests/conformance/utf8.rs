//! Text must be UTF-8 (RFC 6455 §5.6, §8.1), checked as it arrives.
//! Autobahn case group 6.

use crate::common::*;
use crate::*;
use std::time::Instant;

/// One-, two-, three- and four-byte characters, so that every cut below
/// falls inside some character somewhere.
const SAMPLE: &str = "a κόσμε € 𝄞 日本 ✓ z";

/// Send `prefix ++ bad ++ suffix` as one text frame on a new connection and
/// expect 1007.
fn text_fails_with_1007(server: &Server, case: &str, bad: &[u8]) {
    let payload = [&b"ok "[..], bad, b" tail"].concat();
    fails_with(server, case, &whole(TEXT, &payload), INVALID_DATA);
}

/// The first `len` bytes of `text`, or fewer, so as not to cut a character.
fn prefix(text: &str, mut len: usize) -> &[u8] {
    while !text.is_char_boundary(len) {
        len -= 1;
    }
    &text.as_bytes()[..len]
}

#[test]
fn valid_multibyte_text_is_echoed_in_every_two_fragment_split() {
    // RFC 6455 §5.6: "the text data ... MAY contain a character split across
    // fragment boundaries": only the whole message has to be UTF-8.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let text = SAMPLE.as_bytes();
    for cut in 0..=text.len() {
        println!("cut at {cut}");
        client.send(&fragments(TEXT, &[&text[..cut], &text[cut..]]));
        expect_echo(&mut client, TEXT, text);
    }
}

#[test]
fn valid_multibyte_text_is_echoed_in_every_three_fragment_split() {
    // RFC 6455 §5.6: a character may even span three fragments.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let text = "€𝄞é".as_bytes(); // 3 + 4 + 2 bytes
    for first in 0..=text.len() {
        for second in first..=text.len() {
            println!("cuts at {first} and {second}");
            let pieces = [&text[..first], &text[first..second], &text[second..]];
            client.send(&fragments(TEXT, &pieces));
            expect_echo(&mut client, TEXT, text);
        }
    }
}

#[test]
fn valid_multibyte_text_is_echoed_with_one_byte_per_fragment() {
    // RFC 6455 §5.6: every character of the sample is split between fragments.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let text = SAMPLE.as_bytes();
    let bytes: Vec<&[u8]> = text.chunks(1).collect();
    client.send(&fragments(TEXT, &bytes));
    expect_echo(&mut client, TEXT, text);
}

#[test]
fn valid_text_in_one_frame_cut_between_writes_inside_characters_is_echoed() {
    // RFC 6455 §8.1: the check is on the message, not on what one read
    // brings: a read may end inside a character.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let text = SAMPLE.as_bytes();
    let frame = whole(TEXT, text);
    let header_len = frame.len() - text.len();
    for cut in 1..text.len() {
        send_in_pieces(&mut client, &frame, &[header_len + cut]);
        expect_echo(&mut client, TEXT, text);
    }
}

#[test]
fn boundary_code_points_are_valid_text() {
    // RFC 6455 §8.1 refers to RFC 3629: these are all valid UTF-8, at the
    // edges of each encoding length and around the surrogate gap.
    let server = Server::echo(&[]);
    let mut client = server.client();
    for ch in [
        '\u{0}',
        '\u{7F}',
        '\u{80}',
        '\u{7FF}',
        '\u{800}',
        '\u{D7FF}',
        '\u{E000}',
        '\u{FEFF}',
        '\u{FFFD}',
        '\u{FFFF}',
        '\u{10000}',
        '\u{10FFFF}',
    ] {
        let text = format!("<{ch}>");
        client.send(&whole(TEXT, text.as_bytes()));
        expect_echo(&mut client, TEXT, text.as_bytes());
    }
}

#[test]
fn binary_messages_are_not_checked_for_utf8() {
    // RFC 6455 §5.6: only text frames carry UTF-8; binary data is anything.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let data = [
        0xFF, 0xFE, 0xC0, 0xAF, 0xED, 0xA0, 0x80, 0xF4, 0x90, 0x80, 0x80, 0xE2,
    ];
    client.send(&whole(BINARY, &data));
    expect_echo(&mut client, BINARY, &data);
}

#[test]
fn invalid_bytes_in_text_fail_with_1007() {
    // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as
    // UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8
    // stream, that endpoint MUST _Fail the WebSocket Connection_", with 1007
    // (§7.4.1).
    let server = Server::echo(&[]);
    let cases: [(&str, &[u8]); 11] = [
        ("lone continuation 0x80", &[0x80]),
        ("lone continuation 0xBF", &[0xBF]),
        ("two continuations", &[0x80, 0xBF]),
        ("0xFE", &[0xFE]),
        ("0xFF", &[0xFF]),
        ("0xFE 0xFE 0xFF 0xFF", &[0xFE, 0xFE, 0xFF, 0xFF]),
        ("2-byte start then a space", &[0xC2, b' ']),
        ("3-byte start then a space", &[0xE2, 0x82, b' ']),
        ("4-byte start then a space", &[0xF0, 0x9F, 0x98, b' ']),
        ("5-byte form", &[0xF8, 0x88, 0x80, 0x80, 0x80]),
        ("6-byte form", &[0xFC, 0x84, 0x80, 0x80, 0x80, 0x80]),
    ];
    for (case, bad) in cases {
        text_fails_with_1007(&server, case, bad);
    }
}

#[test]
fn utf16_surrogates_in_text_fail_with_1007() {
    // RFC 3629 §3 (via RFC 6455 §8.1): U+D800-U+DFFF are not characters and
    // their three-byte forms (ED A0 80 ...) are invalid UTF-8.
    let server = Server::echo(&[]);
    let cases: [(&str, &[u8]); 5] = [
        ("U+D800", &[0xED, 0xA0, 0x80]),
        ("U+DBFF", &[0xED, 0xAF, 0xBF]),
        ("U+DC00", &[0xED, 0xB0, 0x80]),
        ("U+DFFF", &[0xED, 0xBF, 0xBF]),
        ("pair U+D800 U+DC00", &[0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80]),
    ];
    for (case, bad) in cases {
        text_fails_with_1007(&server, case, bad);
    }
    // The well-known sample: "κόσμε" then a surrogate then "edited".
    let bytes = ["κόσμε".as_bytes(), &[0xED, 0xA0, 0x80], b"edited"].concat();
    fails_with(
        &server,
        "κόσμε + U+D800 + edited",
        &whole(TEXT, &bytes),
        INVALID_DATA,
    );
}

#[test]
fn overlong_encodings_in_text_fail_with_1007() {
    // RFC 3629 §3: a character must use its shortest form; "/" as C0 AF or
    // E0 80 AF (and NUL as C0 80) are classic overlong forms.
    let server = Server::echo(&[]);
    let cases: [(&str, &[u8]); 7] = [
        ("C0 AF", &[0xC0, 0xAF]),
        ("C1 BF", &[0xC1, 0xBF]),
        ("C0 80 (NUL)", &[0xC0, 0x80]),
        ("E0 80 AF", &[0xE0, 0x80, 0xAF]),
        ("E0 9F BF", &[0xE0, 0x9F, 0xBF]),
        ("F0 80 80 AF", &[0xF0, 0x80, 0x80, 0xAF]),
        ("F0 8F BF BF", &[0xF0, 0x8F, 0xBF, 0xBF]),
    ];
    for (case, bad) in cases {
        text_fails_with_1007(&server, case, bad);
    }
}

#[test]
fn code_points_above_u10ffff_in_text_fail_with_1007() {
    // RFC 3629 §3: UTF-8 stops at U+10FFFF; F4 90 80 80 would be U+110000.
    let server = Server::echo(&[]);
    let cases: [(&str, &[u8]); 4] = [
        ("F4 90 80 80 (U+110000)", &[0xF4, 0x90, 0x80, 0x80]),
        ("F4 BF BF BF", &[0xF4, 0xBF, 0xBF, 0xBF]),
        ("F5 80 80 80", &[0xF5, 0x80, 0x80, 0x80]),
        ("F7 BF BF BF", &[0xF7, 0xBF, 0xBF, 0xBF]),
    ];
    for (case, bad) in cases {
        text_fails_with_1007(&server, case, bad);
    }
}

#[test]
fn an_invalid_sequence_split_across_fragments_fails_with_1007() {
    // RFC 6455 §8.1 applies to the whole message: bytes that are invalid
    // only once two fragments are joined are still invalid.
    let server = Server::echo(&[]);
    let sample = "κόσμε".as_bytes();
    let cases: [(&str, &[&[u8]]); 5] = [
        (
            "κόσμε | F4 | 90 80 80",
            &[sample, &[0xF4], &[0x90, 0x80, 0x80]],
        ),
        (
            "ab ED | A0 80 c",
            &[&[b'a', b'b', 0xED], &[0xA0, 0x80, b'c']],
        ),
        ("E0 | 80 AF", &[&[0xE0], &[0x80, 0xAF]]),
        ("F0 | 90 | 80 28", &[&[0xF0], &[0x90], &[0x80, 0x28]]),
        ("C3 | 28", &[&[0xC3], &[0x28]]),
    ];
    for (case, pieces) in cases {
        fails_with(&server, case, &fragments(TEXT, pieces), INVALID_DATA);
    }
}

#[test]
fn a_character_cut_short_at_the_end_of_the_message_fails_with_1007() {
    // RFC 6455 §8.1: a message that ends in the middle of a character is not
    // valid UTF-8, even though each fragment could have been continued.
    let server = Server::echo(&[]);
    fails_with(
        &server,
        "a E2 82",
        &whole(TEXT, &[b'a', 0xE2, 0x82]),
        INVALID_DATA,
    );
    fails_with(&server, "lone CE", &whole(TEXT, &[0xCE]), INVALID_DATA);
    fails_with(
        &server,
        "F0 9F 98",
        &whole(TEXT, &[0xF0, 0x9F, 0x98]),
        INVALID_DATA,
    );
    let cases: [(&str, &[&[u8]]); 3] = [
        ("a | E2 82", &[b"a", &[0xE2, 0x82]]),
        ("a F0 9F | empty", &[&[b'a', 0xF0, 0x9F], b""]),
        ("F0 | 9F | 98", &[&[0xF0], &[0x9F], &[0x98]]),
    ];
    for (case, pieces) in cases {
        fails_with(&server, case, &fragments(TEXT, pieces), INVALID_DATA);
    }
}

#[test]
fn invalid_text_in_an_unfinished_large_frame_fails_with_1007_at_once() {
    // RFC 6455 §8.1 (fail fast): a frame declares 1 MiB of text; only the
    // first bytes are sent, ending with bytes no continuation could make
    // valid. The server must answer 1007 now, not wait for the rest, which
    // never comes.
    let server = Server::echo(&[]);
    let filler = "κόσμε ".repeat(200_000); // 2.2 MB of valid text
    let impossible: [(&str, &[u8]); 6] = [
        ("C0", &[0xC0]),
        ("FF", &[0xFF]),
        ("80 (a stray continuation byte)", &[0x80]),
        ("ED A0 (a surrogate's first two bytes)", &[0xED, 0xA0]),
        ("E0 80 (overlong's first two bytes)", &[0xE0, 0x80]),
        ("F4 90 (above U+10FFFF, first two bytes)", &[0xF4, 0x90]),
    ];
    for (case, bad) in impossible {
        // At the very start, after 1000 bytes, and past several reads' worth.
        for valid_before in [0, 1000, 200_000] {
            let mut payload = prefix(&filler, valid_before).to_vec();
            payload.extend_from_slice(bad);
            let sent = payload.len();
            payload.resize(1 << 20, b'x');
            let frame = whole(TEXT, &payload);
            let header_len = frame.len() - payload.len();
            let case = format!("{case} after {sent} bytes of a 1 MiB frame");
            fails_with(&server, &case, &frame[..header_len + sent], INVALID_DATA);
        }
    }
    // The lead byte ends one TCP write, the impossible byte starts the next.
    let mut payload = b"lead byte here: ".to_vec();
    let cut = payload.len() + 1;
    payload.extend_from_slice(&[0xED, 0xA0]);
    let sent = payload.len();
    payload.resize(1 << 20, b'x');
    let frame = whole(TEXT, &payload);
    let header_len = frame.len() - payload.len();
    println!("case: ED | A0 across two writes of a 1 MiB frame");
    let mut client = server.client();
    send_in_pieces(
        &mut client,
        &frame[..header_len + sent],
        &[header_len + cut],
    );
    expect_failure(&mut client, INVALID_DATA);
}

#[test]
fn invalid_text_in_an_unfinished_fragmented_message_fails_with_1007_at_once() {
    // RFC 6455 §8.1 (fail fast) across fragments: the message never ends,
    // but its bytes so far can already never be valid.
    let server = Server::echo(&[]);
    // A whole first fragment that is already invalid, and no more.
    let bytes = fragment(false, TEXT, &[b'a', 0xC0, 0xAF]);
    fails_with(
        &server,
        "invalid first fragment, FIN clear",
        &bytes,
        INVALID_DATA,
    );
    // A character begun in one fragment and broken in the next, unfinished.
    let bytes = unfinished(TEXT, &[&[b'a', 0xF4], &[0x90]]);
    fails_with(
        &server,
        "a F4 | 90, no final fragment",
        &bytes,
        INVALID_DATA,
    );
    // A continuation frame declaring 100000 bytes, of which only 3 are sent.
    let mut payload = vec![b'b', 0xED, 0xA0];
    payload.resize(100_000, b'c');
    let continuation = fragment(true, CONTINUATION, &payload);
    let header_len = continuation.len() - payload.len();
    let bytes = [
        fragment(false, TEXT, b"a"),
        continuation[..header_len + 3].to_vec(),
    ]
    .concat();
    fails_with(
        &server,
        "ED A0 early in an unfinished continuation",
        &bytes,
        INVALID_DATA,
    );
}

#[test]
fn the_fail_fast_close_comes_well_before_any_timeout() {
    // RFC 6455 §8.1, timed: 1007 for the third byte of a frame declaring
    // 16 MiB of text, whose rest is never sent, must take well under a second.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let header = header_declaring(0x80 | TEXT, 16 << 20);
    let mask: [u8; 4] = header[10..14].try_into().unwrap();
    let start: Vec<u8> = [b'o', b'k', 0xFF]
        .iter()
        .zip(mask)
        .map(|(b, k)| b ^ k)
        .collect();
    let started = Instant::now();
    client.send(&[header, start].concat());
    expect_failure(&mut client, INVALID_DATA);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
}
