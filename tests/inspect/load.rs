//! The inspector under load: past its budget the server sends counts; an
//! inspector that reads slowly loses events and is told how many; one that
//! stops reading is dropped, and nobody else ever waits for it.

use crate::common::{frame, Server, PATIENCE, TEXT};
use crate::inspector::{request, Inspector, ASKS};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// 3,000 messages in one burst: far more frames than the 2,000 a second
/// the inspector details. It details a few hundred, and counts them all.
#[test]
fn past_the_budget_counts_are_sent_instead() {
    let server = Server::start(&["--inspect", "--mode", "echo"]);
    let mut inspector = Inspector::connect(&server);
    inspector.until("table", |_| true);
    let mut client = server.client();
    let started = Instant::now();
    let burst: Vec<u8> = (0..3000)
        .flat_map(|i| frame(TEXT, format!("{i:04}").as_bytes()))
        .collect();
    client.send(&burst);
    for i in 0..3000 {
        assert_eq!(client.read_text(), format!("{i:04}"));
    }
    let elapsed = started.elapsed();
    let counted = |inspector: &Inspector| -> u64 {
        inspector
            .of("summary")
            .iter()
            .map(|s| s.get("frames_in").num())
            .sum()
    };
    let deadline = Instant::now() + PATIENCE;
    while counted(&inspector) < 3000 && Instant::now() < deadline {
        inspector.read_for(Duration::from_millis(200));
    }
    assert_eq!(counted(&inspector), 3000, "{}", inspector.dump());
    let sum = |key: &str| -> u64 {
        inspector
            .of("summary")
            .iter()
            .map(|s| s.get(key).num())
            .sum()
    };
    assert_eq!(sum("frames_out"), 3000);
    let shown = inspector.of("frame").len();
    assert_eq!(sum("shown") as usize, shown);
    let allowed = 200.0 + 2000.0 * (elapsed.as_secs_f64() + 0.5);
    assert!(
        (shown as f64) < allowed.min(6000.0),
        "{shown} frames shown in {elapsed:?}"
    );
}

/// An inspector whose socket holds little and that is never read: it
/// falls behind, loses events, and is dropped; meanwhile an echo client
/// gets every answer within a second.
#[test]
fn an_inspector_that_stops_reading_is_dropped_and_nobody_waits() {
    let server = Server::start(&["--inspect", "--mode", "echo"]);
    let stuck = small_buffer_inspector(&server);
    let mut client = server.client();
    let message = "x".repeat(16 * 1024);
    let started = Instant::now();
    let dropped = "an inspector that does not read";
    let mut rounds = 0;
    while !server.log().contains(dropped) {
        assert!(
            started.elapsed() < 3 * PATIENCE,
            "never dropped:\n{}",
            server.log()
        );
        for _ in 0..50 {
            let sent = Instant::now();
            client.send_text(&message);
            assert_eq!(client.read_text().len(), message.len());
            assert!(
                sent.elapsed() < Duration::from_secs(1),
                "an echo took {:?}",
                sent.elapsed()
            );
            rounds += 1;
        }
    }
    assert!(
        server.log().contains("events lost); dropped"),
        "{}",
        server.log()
    );
    // The echo goes on as before.
    client.send_text("still there?");
    assert_eq!(client.read_text(), "still there?");
    assert!(rounds > 0);
    drop(stuck);
}

/// An inspector that reads, but slower than events come, loses some: once
/// it has caught up it is told how many, and gets the table again.
#[test]
fn a_slow_inspector_is_told_what_it_lost() {
    let server = Server::start(&["--inspect", "--mode", "echo"]);
    let mut slow = small_buffer_inspector(&server);
    slow.set_read_timeout(Some(Duration::from_millis(5)))
        .unwrap();
    let mut client = server.client();
    let message = "y".repeat(4096);
    let mut read = Vec::new();
    let mut chunk = [0; 4096];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        for _ in 0..20 {
            client.send_text(&message);
            client.read_text();
        }
        // About 400 KB a second: far less than the events come.
        if let Ok(n) = slow.read(&mut chunk) {
            read.extend_from_slice(&chunk[..n]);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !server.log().contains("an inspector that does not read"),
        "{}",
        server.log()
    );
    let mut inspector = Inspector::resume(slow, read);
    let lost = inspector.until("lost", |_| true);
    assert!(lost.get("count").num() > 0);
    // The table comes with it, in the same message: the page starts again.
    let at = inspector
        .events
        .iter()
        .position(|e| e.kind() == "lost")
        .unwrap();
    assert_eq!(inspector.events[at - 1].kind(), "table");
}

/// An inspector connected from a socket that holds only a few KB, its
/// handshake done, never read from again by this function.
fn small_buffer_inspector(server: &Server) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
        .write_all(request(server.addr, ASKS).as_bytes())
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    stream
}
