//! The raw client (`src/bin/client/`), run as a learner runs it: against
//! the real server (`tests/common`), and against fake servers made here
//! from a std `TcpListener`, each answering in one way a client must
//! handle. Every run is bounded twice: by the client's own `--timeout`,
//! and by [`PATIENCE`], past which the test kills it and fails.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Run `client ARGS` to its end; kill it and fail past [`PATIENCE`].
fn client(args: &[&str]) -> Run {
    common::run_to_end(env!("CARGO_BIN_EXE_client"), args, PATIENCE)
}

fn url_of(server: &Server) -> String {
    format!("ws://{}/", server.addr)
}

// ------------------------------------------------------- the real server

#[test]
fn tutorial_mode_answers_each_word_and_closes_cleanly() {
    let server = Server::start(&[]);
    let run = client(&[&url_of(&server), "hello", "some words"]);
    run.expect(0).printed(&[
        "response, 159 bytes:\n    HTTP/1.1 101 Switching Protocols\\r\\n",
        "base64:     HSmrc0sMlYUkAGmm5OPpG2HaGWk=\n    \
         the server: HSmrc0sMlYUkAGmm5OPpG2HaGWk=, the same",
        // "hello" masked with RFC 6455 §5.7's key, and the tutorial's answer.
        "frame out, 11 bytes: 81 85 37 fa 21 3d 5f 9f 4d 51 58",
        "message in: text \"Hello! Try one of: hello, hi, name, age, date, time, thanks, bye.\"",
        "message in: text \"You have entered: some words\"",
        // Close 1000 "bye", the server's 1000, then its end of TCP.
        "frame out, 11 bytes: 88 85 37 fa 21 3d 34 12 43 44 52",
        "frame in, 4 bytes: 88 02 03 e8",
        "== the server closed the TCP connection: the closing handshake is complete",
    ]);
    assert_eq!(run.stderr, "");
}

#[test]
fn echo_mode_sends_back_every_kind_of_message() {
    let server = Server::echo(&[]);
    let url = url_of(&server);
    let run = client(&[&url, "Hello", "--binary", "256", "--split", "3", "Hello"]);
    run.expect(0).printed(&[
        // RFC 6455 §5.7's examples, both ways.
        "frame out, 11 bytes: 81 85 37 fa 21 3d 7f 9f 4d 51 58",
        "frame in, 7 bytes: 81 05 48 65 6c 6c 6f",
        "frame in, 260 bytes: 82 7e 01 00 00 01 02 03",
        "message in: binary, 256 bytes",
        // The split message: two frames out, one message back.
        "frame out, 9 bytes: 01 83 37 fa 21 3d 7f 9f 4d",
        "frame out, 8 bytes: 80 82 7d 24 9e 08 11 4b",
    ]);
    assert_eq!(run.stdout.matches("message in: text \"Hello\"").count(), 2);
    let run = client(&[&url, "--ping", "Hello"]);
    run.expect(0)
        .printed(&["frame in, 7 bytes: 8a 05 48 65 6c 6c 6f"]);
}

#[test]
fn the_tutorial_request_is_refused_without_the_flags() {
    let server = Server::start(&[]);
    let run = client(&["--tutorial-request", &url_of(&server), "hello"]);
    run.expect(1)
        .printed(&["request head, 221 bytes:", "HTTP/1.1 403 Forbidden\\r\\n"])
        .said(&[
            "client: the server refused the handshake: HTTP/1.1 403 Forbidden\n  \
             \"403 the Host header does not name this server\"",
            "--allowed-host server.example.com --allowed-origin http://example.com",
        ]);
}

#[test]
fn the_tutorial_request_is_accepted_with_the_flags() {
    let allowed = [
        "--allowed-host",
        "server.example.com",
        "--allowed-origin",
        "http://example.com",
    ];
    let server = Server::start(&allowed);
    let run = client(&["--tutorial-request", &url_of(&server), "hello"]);
    run.expect(0).printed(&[
        "request head, 221 bytes:\n    GET /mychat HTTP/1.1\\r\\n\n    \
         Host: server.example.com\\r\\n",
        "Origin: http://example.com\\r\\n",
        "HTTP/1.1 101 Switching Protocols",
        "message in: text \"Hello! Try one of:",
    ]);
}

#[test]
fn another_protocol_version_is_refused_with_426() {
    let server = Server::start(&[]);
    let run = client(&["--ws-version", "12", &url_of(&server)]);
    run.expect(1)
        .printed(&[
            "Sec-WebSocket-Version: 12\\r\\n",
            "Sec-WebSocket-Version: 13\\r\\n",
        ])
        .said(&["HTTP/1.1 426 Upgrade Required\n  \"426 only WebSocket version 13"]);
}

// ------------------------------------------------- usage and connecting

#[test]
fn a_bad_url_or_option_is_a_usage_error() {
    let long_ping = "x".repeat(126);
    let cases: [&[&str]; 9] = [
        &["wss://127.0.0.1:1222/"],
        &["http://127.0.0.1:1222/"],
        &["ws://:1222/"],
        &["ws://127.0.0.1:99999/"],
        &["ws://127.0.0.1:1222/#top"],
        &["ws://::1:1222/"],
        &[],
        &["--frobnicate", "ws://127.0.0.1:1222/"],
        &["ws://127.0.0.1:1222/", "--ping", &long_ping],
    ];
    for args in cases {
        let run = client(args);
        run.expect(2).said(&["Try 'client --help'."]);
        assert_eq!(run.stdout, "", "{args:?}: nothing is sent");
    }
    client(&["wss://127.0.0.1:1222/"]).said(&["TLS"]);
    client(&["--timeout", "0", "ws://127.0.0.1:1222/"]).expect(2);
}

#[test]
fn help_explains_every_option() {
    let run = client(&["--help"]);
    run.expect(0).printed(&[
        "Usage: client [OPTIONS] URL [MESSAGE ...]",
        "--binary N",
        "--split N WORD",
        "--ping DATA",
        "--unmasked WORD",
        "--tutorial-request",
        "--ws-version N",
        "--timeout SECS",
        "Exit status:",
    ]);
}

#[test]
fn nothing_listening_is_exit_2() {
    let port = common::free_port();
    let run = client(&[&format!("ws://127.0.0.1:{port}/"), "hello"]);
    run.expect(2)
        .said(&[&format!("client: cannot connect to 127.0.0.1:{port}: ")]);
}

// ---------------------------------------------------------- fake servers

/// A fake server on a free loopback port: `script` handles its one
/// connection, in a thread. Its URL, and the thread: join it to see the
/// script's own checks.
fn fake_server(script: impl FnOnce(TcpStream) + Send + 'static) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let thread = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        script(stream);
    });
    (url, thread)
}

/// The client's request head.
fn read_request(stream: &mut TcpStream) -> String {
    let (mut head, mut byte) = (Vec::new(), [0]);
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("the request head");
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("a text head")
}

/// The 101 a server owes the tutorial's key (RFC 6455 §4.2.2).
const SWITCH: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n";

/// Read the request, answer it with `response`.
fn answer(stream: &mut TcpStream, response: &str) {
    read_request(stream);
    stream.write_all(response.as_bytes()).expect("answer");
}

/// A server frame of at most 125 bytes: `first` is its whole first byte.
fn server_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() <= 125);
    [&[first, payload.len() as u8], payload].concat()
}

/// The client's next frame: its first byte, and its payload unmasked.
/// Written from RFC 6455 §5.2 here, not borrowed from the library.
fn read_client_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0; 2];
    stream
        .read_exact(&mut head)
        .expect("a frame from the client");
    assert_ne!(head[1] & 0x80, 0, "a client frame must be masked (§5.1)");
    let len = match head[1] & 0x7F {
        126 => {
            let mut bytes = [0; 2];
            stream.read_exact(&mut bytes).unwrap();
            u16::from_be_bytes(bytes) as usize
        }
        127 => panic!("no frame here is that long"),
        len => len as usize,
    };
    let (mut key, mut payload) = ([0; 4], vec![0; len]);
    stream.read_exact(&mut key).unwrap();
    stream.read_exact(&mut payload).unwrap();
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
    (head[0], payload)
}

#[test]
fn a_wrong_accept_key_fails_the_handshake() {
    let (url, server) = fake_server(|mut stream| {
        // The accept key of RFC 6455's own example key, not of ours.
        let wrong = SWITCH.replace(
            "HSmrc0sMlYUkAGmm5OPpG2HaGWk=",
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        );
        answer(&mut stream, &wrong);
        // The connection never opened: the client sends no frame.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        assert_eq!(rest, b"", "the client sent frames after a wrong accept key");
    });
    let run = client(&[&url, "hello"]);
    run.expect(1)
        .printed(&["the server: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=, NOT the same"])
        .said(&["the server's 101 has the wrong Sec-WebSocket-Accept (RFC 6455 §4.1)"]);
    server.join().unwrap();
}

#[test]
fn a_server_that_never_answers_is_given_up_on_in_time() {
    let (url, server) = fake_server(|mut stream| {
        read_request(&mut stream);
        // Silent, until the client gives up and closes.
        let _ = stream.read_to_end(&mut Vec::new());
    });
    let run = client(&["--timeout", "1", &url, "hello"]);
    run.expect(1)
        .said(&["nothing came within 1 s while waiting for the answer to the handshake"]);
    assert!(run.took < Duration::from_secs(4), "took {:?}", run.took);
    server.join().unwrap();
}

#[test]
fn pings_fragments_and_a_close_first_are_answered() {
    let (url, server) = fake_server(|mut stream| {
        answer(&mut stream, SWITCH);
        assert_eq!(read_client_frame(&mut stream), (0x81, b"hi".to_vec()));
        // A ping, then the answer in two fragments with a ping between
        // them (§5.4: control frames may come between fragments).
        let mut out = server_frame(0x89, b"are you there?");
        out.extend(server_frame(0x01, b"Hel"));
        out.extend(server_frame(0x89, b"x"));
        out.extend(server_frame(0x80, b"lo"));
        stream.write_all(&out).unwrap();
        for data in [&b"are you there?"[..], b"x"] {
            assert_eq!(read_client_frame(&mut stream), (0x8A, data.to_vec()));
        }
        assert_eq!(read_client_frame(&mut stream), (0x81, b"again".to_vec()));
        // No answer this time: the server closes first, and the client
        // echoes its code (§5.5.1).
        let close = [&1000u16.to_be_bytes()[..], b"done"].concat();
        stream.write_all(&server_frame(0x88, &close)).unwrap();
        let echo = 1000u16.to_be_bytes().to_vec();
        assert_eq!(read_client_frame(&mut stream), (0x88, echo));
    });
    let run = client(&[&url, "hi", "again"]);
    run.expect(0).printed(&[
        "data: \"are you there?\"",
        "message in: text \"Hello\"",
        "== the server closes first",
        "close code 1000 (normal closure), reason \"done\"",
    ]);
    server.join().unwrap();
}

#[test]
fn a_frame_that_declares_too_much_fails_at_once() {
    let (url, server) = fake_server(|mut stream| {
        answer(&mut stream, SWITCH);
        read_client_frame(&mut stream);
        // A binary frame that declares 2^40 bytes, and sends none of them.
        let header = [&[0x82, 127][..], &(1u64 << 40).to_be_bytes()].concat();
        stream.write_all(&header).unwrap();
        let (first, payload) = read_client_frame(&mut stream);
        assert_eq!((first, &payload[..2]), (0x88, &1009u16.to_be_bytes()[..]));
    });
    let run = client(&[&url, "hi"]);
    // Failed from the header alone: waiting for the bytes would have
    // taken the 5 s timeout.
    run.expect(1)
        .said(&["the server broke RFC 6455: message larger than the 4194304-byte limit"])
        .printed(&["== failing the connection with 1009"]);
    assert!(run.took < Duration::from_secs(4), "took {:?}", run.took);
    server.join().unwrap();
}

#[test]
fn a_masked_server_frame_fails_the_connection_with_1002() {
    let (url, server) = fake_server(|mut stream| {
        answer(&mut stream, SWITCH);
        read_client_frame(&mut stream);
        stream
            .write_all(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
            .unwrap();
        let (first, payload) = read_client_frame(&mut stream);
        assert_eq!((first, &payload[..2]), (0x88, &1002u16.to_be_bytes()[..]));
    });
    let run = client(&[&url, "hi"]);
    run.expect(1).said(&["a server frame is masked (§5.1)"]);
    server.join().unwrap();
}

#[test]
fn a_server_that_leaves_without_a_close_frame_is_an_abnormal_closure() {
    let (url, server) = fake_server(|mut stream| {
        answer(&mut stream, SWITCH);
        read_client_frame(&mut stream);
        // Gone, with no close frame.
    });
    let run = client(&[&url, "hi"]);
    run.expect(1)
        .said(&["the server left while we waited for an answer: no close frame (1006)"]);
    server.join().unwrap();
}

// ------------------------------------------------------------- the docs

/// The traces in `docs/handshake.md` and `docs/framing.md` come from the
/// commands beside them. For each doc: a server started as its `make run
/// ARGS="…"` line says, for each `make client ARGS="…"` it names (a server
/// each, so that no run spends another's log budget), and that command
/// run against it. Every ```trace block must then be in what the servers
/// logged, and every ```client block in what the client printed (the
/// client ids, a response's date and the port set aside).
#[test]
fn the_commands_in_the_docs_reproduce_their_traces() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in ["docs/handshake.md", "docs/framing.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect(doc);
        let run_line = quoted_after(&text, "make run ARGS=\"");
        let server_args: Vec<&str> = run_line[0].split_whitespace().collect();
        let (mut logged, mut printed) = (String::new(), String::new());
        let mut commands = quoted_after(&text, "make client ARGS=\"");
        commands.sort();
        commands.dedup();
        assert!(!commands.is_empty(), "{doc} names no client command");
        for command in commands {
            let server = Server::start(&server_args);
            let here = server.addr.to_string();
            let args = command.replace("127.0.0.1:1222", &here);
            let run = client(&args.split_whitespace().collect::<Vec<_>>());
            printed += &(run.stdout.clone() + &run.stderr).replace(&here, "127.0.0.1:1222");
            assert!(wait_until(|| server.log().contains("disconnected")));
            logged += &normal(&traces_in(&server.log()));
        }
        for block in fenced(&text, "trace") {
            let block = normal(&block);
            assert!(
                logged.contains(&block),
                "{doc} shows a trace its commands do not make:\n{block}\nThey make:\n{logged}"
            );
        }
        for block in fenced(&text, "client") {
            assert!(
                printed.contains(&block),
                "{doc} shows client output its commands do not print:\n{block}\n\
                 They print:\n{printed}"
            );
        }
    }
}

/// Every text in quotes after `start`: `make client ARGS="…"` gives `…`.
fn quoted_after(text: &str, start: &str) -> Vec<String> {
    let after = text.split(start).skip(1);
    after
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .collect()
}

/// The bodies of a Markdown text's ```kind blocks.
fn fenced(markdown: &str, kind: &str) -> Vec<String> {
    let opening = format!("```{kind}\n");
    let blocks = markdown.split(opening.as_str()).skip(1);
    blocks
        .map(|rest| rest[..rest.find("```").unwrap()].to_string())
        .collect()
}

/// A log's `--trace` blocks, each record's `[time TRACE target] ` left out.
fn traces_in(log: &str) -> String {
    let (mut out, mut in_trace) = (String::new(), false);
    for line in log.lines() {
        if !line.starts_with("    ") {
            in_trace = line.contains(" TRACE socket_server::trace] ");
        }
        if in_trace {
            let body = line
                .split_once(" TRACE socket_server::trace] ")
                .map_or(line, |(_, b)| b);
            out.push_str(body);
            out.push('\n');
        }
    }
    out
}

/// Client ids written `[ID]`, a response's date `(the date)`.
fn normal(text: &str) -> String {
    let line = |line: &str| match line
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
    {
        Some((id, rest)) if id.len() == 13 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
            format!("[ID] {rest}")
        }
        _ => match line.find("Date: ") {
            Some(at) if line.ends_with(" GMT\\r\\n") => {
                format!("{}Date: (the date)\\r\\n", &line[..at])
            }
            _ => line.to_string(),
        },
    };
    text.lines().map(|l| line(l) + "\n").collect()
}
