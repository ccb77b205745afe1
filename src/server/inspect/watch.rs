//! One record's part in `--inspect` (`Client::watch`): whether its
//! connection is shown, what it counted, and the events it tells.
//!
//! A connection is shown from its request head on: until then, nobody
//! knows whether it is an inspector, and an inspector's own traffic (its
//! page, its WebSocket) is never shown, so that no inspector sees itself
//! or another. One that never sends a whole head is shown at its first
//! event (a hangup, a timeout). Whether it is shown is decided even while
//! nobody looks (a comparison, once per connection), so that an inspector
//! that comes later gets the right table; everything else is made only
//! while someone looks ([`Feed::watching`]).

use super::json::Object;
use super::{describe, gate, Feed};
use crate::protocol::connection::Event;
use crate::protocol::handshake::Accepted;
use crate::protocol::http::{Refusal, Request};
use crate::protocol::seen::{Direction, Seen};
use crate::server::poll::Socket;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

/// Is the connection in the table the inspector shows?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// No request head yet: it may still be an inspector.
    NotYet,
    Shown,
    /// An inspector's own traffic: its page, or an inspector itself.
    Hidden {
        inspector: bool,
    },
}

/// What the inspector keeps of one record.
#[derive(Debug)]
pub(crate) struct Watch {
    feed: Rc<Feed>,
    /// The PHP's `$socket`, this record's key in the table.
    pub(crate) socket: Socket,
    listing: Listing,
    /// A WebSocket was opened: the PHP's `$clients[$socket]["handshake"]`
    /// became true.
    pub(crate) handshaken: bool,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    /// When it was accepted, in the feed's milliseconds.
    pub(crate) accepted: u64,
    /// The state its row last said (`stream.rs` sends a row at once when
    /// it changes), and its frame counts then.
    pub(crate) told_state: Option<&'static str>,
    pub(crate) told_frames: (u64, u64),
}

impl Watch {
    /// A connection accepted at `now`, as `socket`.
    pub(crate) fn new(feed: Rc<Feed>, socket: Socket, now: Instant) -> Watch {
        Watch {
            accepted: feed.millis(now),
            feed,
            socket,
            listing: Listing::NotYet,
            handshaken: false,
            bytes_in: 0,
            bytes_out: 0,
            told_state: None,
            told_frames: (0, 0),
        }
    }

    /// Is it in the table the inspector shows?
    pub(crate) fn is_shown(&self) -> bool {
        self.listing == Listing::Shown
    }

    /// Is it an inspector?
    pub(crate) fn is_inspector(&self) -> bool {
        self.listing == Listing::Hidden { inspector: true }
    }

    /// Should its connection keep the next frames it reads and queues? Only
    /// while it is shown, someone looks, and the detail budget has room:
    /// the server samples before it copies.
    pub(crate) fn wants_frames(&self, now: Instant) -> bool {
        self.is_shown() && self.feed.wants_detail(now)
    }

    /// A request head came: the inspector's own is hidden; any other is
    /// shown from now on, head included.
    pub(crate) fn request(
        &mut self,
        id: &str,
        peer: SocketAddr,
        request: &Request,
        head: &[u8],
        now: Instant,
    ) {
        if gate::asks_for_inspector(request) {
            self.listing = Listing::Hidden { inspector: false };
            return;
        }
        self.list(id, peer, now);
        self.feed
            .detail(now, "request", 0, |o| describe::request(o, id, head, None));
    }

    /// The bytes were no request head: shown, with its refusal.
    pub(crate) fn bad_request(
        &mut self,
        id: &str,
        peer: SocketAddr,
        refusal: &Refusal,
        head: &[u8],
        now: Instant,
    ) {
        self.list(id, peer, now);
        let refused = Some(refusal);
        self.feed.detail(now, "request", 0, |o| {
            describe::request(o, id, head, refused)
        });
    }

    /// Shown from now on, if it was not decided yet: the inspectors hear it
    /// was accepted (its full row follows at the end of the turn).
    fn list(&mut self, id: &str, peer: SocketAddr, now: Instant) {
        if self.listing != Listing::NotYet {
            return;
        }
        self.listing = Listing::Shown;
        let (socket, since) = (self.socket.number(), self.accepted);
        self.feed.table_event(now, "accepted", |o| {
            o.str("id", id)
                .int("socket", socket)
                .str("peer", &peer.to_string())
                .num("since", since);
        });
    }

    /// Its handshake is done: the key worked out, and the 101.
    pub(crate) fn handshake(&mut self, id: &str, accepted: &Accepted, now: Instant) {
        self.handshaken = true;
        if self.is_shown() {
            self.feed.detail(now, "handshake", 0, |o| {
                describe::handshake(o, id, accepted)
            });
        }
    }

    /// It is an inspector: never shown.
    pub(crate) fn became_inspector(&mut self) {
        self.handshaken = true;
        self.listing = Listing::Hidden { inspector: true };
    }

    /// Its request was refused with `response`.
    pub(crate) fn refused(&self, id: &str, refusal: &Refusal, response: &[u8], now: Instant) {
        if self.is_shown() {
            self.feed.detail(now, "refused", 0, |o| {
                describe::refused(o, id, refusal, response)
            });
        }
    }

    /// A page was asked for: `status` is the answer.
    pub(crate) fn page(&self, id: &str, request: &Request, status: u16, now: Instant) {
        if self.is_shown() {
            let (method, target) = (&request.method, &request.target);
            self.feed.detail(now, "page", 0, |o| {
                describe::page(o, id, method, target, status)
            });
        }
    }

    /// One of the connection's events (a close, a ping, a drop...). One
    /// that ends a connection before its head is whole shows it first.
    pub(crate) fn event(&mut self, id: &str, peer: SocketAddr, event: &Event, now: Instant) {
        if !describe::is_told(event) {
            return;
        }
        self.list(id, peer, now);
        if !self.is_shown() {
            return;
        }
        let write = |o: &mut Object| describe::event(o, id, event);
        match describe::is_table_event(event) {
            true => self.feed.table_event(now, "event", write),
            false => {
                self.feed.detail(now, "event", 0, write);
            }
        }
    }

    /// A frame read or queued (`to_all`: one for the whole room).
    pub(crate) fn frame(&self, id: &str, seen: &Seen, now: Instant) {
        if self.is_shown() {
            let frames = match seen.direction {
                Direction::ToAll { members } => members as u64,
                Direction::In | Direction::Out => 1,
            };
            self.feed
                .detail(now, "frame", frames, |o| describe::frame(o, id, seen));
        }
    }

    /// It left the table.
    pub(crate) fn gone(&self, id: &str, now: Instant) {
        if self.is_shown() {
            let socket = self.socket.number();
            self.feed.table_event(now, "gone", |o| {
                o.str("id", id).int("socket", socket);
            });
        }
    }
}
