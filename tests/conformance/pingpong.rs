//! Ping and pong (RFC 6455 §5.5, §5.5.2, §5.5.3). Autobahn case group 2.

use crate::common::*;
use crate::*;

#[test]
fn a_ping_gets_a_pong_with_identical_payload() {
    // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send
    // a Pong frame in response"; §5.5.3: the Pong "MUST have identical
    // "Application data" as found in the message body of the Ping frame".
    let server = Server::echo(&[]);
    let mut client = server.client();
    let payloads: [&[u8]; 5] = [
        b"Hello, pong",
        "κόσμε".as_bytes(),
        &[0x00, 0xFF, 0xFE, 0xC0, 0x80], // not UTF-8: control data is bytes
        &[0x00],
        b"a",
    ];
    for payload in payloads {
        client.send(&whole(PING, payload));
        expect_pong(&mut client, payload);
    }
}

#[test]
fn an_empty_ping_gets_an_empty_pong() {
    // RFC 6455 §5.5.3: identical application data, here none at all.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&whole(PING, b""));
    expect_pong(&mut client, b"");
}

#[test]
fn a_ping_with_125_bytes_gets_all_125_back() {
    // RFC 6455 §5.5: "All control frames MUST have a payload length of 125
    // bytes or less": 125 is the largest allowed, and every byte comes back.
    let server = Server::echo(&[]);
    let mut client = server.client();
    let payload: Vec<u8> = (0..125).map(|i| (255 - 2 * i) as u8).collect();
    client.send(&whole(PING, &payload));
    expect_pong(&mut client, &payload);
}

#[test]
fn a_ping_with_126_bytes_fails_with_1002() {
    // RFC 6455 §5.5: a control frame of more than 125 bytes breaks the
    // protocol; no pong may come first (expect_failure reads the close as
    // the very next frame).
    let server = Server::echo(&[]);
    fails_with(
        &server,
        "126-byte ping",
        &whole(PING, &[b'x'; 126]),
        PROTOCOL_ERROR,
    );
    let huge = header_declaring(0x80 | PING, 1 << 20);
    fails_with(
        &server,
        "ping header declaring 1 MiB",
        &huge,
        PROTOCOL_ERROR,
    );
}

#[test]
fn a_pong_with_126_bytes_fails_with_1002() {
    // RFC 6455 §5.5: the 125-byte limit applies to every control frame.
    let server = Server::echo(&[]);
    fails_with(
        &server,
        "126-byte pong",
        &whole(PONG, &[b'y'; 126]),
        PROTOCOL_ERROR,
    );
}

#[test]
fn a_fragmented_ping_fails_with_1002() {
    // RFC 6455 §5.5: control frames "MUST NOT be fragmented"; §5.4: "Control
    // frames ... MUST NOT be fragmented."
    let server = Server::echo(&[]);
    let split = [
        fragment(false, PING, b"frag"),
        fragment(true, CONTINUATION, b"mented"),
    ]
    .concat();
    fails_with(&server, "ping in two fragments", &split, PROTOCOL_ERROR);
    // The first fragment alone is enough to know: no need to wait.
    fails_with(
        &server,
        "ping with FIN clear",
        &fragment(false, PING, b"frag"),
        PROTOCOL_ERROR,
    );
    fails_with(
        &server,
        "empty ping with FIN clear",
        &fragment(false, PING, b""),
        PROTOCOL_ERROR,
    );
}

#[test]
fn a_fragmented_pong_fails_with_1002() {
    // RFC 6455 §5.5: no control frame may be fragmented, pongs included.
    let server = Server::echo(&[]);
    fails_with(
        &server,
        "pong with FIN clear",
        &fragment(false, PONG, b"frag"),
        PROTOCOL_ERROR,
    );
}

#[test]
fn an_unsolicited_pong_is_ignored_and_the_connection_keeps_working() {
    // RFC 6455 §5.5.3: "A Pong frame MAY be sent unsolicited. ... A response
    // to an unsolicited Pong frame is not expected." The next thing the
    // server sends must be the echo of the text that follows the pongs.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&[whole(PONG, b"unsolicited"), whole(PONG, b"")].concat());
    client.send(&whole(PONG, &[0xFF; 125]));
    client.send(&whole(TEXT, b"still here"));
    expect_echo(&mut client, TEXT, b"still here");
    client.send(&whole(PING, b"and alive"));
    expect_pong(&mut client, b"and alive");
}

#[test]
fn a_ping_between_fragments_is_answered_before_the_message_completes() {
    // RFC 6455 §5.4: control frames "MAY be injected in the middle of a
    // fragmented message"; §5.5.2: the pong is sent "as soon as is
    // practical", so it may not wait for the message to end.
    let server = Server::echo(&[]);
    let mut client = server.client();
    client.send(&fragment(false, TEXT, b"Hel"));
    client.send(&whole(PING, b"mid-message"));
    expect_pong(&mut client, b"mid-message"); // the message is still open
    client.send(&fragment(false, CONTINUATION, b"lo, "));
    client.send(&whole(PING, b"again"));
    expect_pong(&mut client, b"again");
    client.send(&fragment(true, CONTINUATION, b"world"));
    expect_echo(&mut client, TEXT, b"Hello, world");
}

#[test]
fn ten_pings_in_one_write_get_ten_pongs_in_order() {
    // RFC 6455 §5.5.2: every ping gets its pong (this server answers each,
    // rather than only the latest, which §5.5.3 would also allow).
    let server = Server::echo(&[]);
    let mut client = server.client();
    let pings: Vec<u8> = (0..10)
        .flat_map(|i| whole(PING, format!("ping {i}").as_bytes()))
        .collect();
    client.send(&pings);
    for i in 0..10 {
        expect_pong(&mut client, format!("ping {i}").as_bytes());
    }
}
