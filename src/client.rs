//! One client: the PHP's `$clients[$socket]` record, and what happens to
//! the bytes it sends.
//!
//! The PHP record held an id, the socket and a `handshake` flag. Ours adds
//! what a real connection needs: the bytes read but not yet used (`inbox`),
//! the bytes waiting to be written (`outbox`), the WebSocket state, and how
//! the connection is ending. The server's loop does the socket calls; this
//! module decides what the bytes mean and what to answer.

use crate::config::{Config, Limits};
use crate::console::{escape, escape_up_to};
use crate::handshake;
use crate::http;
use crate::protocol::{Connection, Event, Message};
use crate::replies::{self, Clock, Reply};
use crate::www;
use log::{debug, info, warn};
use std::net::{SocketAddr, TcpStream};
use std::time::{Instant, SystemTime};

/// An emptied buffer bigger than this is freed rather than kept: one big
/// reply must not cost an idle client memory for the rest of its life.
pub const KEEP_CAPACITY: usize = 16 * 1024;

/// Empty `buffer`, giving its memory back if it grew past [`KEEP_CAPACITY`].
/// (A busy client whose reads are larger than that gets a fresh buffer
/// after each of them: one allocation per 64 KiB read, a fair price for
/// idle clients that cost nothing.)
fn empty(buffer: &mut Vec<u8>) {
    if buffer.capacity() > KEEP_CAPACITY {
        *buffer = Vec::new();
    } else {
        buffer.clear();
    }
}

/// Bytes waiting to be written to a client. Writes may be partial, so we
/// remember how much of the front is already sent.
#[derive(Debug, Default)]
pub struct Outbox {
    bytes: Vec<u8>,
    sent: usize,
}

impl Outbox {
    /// Where frames and responses are appended.
    pub fn queue(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// What is still to be written.
    pub fn pending(&self) -> &[u8] {
        &self.bytes[self.sent..]
    }

    pub fn is_empty(&self) -> bool {
        self.pending().is_empty()
    }

    /// `n` more bytes were written.
    pub fn advance(&mut self, n: usize) {
        self.sent += n;
        if self.sent == self.bytes.len() {
            empty(&mut self.bytes);
            self.sent = 0;
        } else if self.sent > self.bytes.len() / 2 {
            // Drop the written half now and then, so the buffer does not
            // grow forever, without moving the bytes on every small write.
            self.bytes.drain(..self.sent);
            self.sent = 0;
        }
    }
}

/// How a client's connection is ending, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Not ending.
    No,
    /// Write what is queued, then close our side of the TCP connection.
    /// Past `until`, give up on a peer that does not read.
    AfterFlush { until: Instant },
    /// Our side is closed; read and discard until the peer closes too (so
    /// the kernel does not reset a connection with unread data, destroying
    /// our last words in flight), or until `until`.
    Lingering { until: Instant },
    /// Remove from the table now.
    Gone,
}

/// Everything a client needs to know about the server to answer.
pub struct Context<'a> {
    pub config: &'a Config,
    /// When the server started (for the `age` command).
    pub started: Instant,
    pub now: Instant,
}

/// Stop reading from a client while this much output is waiting for it:
/// a client that sends without reading is slowed down by TCP itself
/// instead of filling our memory.
pub const READ_PAUSE: usize = 256 * 1024;

/// One connected client: `$clients[$socket]` in the PHP.
#[derive(Debug)]
pub struct Client {
    /// A `uniqid()`-style id, in every log line about this client.
    pub id: String,
    pub socket: TcpStream,
    pub peer: SocketAddr,
    /// The PHP's `$clients[$socket]["handshake"]`: false until the `101
    /// Switching Protocols` is sent, then true.
    pub handshake: bool,
    /// Bytes read but not yet used (a request head or a frame not yet whole).
    inbox: Vec<u8>,
    pub outbox: Outbox,
    ws: Connection,
    ending: Ending,
    /// The peer closed its side: there is nothing more to read.
    peer_closed: bool,
    /// The table was full when this client came: it gets a 503.
    over_capacity: bool,
    connected_at: Instant,
    /// The last time the peer showed it is alive: it sent us bytes, or it
    /// took bytes we wrote (a client busy reading a big reply is not idle).
    last_alive: Instant,
    /// When we sent a close frame and began to wait for the peer's.
    close_sent_at: Option<Instant>,
    /// An idle ping is out and unanswered.
    pinged: bool,
}

impl Client {
    pub fn new(
        id: String,
        socket: TcpStream,
        peer: SocketAddr,
        limits: &Limits,
        over_capacity: bool,
        now: Instant,
    ) -> Client {
        Client {
            id,
            socket,
            peer,
            handshake: false,
            inbox: Vec::new(),
            outbox: Outbox::default(),
            ws: Connection::new(limits.max_message_size),
            ending: Ending::No,
            peer_closed: false,
            over_capacity,
            connected_at: now,
            last_alive: now,
            close_sent_at: None,
            pinged: false,
        }
    }

    /// `n` bytes of the outbox were written: the peer is reading, so it is
    /// alive even if it has nothing to say.
    pub fn sent(&mut self, n: usize, now: Instant) {
        self.outbox.advance(n);
        self.last_alive = now;
    }

    /// Is the connection over? The table drops it at the end of the turn.
    pub fn is_gone(&self) -> bool {
        self.ending == Ending::Gone
    }

    /// Should the loop read from this client?
    pub fn wants_read(&self) -> bool {
        !self.peer_closed && self.ending != Ending::Gone && self.outbox.pending().len() < READ_PAUSE
    }

    /// Should the loop wait for room to write to this client?
    pub fn wants_write(&self) -> bool {
        !self.outbox.is_empty() && self.ending != Ending::Gone
    }

    /// Bytes arrived from the socket: the PHP's two branches, before and
    /// after `$clients[$socket]["handshake"]` becomes true.
    pub fn receive(&mut self, bytes: &[u8], cx: &Context) {
        self.last_alive = cx.now;
        self.pinged = false;
        if self.ending != Ending::No {
            // The connection is ending: what the peer still sends is read
            // only so that the kernel has nothing unread to reset, and dropped.
            return;
        }
        self.inbox.extend_from_slice(bytes);
        if !self.handshake {
            self.read_request(cx);
        }
        if self.handshake && self.ending == Ending::No {
            self.read_frames(cx);
        }
        if self.ending != Ending::No {
            self.inbox.clear(); // nothing more will be read from it
        }
        if self.inbox.is_empty() {
            empty(&mut self.inbox);
        }
    }

    /// The peer closed its side of the TCP connection (a read returned 0).
    /// Whatever we still owe it is written first: a peer that only
    /// half-closed can still read its answer.
    pub fn on_peer_closed(&mut self, now: Instant, limits: &Limits) {
        self.peer_closed = true;
        match self.ending {
            Ending::No if !self.handshake => {
                info!("[{}] left before the handshake", self.id);
                self.ending = Ending::Gone;
            }
            Ending::No => {
                // RFC 6455 §7.1.5: the connection closed with no close frame:
                // the close code is 1006, "abnormal closure".
                info!(
                    "[{}] closed the connection without a close frame (1006)",
                    self.id
                );
                self.end_after_flush(now, limits);
            }
            Ending::AfterFlush { .. } => {}
            Ending::Lingering { .. } | Ending::Gone => self.ending = Ending::Gone,
        }
    }

    /// Before the handshake: wait for a whole HTTP request, then answer it
    /// with a 101 (and become a WebSocket), a page, or an error.
    fn read_request(&mut self, cx: &Context) {
        let (request, head_len) = match http::parse_request(&self.inbox) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return, // not all here yet
            Err(error) => {
                let (status, reason) = error.status();
                warn!(
                    "[{}] bad request from {}: {status} {reason}",
                    self.id, self.peer
                );
                return self.respond_and_close(http::error_response(status, reason, &[]), cx);
            }
        };
        // The whole head (at most 8 KiB, the parser's cap), as the PHP
        // logged it, but escaped: on one line, with no control characters.
        debug!(
            "[{}] Handshaking headers from client: {}",
            self.id,
            escape_up_to(&self.inbox[..head_len], http::MAX_REQUEST_HEAD)
        );
        // What follows the head (frames sent before our 101 arrived) stays.
        self.inbox.drain(..head_len);
        let target = escape(request.target.as_bytes());

        if !handshake::wants_websocket(&request) {
            let (status, response) = www::serve(&cx.config.www, &request);
            info!(
                "[{}] {} {target} -> {status}",
                self.id,
                escape(request.method.as_bytes())
            );
            return self.respond_and_close(response, cx);
        }
        if self.over_capacity {
            warn!("[{}] refused {target}: server full (503)", self.id);
            let response = http::error_response(503, "too many clients, try again later", &[]);
            return self.respond_and_close(response, cx);
        }
        match handshake::handshake(&request, &cx.config.allowed_origins) {
            Ok(accepted) => {
                self.outbox.queue().extend_from_slice(&accepted.response);
                self.handshake = true;
                let subprotocol = accepted.subprotocol.unwrap_or("none");
                info!(
                    "[{}] handshake done: {target}, subprotocol {subprotocol}",
                    self.id
                );
            }
            Err(rejection) => {
                warn!(
                    "[{}] handshake refused: {} {} ({target})",
                    self.id, rejection.status, rejection.reason
                );
                self.respond_and_close(rejection.response(), cx);
            }
        }
    }

    /// Send an HTTP response; then the connection ends.
    fn respond_and_close(&mut self, response: Vec<u8>, cx: &Context) {
        self.outbox.queue().extend_from_slice(&response);
        self.end_after_flush(cx.now, &cx.config.limits);
    }

    fn end_after_flush(&mut self, now: Instant, limits: &Limits) {
        self.ending = Ending::AfterFlush {
            until: now + limits.close_timeout,
        };
    }

    /// After the handshake: turn bytes into messages and answer them.
    fn read_frames(&mut self, cx: &Context) {
        let mut used = 0;
        while self.ending == Ending::No {
            let received = self
                .ws
                .receive(&mut self.inbox[used..], self.outbox.queue());
            used += received.consumed;
            match received.event {
                Some(event) => self.on_event(event, cx),
                None => break,
            }
        }
        // `receive` never reports more than it was given.
        self.inbox.drain(..used);
    }

    fn on_event(&mut self, event: Event, cx: &Context) {
        match event {
            Event::Message(message) => self.answer(message, cx),
            Event::Closed(close) => {
                let code = close.code.map_or("none".to_string(), |c| c.to_string());
                let reason = escape(close.reason.as_bytes());
                info!(
                    "[{}] closed by client: code {code}, reason \"{reason}\"",
                    self.id
                );
                // §7.1.1: the server closes the TCP connection first.
                self.end_after_flush(cx.now, &cx.config.limits);
            }
            Event::Failed(violation) => {
                let code = violation.close_code();
                warn!(
                    "[{}] protocol error: {violation}; closing with {code}",
                    self.id
                );
                self.end_after_flush(cx.now, &cx.config.limits);
            }
        }
    }

    /// A whole message arrived: log it, as the PHP did, and reply.
    fn answer(&mut self, message: Message, cx: &Context) {
        let (kind, bytes) = match &message {
            Message::Text(text) => ("text", text.as_bytes()),
            Message::Binary(data) => ("binary", data.as_slice()),
        };
        // In echo mode (tests, benchmarks) a line per message would cost more
        // than the echo itself, so those lines need RUST_LOG=debug.
        let level = match cx.config.mode {
            crate::config::Mode::Tutorial => log::Level::Info,
            crate::config::Mode::Echo => log::Level::Debug,
        };
        log::log!(
            level,
            "[{}] Data from client ({kind}): {}",
            self.id,
            escape(bytes)
        );

        let clock = Clock {
            uptime: cx.now - cx.started,
            now: SystemTime::now(),
        };
        match replies::reply(cx.config.mode, message, clock) {
            Reply::Send(reply) => self.ws.send(&reply, self.outbox.queue()),
            Reply::SendAndClose(reply) => {
                self.ws.send(&reply, self.outbox.queue());
                self.close(crate::close::NORMAL, "bye", cx.now);
            }
        }
    }

    /// Start the closing handshake: send a close frame, then wait for the
    /// peer's (at most `--close-timeout`).
    pub fn close(&mut self, code: u16, reason: &str, now: Instant) {
        if !self.ws.is_closing() {
            info!("[{}] closing with {code} ({reason})", self.id);
            self.ws.close(code, reason, self.outbox.queue());
            self.close_sent_at = Some(now);
        }
    }

    /// What this client waits for that can run out, and when it does.
    fn timer(&self, limits: &Limits) -> Option<(Timer, Instant)> {
        match self.ending {
            Ending::AfterFlush { until } => Some((Timer::Flush, until)),
            Ending::Lingering { until } => Some((Timer::Linger, until)),
            Ending::Gone => None, // removed at the end of this turn anyway
            Ending::No if !self.handshake => Some((
                Timer::Handshake,
                self.connected_at + limits.handshake_timeout,
            )),
            Ending::No => match (self.close_sent_at, limits.idle_timeout) {
                (Some(sent), _) => Some((Timer::CloseReply, sent + limits.close_timeout)),
                (None, None) => None,
                // The ping went out one idle period after the last byte; the
                // answer has one more period to arrive.
                (None, Some(idle)) if self.pinged => {
                    Some((Timer::PingReply, self.last_alive + 2 * idle))
                }
                (None, Some(idle)) => Some((Timer::Idle, self.last_alive + idle)),
            },
        }
    }

    /// When this client next needs attention even if it stays silent.
    pub fn deadline(&self, limits: &Limits) -> Option<Instant> {
        self.timer(limits).map(|(_, at)| at)
    }

    /// If a timer has run out, act on it.
    pub fn on_timeout(&mut self, now: Instant, limits: &Limits) {
        let Some((timer, at)) = self.timer(limits) else {
            return;
        };
        if now < at {
            return;
        }
        match timer {
            Timer::Idle => {
                debug!("[{}] idle; sending a ping", self.id);
                self.ws.ping(b"are you there?", self.outbox.queue());
                self.pinged = true;
            }
            Timer::Handshake => {
                let after = limits.handshake_timeout;
                self.drop_now(format_args!("no handshake within {after:?}"));
            }
            Timer::CloseReply => {
                let after = limits.close_timeout;
                self.drop_now(format_args!("no close reply within {after:?}"));
            }
            Timer::PingReply => self.drop_now(format_args!("did not answer a ping")),
            Timer::Flush => self.drop_now(format_args!("not reading its last bytes")),
            Timer::Linger => self.ending = Ending::Gone, // the usual end; nothing to say
        }
    }

    /// Remove this client at the end of the turn, saying why in the log.
    pub fn drop_now(&mut self, why: std::fmt::Arguments) {
        info!("[{}] {why}; dropped", self.id);
        self.ending = Ending::Gone;
    }

    /// Everything queued has been written. Returns true when our side of
    /// the TCP connection should now be closed (the caller does the
    /// `shutdown(Write)`): our last bytes are out, and we wait in
    /// `Lingering` for the peer to close its side.
    pub fn on_flushed(&mut self, now: Instant, limits: &Limits) -> bool {
        if !matches!(self.ending, Ending::AfterFlush { .. }) {
            return false;
        }
        if self.peer_closed {
            self.ending = Ending::Gone;
            return false;
        }
        self.ending = Ending::Lingering {
            until: now + limits.close_timeout,
        };
        true
    }

    /// The server is stopping: say goodbye with 1001 Going Away (RFC 6455
    /// §7.4.1) to a WebSocket client; drop one still in its handshake.
    pub fn on_stop(&mut self, now: Instant) {
        match (self.handshake, self.ending) {
            (true, Ending::No) => self.close(crate::close::GOING_AWAY, "server shutting down", now),
            (false, Ending::No) => self.ending = Ending::Gone,
            _ => {}
        }
    }
}

/// The timers a client can be waiting on; see `Client::timer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The opening handshake has not completed (`--handshake-timeout`).
    Handshake,
    /// We sent a close frame and wait for the peer's (`--close-timeout`).
    CloseReply,
    /// Nothing heard for `--idle-timeout`: time to ping.
    Idle,
    /// A ping is out and nothing has come back.
    PingReply,
    /// Our last bytes are queued but the peer is not reading them.
    Flush,
    /// Our side is closed; the peer has not closed its side.
    Linger,
}
