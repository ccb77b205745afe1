//! The record around a connection: its HTTP answers (pages, refusals, the
//! 503 of a full server), its share of what all clients hold, and the
//! tidy timer that gives back memory grown for a big message. (Ported from
//! the tests of the old `Client`; the protocol's own are in
//! `protocol/connection/tests.rs`.)

use super::*;
use crate::config::Limits;
use crate::protocol::frame::tests::{client_frame, close_frame, frames};
use crate::protocol::frame::OpCode;

/// The tutorial's own request (its `Origin` is allowed below).
const TUTORIAL_REQUEST: &[u8] = b"GET /mychat HTTP/1.1\r\nHost: server.example.com\r\n\
    Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
    Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\r\n";

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Round numbers, so that every deadline below can be read off at once.
fn limits() -> Limits {
    Limits {
        handshake_timeout: secs(10.0),
        idle_timeout: Some(secs(1.0)),
        close_timeout: secs(2.0),
        ..Limits::default()
    }
}

/// A client accepted at `t0`, with these limits.
fn accepted(limits: Limits, server_full: bool, t0: Instant) -> Client {
    // The tutorial's request names another site's host and origin.
    let config = Config {
        limits,
        allowed_origins: vec!["http://example.com".into()],
        allowed_hosts: vec!["server.example.com".into()],
        ..Config::default()
    };
    let peer = "127.0.0.1:50000".parse().unwrap();
    let shared = Shared {
        total: Rc::new(Total::new(config.limits.max_buffered)),
        log_budget: Rc::new(RefCell::new(LogBudget::new(t0))),
        config: Rc::new(config),
    };
    Client::new("test".into(), peer, shared, server_full, t0)
}

/// The next whole message, as the old record's `next_message` gave it:
/// `Joined` and `Left` are passed over.
fn next_message(client: &mut Client, now: Instant) -> Option<Message> {
    loop {
        if let Event::Message(message) = client.next_event(now)? {
            return Some(message);
        }
    }
}

/// Do its buffers hold memory grown for big messages, now unused?
fn holds_spare_memory(client: &Client) -> bool {
    client.connection.holds_spare_memory()
}

/// A client that sent the tutorial's request at `t0` and got its 101.
fn open(limits: Limits, t0: Instant) -> Client {
    let mut client = accepted(limits, false, t0);
    client.connection.receive_data(TUTORIAL_REQUEST, t0);
    assert_eq!(next_message(&mut client, t0), None);
    let response = written(&mut client, t0);
    assert!(response.starts_with(b"HTTP/1.1 101 "));
    assert_eq!(client.after_write(t0), Step::KeepGoing);
    client
}

/// All that is waiting to be written, joined.
fn pending(client: &Client) -> Vec<u8> {
    let mut pieces = [&[][..]; 64];
    let count = client.connection.data_to_send(&mut pieces);
    pieces[..count].concat()
}

/// Everything the client wants written, as if the socket took it all
/// (each write may queue more: the next chunk of a file).
fn written(client: &mut Client, now: Instant) -> Vec<u8> {
    let mut all = Vec::new();
    while client.connection.wants_write() {
        let bytes = pending(client);
        client.data_sent(bytes.len(), now);
        all.extend(bytes);
    }
    all
}

#[test]
fn memory_grown_for_a_big_message_is_given_back_once_the_client_is_quiet() {
    let t0 = Instant::now();
    let mut client = open(Limits::default(), t0);
    let idle_ping = t0 + Limits::default().idle_timeout.unwrap();
    assert_eq!(client.deadline(), Some(idle_ping));
    // A 100 KB message arrives in two reads, and is echoed.
    let frame = client_frame(0x82, &[7; 100_000]);
    client.connection.receive_data(&frame[..60_000], t0);
    client.connection.receive_data(&frame[60_000..], t0);
    let message = next_message(&mut client, t0).expect("the whole message");
    let Message::Binary(payload) = &message else {
        panic!("{message:?}")
    };
    let memory = payload.as_ptr();
    client.send(message, t0);
    written(&mut client, t0);
    assert_eq!(client.after_write(t0), Step::KeepGoing);
    // Busy: the inbox keeps what it grew to; the reply's payload, moved
    // into the outbox and written, comes back to serve the next
    // message, and counts as held (the inbox's memory, bounded by the
    // reads, does not). Both stay until the client has been done with
    // big messages for TIDY_AFTER.
    let (inbox, outbox, reader) = client.connection.parts();
    assert!(inbox.holds_spare() && !outbox.holds_spare());
    assert!(reader.spare_capacity() >= 100_000);
    assert!(client.total.sum() >= 100_000);
    assert_eq!(client.deadline(), Some(t0 + TIDY_AFTER));
    // The next message grows into that same memory.
    client.connection.receive_data(&frame, t0);
    let Some(Message::Binary(next)) = next_message(&mut client, t0) else {
        panic!("the second message")
    };
    assert_eq!(next.as_ptr(), memory);
    client.send(Message::Binary(next), t0);
    written(&mut client, t0);
    client.after_write(t0);
    // Quiet: all of it given back.
    client.on_timeout(t0 + TIDY_AFTER);
    assert!(!holds_spare_memory(&client));
    assert_eq!(client.total.sum(), 0);
    assert_eq!(client.deadline(), Some(idle_ping));
}

#[test]
fn a_page_is_sent_then_our_side_closes_then_we_linger() {
    let t0 = Instant::now();
    let mut client = accepted(limits(), false, t0);
    client
        .connection
        .receive_data(b"GET / HTTP/1.1\r\nHost: localhost:1222\r\n\r\n", t0);
    assert_eq!(next_message(&mut client, t0), None);
    let page = written(&mut client, t0);
    assert!(page.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(client.after_write(t0), Step::ShutdownWrite);
    assert_eq!(client.state(), State::Lingering { since: t0 });
    // Late bytes are read and thrown away.
    client.connection.receive_data(b"more", t0);
    assert_eq!(next_message(&mut client, t0), None);
    assert!(pending(&client).is_empty());
    // The peer's FIN ends it; so does the close timeout.
    client.connection.receive_eof(t0 + secs(0.1));
    assert_eq!(client.after_write(t0), Step::Drop);
    let mut silent = accepted(limits(), false, t0);
    silent
        .connection
        .receive_data(b"GET / HTTP/1.1\r\nHost: localhost:1222\r\n\r\n", t0);
    next_message(&mut silent, t0);
    written(&mut silent, t0);
    assert_eq!(silent.after_write(t0), Step::ShutdownWrite);
    silent.on_timeout(t0 + secs(1.9));
    assert_eq!(silent.after_write(t0 + secs(1.9)), Step::KeepGoing);
    silent.on_timeout(t0 + secs(2.0));
    assert_eq!(silent.after_write(t0 + secs(2.0)), Step::Drop);
}

#[test]
fn a_page_asked_of_another_host_gets_421() {
    let t0 = Instant::now();
    let mut client = accepted(limits(), false, t0);
    client
        .connection
        .receive_data(b"GET / HTTP/1.1\r\nHost: evil.example:1222\r\n\r\n", t0);
    // The loop asks for the next event after every read: the request is
    // answered there.
    next_message(&mut client, t0);
    let response = written(&mut client, t0);
    assert!(response.starts_with(b"HTTP/1.1 421 Misdirected Request\r\n"));
}

#[test]
fn past_max_clients_a_handshake_gets_503_and_a_page_is_still_served() {
    let t0 = Instant::now();
    let mut full = accepted(limits(), true, t0);
    full.connection.receive_data(TUTORIAL_REQUEST, t0);
    next_message(&mut full, t0);
    let response = written(&mut full, t0);
    assert!(response.starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"));
    assert_eq!(full.after_write(t0), Step::ShutdownWrite);
    let mut page = accepted(limits(), true, t0);
    page.connection
        .receive_data(b"GET / HTTP/1.1\r\nHost: localhost:1222\r\n\r\n", t0);
    next_message(&mut page, t0);
    assert!(written(&mut page, t0).starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn a_peer_reading_a_long_reply_is_alive_without_a_word() {
    let t0 = Instant::now();
    let mut client = open(limits(), t0);
    client.send(Message::Binary(vec![0; 100_000]), t0);
    // The socket takes 10 KB every half second: the peer reads steadily.
    let mut now = t0;
    client.data_sent(10_000, now);
    while client.connection.wants_write() {
        now += secs(0.5);
        client.on_timeout(now);
        let n = pending(&client).len().min(10_000);
        client.data_sent(n, now);
    }
    assert!(now > t0 + secs(4.0));
    assert!(matches!(client.state(), State::Open { pinged: false, .. }));
    // First the reply's memory is given back, TIDY_AFTER after it last
    // held much (at most a second ago); then the idle ping waits a
    // whole idle period from the last read.
    let tidy = client.deadline().expect("a deadline");
    assert!(tidy <= now + TIDY_AFTER && holds_spare_memory(&client));
    client.on_timeout(tidy);
    assert!(!holds_spare_memory(&client));
    assert_eq!(client.deadline(), Some(now + secs(1.0)));
}

#[test]
fn a_message_past_the_total_fails_with_1013_and_others_go_on() {
    let t0 = Instant::now();
    let small = Limits {
        max_buffered: 1000,
        ..limits()
    };
    let mut a = open(small.clone(), t0);
    // The second client shares the first one's total.
    let mut b = open(small, t0);
    b.total = Rc::clone(&a.total);
    let big = client_frame(0x82, &[1; 700]);
    a.connection.receive_data(&big[..8 + 600], t0);
    assert_eq!(next_message(&mut a, t0), None);
    let other = client_frame(0x82, &[2; 500]);
    b.connection.receive_data(&other[..8 + 450], t0);
    assert_eq!(next_message(&mut b, t0), None);
    assert_eq!(
        frames(&written(&mut b, t0)),
        [close_frame(
            1013,
            "the server holds too much already; try later"
        )]
    );
    // Once its close frame is out, B holds nothing; A finishes and gets
    // its echo.
    assert_eq!(b.after_write(t0), Step::ShutdownWrite);
    assert_eq!(a.total.sum(), 600);
    a.connection.receive_data(&big[8 + 600..], t0);
    let message = next_message(&mut a, t0).unwrap();
    a.send(message, t0);
    assert_eq!(
        frames(&written(&mut a, t0)),
        [(OpCode::Binary, vec![1; 700])]
    );
    assert_eq!(a.after_write(t0), Step::KeepGoing);
    drop(b);
    assert_eq!(a.total.sum(), 0);
}

/// Would fail if a reply refused for memory (1013) could still fail a
/// connection whose close frame is out: its closing handshake would be cut
/// short, and it would leave `Closing` for `Flushing`.
#[test]
fn a_reply_after_our_close_changes_nothing_even_when_memory_is_short() {
    let t0 = Instant::now();
    let small = Limits {
        max_buffered: 1000,
        ..limits()
    };
    let mut client = open(small, t0);
    client.close(1000, "bye", t0);
    written(&mut client, t0);
    assert!(matches!(client.state(), State::Closing { .. }));
    client.send(Message::Binary(vec![0; 2000]), t0);
    let state = client.state();
    assert!(matches!(state, State::Closing { .. }), "{state:?}");
    assert_eq!(pending(&client), b"");
}

/// Would fail if the 1013 check could fail a connection that is already
/// over: dropped after a reset while it held half a message, when others
/// had filled the total, it came back as `Flushing`, its reason lost.
#[test]
fn a_dropped_client_stays_dropped_when_memory_is_short() {
    let t0 = Instant::now();
    let small = Limits {
        max_buffered: 10_000,
        ..limits()
    };
    let mut client = open(small, t0);
    let big = client_frame(0x82, &[1; 5000]);
    client.connection.receive_data(&big[..3000], t0);
    assert_eq!(next_message(&mut client, t0), None);
    client.total.change(0, 9_000); // the others fill the total
    client.drop_now("read failed: reset".into());
    let mut events = Vec::new();
    while let Some(event) = client.next_event(t0) {
        events.push(event);
    }
    assert_eq!(client.state(), State::Gone);
    assert_eq!(events, [Event::Left]);
}

/// Would fail if a member failed for memory (1013) kept counting what it
/// held until later: the same message to every member would then fail
/// every member after it too.
#[test]
fn a_member_failed_for_memory_gives_it_back_before_the_next_is_checked() {
    let t0 = Instant::now();
    let small = Limits {
        max_buffered: 10_000,
        ..limits()
    };
    let mut holder = open(small.clone(), t0);
    let mut a = open(small.clone(), t0);
    let mut b = open(small, t0);
    a.total = Rc::clone(&holder.total);
    b.total = Rc::clone(&holder.total);
    let big = client_frame(0x82, &[1; 9_500]);
    holder.connection.receive_data(&big[..9_400], t0);
    assert_eq!(next_message(&mut holder, t0), None);
    for member in [&mut holder, &mut a, &mut b] {
        member.send(Message::Text("x".repeat(800)), t0);
    }
    assert!(!holder.connection.is_open());
    assert!(a.connection.is_open() && b.connection.is_open());
}

/// A message and its reply are counted once a turn (`Server::settle`), but
/// what any other event queues is counted as it happens: a read of pings
/// queues a pong for each, and another client asking for room in the same
/// turn must see them. Would fail if the pongs waited for the end of the
/// turn to be counted.
#[test]
fn pongs_are_counted_as_they_are_queued() {
    let t0 = Instant::now();
    let mut client = open(limits(), t0);
    let pings: Vec<u8> = (0..100)
        .flat_map(|_| client_frame(0x89, &[7; 125]))
        .collect();
    client.connection.receive_data(&pings, t0);
    assert_eq!(next_message(&mut client, t0), None);
    // 100 pongs of 125 bytes, each with its 2-byte header, not written yet.
    assert_eq!(client.connection.pending(), 100 * 127);
    assert_eq!(client.total.sum(), client.connection.counted());
    assert!(client.total.sum() >= 100 * 127);
}

/// Found in review: a reply reserved only its length, so an echo of a
/// small message made in the memory a big one left (1 MiB, kept for the
/// next big message) counted 100 bytes until the end of the turn, while it
/// held the whole megabyte: other clients were given room out of memory
/// still in use.
#[test]
fn a_small_echo_in_a_big_buffer_is_counted_as_it_holds() {
    let t0 = Instant::now();
    let mut client = open(Limits::default(), t0);
    let big = client_frame(0x82, &vec![7; 1 << 20]);
    client.connection.receive_data(&big, t0);
    let message = next_message(&mut client, t0).expect("the big message");
    client.send(message, t0);
    written(&mut client, t0);
    client.after_write(t0);
    // A small message, in the big message's memory, echoed.
    client
        .connection
        .receive_data(&client_frame(0x82, &[1; 100]), t0);
    let message = next_message(&mut client, t0).expect("the small message");
    client.send(message, t0);
    assert!(client.connection.counted() >= 1 << 20);
    assert_eq!(client.total.sum(), client.connection.counted());
}

/// Found in review: a read of 40,000 empty messages kept 40,000 log lines
/// waiting for the reply's write, and the memory they took stayed with the
/// connection. Past `HEARD_KEPT` the lines are written as they come.
#[test]
fn the_lines_waiting_for_a_write_stay_few() {
    let t0 = Instant::now();
    let mut client = open(limits(), t0);
    for _ in 0..10_000 {
        client.hear("binary", &[], t0);
    }
    assert!(client.heard.len() < HEARD_KEPT);
    assert!(client.heard.capacity() <= HEARD_KEPT);
}
