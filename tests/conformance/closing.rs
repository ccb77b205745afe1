//! The closing handshake (RFC 6455 §5.5.1, §7) and close codes (§7.4).
//! Autobahn case group 7.

use crate::common::*;
use crate::*;

#[test]
fn valid_close_codes_are_echoed_and_then_the_server_closes_tcp() {
    // RFC 6455 §5.5.1: an endpoint that gets a close frame "MUST send a
    // Close frame in response" and "typically echos the status code it
    // received"; §7.1.1: the server then closes the TCP connection first.
    // §7.4.1 defines 1000-1003 and 1007-1011; the IANA registry (§11.7)
    // added 1012-1014; 3000-4999 are for libraries and applications (§7.4.2).
    let server = Server::echo(&[]);
    let codes = [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000,
        4999,
    ];
    for code in codes {
        println!("close code {code}");
        let mut client = server.client();
        client.send_close(code);
        expect_close_echo(&mut client, code);
    }
}

#[test]
fn a_close_with_a_reason_is_echoed_with_its_code() {
    // RFC 6455 §5.5.1: the code may be followed by a UTF-8 reason.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&close_frame(4321, "fin de la conversación".as_bytes()));
    expect_close_echo(&mut client, 4321);
}

#[test]
fn an_empty_close_gets_an_empty_close() {
    // RFC 6455 §5.5.1: a close frame "MAY contain a body"; with none there is
    // no code to echo, and this server sends none back (§7.1.5: code 1005,
    // "no status", is never put on the wire).
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&whole(CLOSE, b""));
    client.stream.set_read_timeout(Some(PROMPTLY)).unwrap();
    let reply = client.read_frame();
    assert!(
        reply.opcode == CLOSE && reply.fin,
        "got a {}",
        describe(&reply)
    );
    assert_eq!(hex(&reply.payload), hex(b""), "the reply's payload");
    expect_tcp_closed(&mut client);
}

#[test]
fn a_one_byte_close_payload_fails_with_1002() {
    // RFC 6455 §5.5.1: a body "MUST" start with a two-byte code; one byte
    // cannot hold one.
    let server = Server::echo(&[]);
    for byte in [0x03, 0x00, 0xFF] {
        let bytes = whole(CLOSE, &[byte]);
        fails_with(
            &server,
            &format!("close payload [{byte:#04x}]"),
            &bytes,
            PROTOCOL_ERROR,
        );
    }
}

#[test]
fn close_codes_that_may_not_be_sent_fail_with_1002() {
    // RFC 6455 §7.4.1, §7.4.2: 0-999 are never used; 1004 is reserved;
    // 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close
    // control frame"; 1016-2999 are reserved for future use (unassigned in
    // the IANA registry); nothing is defined from 5000 up.
    let server = Server::echo(&[]);
    for code in [
        0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let bytes = close_frame(code, b"");
        fails_with(
            &server,
            &format!("close code {code}"),
            &bytes,
            PROTOCOL_ERROR,
        );
        let bytes = close_frame(code, b"with a reason");
        fails_with(
            &server,
            &format!("close code {code}, reason"),
            &bytes,
            PROTOCOL_ERROR,
        );
    }
}

#[test]
fn a_close_reason_that_is_not_utf8_fails_with_1007() {
    // RFC 6455 §5.5.1: the reason is UTF-8; §8.1: bytes that are not valid
    // UTF-8 where UTF-8 is expected fail the connection, code 1007.
    let server = Server::echo(&[]);
    let cases: [(&str, &[u8]); 5] = [
        ("0xFF", &[0xFF]),
        ("surrogate", &[b'a', 0xED, 0xA0, 0x80]),
        ("overlong", &[0xC0, 0xAF]),
        ("cut short", &[b'b', b'y', b'e', 0xE2, 0x82]),
        ("above U+10FFFF", &[0xF4, 0x90, 0x80, 0x80]),
    ];
    for (case, reason) in cases {
        fails_with(&server, case, &close_frame(NORMAL, reason), INVALID_DATA);
    }
}

#[test]
fn a_close_reason_of_123_bytes_is_accepted() {
    // RFC 6455 §5.5: a control payload may be 125 bytes: 2 for the code and
    // 123 for the reason, here multi-byte characters to the last byte.
    let server = Server::echo(&[]);
    for reason in ["r".repeat(123), format!("{}!", "é".repeat(61))] {
        assert_eq!(reason.len(), 123);
        let mut client = server.client();
        client.send(&close_frame(1001, reason.as_bytes()));
        expect_close_echo(&mut client, 1001);
    }
}

#[test]
fn a_close_payload_over_125_bytes_fails_with_1002() {
    // RFC 6455 §5.5: no control frame may carry more than 125 bytes, so a
    // 124-byte reason (126 in all) is a protocol error.
    let server = Server::echo(&[]);
    let bytes = close_frame(NORMAL, &[b'r'; 124]);
    fails_with(
        &server,
        "close with a 124-byte reason",
        &bytes,
        PROTOCOL_ERROR,
    );
}

#[test]
fn a_fragmented_close_fails_with_1002() {
    // RFC 6455 §5.5: control frames "MUST NOT be fragmented".
    let server = Server::echo(&[]);
    let first = fragment(false, CLOSE, &NORMAL.to_be_bytes());
    fails_with(&server, "close with FIN clear", &first, PROTOCOL_ERROR);
    let split = [
        fragment(false, CLOSE, &[0x03]),
        fragment(true, CONTINUATION, &[0xE8]),
    ]
    .concat();
    fails_with(&server, "close in two fragments", &split, PROTOCOL_ERROR);
}

#[test]
fn messages_before_the_close_are_echoed_first() {
    // RFC 6455 §7.1.2 ff.: the close ends the stream of frames; everything
    // before it is handled as usual, in order.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(
        &[
            whole(TEXT, b"last words"),
            whole(PING, b"p"),
            close_frame(NORMAL, b""),
        ]
        .concat(),
    );
    expect_echo(&mut client, TEXT, b"last words");
    expect_pong(&mut client, b"p");
    expect_close_echo(&mut client, NORMAL);
}

#[test]
fn frames_after_the_clients_close_get_no_answer() {
    // RFC 6455 §5.5.1: "After sending a Close frame, the endpoint MUST NOT
    // send any more data frames" (and the peer sends none after its close:
    // any that come are ignored). Sent in the same write as the close.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(
        &[
            close_frame(NORMAL, b"bye"),
            whole(TEXT, b"after the close"),
            whole(PING, b"after the close"),
            whole(BINARY, b"after the close"),
            close_frame(NORMAL, b"again"),
        ]
        .concat(),
    );
    expect_close_echo(&mut client, NORMAL);
}

#[test]
fn frames_sent_once_the_server_has_closed_get_no_answer() {
    // RFC 6455 §5.5.1 and §7.1.1: after its close reply the server sends
    // nothing, whatever arrives, and ends the TCP connection.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send_close(NORMAL);
    client.stream.set_read_timeout(Some(PROMPTLY)).unwrap();
    assert_eq!(read_close(&mut client), Some(NORMAL));
    client.send(&[whole(TEXT, b"too late"), whole(PING, b"too late")].concat());
    expect_tcp_closed(&mut client);
}

#[test]
fn after_a_failure_later_frames_are_ignored_and_tcp_is_closed() {
    // RFC 6455 §7.1.7: failing the connection means sending a close (1002
    // here) and closing TCP; "the endpoint MUST NOT continue to attempt to
    // process data (including a responding Close frame) from the remote
    // endpoint". Nothing sent after the bad frame is answered.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(
        &[
            whole(0x3, b"reserved opcode"),
            whole(PING, b"ignored"),
            whole(TEXT, b"ignored"),
            close_frame(NORMAL, b"ignored"),
        ]
        .concat(),
    );
    expect_failure(&mut client, PROTOCOL_ERROR);

    // The same when the client answers the failure's close, after it came.
    let mut client = server.client();
    client.send(&whole(0x3, b""));
    client.stream.set_read_timeout(Some(PROMPTLY)).unwrap();
    assert_eq!(read_close(&mut client), Some(PROTOCOL_ERROR));
    client.send(&[whole(PING, b"ignored"), close_frame(PROTOCOL_ERROR, b"")].concat());
    expect_tcp_closed(&mut client);
}

#[test]
fn a_client_that_half_closes_after_its_close_frame_still_gets_the_reply() {
    // RFC 6455 §7.1.2 ff.: a client may stop sending (TCP half-close) right
    // after its close frame; it still reads, so the server's close reply is
    // owed and must arrive, followed by the end of the connection. The same
    // holds for the close that fails a connection (§7.1.7).
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&[whole(TEXT, b"last"), close_frame(NORMAL, b"")].concat());
    client.shutdown_write();
    expect_echo(&mut client, TEXT, b"last");
    expect_close_echo(&mut client, NORMAL);

    let mut client = server.client();
    client.send(&whole(0xB, b"reserved"));
    client.shutdown_write();
    expect_failure(&mut client, PROTOCOL_ERROR);
}
