//! Clients that say too little: the timeouts.
//!
//! The PHP waited forever for everything. A client that opened a connection
//! and sent half a request (slowloris), a client that went silent, and a
//! client that never answered a close each kept their socket, and their
//! slot, until the server was restarted.
//!
//! Each test checks that the drop happens near the configured time: not
//! before it (the timeout is honoured) and not much after (the loop wakes
//! up for the deadline even when nothing else happens). The upper bounds are
//! generous, several times the timeout, because a loaded machine can be
//! slow; they are still far below the 10 s the tests would wait otherwise.

use crate::common::*;
use crate::support::*;
use std::io::Write;
use std::time::{Duration, Instant};

/// The shortest a timed drop may take: the configured 0.5 s, less a little
/// for the clock granularity of the two processes.
const NOT_BEFORE: Duration = Duration::from_millis(450);
/// The longest a 0.5 s timeout may take to act on a loaded machine.
const NOT_AFTER: Duration = Duration::from_millis(2500);

fn assert_near_timeout(what: &str, elapsed: Duration) {
    assert!(
        (NOT_BEFORE..NOT_AFTER).contains(&elapsed),
        "{what} after {elapsed:?}; expected about 0.5 s"
    );
}

/// A slowloris: the request head grows by one byte every 100 ms and never
/// ends. Every byte is activity, so a server that reset its handshake timer
/// on each read (or had none) would keep the connection for the 5 s the
/// trickle lasts.
#[test]
fn a_slowloris_request_is_dropped_after_the_handshake_timeout() {
    let server = Server::start(&["--handshake-timeout", "0.5"]);
    // The server's clock starts when it accepts, which is after this.
    let start = Instant::now();
    let mut stream = server.connect();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    let mut closed_after = None;
    for _ in 0..50 {
        // A write to a connection the server has just closed may fail;
        // that is the drop we are waiting for, seen by the next read.
        let _ = stream.write_all(b"a");
        if closed_within(&mut stream, Duration::from_millis(100)) {
            closed_after = Some(start.elapsed());
            break;
        }
    }
    let elapsed = closed_after.expect("the slowloris was never dropped");
    assert_near_timeout("slowloris dropped", elapsed);
    assert!(server.wait_for_log("no handshake within 500ms; dropped"));
}

/// Half a request and then silence: no other traffic wakes the loop, so
/// only the deadline the loop computes for its sleep can drop the
/// connection on time. The loop also wakes once a second whatever happens;
/// with a 0.25 s timeout, a drop well before 1 s shows that the deadline
/// itself woke it (the once-a-second wake-up alone would take 1 s).
#[test]
fn a_silent_half_request_is_dropped_with_no_other_traffic() {
    let server = Server::start(&["--handshake-timeout", "0.25"]);
    let start = Instant::now();
    let mut stream = server.connect();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: 127").unwrap();
    assert!(
        closed_within(&mut stream, Duration::from_secs(5)),
        "still connected after 5 s"
    );
    let elapsed = start.elapsed();
    assert!(
        (Duration::from_millis(250)..Duration::from_millis(850)).contains(&elapsed),
        "dropped after {elapsed:?}; expected about 0.25 s"
    );
    assert!(server.wait_for_log("no handshake within 250ms; dropped"));
}

/// RFC 6455 §5.5.2: the server may ping to check the peer is alive, and a
/// pong (§5.5.3) is the answer. A client that answers every ping is never
/// dropped: here it stays for three idle periods, past the 2 x 0.5 s after
/// which a silent one goes. Would fail if the idle timer ignored pongs, or
/// if idle clients were never pinged (no ping would come).
#[test]
fn an_idle_client_that_answers_pings_stays() {
    let server = Server::echo(&["--idle-timeout", "0.5"]);
    let mut client = server.client();
    let mut last = Instant::now();
    for n in 0..3 {
        let ping = client.read_frame();
        assert_eq!(ping.opcode, PING, "frame {n}: {ping:?}");
        assert_near_timeout(&format!("ping {n}"), last.elapsed());
        last = Instant::now();
        client.send(&frame(PONG, &ping.payload));
    }
    client.send_text("still here");
    assert_eq!(client.read_text(), "still here");
    assert!(!server.log().contains("did not answer a ping"));
}

/// A client that never answers the ping is told why (close 1011, RFC 6455
/// §7.4.1: the server cannot go on) and dropped one idle period after the
/// ping, without waiting for a close reply it would never send. Would fail
/// if unanswered pings were never followed up (the connection would stay
/// open, or a second ping would come), or if the drop came unexplained.
#[test]
fn an_idle_client_that_never_answers_is_dropped() {
    let server = Server::echo(&["--idle-timeout", "0.5"]);
    let mut client = server.client();
    let start = Instant::now();
    let ping = client.read_frame();
    assert_eq!(ping.opcode, PING, "{ping:?}");
    assert_near_timeout("ping", start.elapsed());
    let pinged = Instant::now();
    assert_eq!(client.expect_close(), Some(1011));
    client.expect_eof();
    assert_near_timeout("unanswered ping: dropped", pinged.elapsed());
    assert!(server.wait_for_log("did not answer a ping; dropped"));
}

/// RFC 6455 §7.1.1 and §7.1.3: after sending a close frame the server
/// waits for the peer's, but not forever. `bye` makes the tutorial server
/// close with 1000; this client reads the close and never answers. Would
/// fail without the close timeout: the connection would stay open.
#[test]
fn a_client_that_never_answers_a_close_is_dropped_after_the_close_timeout() {
    let server = Server::start(&["--close-timeout", "0.5"]);
    let mut client = server.client();
    client.send_text("bye");
    assert_eq!(client.read_text(), "Goodbye!");
    assert_eq!(client.expect_close(), Some(1000));
    let closed = Instant::now();
    client.expect_eof();
    assert_near_timeout("no close reply: dropped", closed.elapsed());
    assert!(server.wait_for_log("no close reply within 500ms; dropped"));
}

/// After the closing handshake the server closes its side of TCP and waits
/// for the peer to close its side (so our last bytes are not destroyed by a
/// reset). A peer that never does is let go after the close timeout, so its
/// slot is not held forever. Would fail if that wait had no end.
#[test]
fn a_peer_that_keeps_tcp_open_after_the_close_is_let_go() {
    let server = Server::echo(&["--close-timeout", "0.5"]);
    let mut client = server.client();
    client.send_close(1000);
    assert_eq!(client.expect_close(), Some(1000));
    client.expect_eof();
    // Our socket stays open: the server must give up on its own.
    let start = Instant::now();
    assert!(
        wait_until(|| server.log().contains("disconnected")),
        "never let go"
    );
    assert_near_timeout("lingering peer let go", start.elapsed());
    drop(client);
}

/// A client that is busy reading a big reply, slowly, is alive even though
/// it sends nothing: the idle timer counts bytes it takes as well as bytes
/// it sends. Here an 8 MiB echo is read over about three idle periods.
/// Would fail if only incoming bytes counted (the ping would sit behind the
/// reply, unanswerable, and the client would be dropped mid-read).
#[test]
fn a_client_slowly_reading_a_big_reply_is_not_idle() {
    let server = Server::echo(&["--idle-timeout", "0.5"]);
    let mut client = server.client();
    let size = 8 << 20;
    client.send(&masked_frame(0x82, &vec![7; size], [1, 2, 3, 4]));
    let mut stream = client.stream;
    let mut chunk = vec![0; 64 * 1024];
    let (mut total, expected) = (0, size + 10);
    let start = Instant::now();
    while total < expected {
        let n = std::io::Read::read(&mut stream, &mut chunk).expect("read the echo");
        assert!(n > 0, "dropped after {total} of {expected} bytes");
        total += n;
        // About 5 MiB/s: the whole reply takes around 1.5 s.
        std::thread::sleep(Duration::from_millis(12));
    }
    assert!(
        start.elapsed() > Duration::from_secs(1),
        "read too fast to prove anything"
    );
    assert!(
        !server.log().contains("did not answer a ping"),
        "{}",
        server.log()
    );
}

/// A slow but steady reader gets all of a big last answer. The client
/// sends a 16 MiB message and its close at once, then reads the echo and
/// the close reply at about 4 MB/s: over 4 s, with `--close-timeout 1`. The
/// kernel's buffers hold about 10 MB of it, so for seconds the rest waits
/// in the server, which must keep writing as long as the client keeps
/// reading. Would fail if the flush deadline were fixed when the last reply
/// was queued, as it once was: the client was cut off after about 8 MB.
#[test]
fn a_slow_steady_reader_of_a_big_last_answer_gets_all_of_it() {
    let server = Server::echo(&["--close-timeout", "1"]);
    let client = server.client();
    let size = 16 << 20;
    let mut writer = client.stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        writer
            .write_all(&masked_frame(0x82, &vec![7; size], [1, 2, 3, 4]))
            .unwrap();
        writer
            .write_all(&frame(CLOSE, &1000u16.to_be_bytes()))
            .unwrap();
    });
    let mut stream = client.stream.try_clone().unwrap();
    let mut chunk = vec![0; 16 * 1024];
    let (mut total, expected) = (0, size + 10 + 4);
    let start = Instant::now();
    while total < expected {
        let n = std::io::Read::read(&mut stream, &mut chunk).expect("read the echo");
        assert!(n > 0, "cut off after {total} of {expected} bytes");
        total += n;
        // 16 KiB every 4 ms: about 4 MB/s, if the sleeps are exact.
        std::thread::sleep(Duration::from_millis(4));
    }
    sending.join().unwrap();
    assert!(
        start.elapsed() > Duration::from_secs(2),
        "read too fast to prove anything"
    );
    assert!(!server.log().contains("not reading its last bytes"));
    drop(client);
}
