//! One client's record: the PHP's `$clients[$socket]` (an id, and the
//! `handshake` flag, which is now the [`Connection`]'s state), and what the
//! server keeps around it.
//!
//! The connection (`protocol/connection.rs`) is the protocol: bytes in,
//! events and bytes out. This record ties it to what only the server knows:
//!
//! - who it is: its id and its peer's address, in every log line;
//! - its log: each event said in one line (`note`), within its address's
//!   budget (`console::LogBudget`), and, with `--trace`, each frame drawn;
//! - the HTTP answers: a page from `www/`, the handshake's 101, a refusal;
//! - its memory: its share of what all clients hold (`--max-buffered`),
//!   and the tidy timer that gives back buffers grown for a big message.
//!
//! It touches no socket: the loop (`server/mod.rs`) reads and writes, and
//! calls in here with the bytes and the time.

use super::console::{self, escape, escape_start, escape_up_to};
use super::console::{LogBudget, SHOWN_BYTES, TRACE_TARGET};
use super::inspect::gate::{self, Gate};
use super::inspect::watch::Watch;
use super::trace;
use super::www;
use crate::config::{Config, Mode};
use crate::protocol::access;
use crate::protocol::buffers::{SharedFrame, Total, KEEP_CAPACITY};
use crate::protocol::close::Violation;
use crate::protocol::connection::{Connection, Dropped, Event, State, Step};
use crate::protocol::handshake;
use crate::protocol::http::{Refusal, Request, MAX_REQUEST_HEAD};
use crate::protocol::reader::Message;
use crate::protocol::seen::{Seen, Shown};
use log::Level::{self, Debug, Info, Trace, Warn};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

/// How long after its buffers last held much (more than
/// `buffers::KEEP_CAPACITY`) a client gives back the memory a big message
/// made them grow. Long enough that a busy client keeps its buffers from
/// one message to the next; short enough that memory is back soon after a
/// burst. Small messages meanwhile do not keep it.
pub(crate) const TIDY_AFTER: Duration = Duration::from_secs(1);

/// A client whose output waits and whose socket has taken nothing for this
/// long is not reading: it holds back no one (a room's talkers wait only
/// for members that read), and past `--max-pending-output` it is dropped.
pub(crate) const STALL_AFTER: Duration = Duration::from_secs(1);

/// At most this many messages' log lines wait for the reply's write
/// ([`Client::hear`]); a read of more writes them as they come.
const HEARD_KEPT: usize = 32;

/// The table was full when it came: a handshake gets this.
const FULL: Refusal = Refusal::new(503, "too many clients, try again later");

/// One connected client: `$clients[$socket]` in the PHP.
#[derive(Debug)]
pub struct Client {
    /// A `uniqid()`-style id, in every log line about this client.
    pub id: String,
    pub peer: SocketAddr,
    /// The protocol: its state, its buffers, and the reader of its frames.
    /// The loop feeds it the bytes it reads and writes the bytes it gives
    /// (`receive_data`, `data_to_send`): the record adds what only the
    /// server knows around it.
    pub connection: Connection,
    /// The flags, fixed when the client was accepted.
    config: Rc<Config>,
    /// How much more its address may make the server log, in bytes
    /// (shared with its other connections).
    log_budget: Rc<RefCell<LogBudget>>,
    /// What all clients hold together (`--max-buffered`)...
    total: Rc<Total>,
    /// ...of which this client's share, as last counted (`recount`).
    counted: usize,
    /// Until when its buffers keep memory grown for big messages: a while
    /// after they last held much (`recount`, `data_sent`), then the tidy
    /// timer gives it back. A trickle of small messages does not keep it.
    big_until: Instant,
    /// The table was full when this client came: a handshake gets a 503.
    server_full: bool,
    /// When its socket last took bytes, or its output last began to wait:
    /// see [`Client::is_stalled`].
    progress_at: Instant,
    /// It talks faster than the room's readers read: the loop does not
    /// read from it until they have caught up (`Server::deliver`).
    pub held_back: bool,
    /// The rest of a file being sent (a page), if one is.
    body: Option<www::Body>,
    /// With `--inspect`, what the inspector keeps of it (`inspect/watch.rs`);
    /// without, `None`, and every hook below is one test of it. On a
    /// message's way (`next_event`, `send`, and the loop) the caller makes
    /// that test, so that a debugger's `step` there lands in the protocol
    /// or the reply, never in a hook that is off.
    pub(crate) watch: Option<Box<Watch>>,
    /// Messages heard and not logged yet: each one's kind, its first
    /// bytes (as many as a line shows) and its length. The PHP writes its
    /// reply, then logs what it heard (lines 63 and 64): so does the loop,
    /// which calls [`Client::log_heard`] once it has written what the
    /// socket took (it looks first whether any wait: its `step` then lands
    /// here only when there is a line to write).
    pub(crate) heard: Vec<(&'static str, Vec<u8>, usize)>,
    /// The level of those lines: in echo mode (tests, benchmarks) a line
    /// per message would cost more than the echo itself, so those lines
    /// need RUST_LOG=debug.
    heard_level: Level,
}

/// What the table hands every new record: the flags, the total, and the
/// log budget of its address.
#[derive(Debug, Clone)]
pub struct Shared {
    pub config: Rc<Config>,
    pub total: Rc<Total>,
    pub log_budget: Rc<RefCell<LogBudget>>,
}

impl Client {
    /// A freshly accepted connection: the PHP's `$clients[$socket]` with
    /// `handshake = false`.
    pub fn new(id: String, peer: SocketAddr, shared: Shared, full: bool, now: Instant) -> Client {
        let heard_level = match shared.config.mode {
            Mode::Echo => Debug,
            Mode::Tutorial | Mode::Chat => Info,
        };
        Client {
            id,
            peer,
            connection: Connection::new(shared.config.rules(), now),
            config: shared.config,
            log_budget: shared.log_budget,
            total: shared.total,
            counted: 0,
            big_until: now,
            server_full: full,
            progress_at: now,
            held_back: false,
            body: None,
            watch: None,
            heard: Vec::new(),
            heard_level,
        }
    }

    /// `--inspect` is on: the inspector may watch this record (the table
    /// says so as it adds it).
    pub(crate) fn watched(&mut self, watch: Watch) {
        self.watch = Some(Box::new(watch));
    }

    /// Is it an inspector (`--inspect`)? Then the loop, not the app, hears
    /// of it.
    pub(crate) fn is_inspector(&self) -> bool {
        self.watch.as_ref().is_some_and(|w| w.is_inspector())
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        self.connection.state()
    }

    // --- Bytes in, events out ------------------------------------------------

    /// The next event the app must hear: a WebSocket opened
    /// ([`Event::Joined`]), a message, or one left ([`Event::Left`]);
    /// `None` when nothing more has happened. Every other event is dealt
    /// with here: an HTTP request answered, a line logged.
    pub fn next_event(&mut self, now: Instant) -> Option<Event> {
        // `--trace` and `--inspect`, off, cost one test each, made here: a
        // debugger's `step` on a message's way never lands in their hooks.
        let showing = self.config.trace || self.watch.is_some();
        if self.watch.is_some() {
            self.keep_if_shown(now);
        }
        // The most it may hold: `--max-buffered`, less what every other
        // client holds (which nothing below changes). A message that grows
        // past it fails (1013).
        let room = self.total.room_for(self.counted);
        loop {
            let event = self.connection.next_event(now, room);
            if showing {
                self.show_seen(now);
            }
            // Its share of the total is counted again as each event needs
            // (`recount`), and otherwise once a turn (`Server::settle`): a
            // small message and its reply, come and gone, are not counted.
            match event {
                // Something partly here (a message still arriving may grow
                // big): counted before another client asks for room.
                None => {
                    if self.connection.receiving() {
                        self.recount(now);
                    }
                    return None;
                }
                Some(Event::Message(message)) => {
                    // The buffer it came in (maybe one grown for a big
                    // message) is out of the reader now: if it was counted,
                    // the reply's check must not count it twice.
                    if self.counted > 0 {
                        self.recount(now);
                    }
                    if log::log_enabled!(self.heard_level) {
                        match &message {
                            Message::Text(text) => self.hear("text", text.as_bytes(), now),
                            Message::Binary(data) => self.hear("binary", data, now),
                        }
                    }
                    return Some(Event::Message(message));
                }
                Some(event @ (Event::Joined | Event::Left)) => return Some(event),
                // What any other event queued (a 101, a page, a pong, a
                // close frame) is counted at once: a read of pings queues
                // a pong for each.
                Some(Event::Request(request, head)) => {
                    self.answer(&request, &head, now);
                    self.recount(now);
                }
                Some(event) => {
                    self.note(&event, now);
                    self.recount(now);
                }
            }
        }
    }

    /// Keep what the log line of a message needs (its first bytes, as many
    /// as a line shows, and its length) until the loop has written the
    /// reply (`log_heard`). Past [`HEARD_KEPT`] messages in one read, the
    /// lines are written at once: what waits stays small.
    fn hear(&mut self, kind: &'static str, bytes: &[u8], now: Instant) {
        let shown = bytes[..bytes.len().min(SHOWN_BYTES)].to_vec();
        self.heard.push((kind, shown, bytes.len()));
        if self.heard.len() >= HEARD_KEPT {
            self.log_heard(now);
        }
    }

    /// Log an event, in the words the PHP's `console()` would have used.
    fn note(&mut self, event: &Event, now: Instant) {
        if let Some(watch) = &mut self.watch {
            watch.event(&self.id, self.peer, event, now);
        }
        match event {
            Event::BadRequest(refusal, head) => self.refuse_head(**refusal, head, now),
            Event::LateMessage => {
                let late = "a message after our close frame: not answered";
                self.log(Debug, now, format_args!("{late}"));
            }
            Event::PeerClosed(close) => {
                let code = close.code.map_or("none".to_string(), |c| c.to_string());
                let reason = escape(close.reason.as_bytes());
                let closed = format_args!("closed by client: code {code}, reason \"{reason}\"");
                self.log(Info, now, closed);
            }
            Event::Failed(violation) => {
                let code = violation.close_code();
                let fails = format_args!("the connection fails: {violation}; closing with {code}");
                self.log(Warn, now, fails);
            }
            Event::Closing(code, reason) => {
                self.log(Info, now, format_args!("closing with {code} ({reason})"));
            }
            Event::Pinged => self.log(Debug, now, format_args!("idle; sending a ping")),
            Event::Hangup { handshaken: false } => {
                self.log(Info, now, format_args!("left before the handshake"));
            }
            Event::Hangup { handshaken: true } => {
                let why = "closed the connection without a close frame (1006)";
                self.log(Info, now, format_args!("{why}"));
            }
            Event::Dropped(why) => self.log(Info, now, format_args!("{why}; dropped")),
            // A ping answered, a pong: nothing to say (§5.5.2, §5.5.3).
            Event::Ponged | Event::PongCame => {}
            Event::Request(..) | Event::Message(_) | Event::Joined | Event::Left => {}
        }
    }

    // --- The opening handshake: the PHP's `handshake == false` branch -------

    /// A whole request head: answer it with a 101 (a WebSocket), a page, or
    /// an error.
    fn answer(&mut self, request: &Request, head: &[u8], now: Instant) {
        // The whole head (at most 8 KiB, the parser's cap), as the PHP
        // logged it (line 56), but escaped: on one line, with no control
        // characters.
        self.log_with(Debug, module_path!(), now, |id| {
            let head = escape_up_to(head, MAX_REQUEST_HEAD);
            format!("[{id}] Handshaking headers from client: {head}")
        });
        self.show(now, |id| trace::http(id, "request head", head));
        if let Some(watch) = &mut self.watch {
            watch.request(&self.id, self.peer, request, head, now);
        }
        if gate::asks_for_inspector(request) {
            return self.answer_inspector(request, now);
        }
        if !handshake::wants_websocket(request) {
            return self.serve_page(request, now);
        }
        let target = escape(request.target.as_bytes());
        if self.server_full {
            let full = format_args!("refused {target}: server full (503)");
            self.log(Warn, now, full);
            return self.refuse(FULL, now);
        }
        match handshake::handshake(request, &self.config.policy()) {
            Ok(accepted) => {
                self.show(now, |id| trace::accept_key(id, &accepted.accept_key));
                self.show(now, |id| trace::http(id, "response", &accepted.response));
                if let Some(watch) = &mut self.watch {
                    watch.handshake(&self.id, &accepted, now);
                }
                self.connection.accept(&accepted, now);
                let subprotocol = accepted.subprotocol.unwrap_or("none");
                let deflate = if accepted.deflate.is_some() {
                    ", permessage-deflate"
                } else {
                    ""
                };
                let done =
                    format_args!("handshake done: {target}, subprotocol {subprotocol}{deflate}");
                self.log(Info, now, done);
            }
            Err(refusal) => {
                let (status, reason) = (refusal.status, refusal.reason);
                let refused = format_args!("handshake refused: {status} {reason} ({target})");
                self.log(Warn, now, refused);
                self.refuse(refusal, now);
            }
        }
    }

    /// `/inspect` or `/inspect.html`: the inspector's page or its
    /// WebSocket, if `--inspect` is on and the peer may have them
    /// (`inspect/gate.rs`); else a refusal (404 when it is off).
    fn answer_inspector(&mut self, request: &Request, now: Instant) {
        let on = self.watch.is_some();
        match gate::gate(request, on, self.peer.ip(), &self.config.policy()) {
            Gate::Page(page) => self.serve_page(&page, now),
            Gate::Socket(_) if self.server_full => self.refuse(FULL, now),
            Gate::Socket(accepted) => {
                self.show(now, |id| trace::http(id, "response", &accepted.response));
                self.connection.accept(&accepted, now);
                if let Some(watch) = &mut self.watch {
                    watch.became_inspector();
                }
                self.log(Info, now, format_args!("an inspector is watching"));
            }
            Gate::Refused(refusal) => {
                let (status, reason) = (refusal.status, refusal.reason);
                let path = escape(request.path().as_bytes());
                self.log(Warn, now, format_args!("{path} refused: {status} {reason}"));
                self.refuse(refusal, now);
            }
        }
    }

    /// The bytes were no request head we can read.
    fn refuse_head(&mut self, refusal: Refusal, head: &[u8], now: Instant) {
        self.show(now, |id| trace::http(id, "request head (refused)", head));
        if let Some(watch) = &mut self.watch {
            watch.bad_request(&self.id, self.peer, &refusal, head, now);
        }
        let (peer, status, reason) = (self.peer, refusal.status, refusal.reason);
        let bad = format_args!("bad request from {peer}: {status} {reason}");
        self.log(Warn, now, bad);
        self.refuse(refusal, now);
    }

    /// A plain GET: a file from `www/`, or a refusal.
    fn serve_page(&mut self, request: &Request, now: Instant) {
        // A page too must be asked of this server by name (DNS rebinding,
        // `protocol/access.rs`). A request with no Host (HTTP/1.0) is no
        // browser's.
        let policy = self.config.policy();
        let host_ok = request
            .authority()
            .is_none_or(|host| access::host_allowed(host, &policy));
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
        if let Some(watch) = &self.watch {
            watch.page(&self.id, request, status, now);
        }
        match answer {
            Ok(page) => {
                self.send_http(&page.head, now);
                // The file follows the head, a chunk at a time, as the
                // socket takes it (`refill_body`).
                self.body = page.body;
                self.refill_body();
            }
            Err(refusal) => self.refuse(refusal, now),
        }
    }

    /// Answer with a refusal (`http::Refusal`); then the connection ends.
    fn refuse(&mut self, refusal: Refusal, now: Instant) {
        let response = refusal.response(SystemTime::now());
        if let Some(watch) = &self.watch {
            watch.refused(&self.id, &refusal, &response, now);
        }
        self.send_http(&response, now);
    }

    /// Queue an HTTP response other than the 101; then the connection ends.
    fn send_http(&mut self, response: &[u8], now: Instant) {
        self.show(now, |id| trace::http(id, "response", response));
        self.connection.respond(response, now);
    }

    /// While a file is being sent and everything before it has gone out,
    /// queue its next chunk: a file of any size holds one chunk of memory.
    fn refill_body(&mut self) {
        let Some(body) = &mut self.body else {
            return;
        };
        match self.connection.queue_body(|out| body.read_into(out)) {
            None => {} // the last chunk is still going out
            Some(Ok(())) if !body.is_done() => {}
            Some(Ok(())) => self.body = None,
            Some(Err(e)) => {
                self.body = None;
                let why = format!("cannot go on reading the file it asked for: {e}");
                self.drop_now(why);
            }
        }
    }

    // --- Replies in ----------------------------------------------------------

    /// Queue a message for the peer (the PHP's `socket_write($client,
    /// encode(...))`, line 63, without the write), unless it would take
    /// what all clients hold past `--max-buffered`: then this connection
    /// fails with 1013, and every other goes on.
    pub fn send(&mut self, message: Message, now: Instant) {
        // §5.5.1: nothing is sent once our close frame is out.
        if !self.connection.is_open() {
            return;
        }
        let (len, capacity) = match &message {
            Message::Text(text) => (text.len(), text.capacity()),
            Message::Binary(data) => (data.len(), data.capacity()),
        };
        // Counted at once, not at the end of the turn: the next reply's
        // check must see this one.
        if !self.total.reserve(len) {
            self.connection.fail(Violation::ServerBusy, now);
            return self.recount(now); // what it held is given back
        }
        self.counted += len;
        self.note_output_begins(now);
        if self.watch.is_some() {
            self.keep_if_shown(now);
        }
        self.connection.send(message);
        if self.config.trace || self.watch.is_some() {
            self.show_seen(now);
        }
        // A buffer grown past what a buffer may keep counts whole
        // (`buffers::counts_for`), not by the bytes it holds: an echo of a
        // small message in the memory a big one left is counted as it is.
        if capacity > KEEP_CAPACITY {
            self.recount(now);
        }
    }

    /// Queue a frame for the whole room: the same bytes for every member,
    /// one copy in memory, counted once by whoever made it (the server).
    pub(crate) fn send_shared(&mut self, frame: &SharedFrame, now: Instant) {
        if self.connection.is_open() {
            self.note_output_begins(now);
            self.connection.send_shared(frame);
        }
    }

    /// Output is about to wait for a peer that had none waiting: its clock
    /// for [`Client::is_stalled`] starts now.
    fn note_output_begins(&mut self, now: Instant) {
        if !self.connection.wants_write() {
            self.progress_at = now;
        }
    }

    /// Is its output waiting while its socket takes nothing, for
    /// [`STALL_AFTER`] or more? Then its peer is not reading.
    pub(crate) fn is_stalled(&self, now: Instant) -> bool {
        let waiting = now.saturating_duration_since(self.progress_at);
        self.connection.wants_write() && waiting >= STALL_AFTER
    }

    /// Is it sending a file (a page, a chunk at a time)?
    pub(crate) fn sending_file(&self) -> bool {
        self.body.is_some()
    }

    /// How much of the room's frames waits to be written to it.
    pub(crate) fn room_backlog(&self) -> usize {
        self.connection.pending() - self.connection.own_pending()
    }

    /// What dropping it now would give back: its own output, and the
    /// room's frames no one else still holds.
    pub(crate) fn freed_if_dropped(&self) -> usize {
        self.connection.freed_if_discarded()
    }

    /// Held back no more (the room's readers have caught up): its clocks,
    /// stopped while it was not read, start again.
    pub(crate) fn let_go(&mut self, now: Instant) {
        self.held_back = false;
        self.connection.resume(now);
    }

    /// How much waits to be written to it (its own output and the room's).
    pub(crate) fn unread(&self) -> usize {
        self.connection.pending()
    }

    /// Its connection is over: give back what waits to be written (shared
    /// frames lose a holder), before anyone hears it left.
    pub(crate) fn release(&mut self, now: Instant) {
        self.connection.discard_output();
        self.recount(now);
    }

    /// A message for all that the server cannot carry came from this
    /// client: it fails with 1013 (try again later), and what it held is
    /// given back.
    pub(crate) fn refuse_for_memory(&mut self, now: Instant) {
        self.connection.fail(Violation::ServerBusy, now);
        self.recount(now);
    }

    /// The server needs memory for a message to all, and this client, not
    /// reading, holds the most unread bytes: let it go.
    pub(crate) fn drop_for_room(&mut self, now: Instant) {
        let pending = self.unread();
        self.connection.drop_now(Dropped::Crowding { pending });
        self.release(now);
    }

    /// With `--trace`, show a room's frame, sent to every member, once: as
    /// a line this client caused, within its address's budget. (Shown for
    /// each member, it cost each member's budget, so one talker could use
    /// up everyone's, and the log grew with the room.)
    pub(crate) fn show_frame_to_all(&mut self, frame: &[u8], members: usize, now: Instant) {
        // With `--inspect`, one event for the whole room, with its count.
        let watched = self.watch.as_ref().is_some_and(|w| w.wants_frames(now));
        if !self.config.trace && !watched {
            return;
        }
        let Some(seen) = Seen::to_all(frame, members) else {
            return;
        };
        if self.config.trace {
            self.log_with(Trace, TRACE_TARGET, now, |id| trace::frame(id, &seen));
        }
        if let Some(watch) = self.watch.as_ref().filter(|_| watched) {
            watch.frame(&self.id, &seen, now);
        }
    }

    /// Start the closing handshake (§7.1.2).
    pub fn close(&mut self, code: u16, reason: &str, now: Instant) {
        self.keep_if_shown(now);
        self.connection.close(code, reason, now);
        self.show_seen(now);
    }

    // --- Bytes out ---------------------------------------------------------

    /// The socket took `n` bytes of what the connection had to send: tell
    /// it, and queue a page's next chunk once the last one is out.
    pub fn data_sent(&mut self, n: usize, now: Instant) {
        if n > 0 {
            self.progress_at = now;
        }
        if let Some(watch) = &mut self.watch {
            watch.bytes_out += n as u64;
        }
        // A big reply was in use until now: its memory is kept a while.
        if self.connection.pending() > KEEP_CAPACITY {
            self.big_until = now + TIDY_AFTER;
        }
        self.connection.data_sent(n, now);
        if self.body.is_some() {
            self.refill_body();
        }
    }

    /// What the loop must do now that it has written what the socket took
    /// (the connection decides); its memory is counted again.
    pub(crate) fn after_write(&mut self, now: Instant) -> Step {
        self.recount(now);
        // The room's frames wait for a member that reads, however many;
        // one that does not is let go at the cap. (Its own output is held
        // to the cap whether it reads or not: `Connection::after_write`.)
        let (pending, limit) = (
            self.connection.pending(),
            self.config.limits.max_pending_output,
        );
        if pending > limit && self.is_stalled(now) && self.body.is_none() {
            self.connection.drop_now(Dropped::Unread { pending, limit });
        }
        self.connection.after_write(self.body.is_some(), now)
    }

    /// End the connection now (a socket error). Why is logged, and the app
    /// hears it left, when the loop next takes its events (it does, for
    /// every client that is gone, before the socket is closed).
    pub fn drop_now(&mut self, why: String) {
        self.connection.drop_now(Dropped::Io(why));
    }

    // --- Time --------------------------------------------------------------

    /// When this client next needs attention even if its socket stays
    /// quiet: the connection's deadline, or the tidy timer's.
    pub fn deadline(&self) -> Option<Instant> {
        let tidy = self.tidy_due().then_some(self.big_until);
        // Held back, it is not read: its clocks wait (`Client::let_go`).
        let connection = (!self.held_back).then(|| self.connection.deadline());
        connection.flatten().into_iter().chain(tidy).min()
    }

    /// Does it hold memory grown for big messages, now unused, while open?
    /// Then it is given back at `big_until`.
    fn tidy_due(&self) -> bool {
        self.connection.is_open() && self.connection.holds_spare_memory()
    }

    /// If a deadline has passed, act on it.
    pub(crate) fn on_timeout(&mut self, now: Instant) {
        if self.tidy_due() && now >= self.big_until {
            self.connection.give_back_spare();
        }
        if !self.held_back {
            self.keep_if_shown(now);
            self.connection.on_timeout(now);
        }
        self.show_seen(now);
        self.recount(now);
    }

    /// The server is stopping: 1001 to a WebSocket, and one still in its
    /// handshake is dropped.
    pub(crate) fn on_stop(&mut self, now: Instant) {
        self.keep_if_shown(now);
        self.connection.on_stop(now);
        self.show_seen(now);
    }

    // --- Memory: its share of `--max-buffered` -----------------------------

    /// Count what this client holds now in the server's total: the bytes
    /// read and not used yet, the message arriving, the bytes waiting to go
    /// out, and the memory its buffers keep for what comes next. Also note
    /// when it last needed big buffers: they are given back [`TIDY_AFTER`]
    /// later.
    fn recount(&mut self, now: Instant) {
        let holds = self.connection.counted();
        self.total.change(self.counted, holds);
        self.counted = holds;
        if self.connection.in_use() > KEEP_CAPACITY {
            self.big_until = now + TIDY_AFTER;
        }
    }

    // --- The log -------------------------------------------------------------

    /// The PHP's `console("Data from client:".$decoded_data)` (line 64),
    /// after its `socket_write` (line 63): a line for each message heard.
    /// The loop calls it once it has written what the socket took; any
    /// other line about the client writes these first (`log_with`), so the
    /// log keeps the order of what happened (with `--trace`, the reply's
    /// frame is such a line).
    pub(crate) fn log_heard(&mut self, now: Instant) {
        let (id, address) = (&self.id, self.peer.ip());
        for (kind, shown, len) in self.heard.drain(..) {
            console::log_within(
                &self.log_budget,
                address,
                now,
                self.heard_level,
                module_path!(),
                || {
                    format!(
                        "[{id}] Data from client ({kind}): {}",
                        escape_start(&shown, len)
                    )
                },
            );
        }
    }

    /// Log a line about this client, `[id] what`, within its address's
    /// budget.
    pub fn log(&mut self, level: Level, now: Instant, what: std::fmt::Arguments) {
        self.log_with(level, module_path!(), now, |id| format!("[{id}] {what}"));
    }

    /// Log a line this client caused: every one does (its comings and
    /// goings, each message, each `--trace` block), and each spends its
    /// address's budget, so that what one peer can make the server write
    /// is bounded. A line whose level is off costs nothing, and none is
    /// formatted unless it is written.
    fn log_with(
        &mut self,
        level: Level,
        target: &str,
        now: Instant,
        line: impl FnOnce(&str) -> String,
    ) {
        // Lines keep the order of what happened: a message heard before
        // this line is logged before it, even if its reply is not out yet.
        if !self.heard.is_empty() {
            self.log_heard(now);
        }
        let address = self.peer.ip();
        console::log_within(&self.log_budget, address, now, level, target, || {
            line(&self.id)
        });
    }

    /// With `--trace`, log a block; without, not even format it.
    fn show(&mut self, now: Instant, block: impl FnOnce(&str) -> String) {
        if self.config.trace {
            self.log_with(Trace, TRACE_TARGET, now, block);
        }
    }

    /// With `--inspect`, before each step: the connection keeps the frames
    /// it reads and queues only if they will be shown (someone looks, and
    /// the budget has room: `Watch::wants_frames`). `--trace` keeps them all.
    fn keep_if_shown(&mut self, now: Instant) {
        if let Some(watch) = &self.watch {
            let keep = self.config.trace || watch.wants_frames(now);
            self.connection.keep_seen(keep);
        }
    }

    /// With `--trace`, draw what the connection read and queued since the
    /// last call; with `--inspect`, tell it to whoever looks.
    fn show_seen(&mut self, now: Instant) {
        let trace = self.config.trace;
        if !trace && self.watch.is_none() {
            return;
        }
        for shown in self.connection.seen() {
            match shown {
                Shown::Frame(seen) => {
                    if let Some(watch) = &self.watch {
                        watch.frame(&self.id, &seen, now);
                    }
                    if trace {
                        self.log_with(Trace, TRACE_TARGET, now, |id| trace::frame(id, &seen));
                    }
                }
                Shown::Failure(..) if !trace => {}
                Shown::Failure(violation, unread) => {
                    self.log_with(Trace, TRACE_TARGET, now, |id| {
                        let bytes = trace::hex(&unread, unread.len());
                        format!("[{id}] the connection fails: {violation} (unread: {bytes})")
                    });
                }
                Shown::Event => {} // `seen` stops before the next one
            }
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
mod tests;
