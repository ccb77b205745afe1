//! What the lesson does right, with no `--php-bugs`: the tutorial's own
//! exchange byte for byte, frames of every length form both ways, frames
//! and requests however they are cut, many clients, the control frames,
//! the HTTP answers, the connection failures of RFC 6455 §5 and §7.1.7,
//! and its flags.

use crate::common::{
    frame, masked_frame, Client, Response, BINARY, CLOSE, CONTINUATION, MASKED_HELLO, PING, PONG,
    TEXT, TUTORIAL_REQUEST,
};
use crate::{
    entered, pattern, read_bytes, read_head, read_raw_frame, run, silent_for, text_header, Lesson,
    ENTERED,
};
use std::io::{Read, Write};
use std::time::Duration;

/// The 101 it gets (docs/handshake.md §3): the PHP's lines 151-155 and
/// the subprotocol line (§4.2.2 step 5.5).
const TUTORIAL_101: &str = "HTTP/1.1 101 Switching Protocols\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\
    Sec-WebSocket-Protocol: chat\r\n\
    \r\n";

const PROTOCOL_LINE: &str = "Sec-WebSocket-Protocol: chat\r\n";

#[test]
fn the_tutorials_request_gets_the_tutorials_101_byte_for_byte() {
    let lesson = Lesson::start("");
    let mut stream = lesson.connect();
    stream.write_all(TUTORIAL_REQUEST.as_bytes()).unwrap();
    // §4.2.2: the accept key is base64(SHA-1(key + GUID)), and `chat` is
    // chosen because it was offered.
    assert_eq!(read_head(&mut stream), TUTORIAL_101);

    // No subprotocol offered: none chosen, and no line for it (§4.2.2).
    let mut stream = lesson.connect();
    let request = TUTORIAL_REQUEST.replace(PROTOCOL_LINE, "");
    stream.write_all(request.as_bytes()).unwrap();
    assert_eq!(
        read_head(&mut stream),
        TUTORIAL_101.replace(PROTOCOL_LINE, "")
    );
}

#[test]
fn the_rfcs_masked_hello_gets_the_tutorials_reply() {
    let lesson = Lesson::start("");
    let mut stream = lesson.upgraded();
    stream.write_all(&MASKED_HELLO).unwrap();
    // One final text frame, unmasked (§5.1), 7-bit length 23 (§5.2).
    let reply = read_bytes(&mut stream, 2 + 23);
    assert_eq!(
        reply,
        [&[0x81, 23][..], b"You have entered: Hello"].concat()
    );
}

#[test]
fn client_frames_of_every_length_form_are_read() {
    let lesson = Lesson::start("");
    let mut stream = lesson.upgraded();
    // §5.2: 0-125 in 7 bits, 126-65535 in 16, more in 64; `masked_frame`
    // always picks the shortest form, so each bound is crossed.
    for length in [0, 125, 126, 65535, 65536, 1 << 20] {
        let text = pattern(length);
        stream.write_all(&frame(TEXT, &text)).unwrap();
        let (header, payload) = read_raw_frame(&mut stream);
        assert_eq!(header, text_header(length + ENTERED.len()), "{length}");
        assert!(payload == entered(&text), "the reply to {length} bytes");
    }
}

#[test]
fn replies_of_every_length_form_have_the_right_header() {
    let lesson = Lesson::start("");
    let mut stream = lesson.upgraded();
    // Each reply is 18 bytes longer than its message, so send N - 18 for a
    // reply of N. The header is read byte by byte against §5.2's layout.
    let cases: [(usize, &[u8]); 6] = [
        (18, &[0x81, 18]),
        (125, &[0x81, 125]),
        (126, &[0x81, 126, 0x00, 0x7E]),
        (65535, &[0x81, 126, 0xFF, 0xFF]),
        (65536, &[0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]),
        (1 << 20, &[0x81, 127, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00]),
    ];
    for (length, expected) in cases {
        let text = pattern(length - ENTERED.len());
        stream.write_all(&frame(TEXT, &text)).unwrap();
        assert_eq!(
            read_bytes(&mut stream, expected.len()),
            expected,
            "{length}"
        );
        assert!(
            read_bytes(&mut stream, length) == entered(&text),
            "{length}"
        );
    }
}

#[test]
fn a_frame_in_one_byte_pieces_is_one_message() {
    let lesson = Lesson::start("");
    let mut stream = lesson.upgraded();
    // Longer than the server's 10 ms nap, so the pieces come in separate
    // reads: the PHP (B14) would answer the first two bytes alone.
    for byte in MASKED_HELLO {
        stream.write_all(&[byte]).unwrap();
        std::thread::sleep(Duration::from_millis(15));
    }
    let mut client = Client::raw(stream);
    assert_eq!(client.read_text(), "You have entered: Hello");
}

#[test]
fn two_frames_in_one_write_get_two_replies() {
    let lesson = Lesson::start("");
    let mut client = lesson.client();
    client.send(&[frame(TEXT, b"one"), frame(TEXT, b"two")].concat());
    assert_eq!(client.read_text(), "You have entered: one");
    assert_eq!(client.read_text(), "You have entered: two");
}

#[test]
fn a_request_in_pieces_is_answered_once_whole() {
    let lesson = Lesson::start("");
    let mut stream = lesson.connect();
    let request = TUTORIAL_REQUEST.as_bytes();
    // Cut in the request line, in a header, and between the two CR LF
    // that end the head: only the last piece makes it whole.
    let cuts = [0, 9, 80, request.len() - 1, request.len()];
    for piece in cuts.windows(2) {
        assert!(
            silent_for(&stream, Duration::from_millis(50)),
            "answered before byte {}",
            piece[0]
        );
        stream.write_all(&request[piece[0]..piece[1]]).unwrap();
    }
    assert_eq!(read_head(&mut stream), TUTORIAL_101);
    stream.write_all(&MASKED_HELLO).unwrap();
    assert_eq!(Client::raw(stream).read_text(), "You have entered: Hello");
}

#[test]
fn two_clients_interleaved_each_get_their_own_replies() {
    let lesson = Lesson::start("");
    let (mut a, mut b) = (lesson.client(), lesson.client());
    for turn in 0..3 {
        a.send_text(&format!("a{turn}"));
        b.send_text(&format!("b{turn}"));
        // B's reply is read first: each connection has its own queue.
        assert_eq!(b.read_text(), format!("You have entered: b{turn}"));
        assert_eq!(a.read_text(), format!("You have entered: a{turn}"));
    }
}

#[test]
fn a_ping_gets_a_pong_with_its_payload() {
    let lesson = Lesson::start("");
    let mut client = lesson.client();
    // §5.5.2, §5.5.3: the pong carries the ping's application data.
    client.send(&frame(PING, b"are you there?"));
    let pong = client.read_frame();
    assert_eq!((pong.fin, pong.opcode), (true, PONG));
    assert_eq!(pong.payload, b"are you there?");
    // And the connection goes on.
    client.send_text("still here");
    assert_eq!(client.read_text(), "You have entered: still here");
}

#[test]
fn a_close_is_echoed_then_the_connection_ends() {
    let lesson = Lesson::start("");
    // §5.5.1: the answer to a close carries its status code, then the
    // server closes the TCP connection (§7.1.1).
    let mut client = lesson.client();
    client.send_close(1000);
    assert_eq!(client.expect_close(), Some(1000));
    client.expect_eof();

    // A close with no payload has no code (§7.1.5), and gets none back.
    let mut client = lesson.client();
    client.send(&frame(CLOSE, b""));
    let close = client.read_frame();
    assert_eq!((close.opcode, close.payload.len()), (CLOSE, 0));
    client.expect_eof();
}

/// The whole answer to `request`, read to the end of the connection: the
/// server must close it, or the read times out and the test fails.
fn http(lesson: &Lesson, request: &str) -> Response {
    let mut stream = lesson.connect();
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .expect("the whole answer, then the end of the connection");
    Response::parse(&raw)
}

#[test]
fn plain_http_gets_the_page_and_bad_handshakes_a_refusal() {
    let lesson = Lesson::start("");
    let page = http(&lesson, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(page.status, 200, "{}", page.head);
    let body = String::from_utf8_lossy(&page.body);
    assert!(body.contains("<title>WebSocket</title>"), "{body}");
    assert_eq!(
        page.header("Content-Length"),
        Some(&*page.body.len().to_string())
    );

    // §4.2.1 item 5: no key, no handshake.
    let no_key = TUTORIAL_REQUEST.replace("Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n", "");
    assert_eq!(http(&lesson, &no_key).status, 400);

    // §4.4: another version is told the one this server speaks.
    let version_8 = TUTORIAL_REQUEST.replace("Version: 13", "Version: 8");
    let refused = http(&lesson, &version_8);
    assert_eq!(refused.status, 426, "{}", refused.head);
    assert_eq!(refused.header("Sec-WebSocket-Version"), Some("13"));
}

/// Send `bytes` on a fresh connection past its 101, and expect the
/// connection failed (§7.1.7): a close frame with `code`, then the end.
fn expect_failed_with(lesson: &Lesson, bytes: &[u8], code: u16) {
    let mut client = lesson.client();
    client.send(bytes);
    assert_eq!(client.expect_close(), Some(code), "for {bytes:02x?}");
    client.expect_eof();
}

#[test]
fn frames_that_break_section_5_fail_the_connection_with_1002() {
    let lesson = Lesson::start("");
    let mask = [1, 2, 3, 4];
    // §5.2: an RSV bit without an extension that gives it a meaning.
    expect_failed_with(&lesson, &masked_frame(0xC1, b"Hello", mask), 1002);
    // §5.2: opcode 0x3 is reserved.
    expect_failed_with(&lesson, &masked_frame(0x83, b"Hello", mask), 1002);
    // §5.5: a control frame's payload is at most 125 bytes.
    expect_failed_with(&lesson, &frame(PING, &pattern(126)), 1002);
}

#[test]
fn an_unmasked_frame_alone_fails_with_1002() {
    let lesson = Lesson::start("");
    // §5.2: with MASK 0 there is no masking key; the frame is these 7
    // bytes, whole, and §5.1 says to fail the connection at once.
    expect_failed_with(&lesson, &[&[0x81, 5][..], b"Hello"].concat(), 1002);
}

#[test]
fn a_header_that_breaks_section_5_fails_before_any_payload_comes() {
    let lesson = Lesson::start("");
    // Only the headers are sent: a lesson that waited for the payload they
    // declare would never answer. §5.5: a ping of 2^40 bytes; §5.1: an
    // unmasked text frame of 2^40 bytes; §5.2: a 64-bit length with its
    // top bit set; §5.4: a continuation with nothing to continue.
    let huge = |first: u8, second: u8, length: u64| {
        [&[first, second][..], &length.to_be_bytes(), &[1, 2, 3, 4]].concat()
    };
    expect_failed_with(&lesson, &huge(0x89, 0xFF, 1 << 40), 1002);
    expect_failed_with(&lesson, &huge(0x81, 0x7F, 1 << 40), 1002);
    expect_failed_with(&lesson, &huge(0x81, 0xFF, 1 << 63), 1002);
    expect_failed_with(&lesson, &frame(CONTINUATION, b"more"), 1002);
}

#[test]
fn binary_and_fragmented_messages_are_left_out_with_1003() {
    let lesson = Lesson::start("");
    // §7.4.1: 1003, "a type of data it cannot accept". The header comment
    // says both are left out on purpose.
    expect_failed_with(&lesson, &frame(BINARY, b"\x00\x01"), 1003);
    // §5.4: FIN 0 opens a fragmented message.
    expect_failed_with(&lesson, &masked_frame(TEXT, b"Hel", [9, 8, 7, 6]), 1003);
}

#[test]
fn a_client_that_leaves_is_forgotten() {
    let lesson = Lesson::start("");
    let client = lesson.client();
    drop(client);
    // §7.1.5: the TCP connection ended with no close frame.
    assert!(lesson.wait_for_log("Client left"), "{}", lesson.log());
}

#[test]
fn a_client_that_sends_and_half_closes_still_gets_its_answers() {
    let lesson = Lesson::start("");
    // A FIN ends what the peer sends, not what it reads (RFC 9293 §3.6):
    // a request, a message and a close, then a FIN in the same breath,
    // still get the 101, the reply and the close's echo.
    let mut stream = lesson.connect();
    let close = masked_frame(0x88, &1000u16.to_be_bytes(), [1, 2, 3, 4]);
    let hello = masked_frame(0x81, b"Hello", [1, 2, 3, 4]);
    let all = [TUTORIAL_REQUEST.as_bytes(), &hello, &close].concat();
    stream.write_all(&all).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(read_head(&mut stream).starts_with("HTTP/1.1 101 "));
    assert_eq!(read_raw_frame(&mut stream).1, entered(b"Hello"));
    assert_eq!(
        read_raw_frame(&mut stream),
        (vec![0x88, 2], vec![0x03, 0xe8])
    );
}

#[test]
fn a_websocket_request_for_slash_without_a_version_is_refused_not_paged() {
    let lesson = Lesson::start("");
    let mut stream = lesson.connect();
    let request = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
                   Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    assert!(read_head(&mut stream).starts_with("HTTP/1.1 400 "));
}

#[test]
fn help_lists_every_bug_and_bad_flags_exit_2() {
    let help = run(&["--help"]);
    assert_eq!(help.code, Some(0), "{}", help.stderr);
    for id in ["B4", "B5", "B6", "B8", "B14", "B16", "B20", "all"] {
        assert!(
            help.stdout.contains(id),
            "--help lacks {id}: {}",
            help.stdout
        );
    }
    // `--port 0` first, so that a lesson that failed to stop would not
    // take the default port.
    for args in [
        &["--port", "0", "--php-bugs", "B99"][..],
        &["--port", "0", "--php-bugs", "B4,B7"],
        &["--port", "0", "--no-such-flag"],
        &["--port", "0", "--php-bugs"],
    ] {
        let exit = run(args);
        assert_eq!(exit.code, Some(2), "{args:?}: {}", exit.stderr);
        assert!(exit.stderr.contains("Usage:"), "{args:?}: {}", exit.stderr);
    }
}
