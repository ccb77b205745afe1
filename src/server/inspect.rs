//! `--inspect`: inside the server, live, in a browser.
//!
//! With `--inspect`, `GET /inspect` is a page (`www/inspect.html`) and a
//! WebSocket at the same path, subprotocol `inspect`, streams what happens
//! inside as small JSON events: the client table when the inspector
//! connects, then each change as it happens (a connection accepted, its
//! request head, the handshake worked out or refused, every frame in and
//! out dissected as `--trace` dissects it, the state changes, pings,
//! timeouts, closes and drops). `docs/inspect.md` shows a session.
//!
//! The parts, one idea each:
//!
//! - here, the [`Feed`], where every event is written: whether anyone
//!   looks, how much may be shown, and what the turn has to send; and
//!   [`Inspectors`], who looks;
//! - `gate.rs`: who gets the inspector: `--inspect` on (else 404, `www/`
//!   included), a peer on loopback, the `Host` and `Origin` rules, and its
//!   subprotocol;
//! - `watch.rs`: one record's part (`Client::watch`): whether its
//!   connection is shown (an inspector's own never is), its byte counts,
//!   and the events the record tells;
//! - `describe.rs`: each event as JSON, from what the protocol kept;
//! - `row.rs`: a client's row in the table;
//! - `stream.rs`: the loop's part: the table for a new inspector, and each
//!   turn's events for all of them, as one frame;
//! - `json.rs`: JSON written by hand, escaped.
//!
//! **Free when nobody looks.** Without `--inspect`, no record has a watch
//! (`Client::watch` is `None`): each hook is one test of an empty `Option`,
//! and `/inspect` is a 404. With it and nobody looking, [`Feed::watching`]
//! is false: a hook reads one flag and returns, and each connection keeps
//! no copy of its frames. While someone looks, a record turns its
//! connection's "keep what is seen" switch (`Connection::keep_seen`, which
//! `--trace` turns on for good) before each step, on only while the detail
//! budget has room: a step's frames are kept only if the budget had room
//! when it began (one big read may then keep a few the budget refuses,
//! dropped unformatted), and nothing is formatted past the budget. Past [`DETAILS_PER_SECOND`], frames, heads and handshakes are
//! counted instead (the `summary` event), and a room's message is one
//! event with its member count. The table's own events (a row appearing,
//! changing, leaving) have a budget of their own: past it, the inspectors
//! get the whole table again at the next refresh instead.
//!
//! **Never in anyone's way.** Each turn's events go out as one text frame,
//! shared by every inspector's outbox (as a room's message is). An
//! inspector with more than [`BEHIND`] unread loses events (it is told how
//! many, and gets the whole table again, once it catches up); one that is
//! behind and whose socket has taken nothing for `client::STALL_AFTER` is
//! dropped. Nobody else waits for it.

pub(crate) mod describe;
pub(crate) mod gate;
pub(crate) mod json;
pub(crate) mod row;
mod stream;
pub(crate) mod watch;

use crate::server::poll::Socket;
use json::Object;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Detailed events a second, at most (frames, heads, handshakes,
/// refusals): more than a person can read. Past it, they are counted.
pub(crate) const DETAILS_PER_SECOND: f64 = 2_000.0;
/// Detailed events at once, before the rate counts: a burst shows whole.
const DETAILS_AT_ONCE: f64 = 200.0;
/// The table's own events a second (rows appearing, changing, leaving).
const TABLE_PER_SECOND: f64 = 5_000.0;
/// ...and at once: a thousand clients arriving together are each shown.
const TABLE_AT_ONCE: f64 = 1_000.0;
/// How often a row that changed is sent again (its bytes, frames, queue,
/// deadline), and how often the counts of what was not shown are sent.
pub(crate) const REFRESH: Duration = Duration::from_millis(500);
/// An inspector with this much unread gets no more events until it has
/// read it: they are lost, and counted.
pub(crate) const BEHIND: usize = 256 * 1024;
/// The most rows the table sent whole has (then it says how many more).
pub(crate) const TABLE_ROWS: usize = 2_000;

/// So many events a second, and so many at once: a token bucket.
#[derive(Debug, Clone, Copy)]
struct Budget {
    tokens: f64,
    at: Instant,
    rate: f64,
    burst: f64,
}

impl Budget {
    fn new(rate: f64, burst: f64, now: Instant) -> Budget {
        Budget {
            tokens: burst,
            at: now,
            rate,
            burst,
        }
    }

    /// Earn what the time since the last call is worth.
    fn refill(&mut self, now: Instant) {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.at = self.at.max(now);
    }

    /// One event's worth, if there is one.
    fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        let has = self.tokens >= 1.0;
        if has {
            self.tokens -= 1.0;
        }
        has
    }
}

/// Where every event is written, shared by the server and every record.
#[derive(Debug)]
pub(crate) struct Feed {
    /// Each event's `t`: milliseconds since then.
    started: Instant,
    /// At least one inspector is connected.
    watching: Cell<bool>,
    details: Cell<Budget>,
    table: Cell<Budget>,
    /// This turn's events, each a JSON object, separated by commas.
    batch: RefCell<String>,
    /// How many events `batch` holds.
    count: Cell<usize>,
    /// Detailed events not made, for want of budget, since the last summary.
    skipped: Cell<u64>,
    /// Frames shown since the last summary.
    shown: Cell<u64>,
    /// A table event was not made: send the whole table at the next refresh.
    stale: Cell<bool>,
}

impl Feed {
    pub(crate) fn new(now: Instant) -> Feed {
        Feed {
            started: now,
            watching: Cell::new(false),
            details: Cell::new(Budget::new(DETAILS_PER_SECOND, DETAILS_AT_ONCE, now)),
            table: Cell::new(Budget::new(TABLE_PER_SECOND, TABLE_AT_ONCE, now)),
            batch: RefCell::new(String::new()),
            count: Cell::new(0),
            skipped: Cell::new(0),
            shown: Cell::new(0),
            stale: Cell::new(false),
        }
    }

    /// Is anyone looking? If not, nothing is made for the inspector.
    pub(crate) fn watching(&self) -> bool {
        self.watching.get()
    }

    /// Would a detailed event be made now? (A record asks before it has
    /// its connection keep the next frames.)
    pub(crate) fn wants_detail(&self, now: Instant) -> bool {
        if !self.watching() {
            return false;
        }
        let mut budget = self.details.get();
        budget.refill(now);
        self.details.set(budget);
        budget.tokens >= 1.0
    }

    /// A detailed event (a frame, a head, a handshake, a refusal): written
    /// by `write` if the budget has room, else only counted, unwritten.
    /// `frames` is how many frames it shows (a room's is one for each
    /// member). Whether it was written.
    pub(crate) fn detail(
        &self,
        now: Instant,
        kind: &str,
        frames: u64,
        write: impl FnOnce(&mut Object),
    ) -> bool {
        if !self.watching() {
            return false;
        }
        let mut budget = self.details.get();
        let room = budget.take(now);
        self.details.set(budget);
        if !room {
            self.skipped.set(self.skipped.get() + 1);
            return false;
        }
        self.shown.set(self.shown.get() + frames);
        self.push(now, kind, write);
        true
    }

    /// An event of the table (a row, its state, its end): written if the
    /// table's budget has room; if not, the whole table goes out at the
    /// next refresh instead.
    pub(crate) fn table_event(&self, now: Instant, kind: &str, write: impl FnOnce(&mut Object)) {
        if !self.watching() {
            return;
        }
        let mut budget = self.table.get();
        let room = budget.take(now);
        self.table.set(budget);
        match room {
            true => self.push(now, kind, write),
            false => self.stale.set(true),
        }
    }

    /// An event that is always made while someone looks (what was not
    /// shown, say): no budget.
    pub(crate) fn always(&self, now: Instant, kind: &str, write: impl FnOnce(&mut Object)) {
        if self.watching() {
            self.push(now, kind, write);
        }
    }

    /// Append `{"kind":KIND,"t":MS,...}` to this turn's batch.
    fn push(&self, now: Instant, kind: &str, write: impl FnOnce(&mut Object)) {
        let mut batch = self.batch.borrow_mut();
        if !batch.is_empty() {
            batch.push(',');
        }
        let mut object = Object::open(&mut batch);
        object.str("kind", kind).num("t", self.millis(now));
        write(&mut object);
        object.close();
        self.count.set(self.count.get() + 1);
    }

    /// Milliseconds since the feed began: every event's `t`.
    pub(crate) fn millis(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_millis() as u64
    }

    /// This turn's events and how many there are; the batch starts anew.
    fn take_batch(&self) -> Option<(String, usize)> {
        let count = self.count.replace(0);
        let batch = std::mem::take(&mut *self.batch.borrow_mut());
        (count > 0).then_some((batch, count))
    }

    /// What was not shown since the last call: (frames shown, detailed
    /// events skipped, whether a table event was).
    fn take_counts(&self) -> (u64, u64, bool) {
        (
            self.shown.replace(0),
            self.skipped.replace(0),
            self.stale.replace(false),
        )
    }
}

/// One inspector: what it lost while it did not read, and whether it
/// needs the whole table (it just came, or it lost events).
#[derive(Debug, Default)]
pub(crate) struct Subscriber {
    lost: u64,
    needs_table: bool,
}

/// Who looks, and what the next refresh sends.
#[derive(Debug)]
pub(crate) struct Inspectors {
    pub(crate) feed: std::rc::Rc<Feed>,
    subscribers: BTreeMap<Socket, Subscriber>,
    /// Shown clients that changed since the last refresh.
    dirty: BTreeSet<Socket>,
    next_refresh: Instant,
    /// Frames read and queued by every client since the last summary.
    frames: (u64, u64),
}

impl Inspectors {
    pub(crate) fn new(now: Instant) -> Inspectors {
        Inspectors {
            feed: std::rc::Rc::new(Feed::new(now)),
            subscribers: BTreeMap::new(),
            dirty: BTreeSet::new(),
            next_refresh: now,
            frames: (0, 0),
        }
    }

    /// When the loop must wake for the next refresh, if anything waits
    /// for one.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let waiting = !self.dirty.is_empty() || self.frames != (0, 0);
        (self.feed.watching() && waiting).then_some(self.next_refresh)
    }

    /// A new inspector: it gets the table, and everyone starts looking.
    fn subscribe(&mut self, socket: Socket) {
        let fresh = Subscriber {
            lost: 0,
            needs_table: true,
        };
        self.subscribers.insert(socket, fresh);
        self.feed.watching.set(true);
    }

    /// An inspector left; with the last, nobody looks, and what was kept
    /// for them goes.
    fn unsubscribe(&mut self, socket: Socket) {
        self.subscribers.remove(&socket);
        if self.subscribers.is_empty() {
            self.feed.watching.set(false);
            self.feed.take_batch();
            self.feed.take_counts();
            self.dirty.clear();
            self.frames = (0, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nothing_is_written_while_nobody_looks() {
        let t0 = Instant::now();
        let feed = Feed::new(t0);
        let mut called = false;
        feed.detail(t0, "frame", 1, |_| called = true);
        feed.table_event(t0, "row", |_| called = true);
        assert!(!called && !feed.wants_detail(t0));
        assert_eq!(feed.take_batch(), None);
    }

    /// Past the budget, a detailed event is counted, and its closure, the
    /// formatting, never runs; the budget earns back at its rate.
    #[test]
    fn details_past_the_budget_are_counted_unwritten() {
        let t0 = Instant::now();
        let feed = Feed::new(t0);
        feed.watching.set(true);
        let mut written = 0;
        for _ in 0..1000 {
            feed.detail(t0, "frame", 1, |o| {
                written += 1;
                o.num("n", written);
            });
        }
        assert_eq!(written, DETAILS_AT_ONCE as u64);
        assert!(!feed.wants_detail(t0));
        assert_eq!(feed.take_counts(), (200, 800, false));
        // 10 ms later, 20 more.
        let later = t0 + ms(10);
        assert!(feed.wants_detail(later));
        for _ in 0..100 {
            feed.detail(later, "head", 0, |_| written += 1);
        }
        assert_eq!(written, 220);
        let (batch, count) = feed.take_batch().unwrap();
        assert_eq!(count, 220);
        assert!(batch.starts_with(r#"{"kind":"frame","t":0,"n":1},"#));
        assert!(batch.ends_with(r#"{"kind":"head","t":10}"#));
    }

    #[test]
    fn table_events_past_their_budget_make_the_table_stale() {
        let t0 = Instant::now();
        let feed = Feed::new(t0);
        feed.watching.set(true);
        for _ in 0..(TABLE_AT_ONCE as usize + 1) {
            feed.table_event(t0, "row", |_| {});
        }
        assert_eq!(feed.take_batch().unwrap().1, TABLE_AT_ONCE as usize);
        assert_eq!(feed.take_counts(), (0, 0, true));
    }

    #[test]
    fn the_last_inspector_to_leave_stops_the_looking() {
        let t0 = Instant::now();
        let mut inspectors = Inspectors::new(t0);
        let (a, b) = (Socket::numbered(5), Socket::numbered(6));
        inspectors.subscribe(a);
        inspectors.subscribe(b);
        inspectors.feed.table_event(t0, "row", |_| {});
        inspectors.unsubscribe(a);
        assert!(inspectors.feed.watching());
        inspectors.unsubscribe(b);
        assert!(!inspectors.feed.watching());
        assert_eq!(inspectors.feed.take_batch(), None);
    }
}
