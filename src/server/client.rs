//! One client: the PHP's `$clients[$socket]` record, and the whole life of
//! its connection, with no socket in sight.
//!
//! The PHP record held an id and a `handshake` flag (lines 115-117); the
//! socket itself sat in a second array, `$client_list`. We keep that split:
//! the table (`clients.rs`) pairs each socket with its [`Client`], the loop
//! (`server.rs`) makes every socket call, and this record only sees bytes and
//! the time:
//!
//! - bytes in: [`Client::receive_data`], [`Client::receive_eof`];
//! - what happened, for the loop to route: [`Client::next_event`] (it
//!   joined, a message, it left);
//! - replies in: [`Client::send`], [`Client::send_frame`], [`Client::close`];
//! - bytes out: [`Client::data_to_send`], [`Client::data_sent`];
//! - what the loop must do next: [`Client::after_write`];
//! - time: [`Client::deadline`], [`Client::on_timeout`], [`Client::on_stop`].
//!
//! Nothing here reads the clock: every call is told `now`, so a test can
//! drive a whole connection, timeouts included, in microseconds. The one
//! thing it reads besides bytes is a page's file, a chunk at a time, as
//! the socket takes the bytes (`www::Body`).
//!
//! The connection's life is one [`State`]. Each state holds the instant its
//! deadline counts from, and `Client::timer` is the one function that
//! turns a state into a deadline.

use crate::config::{Config, Mode};
use crate::protocol::access;
use crate::protocol::buffers::{Inbox, Outbox, Total, KEEP_CAPACITY, MOVE_AT};
use crate::protocol::close::{self, CloseFrame, Violation};
use crate::protocol::frame::{self, OpCode};
use crate::protocol::handshake;
use crate::protocol::http::{self, HeadSearch, Refusal, Request};
use crate::protocol::reader::{Event, Message, MessageReader};
use crate::server::console::{self, escape, escape_up_to, LogBudget};
use crate::server::trace::{self, Seen};
use crate::server::www;
use log::Level::{Debug, Info, Warn};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Stop reading from a client while this much output is waiting for it: a
/// client that sends without reading is slowed down by TCP itself instead of
/// filling our memory. (Past `--max-pending-output` it is dropped.)
pub const READ_PAUSE: usize = 256 * 1024;

/// How long after its buffers last held much (more than
/// `buffers::KEEP_CAPACITY`) a client gives back the memory a big message
/// made them grow. Long enough that a busy client keeps its buffers from
/// one message to the next; short enough that memory is back soon after a
/// burst. Small messages meanwhile do not keep it.
pub const TIDY_AFTER: Duration = Duration::from_secs(1);

/// What an idle ping carries (§5.5.2 lets us choose; the pong echoes it).
const PING_PAYLOAD: &[u8] = b"are you there?";

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
        /// When the connection was accepted (`--handshake-timeout` counts
        /// from here, not from the last byte: a slow trickle is no excuse).
        since: Instant,
        /// How far the search for the head's end has got: each read's bytes
        /// are searched once.
        search: HeadSearch,
    },
    /// A WebSocket: messages both ways. The PHP's `handshake == true`.
    Open {
        /// The last sign of life: a byte from the peer, or the peer taking
        /// bytes that were waiting for it. `--idle-timeout` counts from here.
        alive: Instant,
        /// An idle ping is out and unanswered.
        pinged: bool,
        /// What is arriving now (`MessageReader::arriving`), if anything,
        /// and since when: `--message-timeout` counts from there.
        message_since: Option<(u64, Instant)>,
    },
    /// We sent a close frame (`bye`, or the server is stopping) and wait
    /// for the peer's (§7.1.2).
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
        /// pause longer than `--close-timeout`.
        waiting: Instant,
        /// The peer has closed its side already (a read returned 0): once
        /// our bytes are out there is nothing to wait for.
        peer_gone: bool,
    },
    /// Our side is closed (our FIN is sent). Read and throw away until the
    /// peer closes its side, so that the kernel does not answer its late
    /// bytes with a reset that could destroy our last frame in flight.
    Lingering { since: Instant },
    /// Over. The table drops the socket at the end of this turn.
    Gone,
}

/// What the loop must do with a client's socket once it has written what
/// it could.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing special: read when it is readable, write what is waiting.
    KeepGoing,
    /// Close our side of TCP: `shutdown(Write)` sends our FIN (§7.1.1: the
    /// server closes the TCP connection first). The client is now
    /// [`State::Lingering`].
    ShutdownWrite,
    /// Close the socket and remove the client from the table.
    Drop,
}

/// What the loop must hear about a client, to route it ([`Client::next_event`]).
/// The PHP's loop only ever saw "data from client"; a room also needs to
/// know who comes and who goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// The handshake is done: a WebSocket is open (the PHP's `handshake =
    /// true`).
    Joined,
    /// A whole message arrived.
    Message(Message),
    /// The WebSocket is no longer open for messages: it is closing, failed,
    /// or gone.
    Left,
}

/// The timers a client can be waiting on; see [`Client::timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The opening handshake has not completed (`--handshake-timeout`).
    Handshake,
    /// Nothing heard for `--idle-timeout`: time to ping.
    Idle,
    /// A ping is out and nothing has come back for another idle period.
    PingReply,
    /// A frame or message has been arriving for `--message-timeout`.
    Message,
    /// We sent a close frame and wait for the peer's (`--close-timeout`).
    CloseReply,
    /// Our last bytes are queued but the peer is not reading them.
    Flush,
    /// Our side is closed; the peer has not closed its side.
    Linger,
    /// A buffer grown for a big message has been unused for
    /// [`TIDY_AFTER`]: give its memory back.
    Tidy,
}

/// One connected client: `$clients[$socket]` in the PHP.
#[derive(Debug)]
pub struct Client {
    /// A `uniqid()`-style id, in every log line about this client.
    pub id: String,
    pub peer: SocketAddr,
    /// Where the connection is in its life.
    state: State,
    /// How much more its address may make the server log, in bytes
    /// (`console::LogBudget`, shared with its other connections).
    log_budget: Rc<RefCell<LogBudget>>,
    /// The flags, limits included, fixed when the client was accepted.
    config: Rc<Config>,
    /// What all clients hold together (`--max-buffered`)...
    total: Rc<Total>,
    /// ...of which this client's share, as last counted (`recount`).
    counted: usize,
    /// Until when the buffers keep memory grown for big messages: a while
    /// after they last held much (`recount`), then the tidy timer gives it
    /// back. A trickle of small messages does not keep it.
    big_until: Instant,
    /// The table was full when this client came: a handshake gets a 503.
    server_full: bool,
    /// Bytes read but not used yet (a request head or a frame not yet whole).
    inbox: Inbox,
    /// Bytes waiting to be written.
    outbox: Outbox,
    /// Frames into messages, once the connection is a WebSocket.
    reader: MessageReader,
    /// It has joined (its handshake is done), and the loop has not heard.
    joined_unseen: bool,
    /// It has left (it is no longer open), and the loop has not heard.
    left_unseen: bool,
    /// The rest of a file being sent (a page), if one is.
    body: Option<www::Body>,
}

impl Client {
    /// A freshly accepted connection: the PHP's `$clients[$socket]` with
    /// `handshake = false`.
    pub fn new(
        id: String,
        peer: SocketAddr,
        config: Rc<Config>,
        total: Rc<Total>,
        log_budget: Rc<RefCell<LogBudget>>,
        server_full: bool,
        now: Instant,
    ) -> Client {
        let reader = MessageReader::new(config.limits.max_message_size, config.trace);
        Client {
            id,
            peer,
            state: State::Handshaking {
                since: now,
                search: HeadSearch::default(),
            },
            log_budget,
            config,
            total,
            counted: 0,
            big_until: now,
            server_full,
            inbox: Inbox::default(),
            outbox: Outbox::default(),
            reader,
            joined_unseen: false,
            left_unseen: false,
            body: None,
        }
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        self.state
    }

    // --- Bytes in ----------------------------------------------------------

    /// Bytes arrived from the socket: the PHP's two `socket_recv` branches.
    /// Before the handshake they are (part of) the HTTP request, answered as
    /// soon as it is whole. After it they are frames, which wait in the
    /// inbox until [`Client::next_event`] reads them.
    pub fn receive_data(&mut self, bytes: &[u8], now: Instant) {
        match self.state {
            // `if ($clients[$socket]["handshake"] == false)` (PHP line 51).
            State::Handshaking { .. } => {
                self.inbox.extend(bytes);
                self.read_request(now);
            }
            // `else if (... == true)` (line 59). Any byte shows the peer is
            // there, a pong or not.
            State::Open {
                ref mut alive,
                ref mut pinged,
                ..
            } => {
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
    pub fn receive_eof(&mut self, now: Instant) {
        let next = match self.state {
            State::Handshaking { .. } => {
                self.log(Info, now, format_args!("left before the handshake"));
                State::Gone
            }
            State::Open { .. } | State::Closing { .. } => {
                self.reader.discard();
                // §7.1.5: the connection closed with no close frame: the
                // close code is 1006, "abnormal closure".
                let why = "closed the connection without a close frame (1006)";
                self.log(Info, now, format_args!("{why}"));
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

    /// What the loop must route next: the client has joined (its handshake
    /// is done), a whole message (the PHP's `$decoded_data`, line 62), or
    /// it has left (it can take no more messages); `None` when nothing more
    /// has happened. On the way it answers pings and closes itself, and
    /// fails the connection on a broken rule.
    pub fn next_event(&mut self, now: Instant) -> Option<Happening> {
        if std::mem::take(&mut self.joined_unseen) {
            return Some(Happening::Joined);
        }
        if let Some(message) = self.next_message(now) {
            return Some(Happening::Message(message));
        }
        std::mem::take(&mut self.left_unseen).then_some(Happening::Left)
    }

    /// The next whole message, read from the frames received so far.
    fn next_message(&mut self, now: Instant) -> Option<Message> {
        while self.reads_frames() {
            let event = self.reader.read_event(&mut self.inbox);
            self.show_frames_read(now);
            self.note_message_progress(now);
            // A message that takes what all clients hold past the limit
            // fails its own connection; every other client goes on.
            self.recount(now);
            if self.total.would_pass(0) && self.reader.buffered() > 0 {
                self.fail(&Violation::ServerBusy, now);
                break;
            }
            let Some(event) = event else {
                break;
            };
            if let Some(message) = self.on_event(event, now) {
                return Some(message);
            }
        }
        match self.state {
            State::Open { .. } | State::Closing { .. } => self.inbox.tidy(),
            State::Handshaking { .. } => {}
            // The connection is ending: nothing more will be read from it.
            State::Flushing { .. } | State::Lingering { .. } | State::Gone => self.inbox.discard(),
        }
        None
    }

    /// Start, or stop, the `--message-timeout` clock: it runs while a frame
    /// or a fragmented message has begun (even just its header's first
    /// bytes) and not ended, and starts again for the next one.
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

    /// Count what this client holds now in the server's total, against
    /// `--max-buffered`: the bytes read and not used yet, the message
    /// arriving, the bytes waiting to go out, and the memory its buffers
    /// keep for what comes next (`buffers::held`). Also note when it last
    /// needed big buffers: they are given back [`TIDY_AFTER`] later.
    fn recount(&mut self, now: Instant) {
        let holds = self.inbox.held() + self.reader.held() + self.outbox.held();
        self.total.change(self.counted, holds);
        self.counted = holds;
        let in_use = self.inbox.unread().len() + self.reader.buffered() + self.outbox.len();
        if in_use > KEEP_CAPACITY {
            self.big_until = now + TIDY_AFTER;
        }
    }

    /// Move to the next state of the connection's life: every change of
    /// state comes through here, so joining (entering `Open`) and leaving
    /// (leaving it, whatever the reason) are noticed in one place.
    fn enter(&mut self, next: State) {
        let was_open = self.is_open();
        let is_open = matches!(next, State::Open { .. });
        self.joined_unseen |= is_open && !was_open;
        self.left_unseen |= was_open && !is_open;
        self.state = next;
    }

    /// Are incoming frames still read? Until the closing handshake is over
    /// or the connection failed (§7.1.7: after that, input is ignored).
    fn reads_frames(&self) -> bool {
        matches!(self.state, State::Open { .. } | State::Closing { .. })
    }

    // --- The opening handshake: the PHP's `handshake == false` branch -------

    /// Wait for a whole HTTP request, then answer it with a 101 (and become a
    /// WebSocket), a page, or an error.
    fn read_request(&mut self, now: Instant) {
        let State::Handshaking { search, .. } = &mut self.state else {
            return;
        };
        let (request, head_len) = match search.parse(self.inbox.unread()) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return, // not all here yet
            Err(refusal) => {
                let head = self.inbox.unread();
                let head = &head[..head.len().min(http::MAX_REQUEST_HEAD)];
                self.show(now, |id| trace::http(id, "request head (refused)", head));
                let (peer, status, reason) = (self.peer, refusal.status, refusal.reason);
                self.log(
                    Warn,
                    now,
                    format_args!("bad request from {peer}: {status} {reason}"),
                );
                return self.respond(refusal.response(), now);
            }
        };
        // The whole head (at most 8 KiB, the parser's cap), as the PHP
        // logged it (line 56), but escaped: on one line, with no control
        // characters.
        self.log_repeated(Debug, module_path!(), now, |id| {
            let head = &self.inbox.unread()[..head_len];
            let head = escape_up_to(head, http::MAX_REQUEST_HEAD);
            format!("[{id}] Handshaking headers from client: {head}")
        });
        let head = &self.inbox.unread()[..head_len];
        self.show(now, |id| trace::http(id, "request head", head));
        // What follows the head (frames sent before our 101 arrived) stays.
        self.inbox.consume(head_len);

        if !handshake::wants_websocket(&request) {
            return self.serve_page(&request, now);
        }
        let target = escape(request.target.as_bytes());
        if self.server_full {
            self.log(
                Warn,
                now,
                format_args!("refused {target}: server full (503)"),
            );
            const FULL: Refusal = Refusal::new(503, "too many clients, try again later");
            return self.respond(FULL.response(), now);
        }
        match handshake::handshake(&request, &self.config) {
            Ok(accepted) => {
                self.show(now, |id| trace::accept_key(id, &accepted.accept_key));
                self.queue_http(&accepted.response, now);
                self.enter(State::Open {
                    alive: now,
                    pinged: false,
                    message_since: None,
                });
                let subprotocol = accepted.subprotocol.unwrap_or("none");
                let done = format_args!("handshake done: {target}, subprotocol {subprotocol}");
                self.log(Info, now, done);
            }
            Err(refusal) => {
                let (status, reason) = (refusal.status, refusal.reason);
                let refused = format_args!("handshake refused: {status} {reason} ({target})");
                self.log(Warn, now, refused);
                self.respond(refusal.response(), now);
            }
        }
    }

    /// A plain GET: a file from `www/`, or a refusal.
    fn serve_page(&mut self, request: &Request, now: Instant) {
        // A page too must be asked of this server by name (DNS rebinding,
        // `access.rs`). A request with no Host (HTTP/1.0) is no browser's.
        let host_ok = request
            .authority()
            .is_none_or(|host| access::host_allowed(host, &self.config));
        let answer = match host_ok {
            true => www::serve(&self.config.www, request),
            false => Err(access::WRONG_HOST_PAGE),
        };
        let status = answer
            .as_ref()
            .map_or_else(|refusal| refusal.status, |_| 200);
        let method = escape(request.method.as_bytes());
        let target = escape(request.target.as_bytes());
        self.log(Info, now, format_args!("{method} {target} -> {status}"));
        match answer {
            Ok(page) => {
                self.respond(page.head, now);
                // The file follows the head, a chunk at a time, as the
                // socket takes it (`refill_body`).
                self.body = page.body;
                self.refill_body(now);
            }
            Err(refusal) => self.respond(refusal.response(), now),
        }
    }

    /// While a file is being sent and everything before it has gone out,
    /// queue its next chunk: a file of any size holds one chunk of memory.
    fn refill_body(&mut self, now: Instant) {
        let Some(body) = &mut self.body else {
            return;
        };
        if !self.outbox.is_empty() {
            return;
        }
        if let Err(e) = self.outbox.queue(|out| body.read_into(out)) {
            self.body = None;
            return self.drop_now(
                format_args!("cannot go on reading the file it asked for: {e}"),
                now,
            );
        }
        if body.is_done() {
            self.body = None;
        }
    }

    /// Send an HTTP response; then the connection ends.
    fn respond(&mut self, response: Vec<u8>, now: Instant) {
        self.inbox.discard(); // nothing more will be read from it
        self.queue_http(&response, now);
        self.enter(State::Flushing {
            waiting: now,
            peer_gone: false,
        });
    }

    // --- Frames: the PHP's `handshake == true` branch ----------------------

    /// Act on what the reader found; a message goes on to the loop.
    fn on_event(&mut self, event: Event, now: Instant) -> Option<Message> {
        match event {
            Event::Message(message) if self.is_open() => {
                self.log_message(&message, now);
                Some(message)
            }
            // §5.5.1: once our close frame is out we send no more data
            // frames, so no reply could go out: the message is dropped.
            Event::Message(_) => {
                let late = "a message after our close frame: not answered";
                self.log(Debug, now, format_args!("{late}"));
                None
            }
            // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a
            // Pong frame in response, unless it already received a Close
            // frame", with "identical Application data" (§5.5.3). A pong is
            // a control frame, so it may follow our own close (§5.5.1 only
            // forbids data frames); frames are no longer read once theirs
            // has come.
            Event::Ping(data) => {
                self.queue_frame(OpCode::Pong, &data, now);
                None
            }
            // §5.5.3: "A response to an unsolicited Pong frame is not
            // expected." As any byte does, it showed the peer is there.
            Event::Pong(_) => None,
            Event::Close(close) => {
                self.on_close_frame(close, now);
                None
            }
            Event::Failed(violation) => {
                self.fail(&violation, now);
                None
            }
        }
    }

    /// The PHP's `console("Data from client:".$decoded_data)` (line 64).
    fn log_message(&mut self, message: &Message, now: Instant) {
        let (kind, bytes) = match message {
            Message::Text(text) => ("text", text.as_bytes()),
            Message::Binary(data) => ("binary", data.as_slice()),
        };
        // In echo mode (tests, benchmarks) a line per message would cost more
        // than the echo itself, so those lines need RUST_LOG=debug.
        let level = match self.config.mode {
            Mode::Tutorial | Mode::Chat => log::Level::Info,
            Mode::Echo => log::Level::Debug,
        };
        self.log_repeated(level, module_path!(), now, |id| {
            format!("[{id}] Data from client ({kind}): {}", escape(bytes))
        });
    }

    /// Log a line about this client, `[id] what`, within its address's
    /// budget (`console::log_within`).
    pub fn log(&self, level: log::Level, now: Instant, what: std::fmt::Arguments) {
        self.log_repeated(level, module_path!(), now, |id| format!("[{id}] {what}"));
    }

    /// Log a line this client caused: every one does (its comings and
    /// goings, each message, each `--trace` block), and each spends its
    /// address's budget (`console::LogBudget`), so that what one peer can
    /// make the server write is bounded. A line that would not be logged
    /// anyway (its level is off) costs nothing, and none is formatted
    /// unless it is written.
    fn log_repeated(
        &self,
        level: log::Level,
        target: &str,
        now: Instant,
        line: impl FnOnce(&str) -> String,
    ) {
        let address = self.peer.ip();
        console::log_within(&self.log_budget, address, now, level, target, || {
            line(&self.id)
        });
    }

    /// The peer's close frame arrived (§5.5.1, §7.1.2).
    fn on_close_frame(&mut self, close: CloseFrame, now: Instant) {
        let code = close.code.map_or("none".to_string(), |c| c.to_string());
        let reason = escape(close.reason.as_bytes());
        let closed = format_args!("closed by client: code {code}, reason \"{reason}\"");
        self.log(Info, now, closed);
        // §5.5.1: "If an endpoint receives a Close frame and did not
        // previously send a Close frame, the endpoint MUST send a Close frame
        // in response. ... it typically echos the status code it received."
        if self.is_open() {
            let echo = close
                .code
                .map_or(Vec::new(), |code| code.to_be_bytes().to_vec());
            self.queue_frame(OpCode::Close, &echo, now);
        }
        // §7.1.1: the server closes the TCP connection first, once its
        // close frame is out.
        self.end_reading(now);
    }

    /// §7.1.7 _Fail the WebSocket Connection_: send a close frame with the
    /// code for what went wrong (unless ours is already out), read no more,
    /// and close the TCP connection.
    fn fail(&mut self, violation: &Violation, now: Instant) {
        let code = violation.close_code();
        let fails = format_args!("the connection fails: {violation}; closing with {code}");
        self.log(Warn, now, fails);
        let next = &self.inbox.unread()[..self.inbox.unread().len().min(trace::SHOWN_HEX)];
        self.show(now, |id| {
            let bytes = trace::hex(next, next.len());
            format!("[{id}] the connection fails: {violation} (unread: {bytes})")
        });
        if self.is_open() {
            let payload = close::payload(code, &violation.to_string());
            self.queue_frame(OpCode::Close, &payload, now);
        }
        self.end_reading(now);
    }

    /// No more frames will be read (our close and theirs have crossed, or
    /// the connection failed): give back what a half-read message holds,
    /// and write our last bytes.
    fn end_reading(&mut self, now: Instant) {
        self.reader.discard();
        self.recount(now);
        self.enter(State::Flushing {
            waiting: now,
            peer_gone: false,
        });
    }

    /// Is the WebSocket open in both directions (no close frame sent yet)?
    fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    // --- Replies in: what the loop routes to this client --------------------

    /// Queue a message for the peer: the PHP's `socket_write($client,
    /// encode(...))` (line 63), without the write. Nothing is sent once our
    /// close frame is out (§5.5.1).
    pub fn send(&mut self, message: Message, now: Instant) {
        if !self.is_open() {
            return;
        }
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.into_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
        };
        if self.total.would_pass(payload.len()) {
            return self.fail(&Violation::ServerBusy, now);
        }
        // A big payload is handed to the outbox as it is, behind its
        // header; a small one is copied in (`buffers::MOVE_AT`).
        if payload.len() < MOVE_AT {
            self.queue_frame(opcode, &payload, now);
            // Copied: its memory can serve the next message (one
            // allocation fewer per message).
            self.reader.recycle(payload);
        } else {
            let header = self.outbox.queue(|out| {
                let start = out.len();
                frame::encode_header(out, opcode, payload.len());
                out[start..].to_vec()
            });
            self.show_frame_out(opcode, &header, &payload, now);
            self.outbox.push(payload);
        }
        // Counted at once, not at the next write: the next reply's check
        // must see this one.
        self.recount(now);
    }

    /// Queue a frame already encoded: a message for the whole room, encoded
    /// once and queued, the same bytes, for every member. The rules of
    /// [`Client::send`] hold. `--trace` shows it once, for all, through the
    /// member it came from ([`Client::show_frame_to_all`]).
    pub fn send_frame(&mut self, frame: &[u8], now: Instant) {
        if !self.is_open() {
            return;
        }
        if self.total.would_pass(frame.len()) {
            return self.fail(&Violation::ServerBusy, now);
        }
        self.outbox.queue(|out| out.extend_from_slice(frame));
        // Counted at once: the room writes only after the whole burst, and
        // each member's copy must count before the next is checked.
        self.recount(now);
    }

    /// With `--trace`, show a room's frame, sent to every member, once: as
    /// a line this client caused, within its address's log budget. (Shown
    /// for each member, it cost each member's budget, so one talker could
    /// use up everyone's, and the log grew with the room.)
    pub fn show_frame_to_all(&self, frame: &[u8], members: usize, now: Instant) {
        if !self.config.trace {
            return;
        }
        if let Ok(Some(header)) = frame::parse_header(frame, false) {
            let mut seen = Seen::outgoing(header, frame);
            seen.direction = trace::Direction::ToAll { members };
            let level = log::Level::Trace;
            self.log_repeated(level, trace::TARGET, now, |id| trace::frame(id, &seen));
        }
    }

    /// Start the closing handshake (§7.1.2): send a close frame, then wait
    /// for the peer's, at most `--close-timeout`.
    pub fn close(&mut self, code: u16, reason: &str, now: Instant) {
        if !self.is_open() {
            return;
        }
        self.log(Info, now, format_args!("closing with {code} ({reason})"));
        self.queue_frame(OpCode::Close, &close::payload(code, reason), now);
        self.enter(State::Closing { waiting: now });
    }

    // --- Bytes queued: the one place each kind is written, and traced ------

    /// Queue one whole frame (`frame::encode`, the PHP's `encode()`): every
    /// frame we send goes through here, but for a big message's payload,
    /// which [`Client::send`] moves in behind its header, and a room's
    /// frame, encoded once for all ([`Client::send_frame`]).
    fn queue_frame(&mut self, opcode: OpCode, payload: &[u8], now: Instant) {
        let header = self.outbox.queue(|out| {
            let start = out.len();
            frame::encode(out, opcode, payload);
            out[start..out.len() - payload.len()].to_vec()
        });
        self.show_frame_out(opcode, &header, payload, now);
    }

    /// With `--trace`, show a frame we queued: every frame we send is shown
    /// through here.
    fn show_frame_out(&self, opcode: OpCode, header_bytes: &[u8], payload: &[u8], now: Instant) {
        if !self.config.trace {
            return;
        }
        let header = frame::Header {
            fin: true,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
            header_len: header_bytes.len(),
        };
        // The trace shows the first `trace::KEPT` payload bytes at most.
        let shown = &payload[..payload.len().min(trace::KEPT)];
        let seen = Seen::outgoing(header, &[header_bytes, shown].concat());
        let level = log::Level::Trace;
        self.log_repeated(level, trace::TARGET, now, |id| trace::frame(id, &seen));
    }

    /// Queue an HTTP response (the 101, a page, or a refusal).
    fn queue_http(&mut self, response: &[u8], now: Instant) {
        self.show(now, |id| trace::http(id, "response", response));
        self.outbox.queue(|out| out.extend_from_slice(response));
    }

    /// With `--trace`, log a block; without, not even format it.
    fn show(&self, now: Instant, block: impl FnOnce(&str) -> String) {
        if self.config.trace {
            self.log_repeated(log::Level::Trace, trace::TARGET, now, block);
        }
    }

    /// With `--trace`, show the frames the reader has read whole.
    fn show_frames_read(&mut self, now: Instant) {
        if self.config.trace {
            for seen in self.reader.seen_frames() {
                let level = log::Level::Trace;
                self.log_repeated(level, trace::TARGET, now, |id| trace::frame(id, &seen));
            }
        }
    }

    // --- Bytes out ---------------------------------------------------------

    /// What is waiting to be written, as up to `pieces.len()` slices to
    /// write in order (one `writev` takes them all); returns how many.
    pub fn data_to_send<'a>(&'a self, pieces: &mut [&'a [u8]]) -> usize {
        self.outbox.pending(pieces)
    }

    /// The socket took `n` bytes of [`Client::data_to_send`].
    pub fn data_sent(&mut self, n: usize, now: Instant) {
        // The socket had been full, and now it took more: the peer made
        // room by reading. (A write into a socket with room proves nothing:
        // the kernel takes the bytes whether or not anyone reads them, our
        // own ping included.)
        if self.outbox.socket_full() {
            self.peer_is_reading(now);
        }
        // A big reply was in use until now: its memory is kept a while.
        if self.outbox.len() > KEEP_CAPACITY {
            self.big_until = now + TIDY_AFTER;
        }
        self.outbox.advance(n);
        // A big reply's payload is out: its memory serves the next message.
        if let Some(buffer) = self.outbox.take_written() {
            self.reader.recycle(buffer);
        }
        self.recount(now);
        self.refill_body(now);
    }

    /// The socket took none of [`Client::data_to_send`]: it is full.
    pub fn send_blocked(&mut self) {
        self.outbox.mark_socket_full();
    }

    /// The peer took bytes that were waiting for it: it is alive, and it is
    /// making progress through what we queued. That moves the deadline of
    /// whatever we are waiting for, so that a slow but steady reader is
    /// never cut off; one that takes nothing is.
    fn peer_is_reading(&mut self, now: Instant) {
        match &mut self.state {
            State::Open { alive, pinged, .. } => {
                *alive = now;
                *pinged = false;
            }
            State::Closing { waiting } | State::Flushing { waiting, .. } => *waiting = now,
            State::Handshaking { .. } | State::Lingering { .. } | State::Gone => {}
        }
    }

    /// Should the loop read from this client? Not once it is gone or the
    /// peer has closed its side, and not while too much output waits for it
    /// (backpressure: see [`READ_PAUSE`]).
    pub fn wants_read(&self) -> bool {
        match self.state {
            State::Gone
            | State::Flushing {
                peer_gone: true, ..
            } => false,
            _ => self.outbox.len() < READ_PAUSE,
        }
    }

    /// Do its buffers hold memory grown for big messages, now unused?
    fn holds_spare_memory(&self) -> bool {
        self.inbox.holds_spare()
            || self.outbox.holds_spare()
            || self.reader.spare_capacity() > KEEP_CAPACITY
    }

    /// Should the loop write to this client?
    pub fn wants_write(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// What the loop must do now that it has written what the socket took:
    /// the client may move on (its last bytes are out: `Lingering`), or be
    /// let go (too much left unread: the other half of backpressure).
    pub fn after_write(&mut self, now: Instant) -> Step {
        self.recount(now);
        let limit = self.config.limits.max_pending_output;
        let pending = self.outbox.len();
        // A file being sent holds a chunk at a time: not the kind of unread
        // output the cap is for.
        if pending > limit && self.body.is_none() && self.state != State::Gone {
            self.drop_now(
                format_args!("{pending} bytes waiting unread (limit {limit})"),
                now,
            );
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

    /// End the connection now, saying why in the log (a socket error, a
    /// timeout). Whatever is queued gets one last chance to be written.
    pub fn drop_now(&mut self, why: std::fmt::Arguments, now: Instant) {
        if self.state != State::Gone {
            self.log(Info, now, format_args!("{why}; dropped"));
            self.enter(State::Gone);
        }
    }

    // --- Time --------------------------------------------------------------

    /// What this client waits for that can run out, and when it does: every
    /// deadline is derived from the state here, and nowhere else.
    fn timer(&self) -> Option<(Timer, Instant)> {
        let limits = &self.config.limits;
        match self.state {
            State::Handshaking { since, .. } => {
                Some((Timer::Handshake, since + limits.handshake_timeout))
            }
            // The ping goes out one idle period after the last sign of life;
            // the answer has one more period to arrive.
            State::Open {
                alive,
                pinged,
                message_since,
            } => {
                let idle = limits.idle_timeout.map(|idle| match pinged {
                    false => (Timer::Idle, alive + idle),
                    true => (Timer::PingReply, alive + 2 * idle),
                });
                let message = message_since
                    .zip(limits.message_timeout)
                    .map(|((_, since), timeout)| (Timer::Message, since + timeout));
                let tidy = self
                    .holds_spare_memory()
                    .then_some((Timer::Tidy, self.big_until));
                [idle, message, tidy]
                    .into_iter()
                    .flatten()
                    .min_by_key(|(_, at)| *at)
            }
            State::Closing { waiting } => Some((Timer::CloseReply, waiting + limits.close_timeout)),
            State::Flushing { waiting, .. } => Some((Timer::Flush, waiting + limits.close_timeout)),
            State::Lingering { since } => Some((Timer::Linger, since + limits.close_timeout)),
            State::Gone => None, // removed at the end of this turn anyway
        }
    }

    /// When this client next needs attention even if its socket stays quiet.
    pub fn deadline(&self) -> Option<Instant> {
        self.timer().map(|(_, at)| at)
    }

    /// If a timer has run out, act on it. (The loop may call this when
    /// nothing is due: a deadline that moved later is refiled only when its
    /// old time comes, see `timers.rs`. Then it does nothing.)
    pub fn on_timeout(&mut self, now: Instant) {
        let Some((timer, at)) = self.timer() else {
            return;
        };
        if now < at {
            return;
        }
        let limits = &self.config.limits;
        match timer {
            Timer::Handshake => {
                let after = limits.handshake_timeout;
                self.drop_now(format_args!("no handshake within {after:?}"), now);
            }
            Timer::Idle => {
                self.log(Debug, now, format_args!("idle; sending a ping"));
                self.queue_frame(OpCode::Ping, PING_PAYLOAD, now);
                if let State::Open { pinged, .. } = &mut self.state {
                    *pinged = true;
                }
            }
            Timer::PingReply => {
                // Say why before going: the close frame gets its one chance.
                let payload = close::payload(close::INTERNAL_ERROR, "no answer to a ping");
                self.queue_frame(OpCode::Close, &payload, now);
                self.drop_now(format_args!("did not answer a ping"), now);
            }
            Timer::Message => self.fail(&Violation::MessageTimeout, now),
            Timer::CloseReply => {
                let after = limits.close_timeout;
                self.drop_now(format_args!("no close reply within {after:?}"), now);
            }
            Timer::Flush => self.drop_now(format_args!("not reading its last bytes"), now),
            Timer::Linger => self.enter(State::Gone), // the usual end; nothing to say
            Timer::Tidy => {
                self.inbox.shrink();
                self.outbox.shrink();
                self.reader.shrink();
                self.recount(now);
            }
        }
    }

    /// The server is stopping: say goodbye with 1001 Going Away (§7.4.1) to
    /// a WebSocket client; drop one still in its handshake.
    pub fn on_stop(&mut self, now: Instant) {
        match self.state {
            State::Open { .. } => self.close(close::GOING_AWAY, "server shutting down", now),
            State::Handshaking { .. } => self.enter(State::Gone),
            _ => {}
        }
    }
}

/// A client that goes gives back its share of what all clients hold.
impl Drop for Client {
    fn drop(&mut self) {
        self.total.change(self.counted, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use crate::protocol::frame::tests::client_frame;
    use std::time::Duration;

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
        let total = Rc::new(Total::new(config.limits.max_buffered));
        let budget = Rc::new(RefCell::new(LogBudget::new(t0)));
        Client::new(
            "test".into(),
            peer,
            Rc::new(config),
            total,
            budget,
            server_full,
            t0,
        )
    }

    /// A client that sent the tutorial's request at `t0` and got its 101.
    fn open(limits: Limits, t0: Instant) -> Client {
        let mut client = accepted(limits, false, t0);
        client.receive_data(TUTORIAL_REQUEST, t0);
        assert_eq!(client.next_message(t0), None);
        let response = written(&mut client, t0);
        assert!(response.starts_with(b"HTTP/1.1 101 "));
        assert_eq!(client.after_write(t0), Step::KeepGoing);
        client
    }

    #[test]
    fn memory_grown_for_a_big_message_is_given_back_once_the_client_is_quiet() {
        let t0 = Instant::now();
        let mut client = open(Limits::default(), t0);
        let idle_ping = t0 + Limits::default().idle_timeout.unwrap();
        assert_eq!(client.deadline(), Some(idle_ping));
        // A 100 KB message arrives in two reads, and is echoed.
        let frame = client_frame(0x82, &[7; 100_000]);
        client.receive_data(&frame[..60_000], t0);
        client.receive_data(&frame[60_000..], t0);
        let message = client.next_message(t0).expect("the whole message");
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
        assert!(client.inbox.holds_spare() && !client.outbox.holds_spare());
        assert!(client.reader.spare_capacity() >= 100_000);
        assert!(client.total.held() >= 100_000);
        assert_eq!(client.deadline(), Some(t0 + TIDY_AFTER));
        // The next message grows into that same memory.
        client.receive_data(&frame, t0);
        let Some(Message::Binary(next)) = client.next_message(t0) else {
            panic!("the second message")
        };
        assert_eq!(next.as_ptr(), memory);
        client.send(Message::Binary(next), t0);
        written(&mut client, t0);
        client.after_write(t0);
        // Quiet: all of it given back.
        client.on_timeout(t0 + TIDY_AFTER);
        assert!(!client.holds_spare_memory());
        assert_eq!(client.total.held(), 0);
        assert_eq!(client.deadline(), Some(idle_ping));
    }

    /// All that is waiting to be written, joined.
    fn pending(client: &Client) -> Vec<u8> {
        let mut pieces = [&[][..]; 64];
        let count = client.data_to_send(&mut pieces);
        pieces[..count].concat()
    }

    /// Everything the client wants written, as if the socket took it all
    /// (each write may queue more: the next chunk of a file).
    fn written(client: &mut Client, now: Instant) -> Vec<u8> {
        let mut all = Vec::new();
        while client.wants_write() {
            let bytes = pending(client);
            client.data_sent(bytes.len(), now);
            all.extend(bytes);
        }
        all
    }

    /// The server frames in `bytes`, as (opcode, payload).
    fn frames(mut bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut frames = Vec::new();
        while let Some(header) = frame::parse_header(bytes, false).unwrap() {
            let end = header.header_len + header.payload_len as usize;
            frames.push((header.opcode, bytes[header.header_len..end].to_vec()));
            bytes = &bytes[end..];
        }
        assert!(bytes.is_empty(), "a frame cut short");
        frames
    }

    fn close_frame(code: u16, reason: &str) -> (OpCode, Vec<u8>) {
        (OpCode::Close, close::payload(code, reason))
    }

    #[test]
    fn the_tutorials_handshake_opens_a_websocket() {
        let t0 = Instant::now();
        let mut client = accepted(limits(), false, t0);
        assert!(matches!(client.state(), State::Handshaking { since, .. } if since == t0));
        // The request arrives in two pieces; nothing happens until it is whole.
        client.receive_data(&TUTORIAL_REQUEST[..40], t0);
        assert_eq!(client.next_message(t0), None);
        assert!(pending(&client).is_empty());
        client.receive_data(&TUTORIAL_REQUEST[40..], t0);
        assert_eq!(client.next_message(t0), None);
        let response = String::from_utf8(written(&mut client, t0)).unwrap();
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
        assert_eq!(client.state(), open);
    }

    #[test]
    fn frames_sent_right_behind_the_request_are_read() {
        let t0 = Instant::now();
        let mut client = accepted(limits(), false, t0);
        client.receive_data(&[TUTORIAL_REQUEST, &MASKED_HELLO[..]].concat(), t0);
        assert_eq!(client.next_message(t0), Some(Message::Text("Hello".into())));
        assert_eq!(client.next_message(t0), None);
    }

    #[test]
    fn a_reply_is_encoded_as_one_unmasked_frame() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        client.send(Message::Text("Hello".into()), t0);
        // RFC 6455 §5.7: "A single-frame unmasked text message".
        assert_eq!(
            written(&mut client, t0),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
    }

    #[test]
    fn the_handshake_must_finish_in_time_however_slowly_it_trickles() {
        let t0 = Instant::now();
        let mut client = accepted(limits(), false, t0);
        for (i, byte) in TUTORIAL_REQUEST[..100].iter().enumerate() {
            let now = t0 + secs(0.09 * i as f64);
            client.receive_data(&[*byte], now);
            assert_eq!(client.next_message(now), None);
            client.on_timeout(now);
        }
        assert_eq!(client.deadline(), Some(t0 + secs(10.0)));
        client.on_timeout(t0 + secs(9.999));
        assert!(matches!(client.state(), State::Handshaking { .. }));
        client.on_timeout(t0 + secs(10.0));
        assert_eq!(client.state(), State::Gone);
        assert_eq!(client.after_write(t0 + secs(10.0)), Step::Drop);
    }

    #[test]
    fn a_peer_that_leaves_before_the_handshake_is_dropped_at_once() {
        let t0 = Instant::now();
        let mut client = accepted(limits(), false, t0);
        client.receive_data(b"GET / HT", t0);
        client.receive_eof(t0);
        assert_eq!(client.after_write(t0), Step::Drop);
    }

    #[test]
    fn a_page_is_sent_then_our_side_closes_then_we_linger() {
        let t0 = Instant::now();
        let mut client = accepted(limits(), false, t0);
        client.receive_data(b"GET / HTTP/1.1\r\nHost: localhost:1222\r\n\r\n", t0);
        assert_eq!(client.next_message(t0), None);
        let page = written(&mut client, t0);
        assert!(page.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert_eq!(client.after_write(t0), Step::ShutdownWrite);
        assert_eq!(client.state(), State::Lingering { since: t0 });
        // Late bytes are read and thrown away.
        client.receive_data(b"more", t0);
        assert_eq!(client.next_message(t0), None);
        assert!(pending(&client).is_empty());
        // The peer's FIN ends it; so does the close timeout.
        client.receive_eof(t0 + secs(0.1));
        assert_eq!(client.after_write(t0), Step::Drop);
        let mut silent = accepted(limits(), false, t0);
        silent.receive_data(b"GET / HTTP/1.1\r\nHost: localhost:1222\r\n\r\n", t0);
        silent.next_message(t0);
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
        client.receive_data(b"GET / HTTP/1.1\r\nHost: evil.example:1222\r\n\r\n", t0);
        let response = written(&mut client, t0);
        assert!(response.starts_with(b"HTTP/1.1 421 Misdirected Request\r\n"));
    }

    #[test]
    fn past_max_clients_a_handshake_gets_503_and_a_page_is_still_served() {
        let t0 = Instant::now();
        let mut full = accepted(limits(), true, t0);
        full.receive_data(TUTORIAL_REQUEST, t0);
        full.next_message(t0);
        let response = written(&mut full, t0);
        assert!(response.starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"));
        assert_eq!(full.after_write(t0), Step::ShutdownWrite);
        let mut page = accepted(limits(), true, t0);
        page.receive_data(b"GET / HTTP/1.1\r\nHost: localhost:1222\r\n\r\n", t0);
        page.next_message(t0);
        assert!(written(&mut page, t0).starts_with(b"HTTP/1.1 200 OK\r\n"));
    }

    /// The first bug of issue "One connection, one state machine": with
    /// `--idle-timeout 1`, a silent client was dropped after 3 s, because
    /// writing the ping counted as the peer being alive.
    #[test]
    fn a_silent_peer_is_pinged_at_one_period_and_dropped_at_two() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        assert_eq!(client.deadline(), Some(t0 + secs(1.0)));
        client.on_timeout(t0 + secs(0.999));
        assert!(pending(&client).is_empty());
        let t1 = t0 + secs(1.0);
        client.on_timeout(t1);
        assert_eq!(
            frames(&written(&mut client, t1)),
            [(OpCode::Ping, PING_PAYLOAD.to_vec())]
        );
        assert_eq!(client.after_write(t1), Step::KeepGoing);
        // Writing our own ping proves nothing about the peer.
        assert_eq!(client.deadline(), Some(t0 + secs(2.0)));
        let t2 = t0 + secs(2.0);
        client.on_timeout(t2);
        // It is told why, and dropped without waiting for an answer.
        assert_eq!(
            frames(&pending(&client)),
            [close_frame(1011, "no answer to a ping")]
        );
        assert_eq!(client.after_write(t2), Step::Drop);
    }

    #[test]
    fn a_peer_that_answers_every_ping_stays() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        let mut now = t0;
        for _ in 0..3 {
            now += secs(1.0);
            client.on_timeout(now);
            let ping = frames(&written(&mut client, now));
            assert_eq!(ping, [(OpCode::Ping, PING_PAYLOAD.to_vec())]);
            // Half a period later, the pong: any byte from the peer does.
            now += secs(0.5);
            client.receive_data(&client_frame(0x8A, PING_PAYLOAD), now);
            assert_eq!(client.next_message(now), None);
            let open = State::Open {
                alive: now,
                pinged: false,
                message_since: None,
            };
            assert_eq!(client.state(), open);
            assert_eq!(client.deadline(), Some(now + secs(1.0)));
        }
        client.receive_data(&MASKED_HELLO, now);
        assert_eq!(
            client.next_message(now),
            Some(Message::Text("Hello".into()))
        );
    }

    #[test]
    fn a_peer_reading_a_long_reply_is_alive_without_a_word() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        client.send(Message::Binary(vec![0; 100_000]), t0);
        // The socket takes 10 KB every half second: the peer reads steadily.
        let mut now = t0;
        client.data_sent(10_000, now);
        while client.wants_write() {
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
        assert!(tidy <= now + TIDY_AFTER && client.holds_spare_memory());
        client.on_timeout(tidy);
        assert!(!client.holds_spare_memory());
        assert_eq!(client.deadline(), Some(now + secs(1.0)));
    }

    #[test]
    fn a_ping_gets_a_pong_and_a_pong_gets_nothing() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        let input = [client_frame(0x89, b"ping?"), client_frame(0x8A, b"pong!")].concat();
        client.receive_data(&input, t0);
        assert_eq!(client.next_message(t0), None);
        assert_eq!(
            frames(&written(&mut client, t0)),
            [(OpCode::Pong, b"ping?".to_vec())]
        );
    }

    #[test]
    fn the_peers_close_is_echoed_then_tcp_closes_from_our_side() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        let input = [
            client_frame(0x81, b"last"),
            client_frame(0x88, &close::payload(1001, "gone")),
            client_frame(0x81, b"too late"),
        ]
        .concat();
        client.receive_data(&input, t0);
        // The message before the close is handed out, and answered first.
        assert_eq!(client.next_message(t0), Some(Message::Text("last".into())));
        client.send(Message::Text("echo".into()), t0);
        assert_eq!(client.next_message(t0), None);
        assert_eq!(
            frames(&written(&mut client, t0)),
            [
                (OpCode::Text, b"echo".to_vec()),
                (OpCode::Close, 1001u16.to_be_bytes().to_vec())
            ]
        );
        // §7.1.1: our side of TCP closes first; then we wait for theirs.
        assert_eq!(client.after_write(t0), Step::ShutdownWrite);
        client.receive_eof(t0 + secs(0.01));
        assert_eq!(client.after_write(t0), Step::Drop);
    }

    #[test]
    fn an_empty_close_gets_an_empty_close() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        client.receive_data(&client_frame(0x88, b""), t0);
        client.next_message(t0);
        assert_eq!(frames(&written(&mut client, t0)), [(OpCode::Close, vec![])]);
    }

    #[test]
    fn our_close_waits_for_the_peers_and_no_data_follows_it() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        client.close(close::NORMAL, "bye", t0);
        assert_eq!(client.state(), State::Closing { waiting: t0 });
        assert_eq!(
            frames(&written(&mut client, t0)),
            [close_frame(1000, "bye")]
        );
        // §5.5.1: after our close, no data frames go out: a message is not
        // answered. §5.5.2: a ping still gets its pong (it is a control
        // frame, and the peer's close has not come yet).
        let input = [client_frame(0x81, b"late"), client_frame(0x89, b"ping")].concat();
        client.receive_data(&input, t0);
        assert_eq!(client.next_message(t0), None);
        client.send(Message::Text("late reply".into()), t0);
        client.close(close::GOING_AWAY, "again", t0);
        assert_eq!(
            frames(&written(&mut client, t0)),
            [(OpCode::Pong, b"ping".to_vec())]
        );
        // The peer's close completes the handshake, with no second close.
        client.receive_data(&client_frame(0x88, &close::payload(1000, "")), t0);
        client.next_message(t0);
        assert!(pending(&client).is_empty());
        assert_eq!(client.after_write(t0), Step::ShutdownWrite);
    }

    #[test]
    fn a_write_after_the_socket_refused_one_shows_the_peer_reads() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        client.send(Message::Binary(vec![0; 1000]), t0);
        client.close(close::NORMAL, "bye", t0);
        // Everything fits in the socket at once; then new bytes meet a full
        // socket, which takes nothing.
        client.send_blocked();
        // A second later it takes them: the peer read.
        let t1 = t0 + secs(1.5);
        let n = pending(&client).len();
        client.data_sent(n, t1);
        assert_eq!(client.state(), State::Closing { waiting: t1 });
        assert_eq!(client.deadline(), Some(t1 + secs(2.0)));
    }

    #[test]
    fn a_peer_that_never_answers_our_close_is_dropped() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        client.close(close::NORMAL, "bye", t0);
        written(&mut client, t0);
        assert_eq!(client.deadline(), Some(t0 + secs(2.0)));
        client.on_timeout(t0 + secs(2.0));
        assert_eq!(client.after_write(t0 + secs(2.0)), Step::Drop);
    }

    #[test]
    fn a_broken_rule_fails_with_its_code_and_later_frames_are_ignored() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        // An unmasked frame (§5.1), then a valid one.
        let mut input = vec![0x81, 0x02, b'h', b'i'];
        input.extend(client_frame(0x81, b"after"));
        client.receive_data(&input, t0);
        assert_eq!(client.next_message(t0), None);
        assert_eq!(
            frames(&written(&mut client, t0)),
            [close_frame(1002, "a client frame is not masked")]
        );
        assert_eq!(client.after_write(t0), Step::ShutdownWrite);
        client.receive_data(&client_frame(0x81, b"later still"), t0);
        assert_eq!(client.next_message(t0), None);
    }

    #[test]
    fn a_peer_gone_without_a_close_frame_gets_its_answers_then_is_dropped() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        client.receive_data(&MASKED_HELLO, t0);
        let hello = client.next_message(t0).unwrap();
        client.send(hello, t0);
        // The next read finds the end of the stream: the peer half-closed.
        // It can still read what we owe it, and there is nothing more to read.
        client.receive_eof(t0);
        assert!(client.wants_write() && !client.wants_read());
        written(&mut client, t0);
        // Nothing to wait for: its side is closed already.
        assert_eq!(client.after_write(t0), Step::Drop);
    }

    /// The second bug of issue "One connection, one state machine": the
    /// flush deadline was fixed when the last reply was queued, so a slow
    /// but steady reader of a big last answer was cut off.
    #[test]
    fn a_slow_steady_reader_gets_all_of_our_last_bytes() {
        let t0 = Instant::now();
        let mut client = open(limits(), t0);
        client.send(Message::Binary(vec![0; 1_000_000]), t0);
        client.receive_data(&client_frame(0x88, &close::payload(1000, "")), t0);
        client.next_message(t0);
        // The first write fills the socket; then 1 KB a second, each write
        // inside the 2 s close timeout of the one before.
        client.data_sent(1000, t0);
        let mut now = t0;
        for _ in 0..30 {
            now += secs(1.5);
            client.on_timeout(now);
            assert!(
                matches!(client.state(), State::Flushing { .. }),
                "cut off after {:?}",
                now - t0
            );
            client.data_sent(1000, now);
        }
        // A reader that stops taking bytes is let go after the timeout.
        client.on_timeout(now + secs(1.999));
        assert!(matches!(client.state(), State::Flushing { .. }));
        client.on_timeout(now + secs(2.0));
        assert_eq!(client.after_write(now + secs(2.0)), Step::Drop);
    }

    #[test]
    fn reading_pauses_while_output_waits_and_too_much_unread_drops() {
        let t0 = Instant::now();
        let small = Limits {
            max_pending_output: 1 << 20,
            ..limits()
        };
        let mut client = open(small, t0);
        client.send(Message::Binary(vec![0; READ_PAUSE - 100]), t0);
        assert!(client.wants_read());
        client.send(Message::Binary(vec![0; 100]), t0);
        assert!(!client.wants_read());
        assert_eq!(client.after_write(t0), Step::KeepGoing);
        client.send(Message::Binary(vec![0; 1 << 20]), t0);
        assert_eq!(client.after_write(t0), Step::Drop);
    }

    #[test]
    fn a_message_that_never_finishes_fails_with_1008() {
        let t0 = Instant::now();
        let slow = Limits {
            message_timeout: Some(secs(30.0)),
            ..limits()
        };
        let mut client = open(slow, t0);
        let frame = client_frame(0x82, &[7; 1000]);
        // The header and a few bytes; then ten more every half second: the
        // peer is alive (no ping), but the frame never ends.
        client.receive_data(&frame[..20], t0);
        assert_eq!(client.next_message(t0), None);
        let mut now = t0;
        let mut at = 20;
        while now + secs(0.5) < t0 + secs(30.0) {
            now += secs(0.5);
            client.on_timeout(now);
            client.receive_data(&frame[at..at + 10], now);
            assert_eq!(client.next_message(now), None);
            at += 10;
        }
        assert!(matches!(client.state(), State::Open { .. }));
        assert_eq!(client.deadline(), Some(t0 + secs(30.0)));
        client.on_timeout(t0 + secs(30.0));
        assert_eq!(
            frames(&written(&mut client, now)),
            [close_frame(1008, "a message took too long to arrive")]
        );
    }

    /// A 30 s message timeout and no idle timer: only the message clock runs.
    fn message_clock_only() -> Limits {
        Limits {
            message_timeout: Some(secs(30.0)),
            idle_timeout: None,
            ..limits()
        }
    }

    #[test]
    fn a_fragmented_message_must_end_in_time_too() {
        let t0 = Instant::now();
        let mut client = open(message_clock_only(), t0);
        client.receive_data(&client_frame(0x01, b"never"), t0);
        assert_eq!(client.next_message(t0), None);
        for i in 1..6 {
            let now = t0 + secs(5.0 * i as f64);
            client.receive_data(&client_frame(0x00, b" ending"), now);
            client.receive_data(&client_frame(0x89, b"ping"), now);
            assert_eq!(client.next_message(now), None);
        }
        client.on_timeout(t0 + secs(30.0));
        assert!(matches!(client.state(), State::Flushing { .. }));
    }

    #[test]
    fn messages_that_keep_coming_whole_never_time_out() {
        let t0 = Instant::now();
        let mut client = open(message_clock_only(), t0);
        for second in 0..100 {
            let now = t0 + secs(second as f64);
            client.on_timeout(now);
            client.receive_data(&MASKED_HELLO, now);
            assert_eq!(
                client.next_message(now),
                Some(Message::Text("Hello".into()))
            );
        }
        assert_eq!(client.deadline(), None);
    }

    /// Found in review: the clock ran on from the first frame while every
    /// read ended inside the next one, so a client streaming steadily was
    /// closed with 1008 at the timeout.
    #[test]
    fn a_steady_stream_never_times_out_however_the_reads_cut_it() {
        let t0 = Instant::now();
        let slow = Limits {
            message_timeout: Some(secs(2.0)),
            idle_timeout: None,
            ..limits()
        };
        let mut client = open(slow, t0);
        let stream: Vec<u8> = (0..300).flat_map(|_| client_frame(0x81, b"x")).collect();
        // Every read ends three bytes into a frame (frames are 7 bytes).
        let mut now = t0;
        let mut at = 3;
        client.receive_data(&stream[..at], now);
        let mut messages = 0;
        while at + 7 <= stream.len() {
            now += secs(0.02);
            client.on_timeout(now);
            assert!(
                matches!(client.state(), State::Open { .. }),
                "closed after {:?}",
                now - t0
            );
            client.receive_data(&stream[at..at + 7], now);
            at += 7;
            while client.next_message(now).is_some() {
                messages += 1;
            }
        }
        assert!(now - t0 > secs(5.0));
        assert_eq!(messages, 299);
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
        a.receive_data(&big[..8 + 600], t0);
        assert_eq!(a.next_message(t0), None);
        let other = client_frame(0x82, &[2; 500]);
        b.receive_data(&other[..8 + 450], t0);
        assert_eq!(b.next_message(t0), None);
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
        assert_eq!(a.total.held(), 600);
        a.receive_data(&big[8 + 600..], t0);
        let message = a.next_message(t0).unwrap();
        a.send(message, t0);
        assert_eq!(
            frames(&written(&mut a, t0)),
            [(OpCode::Binary, vec![1; 700])]
        );
        assert_eq!(a.after_write(t0), Step::KeepGoing);
        drop(b);
        assert_eq!(a.total.held(), 0);
    }

    #[test]
    fn a_stop_says_1001_to_websockets_and_drops_handshakes() {
        let t0 = Instant::now();
        let mut open = open(limits(), t0);
        open.on_stop(t0);
        assert_eq!(
            frames(&written(&mut open, t0)),
            [close_frame(1001, "server shutting down")]
        );
        assert_eq!(open.state(), State::Closing { waiting: t0 });
        let mut handshaking = accepted(limits(), false, t0);
        handshaking.on_stop(t0);
        assert_eq!(handshaking.after_write(t0), Step::Drop);
    }
}
