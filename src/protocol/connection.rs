//! One connection's whole life, RFC 6455 from the first byte of the request
//! to the last FIN: the PHP's `$clients[$socket]["handshake"]` flag, grown
//! into the states a real connection needs. No socket, no log, no clock.
//!
//! Like the PHP's loop, it is fed what `socket_recv` read, and it answers
//! with bytes to write; unlike the PHP, it keeps both in buffers, since a
//! read can hold half a frame or three, and a write can take part of one.
//!
//! - bytes in: [`Connection::receive_data`], [`Connection::receive_eof`];
//! - what happened, in order: [`Connection::next_event`] (a request head to
//!   answer, a message, the peer's close, a broken rule, ...);
//! - the answers: [`Connection::accept`] (the 101) or
//!   [`Connection::respond`] (any other HTTP answer), [`Connection::send`],
//!   [`Connection::close`];
//! - bytes out: [`Connection::data_to_send`], [`Connection::data_sent`],
//!   then [`Connection::after_write`]: go on, half-close, or drop;
//! - time: [`Connection::deadline`], [`Connection::on_timeout`].
//!
//! Every call is told `now`, so a test drives a whole connection, timeouts
//! included, in microseconds. The connection's life is one [`State`]; each
//! state holds the instant its deadline counts from, and
//! `Connection::timer` is the one function that turns a state into a
//! deadline.

use super::buffers::{Inbox, Outbox, SharedFrame, MOVE_AT};
use super::close::{self, CloseFrame, Violation};
use super::extensions::{self, Deflate};
use super::frame::{self, OpCode};
use super::handshake::Accepted;
use super::http::{HeadSearch, Refusal, Request, MAX_REQUEST_HEAD};
use super::reader::{Incoming, Message, MessageReader};
use super::seen::{Seen, Shown};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// Stop reading while this much output waits for the peer: a peer that
/// sends without reading is slowed down by TCP itself instead of filling
/// our memory. (Past `max_pending_output` it is dropped.)
pub(crate) const READ_PAUSE: usize = 256 * 1024;

/// What an idle ping carries (§5.5.2 lets us choose; the pong echoes it).
const PING_PAYLOAD: &[u8] = b"are you there?";

/// How many bytes of what was left unread a failed connection keeps, for
/// `--trace` to show where the broken rule was.
pub(crate) const UNREAD_KEPT: usize = 16;

/// What one connection may take, as plain values (the server's flags,
/// `config.rs`, fill them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The largest message accepted (§10.4): past it, close 1009.
    pub max_message_size: usize,
    /// Output left unread past this: dropped (it is not reading).
    pub max_pending_output: usize,
    /// The whole request head must arrive within this.
    pub handshake_timeout: Duration,
    /// Silent this long: a ping; twice this long: close 1011 and drop.
    pub idle_timeout: Option<Duration>,
    /// A frame or fragmented message begun must end within this (1008).
    pub message_timeout: Option<Duration>,
    /// The wait for the peer's close, for it to read our last bytes, and
    /// for its FIN.
    pub close_timeout: Duration,
    /// Keep what `--trace` shows of each frame ([`Connection::seen`]).
    pub trace: bool,
}

/// Where a connection is in its life.
///
/// ```text
///  Handshaking ──101──▶ Open ──we close──▶ Closing
///       │                │                    │
///       │ HTTP answer    │ peer's close,      │ peer's close,
///       │ (page, error)  │ a broken rule,     │ its FIN
///       │                │ its FIN            │
///       └──────────────▶ Flushing ◀───────────┘
///                          │ outbox empty
///                          ▼
///                       Lingering ──peer's FIN, or time──▶ Gone
/// ```
///
/// Any state can also go straight to `Gone`: a timeout, a socket error, a
/// peer that does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Reading the HTTP request head. The PHP's `handshake == false`.
    Handshaking {
        /// When the connection was accepted (the handshake timeout counts
        /// from here, not from the last byte: a slow trickle is no excuse).
        since: Instant,
        /// How far the search for the head's end has got: each read's bytes
        /// are searched once.
        search: HeadSearch,
        /// The whole head has been handed out ([`Event::Request`] or
        /// [`Event::BadRequest`]), and waits for its answer: no more is read.
        asked: bool,
    },
    /// A WebSocket: messages both ways. The PHP's `handshake == true`.
    Open {
        /// The last sign of life: a byte from the peer, or the peer taking
        /// bytes that were waiting for it. The idle timeout counts from here.
        alive: Instant,
        /// An idle ping is out and unanswered.
        pinged: bool,
        /// What is arriving now (`MessageReader::arriving`), if anything,
        /// and since when: the message timeout counts from there.
        message_since: Option<(u64, Instant)>,
    },
    /// We sent a close frame and wait for the peer's (§7.1.2).
    Closing {
        /// When we started waiting, moved on while the peer is still reading
        /// what we queued before the close (it cannot answer before it has
        /// read our close frame).
        waiting: Instant,
    },
    /// Our last bytes are queued (an HTTP answer, or our close frame): write
    /// them, then close our side of TCP.
    Flushing {
        /// When the peer last took bytes; it must keep reading, with no
        /// pause longer than the close timeout.
        waiting: Instant,
        /// The peer has closed its side already (a read returned 0): once
        /// our bytes are out there is nothing to wait for.
        peer_gone: bool,
    },
    /// Our side is closed (our FIN is sent). Read and throw away until the
    /// peer closes its side, so that the kernel does not answer its late
    /// bytes with a reset that could destroy our last frame in flight.
    Lingering { since: Instant },
    /// Over. The socket is closed at the end of this turn.
    Gone,
}

/// What the loop must do with the socket once it has written what it could.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing special: read when it is readable, write what is waiting.
    KeepGoing,
    /// Close our side of TCP: `shutdown(Write)` sends our FIN (§7.1.1: the
    /// server closes the TCP connection first). Now [`State::Lingering`].
    ShutdownWrite,
    /// Close the socket and remove the client from the table.
    Drop,
}

/// What happened, for the server to act on, log, or pass to the app, in
/// the order it happened ([`Connection::next_event`]). (The two rare, big
/// ones are boxed: events wait in a queue every connection keeps, and its
/// memory is that of four of its biggest.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole request head (its bytes, for the log): the server answers
    /// it, with [`Connection::accept`] or [`Connection::respond`].
    Request(Box<Request>, Vec<u8>),
    /// The bytes are no HTTP request we can read: answer this refusal
    /// (the first bytes, at most `MAX_REQUEST_HEAD`, for the trace).
    BadRequest(Box<Refusal>, Vec<u8>),
    /// The handshake is done: a WebSocket is open (the PHP's
    /// `handshake = true`).
    Joined,
    /// A whole message arrived (the PHP's `$decoded_data`, line 62).
    Message(Message),
    /// A message after our close frame: dropped, unanswered (§5.5.1).
    LateMessage,
    /// A ping came; its pong is queued (§5.5.2).
    Ponged,
    /// A pong came: an answer to our ping, or unsolicited (§5.5.3).
    PongCame,
    /// The peer's close frame: echoed, if ours was not out (§5.5.1).
    PeerClosed(CloseFrame),
    /// The peer broke a rule (§7.1.7): our close frame with its code is
    /// queued.
    Failed(Violation),
    /// We began the closing handshake, with this code and reason.
    Closing(u16, String),
    /// An idle period passed: a ping went out.
    Pinged,
    /// The peer closed TCP: before its handshake was whole, or after it
    /// without a close frame (1006, §7.1.5).
    Hangup { handshaken: bool },
    /// Over at once, with no goodbye, for this reason.
    Dropped(Dropped),
    /// The WebSocket is no longer open for messages (it is closing, failed
    /// or gone): whoever it was talking to should hear.
    Left,
}

/// Why a connection ended at once ([`Event::Dropped`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// The server could not go on with the socket (`read failed: ...`).
    Io(String),
    /// No whole request head within the handshake timeout.
    NoHandshake(Duration),
    /// No sign of life in two idle periods, though pinged.
    NoPong,
    /// No close frame within the close timeout.
    NoCloseReply(Duration),
    /// It stopped reading our last bytes.
    NotReading,
    /// More unread output than `max_pending_output`.
    Unread { pending: usize, limit: usize },
    /// It was not reading, and held the most unread bytes, when the server
    /// needed memory for a message to all (`--max-buffered`).
    Crowding { pending: usize },
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::Io(why) => write!(f, "{why}"),
            Dropped::NoHandshake(after) => write!(f, "no handshake within {after:?}"),
            Dropped::NoPong => write!(f, "did not answer a ping"),
            Dropped::NoCloseReply(after) => write!(f, "no close reply within {after:?}"),
            Dropped::NotReading => write!(f, "not reading its last bytes"),
            Dropped::Unread { pending, limit } => {
                write!(f, "{pending} bytes waiting unread (limit {limit})")
            }
            Dropped::Crowding { pending } => write!(
                f,
                "{pending} bytes waiting unread, the most of those not reading, \
                 while the server's memory is short"
            ),
        }
    }
}

/// The timers a connection can be waiting on; see `Connection::timer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The opening handshake has not completed.
    Handshake,
    /// Nothing heard for an idle period: time to ping.
    Idle,
    /// A ping is out and nothing has come back for another idle period.
    PingReply,
    /// A frame or message has been arriving for too long.
    Message,
    /// We sent a close frame and wait for the peer's.
    CloseReply,
    /// Our last bytes are queued but the peer is not reading them.
    Flush,
    /// Our side is closed; the peer has not closed its side.
    Linger,
}

/// One connection: its state, its two buffers, and the reader that turns
/// its bytes into messages.
#[derive(Debug)]
pub struct Connection {
    state: State,
    rules: Rules,
    /// Bytes read but not used yet (a request head or a frame not yet whole).
    inbox: Inbox,
    /// Bytes waiting to be written.
    outbox: Outbox,
    /// Frames into messages, once the connection is a WebSocket.
    reader: MessageReader,
    /// What happened and was not yet handed out by `next_event`.
    events: VecDeque<Event>,
    /// With `rules.trace`: every frame read or queued, a failure's unread
    /// bytes, and where each event happened among them, in order.
    seen: VecDeque<Shown>,
    /// Frames queued to be sent so far (`--inspect` shows the count).
    frames_queued: u64,
    /// permessage-deflate, if the handshake agreed to it (RFC 7692).
    deflate: Option<Deflate>,
}

impl Connection {
    /// A freshly accepted connection: the PHP's `handshake = false`.
    pub fn new(rules: Rules, now: Instant) -> Connection {
        Connection {
            state: State::Handshaking {
                since: now,
                search: HeadSearch::default(),
                asked: false,
            },
            rules,
            inbox: Inbox::default(),
            outbox: Outbox::default(),
            reader: MessageReader::new(rules.max_message_size, rules.trace),
            events: VecDeque::new(),
            seen: VecDeque::new(),
            frames_queued: 0,
            deflate: None,
        }
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        self.state
    }

    // --- Bytes in ----------------------------------------------------------

    /// Bytes arrived from the socket: the PHP's two `socket_recv` branches.
    /// They wait in the inbox until [`Connection::next_event`] reads them.
    pub fn receive_data(&mut self, bytes: &[u8], now: Instant) {
        match &mut self.state {
            // `if ($clients[$socket]["handshake"] == false)` (PHP line 51).
            State::Handshaking { .. } => {
                self.inbox.extend(bytes);
                self.read_request();
            }
            // `else if (... == true)` (line 59). Any byte shows the peer is
            // there, a pong or not.
            State::Open { alive, pinged, .. } => {
                (*alive, *pinged) = (now, false);
                self.inbox.extend(bytes);
            }
            State::Closing { .. } => self.inbox.extend(bytes),
            // The connection is ending: late bytes are read only so that the
            // kernel has nothing unread to reset, and thrown away.
            State::Flushing { .. } | State::Lingering { .. } | State::Gone => {}
        }
    }

    /// The peer closed its side of the TCP connection (a read returned 0).
    /// Whatever we still owe it is written first: a peer that only
    /// half-closed can still read its answer.
    pub(crate) fn receive_eof(&mut self, now: Instant) {
        let next = match self.state {
            State::Handshaking { .. } => {
                self.happened(Event::Hangup { handshaken: false });
                State::Gone
            }
            // §7.1.5: closed with no close frame: "abnormal closure", 1006.
            State::Open { .. } | State::Closing { .. } => {
                self.reader.discard();
                self.happened(Event::Hangup { handshaken: true });
                State::Flushing {
                    waiting: now,
                    peer_gone: true,
                }
            }
            State::Flushing { waiting, .. } => State::Flushing {
                waiting,
                peer_gone: true,
            },
            State::Lingering { .. } | State::Gone => State::Gone,
        };
        self.enter(next);
    }

    /// What happened next, in order; `None` when nothing more has. On the
    /// way it reads the frames that have arrived, answers pings, echoes a
    /// close, and fails the connection on a broken rule.
    ///
    /// `room` is the most this connection may hold now (what the server
    /// may hold, less what every other connection does): a message that
    /// grows past it fails with 1013 (`Violation::ServerBusy`).
    pub fn next_event(&mut self, now: Instant, room: usize) -> Option<Event> {
        // A compressed message inflates into room of its own (RFC 7692).
        if self.deflate.is_some() {
            self.reader.allow(room.saturating_sub(self.counted()));
        }
        while self.events.is_empty() && self.reads_frames() {
            let incoming = self.reader.read_event(&mut self.inbox);
            if self.rules.trace {
                let frames = self.reader.seen_frames();
                self.seen.extend(frames.into_iter().map(Shown::Frame));
            }
            self.note_message_progress(now);
            // A message that takes what the server holds past its limit
            // fails its own connection; every other one goes on.
            if self.reader.buffered() > 0 && self.counted() > room {
                self.fail(Violation::ServerBusy, now);
                break;
            }
            let Some(incoming) = incoming else {
                break; // the bytes ran out
            };
            self.on_incoming(incoming, now);
        }
        // Ending: nothing more will be read from it.
        if matches!(
            self.state,
            State::Flushing { .. } | State::Lingering { .. } | State::Gone
        ) {
            self.inbox.discard();
        }
        self.events.pop_front()
    }

    /// Something happened: hand it out in turn (`next_event`), and with
    /// `rules.trace`, mark where it happened among the frames.
    fn happened(&mut self, event: Event) {
        self.events.push_back(event);
        if self.rules.trace {
            self.seen.push_back(Shown::Event);
        }
    }

    /// With `rules.trace`: what was read or queued before the next event
    /// still to be handed out (or since the last call, if none is), in
    /// order. So the trace and the log tell one story: each event's line
    /// comes after the frames that led to it, and before those it led to.
    pub fn seen(&mut self) -> Vec<Shown> {
        let end = self.seen.iter().position(|shown| *shown == Shown::Event);
        let before = self.seen.drain(..end.unwrap_or(self.seen.len()));
        let before: Vec<Shown> = before.collect();
        if end.is_some() {
            self.seen.pop_front(); // the event's own mark
        }
        before
    }

    /// Keep what `--trace` shows from now on, or stop: a switch the server
    /// turns while `--inspect` has someone looking (`rules.trace` is where
    /// it starts). Kept bytes not yet handed out stay until [`Connection::seen`].
    pub fn keep_seen(&mut self, on: bool) {
        self.rules.trace = on;
        self.reader.keep_seen(on);
    }

    /// Frames read whole and frames queued to send, so far.
    pub fn frames(&self) -> (u64, u64) {
        (self.reader.frames_read(), self.frames_queued)
    }

    /// Start, or stop, the message clock: it runs while a frame or a
    /// fragmented message has begun (even just its header's first bytes)
    /// and not ended, and starts again for the next one.
    fn note_message_progress(&mut self, now: Instant) {
        let arriving = self.reader.arriving(!self.inbox.unread().is_empty());
        if let State::Open { message_since, .. } = &mut self.state {
            *message_since = match (arriving, *message_since) {
                (None, _) => None,
                // Still the same one: its clock runs on.
                (Some(number), Some((same, since))) if number == same => Some((same, since)),
                // Another one has begun: its clock starts now.
                (Some(number), _) => Some((number, now)),
            };
        }
    }

    /// Move to the next state: every change comes through here, so joining
    /// (entering `Open`) and leaving (leaving it, whatever the reason) are
    /// noticed in one place.
    fn enter(&mut self, next: State) {
        let was_open = self.is_open();
        let is_open = matches!(next, State::Open { .. });
        if is_open && !was_open {
            self.happened(Event::Joined);
        }
        if was_open && !is_open {
            self.happened(Event::Left);
        }
        self.state = next;
    }

    /// Are incoming frames still read? Until the closing handshake is over
    /// or the connection failed (§7.1.7: after that, input is ignored).
    pub fn reads_frames(&self) -> bool {
        matches!(self.state, State::Open { .. } | State::Closing { .. })
    }

    /// Is the WebSocket open in both directions (no close frame sent yet)?
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    // --- The opening handshake: the PHP's `handshake == false` branch -------

    /// Once the request head is whole, hand it out to be answered.
    fn read_request(&mut self) {
        let State::Handshaking { search, asked, .. } = &mut self.state else {
            return;
        };
        if *asked {
            return; // one request per connection: the answer ends it
        }
        let parsed = search.parse(self.inbox.unread());
        *asked = !matches!(parsed, Ok(None));
        match parsed {
            Ok(None) => {} // not all here yet
            Ok(Some((request, head_len))) => {
                let head = self.inbox.unread()[..head_len].to_vec();
                // What follows the head (frames sent before our 101
                // arrived) stays, and is read once the WebSocket is open.
                self.inbox.consume(head_len);
                self.happened(Event::Request(Box::new(request), head));
            }
            Err(refusal) => {
                let head = self.inbox.unread();
                let head = head[..head.len().min(MAX_REQUEST_HEAD)].to_vec();
                self.happened(Event::BadRequest(Box::new(refusal), head));
            }
        }
    }

    /// Answer the handshake with its 101 (§4.2.2): the WebSocket is open.
    pub fn accept(&mut self, accepted: &Accepted, now: Instant) {
        self.outbox
            .queue(|out| out.extend_from_slice(&accepted.response));
        self.deflate = accepted.deflate;
        if self.deflate.is_some() {
            self.reader.agree_deflate();
        }
        self.enter(State::Open {
            alive: now,
            pinged: false,
            message_since: None,
        });
    }

    /// Answer with any other HTTP response (a page's head, a refusal); the
    /// connection ends once it is written. A page's body follows through
    /// [`Connection::queue_body`].
    pub fn respond(&mut self, response: &[u8], now: Instant) {
        self.inbox.discard(); // nothing more will be read from it
        self.outbox.queue(|out| out.extend_from_slice(response));
        self.enter(State::Flushing {
            waiting: now,
            peer_gone: false,
        });
    }

    /// Queue more of a page's body, with `write`; `None` if bytes are still
    /// waiting to go out (a file is sent a chunk at a time, as the socket
    /// takes it, so it holds one chunk of memory whatever its size).
    pub(crate) fn queue_body<R>(&mut self, write: impl FnOnce(&mut Vec<u8>) -> R) -> Option<R> {
        self.outbox.is_empty().then(|| self.outbox.queue(write))
    }

    // --- Frames: the PHP's `handshake == true` branch ----------------------

    /// Act on what the reader found; a message goes on to the server.
    fn on_incoming(&mut self, incoming: Incoming, now: Instant) {
        match incoming {
            Incoming::Message(message) if self.is_open() => {
                self.happened(Event::Message(message));
            }
            // §5.5.1: once our close frame is out we send no more data
            // frames, so no reply could go out: the message is dropped.
            Incoming::Message(_) => self.happened(Event::LateMessage),
            // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a
            // Pong frame in response, unless it already received a Close
            // frame", with "identical Application data" (§5.5.3). A pong is
            // a control frame, so it may follow our own close (§5.5.1 only
            // forbids data frames); frames are no longer read once theirs
            // has come.
            Incoming::Ping(data) => {
                self.queue_frame(OpCode::Pong, &data);
                self.happened(Event::Ponged);
            }
            // §5.5.3: "A response to an unsolicited Pong frame is not
            // expected." As any byte does, it showed the peer is there.
            Incoming::Pong(_) => self.happened(Event::PongCame),
            Incoming::Close(close) => self.on_close_frame(close, now),
            Incoming::Failed(violation) => self.fail(violation, now),
        }
    }

    /// The peer's close frame arrived (§5.5.1, §7.1.2).
    fn on_close_frame(&mut self, close: CloseFrame, now: Instant) {
        // §5.5.1: "If an endpoint receives a Close frame and did not
        // previously send a Close frame, the endpoint MUST send a Close frame
        // in response. ... it typically echos the status code it received."
        let echo = close.code.map_or(Vec::new(), |c| c.to_be_bytes().to_vec());
        self.happened(Event::PeerClosed(close));
        if self.is_open() {
            self.queue_frame(OpCode::Close, &echo);
        }
        // §7.1.1: the server closes the TCP connection first, once its
        // close frame is out.
        self.end_reading(now);
    }

    /// §7.1.7 _Fail the WebSocket Connection_: send a close frame with the
    /// code for what went wrong (unless ours is already out), read no more,
    /// and close the TCP connection.
    pub fn fail(&mut self, violation: Violation, now: Instant) {
        if !self.reads_frames() {
            return; // the connection is ending already
        }
        let payload = close::payload(violation.close_code(), &violation.to_string());
        self.happened(Event::Failed(violation.clone()));
        if self.rules.trace {
            let unread = self.inbox.unread();
            let unread = unread[..unread.len().min(UNREAD_KEPT)].to_vec();
            self.seen.push_back(Shown::Failure(violation, unread));
        }
        if self.is_open() {
            self.queue_frame(OpCode::Close, &payload);
        }
        self.end_reading(now);
    }

    /// No more frames will be read (our close and theirs have crossed, or
    /// the connection failed): give back what a half-read message holds,
    /// and write our last bytes.
    fn end_reading(&mut self, now: Instant) {
        self.reader.discard();
        self.enter(State::Flushing {
            waiting: now,
            peer_gone: false,
        });
    }

    // --- Replies in ----------------------------------------------------------

    /// Queue a message for the peer: the PHP's `socket_write($client,
    /// encode(...))` (line 63), without the write. Nothing is sent once our
    /// close frame is out (§5.5.1).
    pub fn send(&mut self, message: Message) {
        if !self.is_open() {
            return;
        }
        // Its earlier answers still wait past the cap: it asks faster than
        // it reads. (Checked before this one is queued, so that one big
        // answer still gets its first write, as anyone's does; and again
        // once a turn, after the writes: `after_write`.)
        if self.drop_if_over_cap() {
            return;
        }
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.into_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
        };
        // RFC 7692 §6: with permessage-deflate, a message that gets
        // smaller goes out compressed, in one frame with RSV1 set.
        let compressed = self
            .deflate
            .and_then(|d| extensions::compress(&payload, &d));
        if let Some(compressed) = compressed {
            self.queue_compressed(opcode, compressed, &payload);
            return self.reader.recycle(payload);
        }
        // A small payload is copied in behind its header, and its memory
        // serves the next message; a big one is moved in as it is.
        if payload.len() < MOVE_AT {
            self.queue_frame(opcode, &payload);
            self.reader.recycle(payload);
        } else {
            self.outbox
                .queue(|out| frame::encode_header(out, opcode, payload.len()));
            if self.rules.trace {
                let seen = Seen::outgoing(opcode, &payload);
                self.seen.push_back(Shown::Frame(seen));
            }
            self.outbox.push(payload);
            self.frames_queued += 1;
        }
    }

    /// Its own bytes waiting unread past `max_pending_output`: the peer is
    /// not reading what it asked for; let it go. (Frames shared with a
    /// room do not count here: the server watches those, `server/mod.rs`.)
    fn drop_if_over_cap(&mut self) -> bool {
        let (pending, limit) = (self.outbox.own_len(), self.rules.max_pending_output);
        if pending > limit {
            self.drop_now(Dropped::Unread { pending, limit });
        }
        pending > limit
    }

    /// Queue a frame already encoded: a message for the whole room, encoded
    /// once and queued, the same bytes, for every member.
    pub(crate) fn send_shared(&mut self, frame: &SharedFrame) {
        if self.is_open() {
            self.outbox.share(frame);
            self.frames_queued += 1;
        }
    }

    /// Start the closing handshake (§7.1.2): send a close frame, then wait
    /// for the peer's, at most the close timeout.
    pub fn close(&mut self, code: u16, reason: &str, now: Instant) {
        if !self.is_open() {
            return;
        }
        self.happened(Event::Closing(code, reason.to_owned()));
        self.queue_frame(OpCode::Close, &close::payload(code, reason));
        self.enter(State::Closing { waiting: now });
    }

    /// One compressed message's frame (RFC 7692 §6): RSV1 set, the
    /// compressed bytes on the wire; `plain` is what they hold, for `--trace`.
    /// As a plain payload is, a big one is moved in behind its header, not
    /// copied.
    fn queue_compressed(&mut self, opcode: OpCode, compressed: Vec<u8>, plain: &[u8]) {
        let len = compressed.len();
        if self.rules.trace {
            let seen = Seen::outgoing_compressed(opcode, &compressed, plain);
            self.seen.push_back(Shown::Frame(seen));
        }
        if len < MOVE_AT {
            self.outbox.queue(|out| {
                frame::encode_compressed_header(out, opcode, len);
                out.extend_from_slice(&compressed);
            });
        } else {
            self.outbox
                .queue(|out| frame::encode_compressed_header(out, opcode, len));
            self.outbox.push(compressed);
        }
        self.frames_queued += 1;
    }

    /// Queue one whole frame: `frame::encode`, the PHP's `encode()`.
    fn queue_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        self.outbox.queue(|out| frame::encode(out, opcode, payload));
        self.frames_queued += 1;
        if self.rules.trace {
            let seen = Seen::outgoing(opcode, payload);
            self.seen.push_back(Shown::Frame(seen));
        }
    }

    // --- Bytes out ---------------------------------------------------------

    /// What is waiting to be written, as up to `pieces.len()` slices to
    /// write in order (one `writev` takes them all); returns how many.
    pub fn data_to_send<'a>(&'a self, pieces: &mut [&'a [u8]]) -> usize {
        self.outbox.pending(pieces)
    }

    /// The socket took `n` bytes of [`Connection::data_to_send`].
    pub fn data_sent(&mut self, n: usize, now: Instant) {
        // The socket had been full, and now it took more: the peer made
        // room by reading. (A write into a socket with room proves nothing:
        // the kernel takes the bytes whether or not anyone reads them, our
        // own ping included.)
        if self.outbox.socket_full() {
            self.peer_is_reading(now);
        }
        self.outbox.advance(n);
        // A big reply's payload is out: its memory serves the next message.
        if let Some(buffer) = self.outbox.take_written() {
            self.reader.recycle(buffer);
        }
    }

    /// The socket took none of [`Connection::data_to_send`]: it is full.
    pub(crate) fn send_blocked(&mut self) {
        self.outbox.mark_socket_full();
    }

    /// The peer took bytes that were waiting for it: it is alive, and it is
    /// making progress through what we queued. That moves the deadline of
    /// whatever we are waiting for, so that a slow but steady reader is
    /// never cut off; one that takes nothing is.
    fn peer_is_reading(&mut self, now: Instant) {
        match &mut self.state {
            State::Open { alive, pinged, .. } => (*alive, *pinged) = (now, false),
            State::Closing { waiting } | State::Flushing { waiting, .. } => *waiting = now,
            State::Handshaking { .. } | State::Lingering { .. } | State::Gone => {}
        }
    }

    /// Should the loop read? Not once it is gone or the peer has closed its
    /// side, and not while too much output waits (backpressure:
    /// [`READ_PAUSE`]).
    pub(crate) fn wants_read(&self) -> bool {
        match self.state {
            State::Gone
            | State::Flushing {
                peer_gone: true, ..
            } => false,
            _ => self.outbox.len() < READ_PAUSE,
        }
    }

    /// Should the loop write?
    pub fn wants_write(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.outbox.len()
    }

    /// Bytes of its own waiting to be written (not frames shared with
    /// others).
    pub(crate) fn own_pending(&self) -> usize {
        self.outbox.own_len()
    }

    /// What discarding its output would give back: its own bytes, and the
    /// shared frames it is the last to hold.
    pub(crate) fn freed_if_discarded(&self) -> usize {
        self.outbox.freed_if_discarded()
    }

    /// It was not read for a while, by the server's choice (a room's talker
    /// held back): what it could not say meanwhile is not held against it.
    /// Its sign of life and the clock of the message it was sending start
    /// again now.
    pub(crate) fn resume(&mut self, now: Instant) {
        if let State::Open {
            alive,
            pinged,
            message_since,
        } = &mut self.state
        {
            (*alive, *pinged) = (now, false);
            if let Some((_, since)) = message_since {
                *since = now;
            }
        }
    }

    /// Throw away what waits to be written, and give back its memory: the
    /// connection is over (it is `Gone`), and nothing more will be sent.
    pub(crate) fn discard_output(&mut self) {
        self.outbox.discard();
    }

    /// What the loop must do now that it has written what the socket took:
    /// go on, close our side (our last bytes are out), or let go (too much
    /// left unread: the other half of backpressure; `sending_file`: a file
    /// is sent a chunk at a time, which is not what that cap is for).
    pub(crate) fn after_write(&mut self, sending_file: bool, now: Instant) -> Step {
        if !sending_file {
            self.drop_if_over_cap();
        }
        match self.state {
            State::Gone => Step::Drop,
            State::Flushing { peer_gone, .. } if self.outbox.is_empty() => {
                if peer_gone {
                    self.enter(State::Gone);
                    Step::Drop
                } else {
                    self.enter(State::Lingering { since: now });
                    Step::ShutdownWrite
                }
            }
            _ => Step::KeepGoing,
        }
    }

    /// End the connection now, with no goodbye (a socket error, a
    /// timeout). Whatever is queued gets one last chance to be written.
    pub fn drop_now(&mut self, why: Dropped) {
        if self.state != State::Gone {
            self.happened(Event::Dropped(why));
            self.enter(State::Gone);
        }
    }

    // --- Time --------------------------------------------------------------

    /// What this connection waits for that can run out, and when: every
    /// deadline is derived from the state here, and nowhere else.
    fn timer(&self) -> Option<(Timer, Instant)> {
        let rules = &self.rules;
        match self.state {
            State::Handshaking { since, .. } => {
                Some((Timer::Handshake, since + rules.handshake_timeout))
            }
            // The ping goes out one idle period after the last sign of life;
            // the answer has one more period to arrive.
            State::Open {
                alive,
                pinged,
                message_since,
            } => {
                let idle = rules.idle_timeout.map(|idle| match pinged {
                    false => (Timer::Idle, alive + idle),
                    true => (Timer::PingReply, alive + 2 * idle),
                });
                let message = message_since
                    .zip(rules.message_timeout)
                    .map(|((_, since), timeout)| (Timer::Message, since + timeout));
                idle.into_iter().chain(message).min_by_key(|(_, at)| *at)
            }
            State::Closing { waiting } => Some((Timer::CloseReply, waiting + rules.close_timeout)),
            State::Flushing { waiting, .. } => Some((Timer::Flush, waiting + rules.close_timeout)),
            State::Lingering { since } => Some((Timer::Linger, since + rules.close_timeout)),
            State::Gone => None, // closed at the end of this turn anyway
        }
    }

    /// When this connection next needs attention even if its socket stays
    /// quiet.
    pub fn deadline(&self) -> Option<Instant> {
        self.timer().map(|(_, at)| at)
    }

    /// If a timer has run out, act on it. (The loop may call this when
    /// nothing is due: a deadline that moved later is refiled only when its
    /// old time comes. Then it does nothing.)
    pub(crate) fn on_timeout(&mut self, now: Instant) {
        let Some((timer, at)) = self.timer() else {
            return;
        };
        if now < at {
            return;
        }
        let rules = self.rules;
        match timer {
            Timer::Handshake => self.drop_now(Dropped::NoHandshake(rules.handshake_timeout)),
            Timer::Idle => {
                self.happened(Event::Pinged);
                self.queue_frame(OpCode::Ping, PING_PAYLOAD);
                if let State::Open { pinged, .. } = &mut self.state {
                    *pinged = true;
                }
            }
            Timer::PingReply => {
                // Say why before going: the close frame gets its one chance.
                let payload = close::payload(close::INTERNAL_ERROR, "no answer to a ping");
                self.queue_frame(OpCode::Close, &payload);
                self.drop_now(Dropped::NoPong);
            }
            Timer::Message => self.fail(Violation::MessageTimeout, now),
            Timer::CloseReply => self.drop_now(Dropped::NoCloseReply(rules.close_timeout)),
            Timer::Flush => self.drop_now(Dropped::NotReading),
            Timer::Linger => self.enter(State::Gone), // the usual end; nothing to say
        }
    }

    /// The server is stopping: say goodbye with 1001 Going Away (§7.4.1) to
    /// a WebSocket; drop one still in its handshake.
    pub(crate) fn on_stop(&mut self, now: Instant) {
        match self.state {
            State::Open { .. } => self.close(close::GOING_AWAY, "server shutting down", now),
            State::Handshaking { .. } => self.enter(State::Gone),
            _ => {}
        }
    }

    // --- Memory ------------------------------------------------------------

    /// What its buffers hold now, as `buffers::counts_for` counts it: bytes read
    /// and not used, the message arriving, bytes waiting to go out, and
    /// memory kept for what comes next.
    pub fn counted(&self) -> usize {
        self.inbox.counted() + self.reader.counted() + self.outbox.counted()
    }

    /// Is something partly here, held until the rest comes: a request
    /// head, a frame, a message?
    pub(crate) fn receiving(&self) -> bool {
        self.reader.buffered() > 0 || !self.inbox.unread().is_empty()
    }

    /// Bytes in use now (not memory merely kept).
    pub(crate) fn in_use(&self) -> usize {
        self.inbox.unread().len() + self.reader.buffered() + self.outbox.len()
    }

    /// Do its buffers hold memory grown for big messages, now unused?
    pub(crate) fn holds_spare_memory(&self) -> bool {
        self.inbox.holds_spare()
            || self.outbox.holds_spare()
            || self.reader.spare_capacity() > super::buffers::KEEP_CAPACITY
    }

    /// Its buffers and reader, for a test to look into.
    #[cfg(test)]
    pub(crate) fn parts(&self) -> (&Inbox, &Outbox, &MessageReader) {
        (&self.inbox, &self.outbox, &self.reader)
    }

    /// Give back what [`Connection::holds_spare_memory`] (the tidy timer).
    pub(crate) fn give_back_spare(&mut self) {
        self.inbox.give_back_spare();
        self.outbox.give_back_spare();
        self.reader.give_back_spare();
    }
}

#[cfg(test)]
mod tests;
