//! The connection's whole life, driven with made-up instants: the
//! handshake (answered here, as the server answers it), frames both ways,
//! pings, the closing handshake, and every timer. (Ported from the tests of
//! the old `Client` record; those that need the record itself, its HTTP
//! pages, memory total or tidy timer, are in `server/client/tests.rs`.)

use super::*;
use crate::protocol::access::{Policy, LOCAL};
use crate::protocol::frame::tests::{client_frame, close_frame, frames};
use crate::protocol::handshake;
use crate::protocol::http::Request;

/// The tutorial's own request (its `Origin` is allowed below).
const TUTORIAL_REQUEST: &[u8] = b"GET /mychat HTTP/1.1\r\nHost: server.example.com\r\n\
    Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
    Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\r\n";

/// RFC 6455 §5.7: a single-frame masked text message, "Hello".
const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Where each test's time starts. Any instant does: the connection never
/// reads the clock, so every later instant is this one plus a duration.
fn start() -> Instant {
    Instant::now()
}

/// Round numbers, so that every deadline below can be read off at once;
/// the rest as the server's defaults (`config.rs`, `Limits::default`).
fn rules() -> Rules {
    Rules {
        max_message_size: 16 << 20,
        max_pending_output: 32 << 20,
        handshake_timeout: secs(10.0),
        idle_timeout: Some(secs(1.0)),
        message_timeout: Some(secs(30.0)),
        close_timeout: secs(2.0),
        trace: false,
    }
}

/// A connection accepted at `t0`, with these rules.
fn accepted(rules: Rules, t0: Instant) -> Connection {
    Connection::new(rules, t0)
}

/// Answer a request head as the server does for a WebSocket: the
/// tutorial's request names another site's host and origin, allowed here.
fn answer(connection: &mut Connection, request: &Request, now: Instant) {
    let hosts = ["server.example.com".to_string()];
    let origins = ["http://example.com".to_string()];
    let policy = Policy {
        allowed_hosts: &hosts,
        allowed_origins: &origins,
        ..LOCAL
    };
    let accepted = handshake::handshake(request, &policy).expect("the tutorial's handshake");
    connection.accept(&accepted, now);
}

/// The next whole message, as the old record's `next_message` gave it: a
/// request head on the way is answered, other events are passed over.
fn next_message(connection: &mut Connection, now: Instant) -> Option<Message> {
    loop {
        match connection.next_event(now, usize::MAX)? {
            Event::Request(request, _) => answer(connection, &request, now),
            Event::Message(message) => return Some(message),
            _ => {}
        }
    }
}

/// A connection that sent the tutorial's request at `t0` and got its 101.
fn open(rules: Rules, t0: Instant) -> Connection {
    let mut connection = accepted(rules, t0);
    connection.receive_data(TUTORIAL_REQUEST, t0);
    assert_eq!(next_message(&mut connection, t0), None);
    let response = written(&mut connection, t0);
    assert!(response.starts_with(b"HTTP/1.1 101 "));
    assert_eq!(connection.after_write(false, t0), Step::KeepGoing);
    connection
}

/// All that is waiting to be written, joined.
fn pending(connection: &Connection) -> Vec<u8> {
    let mut pieces = [&[][..]; 64];
    let count = connection.data_to_send(&mut pieces);
    pieces[..count].concat()
}

/// Everything the connection wants written, as if the socket took it all.
fn written(connection: &mut Connection, now: Instant) -> Vec<u8> {
    let mut all = Vec::new();
    while connection.wants_write() {
        let bytes = pending(connection);
        connection.data_sent(bytes.len(), now);
        all.extend(bytes);
    }
    all
}

#[test]
fn the_tutorials_handshake_opens_a_websocket() {
    let t0 = start();
    let mut connection = accepted(rules(), t0);
    assert!(matches!(connection.state(), State::Handshaking { since, .. } if since == t0));
    // The request arrives in two pieces; nothing happens until it is whole.
    connection.receive_data(&TUTORIAL_REQUEST[..40], t0);
    assert_eq!(next_message(&mut connection, t0), None);
    assert!(pending(&connection).is_empty());
    connection.receive_data(&TUTORIAL_REQUEST[40..], t0);
    assert_eq!(next_message(&mut connection, t0), None);
    let response = String::from_utf8(written(&mut connection, t0)).unwrap();
    assert_eq!(
        response,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
    let open = State::Open {
        alive: t0,
        pinged: false,
        message_since: None,
    };
    assert_eq!(connection.state(), open);
}

#[test]
fn frames_sent_right_behind_the_request_are_read() {
    let t0 = start();
    let mut connection = accepted(rules(), t0);
    connection.receive_data(&[TUTORIAL_REQUEST, &MASKED_HELLO[..]].concat(), t0);
    assert_eq!(
        next_message(&mut connection, t0),
        Some(Message::Text("Hello".into()))
    );
    assert_eq!(next_message(&mut connection, t0), None);
}

#[test]
fn a_reply_is_encoded_as_one_unmasked_frame() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    connection.send(Message::Text("Hello".into()));
    // RFC 6455 §5.7: "A single-frame unmasked text message".
    assert_eq!(
        written(&mut connection, t0),
        [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
    );
}

#[test]
fn the_handshake_must_finish_in_time_however_slowly_it_trickles() {
    let t0 = start();
    let mut connection = accepted(rules(), t0);
    for (i, byte) in TUTORIAL_REQUEST[..100].iter().enumerate() {
        let now = t0 + secs(0.09 * i as f64);
        connection.receive_data(&[*byte], now);
        assert_eq!(next_message(&mut connection, now), None);
        connection.on_timeout(now);
    }
    assert_eq!(connection.deadline(), Some(t0 + secs(10.0)));
    connection.on_timeout(t0 + secs(9.999));
    assert!(matches!(connection.state(), State::Handshaking { .. }));
    connection.on_timeout(t0 + secs(10.0));
    assert_eq!(connection.state(), State::Gone);
    assert_eq!(connection.after_write(false, t0 + secs(10.0)), Step::Drop);
}

#[test]
fn a_peer_that_leaves_before_the_handshake_is_dropped_at_once() {
    let t0 = start();
    let mut connection = accepted(rules(), t0);
    connection.receive_data(b"GET / HT", t0);
    connection.receive_eof(t0);
    assert_eq!(connection.after_write(false, t0), Step::Drop);
}

/// The first bug of issue "One connection, one state machine": with
/// `--idle-timeout 1`, a silent client was dropped after 3 s, because
/// writing the ping counted as the peer being alive.
#[test]
fn a_silent_peer_is_pinged_at_one_period_and_dropped_at_two() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    assert_eq!(connection.deadline(), Some(t0 + secs(1.0)));
    connection.on_timeout(t0 + secs(0.999));
    assert!(pending(&connection).is_empty());
    let t1 = t0 + secs(1.0);
    connection.on_timeout(t1);
    assert_eq!(
        frames(&written(&mut connection, t1)),
        [(OpCode::Ping, PING_PAYLOAD.to_vec())]
    );
    assert_eq!(connection.after_write(false, t1), Step::KeepGoing);
    // Writing our own ping proves nothing about the peer.
    assert_eq!(connection.deadline(), Some(t0 + secs(2.0)));
    let t2 = t0 + secs(2.0);
    connection.on_timeout(t2);
    // It is told why, and dropped without waiting for an answer.
    assert_eq!(
        frames(&pending(&connection)),
        [close_frame(1011, "no answer to a ping")]
    );
    assert_eq!(connection.after_write(false, t2), Step::Drop);
}

#[test]
fn a_peer_that_answers_every_ping_stays() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    let mut now = t0;
    for _ in 0..3 {
        now += secs(1.0);
        connection.on_timeout(now);
        let ping = frames(&written(&mut connection, now));
        assert_eq!(ping, [(OpCode::Ping, PING_PAYLOAD.to_vec())]);
        // Half a period later, the pong: any byte from the peer does.
        now += secs(0.5);
        connection.receive_data(&client_frame(0x8A, PING_PAYLOAD), now);
        assert_eq!(next_message(&mut connection, now), None);
        let open = State::Open {
            alive: now,
            pinged: false,
            message_since: None,
        };
        assert_eq!(connection.state(), open);
        assert_eq!(connection.deadline(), Some(now + secs(1.0)));
    }
    connection.receive_data(&MASKED_HELLO, now);
    assert_eq!(
        next_message(&mut connection, now),
        Some(Message::Text("Hello".into()))
    );
}

#[test]
fn a_ping_gets_a_pong_and_a_pong_gets_nothing() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    let input = [client_frame(0x89, b"ping?"), client_frame(0x8A, b"pong!")].concat();
    connection.receive_data(&input, t0);
    assert_eq!(next_message(&mut connection, t0), None);
    assert_eq!(
        frames(&written(&mut connection, t0)),
        [(OpCode::Pong, b"ping?".to_vec())]
    );
}

#[test]
fn the_peers_close_is_echoed_then_tcp_closes_from_our_side() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    let input = [
        client_frame(0x81, b"last"),
        client_frame(0x88, &close::payload(1001, "gone")),
        client_frame(0x81, b"too late"),
    ]
    .concat();
    connection.receive_data(&input, t0);
    // The message before the close is handed out, and answered first.
    assert_eq!(
        next_message(&mut connection, t0),
        Some(Message::Text("last".into()))
    );
    connection.send(Message::Text("echo".into()));
    assert_eq!(next_message(&mut connection, t0), None);
    assert_eq!(
        frames(&written(&mut connection, t0)),
        [
            (OpCode::Text, b"echo".to_vec()),
            (OpCode::Close, 1001u16.to_be_bytes().to_vec())
        ]
    );
    // §7.1.1: our side of TCP closes first; then we wait for theirs.
    assert_eq!(connection.after_write(false, t0), Step::ShutdownWrite);
    connection.receive_eof(t0 + secs(0.01));
    assert_eq!(connection.after_write(false, t0), Step::Drop);
}

#[test]
fn an_empty_close_gets_an_empty_close() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    connection.receive_data(&client_frame(0x88, b""), t0);
    next_message(&mut connection, t0);
    assert_eq!(
        frames(&written(&mut connection, t0)),
        [(OpCode::Close, vec![])]
    );
}

#[test]
fn our_close_waits_for_the_peers_and_no_data_follows_it() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    connection.close(close::NORMAL, "bye", t0);
    assert_eq!(connection.state(), State::Closing { waiting: t0 });
    assert_eq!(
        frames(&written(&mut connection, t0)),
        [close_frame(1000, "bye")]
    );
    // §5.5.1: after our close, no data frames go out: a message is not
    // answered. §5.5.2: a ping still gets its pong (it is a control
    // frame, and the peer's close has not come yet).
    let input = [client_frame(0x81, b"late"), client_frame(0x89, b"ping")].concat();
    connection.receive_data(&input, t0);
    assert_eq!(next_message(&mut connection, t0), None);
    connection.send(Message::Text("late reply".into()));
    connection.close(close::GOING_AWAY, "again", t0);
    assert_eq!(
        frames(&written(&mut connection, t0)),
        [(OpCode::Pong, b"ping".to_vec())]
    );
    // The peer's close completes the handshake, with no second close.
    connection.receive_data(&client_frame(0x88, &close::payload(1000, "")), t0);
    next_message(&mut connection, t0);
    assert!(pending(&connection).is_empty());
    assert_eq!(connection.after_write(false, t0), Step::ShutdownWrite);
}

#[test]
fn a_write_after_the_socket_refused_one_shows_the_peer_reads() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    connection.send(Message::Binary(vec![0; 1000]));
    connection.close(close::NORMAL, "bye", t0);
    // Everything fits in the socket at once; then new bytes meet a full
    // socket, which takes nothing.
    connection.send_blocked();
    // A second later it takes them: the peer read.
    let t1 = t0 + secs(1.5);
    let n = pending(&connection).len();
    connection.data_sent(n, t1);
    assert_eq!(connection.state(), State::Closing { waiting: t1 });
    assert_eq!(connection.deadline(), Some(t1 + secs(2.0)));
}

#[test]
fn a_peer_that_never_answers_our_close_is_dropped() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    connection.close(close::NORMAL, "bye", t0);
    written(&mut connection, t0);
    assert_eq!(connection.deadline(), Some(t0 + secs(2.0)));
    connection.on_timeout(t0 + secs(2.0));
    assert_eq!(connection.after_write(false, t0 + secs(2.0)), Step::Drop);
}

#[test]
fn a_broken_rule_fails_with_its_code_and_later_frames_are_ignored() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    // An unmasked frame (§5.1), then a valid one.
    let mut input = vec![0x81, 0x02, b'h', b'i'];
    input.extend(client_frame(0x81, b"after"));
    connection.receive_data(&input, t0);
    assert_eq!(next_message(&mut connection, t0), None);
    assert_eq!(
        frames(&written(&mut connection, t0)),
        [close_frame(1002, "a client frame is not masked")]
    );
    assert_eq!(connection.after_write(false, t0), Step::ShutdownWrite);
    connection.receive_data(&client_frame(0x81, b"later still"), t0);
    assert_eq!(next_message(&mut connection, t0), None);
}

#[test]
fn a_peer_gone_without_a_close_frame_gets_its_answers_then_is_dropped() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    connection.receive_data(&MASKED_HELLO, t0);
    let hello = next_message(&mut connection, t0).unwrap();
    connection.send(hello);
    // The next read finds the end of the stream: the peer half-closed.
    // It can still read what we owe it, and there is nothing more to read.
    connection.receive_eof(t0);
    assert!(connection.wants_write() && !connection.wants_read());
    written(&mut connection, t0);
    // Nothing to wait for: its side is closed already.
    assert_eq!(connection.after_write(false, t0), Step::Drop);
}

/// The second bug of issue "One connection, one state machine": the
/// flush deadline was fixed when the last reply was queued, so a slow
/// but steady reader of a big last answer was cut off.
#[test]
fn a_slow_steady_reader_gets_all_of_our_last_bytes() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    connection.send(Message::Binary(vec![0; 1_000_000]));
    connection.receive_data(&client_frame(0x88, &close::payload(1000, "")), t0);
    next_message(&mut connection, t0);
    // The first write fills the socket; then 1 KB a second, each write
    // inside the 2 s close timeout of the one before.
    connection.data_sent(1000, t0);
    let mut now = t0;
    for _ in 0..30 {
        now += secs(1.5);
        connection.on_timeout(now);
        assert!(
            matches!(connection.state(), State::Flushing { .. }),
            "cut off after {:?}",
            now - t0
        );
        connection.data_sent(1000, now);
    }
    // A reader that stops taking bytes is let go after the timeout.
    connection.on_timeout(now + secs(1.999));
    assert!(matches!(connection.state(), State::Flushing { .. }));
    connection.on_timeout(now + secs(2.0));
    assert_eq!(connection.after_write(false, now + secs(2.0)), Step::Drop);
}

#[test]
fn reading_pauses_while_output_waits_and_too_much_unread_drops() {
    let t0 = start();
    let small = Rules {
        max_pending_output: 1 << 20,
        ..rules()
    };
    let mut connection = open(small, t0);
    connection.send(Message::Binary(vec![0; READ_PAUSE - 100]));
    assert!(connection.wants_read());
    connection.send(Message::Binary(vec![0; 100]));
    assert!(!connection.wants_read());
    assert_eq!(connection.after_write(false, t0), Step::KeepGoing);
    connection.send(Message::Binary(vec![0; 1 << 20]));
    assert_eq!(connection.after_write(false, t0), Step::Drop);
}

/// Found in review: with the cap checked only once a turn, after the
/// writes, a peer that asks faster than it reads could queue answers past
/// it within one turn (a read of thousands of small messages), and fill
/// the memory every client shares. Each answer is checked as it is queued.
#[test]
fn answers_past_the_cap_let_go_of_the_peer_within_the_turn() {
    let t0 = start();
    let small = Rules {
        max_pending_output: 1000,
        ..rules()
    };
    let mut connection = open(small, t0);
    for _ in 0..100 {
        connection.send(Message::Text("x".repeat(100)));
    }
    assert_eq!(connection.state(), State::Gone);
    // Ten answers of 102 bytes went in before the cap was passed; the
    // eleventh found it passed, and nothing more was queued.
    assert_eq!(connection.pending(), 10 * 102);
}

#[test]
fn a_message_that_never_finishes_fails_with_1008() {
    let t0 = start();
    let slow = Rules {
        message_timeout: Some(secs(30.0)),
        ..rules()
    };
    let mut connection = open(slow, t0);
    let frame = client_frame(0x82, &[7; 1000]);
    // The header and a few bytes; then ten more every half second: the
    // peer is alive (no ping), but the frame never ends.
    connection.receive_data(&frame[..20], t0);
    assert_eq!(next_message(&mut connection, t0), None);
    let mut now = t0;
    let mut at = 20;
    while now + secs(0.5) < t0 + secs(30.0) {
        now += secs(0.5);
        connection.on_timeout(now);
        connection.receive_data(&frame[at..at + 10], now);
        assert_eq!(next_message(&mut connection, now), None);
        at += 10;
    }
    assert!(matches!(connection.state(), State::Open { .. }));
    assert_eq!(connection.deadline(), Some(t0 + secs(30.0)));
    connection.on_timeout(t0 + secs(30.0));
    assert_eq!(
        frames(&written(&mut connection, now)),
        [close_frame(1008, "a message took too long to arrive")]
    );
}

/// A 30 s message timeout and no idle timer: only the message clock runs.
fn message_clock_only() -> Rules {
    Rules {
        message_timeout: Some(secs(30.0)),
        idle_timeout: None,
        ..rules()
    }
}

#[test]
fn a_fragmented_message_must_end_in_time_too() {
    let t0 = start();
    let mut connection = open(message_clock_only(), t0);
    connection.receive_data(&client_frame(0x01, b"never"), t0);
    assert_eq!(next_message(&mut connection, t0), None);
    for i in 1..6 {
        let now = t0 + secs(5.0 * i as f64);
        connection.receive_data(&client_frame(0x00, b" ending"), now);
        connection.receive_data(&client_frame(0x89, b"ping"), now);
        assert_eq!(next_message(&mut connection, now), None);
    }
    connection.on_timeout(t0 + secs(30.0));
    assert!(matches!(connection.state(), State::Flushing { .. }));
}

#[test]
fn messages_that_keep_coming_whole_never_time_out() {
    let t0 = start();
    let mut connection = open(message_clock_only(), t0);
    for second in 0..100 {
        let now = t0 + secs(second as f64);
        connection.on_timeout(now);
        connection.receive_data(&MASKED_HELLO, now);
        assert_eq!(
            next_message(&mut connection, now),
            Some(Message::Text("Hello".into()))
        );
    }
    assert_eq!(connection.deadline(), None);
}

/// Found in review: the clock ran on from the first frame while every
/// read ended inside the next one, so a client streaming steadily was
/// closed with 1008 at the timeout.
#[test]
fn a_steady_stream_never_times_out_however_the_reads_cut_it() {
    let t0 = start();
    let slow = Rules {
        message_timeout: Some(secs(2.0)),
        idle_timeout: None,
        ..rules()
    };
    let mut connection = open(slow, t0);
    let stream: Vec<u8> = (0..300).flat_map(|_| client_frame(0x81, b"x")).collect();
    // Every read ends three bytes into a frame (frames are 7 bytes).
    let mut now = t0;
    let mut at = 3;
    connection.receive_data(&stream[..at], now);
    let mut messages = 0;
    while at + 7 <= stream.len() {
        now += secs(0.02);
        connection.on_timeout(now);
        assert!(
            matches!(connection.state(), State::Open { .. }),
            "closed after {:?}",
            now - t0
        );
        connection.receive_data(&stream[at..at + 7], now);
        at += 7;
        while next_message(&mut connection, now).is_some() {
            messages += 1;
        }
    }
    assert!(now - t0 > secs(5.0));
    assert_eq!(messages, 299);
}

#[test]
fn a_stop_says_1001_to_websockets_and_drops_handshakes() {
    let t0 = start();
    let mut open = open(rules(), t0);
    open.on_stop(t0);
    assert_eq!(
        frames(&written(&mut open, t0)),
        [close_frame(1001, "server shutting down")]
    );
    assert_eq!(open.state(), State::Closing { waiting: t0 });
    let mut handshaking = accepted(rules(), t0);
    handshaking.on_stop(t0);
    assert_eq!(handshaking.after_write(false, t0), Step::Drop);
}

/// `--inspect`'s table counts every frame both ways, whether or not it is
/// kept; and keeping what `--trace` shows is a switch the server turns
/// while the connection runs (on while someone looks, off again after).
#[test]
fn frames_are_counted_and_keeping_them_is_a_switch() {
    let t0 = start();
    let mut connection = open(rules(), t0);
    assert_eq!(connection.frames(), (0, 0));
    connection.receive_data(&MASKED_HELLO, t0);
    let hello = next_message(&mut connection, t0);
    assert_eq!(hello, Some(Message::Text("Hello".into())));
    connection.send(Message::Text("Hello".into()));
    assert_eq!(connection.frames(), (1, 1));
    assert!(connection.seen().is_empty(), "kept while off");

    connection.keep_seen(true);
    connection.receive_data(&client_frame(0x89, b"hi"), t0); // a ping
    assert_eq!(next_message(&mut connection, t0), None); // its pong is queued
    use crate::protocol::seen::Direction;
    let kept: Vec<(Direction, OpCode)> = connection
        .seen()
        .into_iter()
        .filter_map(|shown| match shown {
            Shown::Frame(seen) => Some((seen.direction, seen.header.opcode)),
            _ => None,
        })
        .collect();
    assert_eq!(
        kept,
        [
            (Direction::In, OpCode::Ping),
            (Direction::Out, OpCode::Pong)
        ]
    );

    connection.keep_seen(false);
    connection.receive_data(&MASKED_HELLO, t0);
    assert!(next_message(&mut connection, t0).is_some());
    assert!(connection.seen().is_empty(), "kept once switched off");
    assert_eq!(connection.frames(), (3, 2));
}
