//! Log injection: a peer must not be able to write its own log lines.
//!
//! The PHP appended whatever a client sent straight to `log.txt`. A message
//! holding "\n" could then forge a whole log line, and terminal escape codes
//! could hide or rewrite text when the log is read with `cat` or `tail -f`.
//! Here every byte from the network goes through `console::escape` first.
//! Would fail without that: the peer's newline would split the line and its
//! ESC byte would reach the file.

use crate::common::*;
use crate::support::is_record;

#[test]
fn control_characters_from_a_peer_are_escaped_in_the_log() {
    let server = Server::start(&[]);
    let mut client = server.client();
    let forged = "[2000-01-01T00:00:00.000Z INFO  socket_server] forged";
    let text = format!("one\ntwo\rthree\x1b[2Jfour\n{forged}");
    client.send_text(&text);
    assert_eq!(client.read_text(), format!("You have entered: {text}"));
    // A close reason is the peer's text too (RFC 6455 §5.5.1).
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye\nINFO forged close\x1b]0;title\x07");
    client.send(&frame(CLOSE, &close));
    assert_eq!(client.expect_close(), Some(1000));
    client.expect_eof();
    // A request target is the peer's text as well. RFC 9112 §3.2 allows
    // only visible ASCII there, so the server may refuse it (400) or serve
    // it (404 here); either way its line is written before the answer.
    let page = server.http("GET /\x1b[31mred HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(matches!(page.status, 400 | 404), "{}", page.head);

    assert!(server.wait_for_log("closed by client"));
    let log = server.log();
    let message = log
        .lines()
        .find(|line| line.contains("Data from client (text): one"))
        .unwrap_or_else(|| panic!("message not logged:\n{log}"));
    assert!(
        message.ends_with(&format!(
            "Data from client (text): one\\ntwo\\rthree\\u{{1b}}[2Jfour\\n{forged}"
        )),
        "{message}"
    );
    assert!(
        log.contains("reason \"bye\\nINFO forged close\\u{1b}]0;title\\u{7}\""),
        "{log}"
    );
    // Nothing raw got through, and every line is a record of our own.
    assert!(!log.contains(['\r', '\x1b', '\x07']), "{log:?}");
    for line in log.lines() {
        assert!(is_record(line), "a line the server did not write: {line:?}");
    }
}

/// `char::is_control` covers only the C0 and C1 controls (Unicode category
/// Cc). Some characters outside it are just as able to mislead whoever reads
/// the log: U+2028 and U+2029 are line and paragraph separators, which many
/// viewers and editors break lines at (a forged line again), and the
/// bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) make
/// text display in a different order from the one it is stored in (the
/// "Trojan Source" trick, CVE-2021-42574). Would fail while such
/// characters reach the log raw.
#[test]
fn unicode_line_separators_and_bidi_controls_are_escaped_in_the_log() {
    let server = Server::start(&[]);
    let mut client = server.client();
    let text = "sep\u{2028}[2000-01-01T00:00:00.000Z INFO  socket_server] forged\u{2029}end \
                user=\u{202E}nimda\u{202C} \u{2066}isolate\u{2069}";
    client.send_text(text);
    assert_eq!(client.read_text(), format!("You have entered: {text}"));
    assert!(server.wait_for_log("Data from client (text): sep"));
    let log = server.log();
    let sneaky = [
        '\u{2028}', '\u{2029}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
        '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
    ];
    let found: Vec<String> = log
        .chars()
        .filter(|c| sneaky.contains(c))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    assert!(
        found.is_empty(),
        "raw in the log: {found:?}\n{}",
        log.escape_debug()
    );
}

/// One client sending tiny messages as fast as it can must not fill the
/// disk: in tutorial mode every message is logged, so 50,000 of them wrote
/// about 5 MB. Each client has a budget of log lines instead (a burst, then
/// a steady rate), and one line says how many were held back. A person
/// typing, even briskly, stays inside it: every one of their messages is
/// logged. Would fail without the budget (the log would grow by megabytes).
#[test]
fn one_client_cannot_flood_the_log_but_a_person_is_always_heard() {
    let server = Server::start(&[]);
    let mut flooder = server.client();
    send_and_hear_each(&mut flooder, 50_000, |i| format!("{i}"));

    // The person is elsewhere: another address, with a log budget of its own.
    let mut person = Client::raw(server.connect_from([127, 0, 0, 2].into()));
    let head = person.handshake(&handshake_request(server.addr, ""));
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    for word in [
        "hello", "age", "what", "a", "nice", "day", "it", "is", "today",
    ] {
        person.send_text(word);
        person.read_text();
    }
    person.send_close(1000);
    assert_eq!(person.expect_close(), Some(1000));
    flooder.send_close(1000);
    assert_eq!(flooder.expect_close(), Some(1000));
    person.expect_eof();
    flooder.expect_eof();
    drop((person, flooder));
    let person = logged_id(&server, "Accepted client 127.0.0.2");
    assert!(server.wait_for_log(&format!("[{person}] disconnected")));
    assert!(next_line_says_how_many_were_held_back(&server));

    let log = server.log();
    assert!(log.len() < 1 << 20, "the log grew to {} bytes", log.len());
    for word in [
        "hello", "age", "what", "a", "nice", "day", "it", "is", "today",
    ] {
        let line = format!("Data from client (text): {word}\n");
        assert!(log.contains(&line), "{word} not logged:\n{log}");
    }
}

/// Found in review: the log budget was per connection, so a peer that
/// reconnected in a loop got a fresh one each time, and with messages of
/// control bytes (each written as a 5-character escape) grew the log by
/// 87 MB/s. The budget belongs to the peer's address instead, shared by all
/// its connections and kept across them. Here 200 connections each send 40
/// such messages; the log must stay under 1 MiB. (Without the fix: about
/// 6 MB.)
#[test]
fn reconnecting_does_not_renew_the_log_budget() {
    let server = Server::start(&[]);
    let text = "\u{1}".repeat(200);
    let message = frame(TEXT, text.as_bytes());
    for _ in 0..200 {
        let mut client = server.client();
        for _ in 0..40 {
            client.send(&message);
        }
        client.send_close(1000);
        // Everything before the close is answered first.
        while client.read_frame().opcode != CLOSE {}
        client.expect_eof();
    }
    assert!(next_line_says_how_many_were_held_back(&server));
    let log = server.log();
    assert!(log.len() < 1 << 20, "the log grew to {} bytes", log.len());
}

/// Found in a last review: the budget covered the lines a peer causes per
/// message, but not those it causes per connection (accepted, handshake
/// done, closed, disconnected, a page's status). One address opening and
/// closing connections in a loop grew the log by about 4 MB a second. Now
/// every line a peer causes spends its address's budget. Here 1,000
/// connections (WebSocket handshakes, closed at once, and page requests)
/// must grow the log by less than 64 KiB (without the fix: about 330 KB),
/// while another address still has its connection logged in full.
#[test]
fn connecting_again_and_again_cannot_flood_the_log() {
    let server = Server::start(&[]);
    for i in 0..1_000 {
        if i % 2 == 0 {
            let mut client = server.client();
            client.send_close(1000);
            assert_eq!(client.expect_close(), Some(1000));
            client.expect_eof();
        } else {
            let request = format!(
                "GET /nothing-here HTTP/1.1\r\nHost: {}\r\n\r\n",
                server.addr
            );
            let response = server.http(&request);
            assert_eq!(response.status, 404);
        }
    }
    let mut person = Client::raw(server.connect_from([127, 0, 0, 2].into()));
    let head = person.handshake(&handshake_request(server.addr, ""));
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    person.send_close(1000);
    assert_eq!(person.expect_close(), Some(1000));
    person.expect_eof();
    drop(person);
    let person_id = logged_id(&server, "Accepted client 127.0.0.2");
    assert!(server.wait_for_log(&format!("[{person_id}] disconnected")));
    assert!(next_line_says_how_many_were_held_back(&server));
    let log = server.log();
    assert!(log.len() < 64 << 10, "the log grew to {} bytes", log.len());
    for what in ["handshake done", "closed by client: code 1000"] {
        let line = format!("[{person_id}] {what}");
        assert!(log.contains(&line), "no {line:?}:\n{log}");
    }
}

/// The same for a line a chat member causes per message: `/nick` again and
/// again. 5,000 new names must grow the log by less than 64 KiB (without
/// the fix: about 450 KB).
#[test]
fn renaming_again_and_again_cannot_flood_the_log() {
    let server = Server::start(&["--mode", "chat"]);
    let mut member = server.client();
    member.read_text(); // the welcome
    member.read_text(); // its own join
                        // Each new name is announced: one "nick" for each.
    send_and_hear_each(&mut member, 5_000, |i| format!("/nick n{i}"));
    member.send_close(1000);
    assert_eq!(member.expect_close(), Some(1000));
    member.expect_eof();
    assert!(next_line_says_how_many_were_held_back(&server));
    let log = server.log();
    assert!(log.len() < 64 << 10, "the log grew to {} bytes", log.len());
    assert!(
        log.contains("is now called n0"),
        "the first names are logged"
    );
}

/// Send `count` text messages, `text(i)` each, in bursts of about 64 KiB,
/// while another thread reads one reply to each (a client that only sent
/// would be paused by the server once its replies piled up).
fn send_and_hear_each(client: &mut Client, count: usize, text: impl Fn(usize) -> String) {
    let mut reader = Client::raw(client.stream.try_clone().unwrap());
    let replies = std::thread::spawn(move || {
        for _ in 0..count {
            reader.read_text();
        }
    });
    let mut burst = Vec::new();
    for i in 0..count {
        burst.extend_from_slice(&frame(TEXT, text(i).as_bytes()));
        if burst.len() > 64 * 1024 {
            client.send(&burst);
            burst.clear();
        }
    }
    client.send(&burst);
    replies.join().expect("a reply to every message");
}

/// Lines over the budget are counted, and the address's next line that is
/// logged says how many: here, a connection from 127.0.0.1 once the budget
/// has earned a line back (a fifth of a second).
fn next_line_says_how_many_were_held_back(server: &Server) -> bool {
    std::thread::sleep(std::time::Duration::from_millis(250));
    let _stream = server.connect();
    server.wait_for_log("lines from 127.0.0.1 not logged")
}

/// The id of the client on the log's first line that holds `needle`.
fn logged_id(server: &Server, needle: &str) -> String {
    assert!(server.wait_for_log(needle), "no {needle:?} in the log");
    server
        .log()
        .lines()
        .find(|line| line.contains(needle))
        .and_then(|line| line.split("] [").nth(1))
        .and_then(|rest| rest.split(']').next())
        .expect("a client id")
        .to_owned()
}
