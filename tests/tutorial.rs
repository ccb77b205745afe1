//! The port, end to end: the tutorial's server and page, over loopback.

mod common;

use common::*;

#[test]
fn several_messages_on_one_connection() {
    // The PHP closed the socket after the first message.
    let server = Server::start(&[]);
    let mut client = server.client();
    for text in ["first", "second", "κόσμε"] {
        client.send_text(text);
        assert_eq!(client.read_text(), format!("You have entered: {text}"));
    }
}

#[test]
fn two_clients_at_once_each_with_its_own_conversation() {
    let server = Server::start(&[]);
    let mut alice = server.client();
    let mut bob = server.client();
    alice.send_text("from alice");
    bob.send_text("from bob");
    assert_eq!(bob.read_text(), "You have entered: from bob");
    assert_eq!(alice.read_text(), "You have entered: from alice");
    // A third arrives after the first two have talked (the PHP refused it).
    let mut carol = server.client();
    carol.send_text("hi");
    assert!(carol.read_text().starts_with("Hello!"));
}

#[test]
fn each_command_has_its_reply() {
    let server = Server::start(&[]);
    let mut client = server.client();
    let mut ask = |command: &str| {
        client.send_text(command);
        client.read_text()
    };
    assert!(ask("hello").starts_with("Hello! Try one of: hello, hi, name"));
    assert!(ask("hi").starts_with("Hello!"));
    assert!(ask("name").contains("socket_server"));
    assert!(ask("age").starts_with("I have been running for "));
    let date = ask("date");
    assert!(
        date.starts_with("Today is ") && date.ends_with("(UTC)."),
        "{date}"
    );
    let time = ask("time");
    assert!(
        time.starts_with("The time is ") && time.ends_with(" UTC."),
        "{time}"
    );
    assert_eq!(ask("thanks"), "You're welcome!");
    assert_eq!(ask("  THANKS "), "You're welcome!");
}

#[test]
fn bye_answers_then_closes_with_1000() {
    let server = Server::start(&[]);
    let mut client = server.client();
    client.send_text("bye");
    assert_eq!(client.read_text(), "Goodbye!");
    client.expect_close_handshake(1000);
}

#[test]
fn client_close_is_answered_and_the_server_closes_tcp() {
    let server = Server::start(&[]);
    let mut client = server.client();
    client.send_close(1000);
    assert_eq!(client.expect_close(), Some(1000));
    client.expect_eof();
}

#[test]
fn ping_gets_a_pong_with_the_same_payload() {
    let server = Server::start(&[]);
    let mut client = server.client();
    client.send(&frame(PING, b"ping payload"));
    let pong = client.read_frame();
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (PONG, &b"ping payload"[..])
    );
}

#[test]
fn the_tutorials_handshake_byte_for_byte() {
    // It asks for server.example.com, from a page that came from
    // http://example.com: that host and that origin must be allowed (RFC
    // 6455 §10.2, and DNS rebinding; see the next test).
    let server = Server::start(&[
        "--allowed-host",
        "server.example.com",
        "--allowed-origin",
        "http://example.com",
    ]);
    let mut client = Client::raw(server.connect());
    let response = client.handshake(TUTORIAL_REQUEST);
    assert_eq!(
        response,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
    client.send_text("hello from the tutorial");
    assert_eq!(
        client.read_text(),
        "You have entered: hello from the tutorial"
    );
}

#[test]
fn the_tutorials_request_is_refused_by_default() {
    // Its Host is not this server's name...
    let server = Server::start(&[]);
    let response = server.http(TUTORIAL_REQUEST);
    assert_eq!(response.status, 403);
    assert!(server.wait_for_log("handshake refused: 403 the Host header does not name this server"));
    // ...and, the Host allowed, its page is another site's.
    let server = Server::start(&["--allowed-host", "server.example.com"]);
    let response = server.http(TUTORIAL_REQUEST);
    assert_eq!(response.status, 403);
    assert!(server.wait_for_log("handshake refused: 403 Origin not allowed"));
}

#[test]
fn a_handshake_without_upgrade_is_told_so() {
    let server = Server::start(&[]);
    let request = handshake_request(server.addr, "").replace("Upgrade: websocket\r\n", "");
    let response = server.http(&request);
    assert_eq!(response.status, 400);
    assert!(String::from_utf8_lossy(&response.body).contains("Upgrade: websocket"));
}

#[test]
fn the_page_is_served_over_http() {
    let server = Server::start(&[]);
    let response = server.http(&format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr));
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let page = String::from_utf8(response.body).unwrap();
    for needle in [
        "id=\"log\"",
        "id=\"msg\"",
        ">Send<",
        ">Quit<",
        "hello, hi, name, age, date, time, thanks, bye",
    ] {
        assert!(page.contains(needle), "page lacks {needle}");
    }
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    assert_eq!(server.http(&get("/nothing-here.html")).status, 404);
    assert_eq!(server.http(&get("/../Cargo.toml")).status, 404);
}

#[test]
fn version_12_gets_426_naming_version_13() {
    let server = Server::start(&[]);
    let request = handshake_request(server.addr, "").replace("Version: 13", "Version: 12");
    let response = server.http(&request);
    assert_eq!(response.status, 426);
    assert_eq!(response.header("Sec-WebSocket-Version"), Some("13"));
    // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
    assert_eq!(response.header("Upgrade"), Some("websocket"));
}

#[test]
fn http_rules_of_rfc_9112_get_their_status() {
    let server = Server::start(&[]);
    let status = |request: &str| {
        server
            .http(&request.replace("ADDR", &server.addr.to_string()))
            .status
    };
    assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400, "no Host");
    assert_eq!(
        status("GET / HTTP/1.1\r\nHost: ADDR\r\nHost: b\r\n\r\n"),
        400
    );
    assert_eq!(status("GET / HTTP/2.0\r\nHost: ADDR\r\n\r\n"), 505);
    assert_eq!(status("\r\nGET / HTTP/1.1\r\nHost: ADDR\r\n\r\n"), 200);
    let response = server.http(&format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr));
    assert!(response.header("Date").is_some_and(|d| d.ends_with(" GMT")));
}

#[test]
fn a_missing_key_gets_400() {
    let server = Server::start(&[]);
    let request = handshake_request(server.addr, "")
        .replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    let response = server.http(&request);
    assert_eq!(response.status, 400);
    assert!(String::from_utf8_lossy(&response.body).contains("Sec-WebSocket-Key"));
}

#[test]
fn post_gets_405() {
    let server = Server::start(&[]);
    let request = handshake_request(server.addr, "").replace("GET /", "POST /");
    assert_eq!(server.http(&request).status, 405);
}

#[test]
fn the_log_names_the_client_by_its_id() {
    let server = Server::start(&[]);
    let mut client = server.client();
    client.send_text("log me");
    client.read_text();
    assert!(server.wait_for_log("Data from client (text): log me"));
    let log = server.log();
    let line = log.lines().find(|l| l.contains("log me")).unwrap();
    // "[<13 hex digits>] Data from client ..."
    let id = line
        .split('[')
        .nth(2)
        .and_then(|rest| rest.split(']').next())
        .unwrap();
    assert_eq!(id.len(), 13, "{line}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{line}");
    assert!(log.contains(&format!("[{id}] Accepted client")), "{log}");
    assert!(log.contains(&format!("[{id}] handshake done")), "{log}");
}

/// The line is written after the reply (the PHP's order, lines 63 and
/// 64), from the first bytes the record kept of the message: it still says
/// how long the whole message was.
#[test]
fn a_long_message_is_logged_cut_with_its_whole_length() {
    let server = Server::start(&[]);
    let mut client = server.client();
    let text = "a".repeat(70_000);
    client.send_text(&text);
    client.read_text();
    let line = format!(
        "Data from client (text): {}... (70000 bytes)\n",
        "a".repeat(200)
    );
    assert!(server.wait_for_log(&line), "{}", server.log());
}

#[test]
fn handshake_headers_are_logged_at_debug_only() {
    let server = Server::start(&[]);
    server.client().send_text("x");
    assert!(server.wait_for_log("Data from client"));
    assert!(!server.log().contains("Handshaking headers"));
}

#[test]
fn debug_log_shows_the_headers_on_one_escaped_line() {
    let server = Server::start_with_env(&[], &[("RUST_LOG", "debug")]);
    drop(server.client());
    assert!(server.wait_for_log("Handshaking headers from client: GET /"));
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("Handshaking headers"))
        .unwrap();
    // The whole head on one line, its CR LF pairs written as escapes.
    assert!(line.contains("GET / HTTP/1.1\\r\\nHost: "), "{line}");
    assert!(
        line.contains("Sec-WebSocket-Version: 13\\r\\n\\r\\n"),
        "{line}"
    );
}

#[test]
fn control_characters_from_a_peer_never_reach_the_log_raw() {
    let server = Server::start(&[]);
    // In the request target: refused (RFC 9112 allows only visible ASCII).
    let request = handshake_request(server.addr, "").replace("GET / ", "GET /\x1b[31mred ");
    assert_eq!(server.http(&request).status, 400);
    // In a message: logged with escapes, on one line.
    let mut client = server.client();
    client.send_text("one\ntwo\r\x1b[31mred");
    client.read_text();
    assert!(server.wait_for_log("Data from client (text): one\\ntwo\\r\\u{1b}[31mred"));
    let log = server.log();
    assert!(!log.contains('\x1b'), "raw escape in the log");
    assert!(
        !log.lines().any(|l| l.starts_with("two")),
        "a peer started a log line"
    );
}

#[test]
fn an_independent_client_agrees() {
    // tungstenite: someone else's reading of RFC 6455.
    let server = Server::echo(&[]);
    let url = format!("ws://{}/", server.addr);
    let (mut socket, response) = tungstenite::connect(url).expect("tungstenite connects");
    assert_eq!(response.status().as_u16(), 101);
    for size in [0, 125, 126, 65535, 65536, 1 << 20] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        socket
            .send(tungstenite::Message::binary(payload.clone()))
            .unwrap();
        assert_eq!(
            socket.read().unwrap(),
            tungstenite::Message::binary(payload)
        );
    }
    socket.send(tungstenite::Message::text("κόσμε")).unwrap();
    assert_eq!(socket.read().unwrap(), tungstenite::Message::text("κόσμε"));
    socket.close(None).unwrap();
    // The server's close reply completes the handshake.
    loop {
        match socket.read() {
            Ok(tungstenite::Message::Close(_)) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
}
