//! Clients that say too little: the timeouts.
//!
//! The PHP waited forever for everything. A client that opened a connection
//! and sent half a request (slowloris), a client that went silent, and a
//! client that never answered a close each kept their socket, and their
//! slot, until the server was restarted.
//!
//! The rules themselves (when each deadline falls, what moves it, what
//! happens when it passes) are unit tests of the client record, in
//! `src/client.rs`, with an injected clock. The tests here prove what only
//! the real server can: that the loop wakes up for a deadline when nothing
//! else happens, that a close frame reaches the wire before a drop, and
//! that real sockets' partial writes are read rightly as a peer that is
//! reading. Timed checks have generous upper bounds, several times the
//! timeout, because a loaded machine can be slow; they are still far below
//! the 10 s the tests would wait otherwise.

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

/// After the closing handshake the server closes its side of TCP and waits
/// for the peer to close its side (so our last bytes are not destroyed by a
/// reset). A peer that never does is let go after the close timeout, so its
/// slot is not held forever. This is the one timeout that ends a connection
/// without `drop_now`: it proves the loop removes such a client too. Would
/// fail if that wait had no end, or if the loop missed the end.
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
/// it sends. Here a 16 MiB echo is read at 5 MiB/s, over three idle
/// periods of 1 s. Would fail if only incoming bytes counted: the ping,
/// sent at 1 s, would sit behind the reply, unanswerable, and the client
/// would be dropped at 2 s, mid-read.
///
/// Once the server has handed the kernel its last bytes, it sees no more
/// progress, while the client still reads what the kernel holds. So the
/// client's receive buffer is fixed small, and the reading is paced by the
/// clock rather than by sleeps per read: the last few MiB in the kernel are
/// then read well inside the 2 s a silent client is given. (With the
/// kernel's own sizing, and sleeps that a loaded machine lengthens, that
/// tail once took longer, and the server rightly pinged and dropped.)
#[test]
fn a_client_slowly_reading_a_big_reply_is_not_idle() {
    let server = Server::echo(&["--idle-timeout", "1"]);
    let mut client = Client::raw(connect_with_small_receive_buffer(&server));
    let response = client.handshake(&handshake_request(server.addr, ""));
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    let size = 16 << 20;
    client.send(&masked_frame(0x82, &vec![7; size], [1, 2, 3, 4]));
    let mut stream = client.stream;
    let mut chunk = vec![0; 64 * 1024];
    let (mut total, expected) = (0, size + 10);
    let bytes_per_second = 5.0 * (1 << 20) as f64;
    let start = Instant::now();
    while total < expected {
        let n = std::io::Read::read(&mut stream, &mut chunk).expect("read the echo");
        assert!(n > 0, "dropped after {total} of {expected} bytes");
        total += n;
        let due = Duration::from_secs_f64(total as f64 / bytes_per_second);
        if let Some(early) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(early);
        }
    }
    assert!(
        start.elapsed() > Duration::from_secs(3),
        "read too fast to prove anything"
    );
    assert!(
        !server.log().contains("did not answer a ping"),
        "{}",
        server.log()
    );
}

/// A connection to the server whose receive buffer is 256 KiB (the kernel
/// doubles it) and stays so, instead of growing with the kernel's tuning.
fn connect_with_small_receive_buffer(server: &Server) -> std::net::TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(256 * 1024).expect("SO_RCVBUF");
    socket.connect(&server.addr.into()).expect("connect");
    let stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
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
