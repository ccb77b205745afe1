//! The table an inspector gets when it comes, then each kind of event as
//! it happens, the caps on what a peer's bytes may fill, and escaping.

use crate::common::{
    frame, handshake_request, masked_frame, Client, Server, CLOSE, MASKED_HELLO, TEXT,
};
use crate::inspector::Inspector;
use crate::json::Value;
use std::io::Write;
use std::time::Duration;

/// An event for the client `id`.
fn of(id: &str) -> impl Fn(&Value) -> bool + '_ {
    move |event| event.get("id") == &Value::Str(id.to_string())
}

/// A WebSocket client from a port the events can name, and its id, read
/// off the inspector's `accepted` event.
fn arrive(server: &Server, inspector: &mut Inspector, extra: &str) -> (Client, String, String) {
    let mut client = Client::raw(server.connect());
    let peer = client.stream.local_addr().unwrap().to_string();
    let head = client.handshake(&handshake_request(server.addr, extra));
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let accepted = inspector.until("accepted", |e| e.get("peer").str() == peer);
    (client, accepted.get("id").str().to_string(), head)
}

/// Read a chat member's frames until one contains `marker`.
fn hear(member: &mut Client, marker: &str) {
    while !member.read_text().contains(marker) {}
}

#[test]
fn an_inspector_gets_the_table_when_it_comes() {
    let server = Server::start(&["--inspect", "--mode", "chat"]);
    let mut alice = server.client();
    hear(&mut alice, "welcome");
    alice.send_text("/nick alice");
    hear(&mut alice, "\"nick\"");
    let mut bob = server.client();
    hear(&mut bob, "welcome");
    hear(&mut alice, "\"join\"");
    // Still in its handshake: nobody knows yet whether it is an inspector.
    let mut waiting = server.connect();
    waiting.write_all(b"GET / HTTP/1.1\r\n").unwrap();

    let mut inspector = Inspector::connect(&server);
    let hello = inspector.until("hello", |_| true);
    assert_eq!(hello.get("mode").str(), "chat");
    assert_eq!(hello.get("details_per_second").num(), 2000);
    let table = inspector.until("table", |_| true);
    let rows = table.get("rows").arr();
    assert_eq!(rows.len(), 2, "{table}");
    let peer = |client: &Client| client.stream.local_addr().unwrap().to_string();
    let row = |client: &Client| rows.iter().find(|r| r.get("peer").str() == peer(client));
    let (a, b) = (
        row(&alice).expect("alice's row"),
        row(&bob).expect("bob's row"),
    );
    assert_eq!(a.get("name").str(), "alice");
    let id = b.get("id").str();
    assert!(
        id.len() == 13 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(b.get("name").str(), &id[7..], "a member's short id");
    for r in [a, b] {
        assert!(r.get("socket").num() > 2, "{r}");
        assert!(r.get("handshake").bool(), "the PHP's handshake flag: {r}");
        assert_eq!(r.get("state").str(), "open");
        assert!(
            r.get("bytes_in").num() > 100 && r.get("bytes_out").num() > 100,
            "{r}"
        );
        assert_eq!(r.get("queued").num(), 0);
        assert!(
            r.get("deadline").num() > table.get("t").num() + 50_000,
            "{r}"
        );
        assert!(r.get("deadline_for").str().contains("ping"), "{r}");
    }
    // alice: her /nick in; her welcome, her join, her nick and bob's join out.
    assert_eq!(
        (a.get("frames_in").num(), a.get("frames_out").num()),
        (1, 4)
    );
    assert_eq!(
        (b.get("frames_in").num(), b.get("frames_out").num()),
        (0, 2)
    );
}

/// One connection's life as the inspector tells it: accepted, its head,
/// the key worked out, each frame both ways, the closing handshake, gone.
#[test]
fn a_connection_from_accepted_to_gone() {
    let server = Server::start(&["--inspect"]);
    let mut inspector = Inspector::connect(&server);
    inspector.until("table", |_| true);
    let chat = "Sec-WebSocket-Protocol: chat\r\n";
    let (mut client, id, response) = arrive(&server, &mut inspector, chat);
    let request = handshake_request(server.addr, chat);
    the_handshake_is_told(&mut inspector, &id, &request, &response);
    client.send(&MASKED_HELLO);
    let answer = client.read_text(); // the tutorial's greeting: "Hello" is a command
    the_masked_hello_is_told(&mut inspector, &id, &answer);
    client.send(&frame(CLOSE, b"\x03\xe8bye"));
    assert_eq!(client.expect_close(), Some(1000));
    client.expect_eof();
    the_close_is_told(&mut inspector, &id);
}

/// The head as it came, the key worked out as RFC 6455 §1.3 works out its
/// example, the 101, and the row now open.
fn the_handshake_is_told(inspector: &mut Inspector, id: &str, request: &str, response: &str) {
    let head = inspector.until("request", of(id));
    assert_eq!(head.get("head").str(), request);
    assert!(!head.get("cut").bool());
    let key = inspector.until("handshake", of(id));
    let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    assert_eq!(key.get("key").str(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(key.get("guid").str(), guid);
    assert_eq!(
        key.get("key_guid").str(),
        format!("dGhlIHNhbXBsZSBub25jZQ=={guid}")
    );
    let sha1 = "b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea";
    assert_eq!(key.get("sha1").str(), sha1);
    assert_eq!(key.get("accept").str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(key.get("subprotocol").str(), "chat");
    assert_eq!(key.get("response").str(), response);
    let open = inspector.until("row", |e| of(id)(e) && e.get("state").str() == "open");
    assert!(open.get("handshake").bool());
}

/// RFC 6455 §5.7's masked "Hello", field by field, and the answer.
fn the_masked_hello_is_told(inspector: &mut Inspector, id: &str, answer: &str) {
    let hello = inspector.until("frame", |e| of(id)(e) && e.get("dir").str() == "in");
    let field = |name: &str| hello.get(name).clone();
    assert_eq!(field("fin"), Value::Bool(true));
    for rsv in ["rsv1", "rsv2", "rsv3"] {
        assert_eq!(field(rsv).num(), 0);
    }
    assert_eq!((field("opcode").num(), field("opname").str()), (1, "text"));
    assert_eq!(field("masked"), Value::Bool(true));
    assert_eq!(field("key").str(), "37 fa 21 3d");
    let length = (field("len").num(), field("len7").num());
    assert_eq!((length, field("form").str()), ((5, 5), "7-bit"));
    assert_eq!(field("header").str(), "81 85 37 fa 21 3d");
    assert_eq!(field("wire").str(), "7f 9f 4d 51 58");
    assert_eq!(field("plain").str(), "48 65 6c 6c 6f");
    assert_eq!(field("text").str(), "Hello");
    let reply = inspector.until("frame", |e| of(id)(e) && e.get("dir").str() == "out");
    assert_eq!(reply.get("text").str(), answer);
    assert_eq!(reply.get("masked"), &Value::Bool(false));
    assert_eq!(reply.get("key"), &Value::Null);
    let header = format!("81 {:02x}", answer.len());
    assert_eq!(reply.get("header").str(), header);
}

/// The peer's close frame, its event, our echo, the states on the way
/// out, and the row gone.
fn the_close_is_told(inspector: &mut Inspector, id: &str) {
    let close = inspector.until("frame", |e| of(id)(e) && e.get("opcode").num() == 8);
    assert_eq!(close.get("code").num(), 1000);
    assert_eq!(close.get("reason").str(), "bye");
    assert_eq!(close.get("code_means").str(), "normal closure");
    let told = inspector.until("event", of(id));
    assert_eq!(told.get("what").str(), "peer-closed");
    assert_eq!(told.get("code").num(), 1000);
    let ours = |e: &Value| of(id)(e) && e.get("dir").str() == "out" && e.get("opcode").num() == 8;
    let echo = inspector.until("frame", ours);
    assert_eq!(echo.get("code").num(), 1000);
    inspector.until("gone", of(id));
    let rows = inspector.of("row");
    let states: Vec<&str> = rows
        .iter()
        .filter(|e| of(id)(e))
        .map(|e| e.get("state").str())
        .collect();
    assert_eq!(states.first(), Some(&"open"), "{states:?}");
    let ending = states.iter().any(|s| *s == "flushing" || *s == "lingering");
    assert!(ending, "{states:?}");
}

/// What a peer sends reaches the page as it was: quotes, backslashes, line
/// ends, control characters and a line separator cannot break the JSON.
#[test]
fn text_is_escaped() {
    let server = Server::start(&["--inspect", "--mode", "echo"]);
    let mut inspector = Inspector::connect(&server);
    let (mut client, id, _) = arrive(&server, &mut inspector, "");
    let nasty = "a \"quoted\" \\ back\nslash\r\t\u{1}\u{1b}[31m \u{2028} é 😀 \"},{\"kind\":\"gone";
    client.send_text(nasty);
    assert_eq!(client.read_text(), nasty);
    let got = inspector.until("frame", of(&id));
    assert_eq!(got.get("text").str(), nasty);
    assert!(inspector.of("gone").is_empty());
}

#[test]
fn refusals_and_pages_are_told() {
    let server = Server::start(&["--inspect"]);
    let mut inspector = Inspector::connect(&server);
    inspector.until("table", |_| true);
    let addr = server.addr;
    let cases = [
        (
            handshake_request(addr, "").replace("Version: 13", "Version: 8"),
            426,
            "only WebSocket version 13 is supported",
        ),
        (
            handshake_request(addr, "Origin: http://evil.example\r\n"),
            403,
            "Origin not allowed",
        ),
        ("HELLO\r\n\r\n".to_string(), 400, ""),
        (
            format!("GET /nope.html HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
            404,
            "no such file",
        ),
    ];
    for (raw, status, reason) in cases {
        let mut client = Client::raw(server.connect());
        let peer = client.stream.local_addr().unwrap().to_string();
        let head = client.handshake(&raw);
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        let id = inspector
            .until("accepted", |e| e.get("peer").str() == peer)
            .get("id")
            .str()
            .to_string();
        inspector.until("request", of(&id));
        let refused = inspector.until("refused", of(&id));
        assert_eq!(refused.get("status").num(), status);
        assert!(refused.get("reason").str().contains(reason), "{refused}");
        assert!(refused
            .get("response")
            .str()
            .starts_with(&format!("HTTP/1.1 {status} ")));
    }
    let page = server.http(&format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n"));
    assert_eq!(page.status, 200);
    let told = inspector.until("page", |e| e.get("status").num() == 200);
    assert_eq!(
        (told.get("method").str(), told.get("target").str()),
        ("GET", "/")
    );
}

/// An idle client is pinged, and dropped when it does not answer; a
/// connection that never sends its head is shown when it is dropped.
#[test]
fn pings_and_timeouts_are_told() {
    let server = Server::start(&[
        "--inspect",
        "--idle-timeout",
        "1",
        "--handshake-timeout",
        "1",
    ]);
    let mut inspector = Inspector::connect(&server);
    inspector.until("table", |_| true);
    let (_silent, id, _) = arrive(&server, &mut inspector, "");
    let mute = server.connect();
    let mute_peer = mute.local_addr().unwrap().to_string();
    let ping = inspector.until("event", |e| of(&id)(e) && e.get("what").str() == "ping");
    assert!(ping.get("detail").str().contains("ping"));
    let frame = inspector.until("frame", |e| of(&id)(e) && e.get("opname").str() == "ping");
    assert_eq!(frame.get("data").str(), "are you there?");
    let row = inspector.until("row", |e| {
        of(&id)(e) && e.get("deadline_for").str().contains("answer")
    });
    assert!(row.get("deadline").num() > ping.get("t").num());
    let close = inspector.until("frame", |e| of(&id)(e) && e.get("opname").str() == "close");
    assert_eq!(
        (close.get("code").num(), close.get("reason").str()),
        (1011, "no answer to a ping")
    );
    let dropped = inspector.until("event", |e| of(&id)(e) && e.get("what").str() == "dropped");
    assert!(dropped.get("timeout").bool());
    assert_eq!(dropped.get("detail").str(), "did not answer a ping");
    inspector.until("gone", of(&id));
    // The connection that said nothing.
    let accepted = inspector.until("accepted", |e| e.get("peer").str() == mute_peer);
    let mute_id = accepted.get("id").str().to_string();
    let dropped = inspector.until("event", of(&mute_id));
    assert_eq!(dropped.get("detail").str(), "no handshake within 1s");
    inspector.until("gone", of(&mute_id));
}

/// A message to the whole room is one event, with its member count.
#[test]
fn a_message_to_the_room_is_one_event() {
    let server = Server::start(&["--inspect", "--mode", "chat"]);
    let mut members: Vec<Client> = (0..3).map(|_| server.client()).collect();
    for member in &mut members {
        hear(member, "welcome");
    }
    let mut inspector = Inspector::connect(&server);
    inspector.until("table", |_| true);
    members[0].send_text("hello room");
    for member in &mut members {
        hear(member, "hello room");
    }
    inspector.until("frame", |e| {
        e.get("dir").str() == "all" && e.get("text").str().contains("hello room")
    });
    inspector.read_for(Duration::from_millis(300));
    let out: Vec<&Value> = inspector
        .of("frame")
        .into_iter()
        .filter(|e| e.get("dir").str() != "in" && e.get("text").str().contains("hello room"))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].get("members").num(), 3);
}

/// A peer's bytes fill an event only so far: a payload to its first 125
/// bytes, a head to 1 KiB; the lengths say how much there was.
#[test]
fn what_a_peer_sent_is_cut_short() {
    let server = Server::start(&["--inspect", "--mode", "echo"]);
    let mut inspector = Inspector::connect(&server);
    let long = format!("X-Long: {}\r\n", "h".repeat(5000));
    let (mut client, id, _) = arrive(&server, &mut inspector, &long);
    let request = inspector.until("request", of(&id));
    assert!(request.get("cut").bool());
    assert!(request.get("bytes").num() > 5000);
    assert_eq!(request.get("head").str().len(), 1024);
    for (size, form, len7) in [(10_000, "16-bit", 126), (70_000, "64-bit", 127)] {
        let text = "é".repeat(size / 2);
        client.send(&masked_frame(0x80 | TEXT, text.as_bytes(), [1, 2, 3, 4]));
        assert_eq!(client.read_text(), text);
        let seen = inspector.until("frame", |e| of(&id)(e) && e.get("len").num() == size as u64);
        assert_eq!(
            (seen.get("form").str(), seen.get("len7").num()),
            (form, len7)
        );
        assert_eq!(seen.get("plain").str().split(' ').count(), 125);
        assert_eq!(seen.get("wire").str().split(' ').count(), 125);
        // 62 whole characters, and the half of one cut in two.
        assert_eq!(
            seen.get("text").str(),
            format!("{}\u{fffd}", "é".repeat(62))
        );
    }
}

/// Found in review: what settling a client does (its half-close after our
/// close frame, its drop after a hang-up) was told a turn late, and the
/// loop could sleep a whole second before that turn. Here a client that
/// hangs up without a close frame is told gone well within that second,
/// and one that closes cleanly but keeps TCP open is shown lingering.
#[test]
fn what_settling_does_is_told_at_once() {
    let server = Server::start(&["--inspect", "--mode", "echo"]);
    let mut inspector = Inspector::connect(&server);
    let (client, id, _) = arrive(&server, &mut inspector, "");
    inspector.until("row", |e| of(&id)(e) && e.get("state").str() == "open");
    let start = std::time::Instant::now();
    drop(client);
    inspector.until("gone", of(&id));
    let took = start.elapsed();
    assert!(took < Duration::from_millis(500), "told after {took:?}");

    let (mut client, id, _) = arrive(&server, &mut inspector, "");
    client.send(&frame(CLOSE, &[0x03, 0xe8]));
    inspector.until("row", |e| of(&id)(e) && e.get("state").str() == "lingering");
}
