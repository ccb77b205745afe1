//! The client table: the PHP's `$clients` and `$client_list` arrays, keyed
//! by socket, with `fnConnectacceptedSocket()`, `getClientBySocket()` and
//! `uniqid()`.
//!
//! The PHP kept two arrays keyed by the socket: `$client_list` held the
//! socket and `$clients` the record (id, `handshake` flag). We keep the same
//! pair, in one map: each [`Entry`] holds the `TcpStream` (only the loop,
//! `server/mod.rs`, calls it) and its [`Client`] record (which never sees
//! it). A `BTreeMap`
//! keeps the clients in socket order, so a debugger session shows them in
//! the same order every time.

use crate::config::{Config, Limits};
use crate::protocol::buffers::Total;
use crate::protocol::connection::State;
use crate::server::client::{Client, Shared};
use crate::server::console::{self, LogBudget};
use crate::server::inspect::watch::Watch;
use crate::server::inspect::Feed;
use crate::server::poll::{socket_of, Interest, Poller, Socket};
use crate::server::timers::Timers;
use log::Level::{Info, Warn};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Connections past `--max-clients` that are still read, to tell them 503.
/// Past this many more, they are closed unanswered.
pub const OVERFLOW: usize = 64;

/// Whether a new connection is let in: see [`Clients::admission`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// There is room.
    Welcome,
    /// The table is full: read the request, and answer a handshake with
    /// `503 Service Unavailable` (a page request is still served).
    Full,
    /// Far past full: close the connection without reading a byte, so that
    /// a flood of connections costs nothing but the accept.
    Refused,
}

/// One row of the table: the PHP's `$client_list[$socket]` and
/// `$clients[$socket]`.
#[derive(Debug)]
pub struct Entry {
    pub stream: TcpStream,
    pub client: Client,
    /// This connection's number, in the order they came: a socket's number
    /// is reused once it is closed, this is not.
    serial: u64,
    /// What the poller was last told we want from this socket.
    pub interest: Interest,
    /// The time this client was last filed at in the timers, if it is
    /// filed (see `timers.rs`).
    filed: Option<Instant>,
}

#[derive(Debug)]
pub struct Clients {
    table: BTreeMap<Socket, Entry>,
    /// What all clients hold together, against `--max-buffered`.
    total: Rc<Total>,
    /// Connections in the order they came, to find the oldest still in its
    /// handshake (`make_room`); those that moved on are skipped then.
    arrivals: VecDeque<(Socket, u64)>,
    /// The serial the next connection gets.
    next_serial: u64,
    /// Connections per address, for `--max-clients-per-ip`.
    per_ip: HashMap<IpAddr, usize>,
    /// Each address's log budget (`console::LogBudget`).
    budgets: HashMap<IpAddr, Rc<RefCell<LogBudget>>>,
    /// Clients whose connection is over, dropped at the end of the turn.
    gone: Vec<Socket>,
    /// Every client's next deadline, earliest first.
    timers: Timers,
    /// The last id handed out, in microseconds since 1970 (see `uniqid`).
    last_id: u64,
    /// With `--inspect`, the feed every new record is watched through.
    feed: Option<Rc<Feed>>,
}

impl Admission {
    /// May one more connection in, when `count` are in the table already?
    /// The capacity rule, decided here alone.
    pub(crate) fn for_count(count: usize, limits: &Limits) -> Admission {
        if count >= limits.max_clients.saturating_add(OVERFLOW) {
            Admission::Refused
        } else if count >= limits.max_clients {
            Admission::Full
        } else {
            Admission::Welcome
        }
    }
}

impl Clients {
    /// An empty table; its clients may hold `max_buffered` bytes together.
    pub fn new(max_buffered: usize) -> Clients {
        Clients {
            table: BTreeMap::new(),
            total: Rc::new(Total::new(max_buffered)),
            arrivals: VecDeque::new(),
            next_serial: 0,
            per_ip: HashMap::new(),
            budgets: HashMap::new(),
            gone: Vec::new(),
            timers: Timers::default(),
            last_id: 0,
            feed: None,
        }
    }

    /// `--inspect`: every record from now on may be watched through `feed`.
    pub(crate) fn inspect_with(&mut self, feed: Rc<Feed>) {
        self.feed = Some(feed);
    }

    /// May one more connection from `ip` in? `--max-clients-per-ip` first;
    /// then, if the table is full, the oldest connection still in its
    /// handshake is closed to make room (`make_room`); then the capacity
    /// rule, [`Admission::for_count`].
    pub(crate) fn admission(
        &mut self,
        limits: &Limits,
        ip: IpAddr,
        now: Instant,
        poller: &mut Poller,
    ) -> Admission {
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        if limits
            .max_clients_per_ip
            .is_some_and(|most| from_ip >= most)
        {
            return Admission::Refused;
        }
        if self.table.len() >= limits.max_clients {
            self.make_room("the table is full", now, poller);
        }
        Admission::for_count(self.table.len(), limits)
    }

    /// No room for one more (`why`: the table is full, or no file
    /// descriptor is left): close the oldest connection still in its
    /// handshake, so that a flood of connections that never finish theirs
    /// cannot keep real clients out for longer than it lasts. Those that
    /// finished their handshake are never closed for room: they get the 503
    /// instead. Returns whether it closed one.
    pub(crate) fn make_room(&mut self, why: &str, now: Instant, poller: &mut Poller) -> bool {
        while let Some((socket, serial)) = self.arrivals.pop_front() {
            let oldest = self.table.get(&socket).filter(|entry| {
                entry.serial == serial && matches!(entry.client.state(), State::Handshaking { .. })
            });
            if oldest.is_some() {
                let mut entry = self.table.remove(&socket).expect("just found");
                let oldest = "the oldest connection still in its handshake";
                let room = format_args!("{why}; {oldest} makes room for a newer connection");
                entry.client.log(Info, now, room);
                self.forget(socket, entry, now, poller);
                return true;
            }
        }
        false
    }

    /// The PHP's `fnConnectacceptedSocket()`: add a freshly accepted socket
    /// to the table, with a new id and the handshake still to come.
    pub fn connect(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        admission: Admission,
        config: &Rc<Config>,
        now: Instant,
        poller: &mut Poller,
    ) {
        let id = self.uniqid();
        let full = admission != Admission::Welcome;
        let shared = Shared {
            config: Rc::clone(config),
            total: Rc::clone(&self.total),
            log_budget: self.log_budget_for(peer.ip(), now),
        };
        let mut client = Client::new(id, peer, shared, full, now);
        client.log(Info, now, format_args!("Accepted client {peer}"));
        let (socket, serial) = (socket_of(&stream), self.next_serial);
        if let Some(feed) = &self.feed {
            client.watched(Watch::new(Rc::clone(feed), socket, now));
        }
        // A new client has a request to read, and nothing to write yet.
        let interest = Interest {
            read: true,
            write: false,
        };
        if let Err(e) = poller.add(socket, interest) {
            client.log(
                Warn,
                now,
                format_args!("cannot watch its socket: {e}; closed"),
            );
            return;
        }
        self.next_serial += 1;
        self.arrivals.push_back((socket, serial));
        *self.per_ip.entry(peer.ip()).or_default() += 1;
        let entry = Entry {
            stream,
            client,
            serial,
            interest,
            filed: None,
        };
        self.table.insert(socket, entry);
        self.schedule(socket);
    }

    /// File a client in the timers at its deadline, if that is earlier than
    /// where it is filed now (a later one waits for the old entry to come
    /// up: see `timers.rs`). Called for every client changed in a turn,
    /// once, before the next wait (`Server::settle`).
    pub fn schedule(&mut self, socket: Socket) {
        let Some(entry) = self.table.get_mut(&socket) else {
            return;
        };
        let Some(at) = entry.client.deadline() else {
            return;
        };
        if entry.filed.is_some_and(|filed| filed <= at) {
            return;
        }
        entry.filed = Some(at);
        self.timers.file(at, socket);
        // Left-over entries are dropped as they come up; if they pile up
        // (many short-lived connections), start again from the live ones.
        if self.timers.len() > 2 * self.table.len() + 64 {
            let filed = self.table.iter().filter_map(|(s, e)| Some((e.filed?, *s)));
            self.timers.rebuild(filed);
        }
    }

    /// The earliest deadline of any client (perhaps a left-over one: then
    /// the loop wakes, finds nothing due, and sleeps again).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.first()
    }

    /// The clients whose deadline has come, each taken out of the timers
    /// (the loop files them again after it has acted).
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Socket> {
        let mut due = Vec::new();
        while let Some((at, socket)) = self.timers.pop_due(now) {
            let Some(entry) = self.table.get_mut(&socket) else {
                continue; // gone since it was filed
            };
            if entry.filed == Some(at) {
                entry.filed = None;
                due.push(socket);
            }
        }
        due
    }

    /// What all clients hold together, against `--max-buffered`.
    pub(crate) fn total(&self) -> &Rc<Total> {
        &self.total
    }

    /// A row, to look at.
    pub(crate) fn get(&self, socket: Socket) -> Option<&Entry> {
        self.table.get(&socket)
    }

    /// The PHP's `getClientBySocket()`: the socket and its record.
    pub fn get_mut(&mut self, socket: Socket) -> Option<&mut Entry> {
        self.table.get_mut(&socket)
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Every socket with its record, in socket order.
    pub fn iter(&self) -> impl Iterator<Item = (Socket, &Client)> {
        self.table
            .iter()
            .map(|(socket, entry)| (*socket, &entry.client))
    }

    /// Every socket with its record, to change, in socket order.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (Socket, &mut Client)> {
        let rows = self.table.iter_mut();
        rows.map(|(socket, entry)| (*socket, &mut entry.client))
    }

    /// How many clients have finished their handshake and not started to
    /// close.
    pub(crate) fn open_count(&self) -> usize {
        let open = |(_, c): &(Socket, &Client)| matches!(c.state(), State::Open { .. });
        self.iter().filter(open).count()
    }

    /// The `n`th client marked gone this turn, if there are that many.
    pub fn gone(&self, n: usize) -> Option<Socket> {
        self.gone.get(n).copied()
    }

    /// This client's connection is over: drop it at the end of the turn.
    pub(crate) fn mark_gone(&mut self, socket: Socket) {
        self.gone.push(socket);
    }

    /// Remove the clients marked gone. Dropping a `TcpStream` closes its
    /// socket: the PHP's `socket_close()`.
    pub(crate) fn close_gone(&mut self, now: Instant, poller: &mut Poller) {
        for socket in std::mem::take(&mut self.gone) {
            if let Some(entry) = self.table.remove(&socket) {
                self.forget(socket, entry, now, poller);
            }
        }
    }

    /// A client taken out of the table: the poller stops watching it, its
    /// address counts one less, and dropping its stream closes the socket.
    fn forget(&mut self, socket: Socket, mut entry: Entry, now: Instant, poller: &mut Poller) {
        poller.remove(socket);
        let ip = entry.client.peer.ip();
        if let Some(count) = self.per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                self.per_ip.remove(&ip);
            }
        }
        entry.client.log(Info, now, format_args!("disconnected"));
        if let Some(watch) = &entry.client.watch {
            watch.gone(&entry.client.id, now);
        }
        // Even the oldest entries that moved on are skipped in time; this
        // keeps `arrivals` from growing past the table when nobody waits.
        if self.arrivals.len() > 2 * self.table.len() + 64 {
            let table = &self.table;
            self.arrivals
                .retain(|(socket, serial)| table.get(socket).is_some_and(|e| e.serial == *serial));
        }
    }

    /// A connection from `peer` was closed unanswered (`Admission::Refused`):
    /// say so within its address's budget, as for every line a peer causes.
    pub(crate) fn log_refused(&mut self, peer: SocketAddr, now: Instant) {
        let budget = self.log_budget_for(peer.ip(), now);
        let already = self.table.len();
        console::log_within(&budget, peer.ip(), now, Warn, module_path!(), || {
            format!("refused {peer}: {already} connections already")
        });
    }

    /// The log budget of an address: the one its connections share, which
    /// outlives them until it has earned back its whole burst, so that
    /// reconnecting does not renew it. Then it is forgotten, saying what it
    /// held back since its last line, if anything.
    fn log_budget_for(&mut self, ip: IpAddr, now: Instant) -> Rc<RefCell<LogBudget>> {
        if self.budgets.len() > 2 * self.table.len() + 64 {
            self.budgets.retain(|address, budget| {
                if Rc::strong_count(budget) > 1 || !budget.borrow_mut().is_full(now) {
                    return true;
                }
                let held_back = budget.borrow_mut().take_held_back();
                if held_back > 0 {
                    log::info!("{}", console::held_back_line(*address, held_back));
                }
                false
            });
        }
        let budget = self
            .budgets
            .entry(ip)
            .or_insert_with(|| Rc::new(RefCell::new(LogBudget::new(now))));
        Rc::clone(budget)
    }

    /// PHP's `uniqid()`: 13 hex digits, the seconds and then the
    /// microseconds of the current time. PHP's can repeat within one
    /// microsecond; ours never repeats, because it is always at least one
    /// more than the last.
    fn uniqid(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        self.last_id = now.max(self.last_id + 1);
        format!(
            "{:08x}{:05x}",
            self.last_id / 1_000_000,
            self.last_id % 1_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_php_and_never_repeat() {
        let mut clients = Clients::new(1 << 20);
        let ids: Vec<String> = (0..1000).map(|_| clients.uniqid()).collect();
        assert!(ids
            .iter()
            .all(|id| id.len() == 13 && id.chars().all(|c| c.is_ascii_hexdigit())));
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    /// A table with one client, accepted at `t0` over a loopback pair
    /// (the peer's end is returned, to keep the connection open).
    fn one_client(t0: Instant) -> (Clients, Poller, Socket, TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, addr) = listener.accept().unwrap();
        let socket = socket_of(&stream);
        let mut clients = Clients::new(1 << 20);
        let mut poller = Poller::new(crate::config::PollerKind::Poll).unwrap();
        let config = Rc::new(Config::default());
        let admission = Admission::Welcome;
        clients.connect(stream, addr, admission, &config, t0, &mut poller);
        (clients, poller, socket, peer)
    }

    /// The tutorial's handshake, for a client of the default config.
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:1222\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn deadlines_come_due_in_time_and_late_ones_are_filed_again() {
        let t0 = Instant::now();
        let at = |s| t0 + std::time::Duration::from_secs(s);
        let (mut clients, _poller, socket, _peer) = one_client(t0);
        // Filed at its handshake deadline, 10 s.
        assert_eq!(clients.next_deadline(), Some(at(10)));
        assert_eq!(clients.take_due(at(9)), []);
        // The handshake is done at 5 s: the deadline moves later (the idle
        // ping, at 65 s), and the entry at 10 s is left where it was.
        let client = &mut clients.get_mut(socket).unwrap().client;
        client.connection.receive_data(REQUEST, at(5));
        client.next_event(at(5)); // the request is answered: a WebSocket
        assert_eq!(client.deadline(), Some(at(65)));
        clients.schedule(socket);
        assert_eq!(clients.next_deadline(), Some(at(10)));
        // At 10 s it comes up (nothing is due: the loop's on_timeout does
        // nothing), and filing it again puts it at 65 s.
        assert_eq!(clients.take_due(at(10)), [socket]);
        clients.schedule(socket);
        assert_eq!(clients.next_deadline(), Some(at(65)));
        assert_eq!(clients.take_due(at(64)), []);
        assert_eq!(clients.take_due(at(65)), [socket]);
        // Taken out, it is not due twice.
        assert_eq!(clients.take_due(at(99)), []);
    }

    #[test]
    fn a_deadline_that_moves_earlier_is_filed_at_once_and_the_old_entry_is_skipped() {
        let t0 = Instant::now();
        let at = |s| t0 + std::time::Duration::from_secs(s);
        let (mut clients, _poller, socket, _peer) = one_client(t0);
        let client = &mut clients.get_mut(socket).unwrap().client;
        client.connection.receive_data(REQUEST, t0);
        client.next_event(t0); // the request is answered: a WebSocket
        clients.take_due(at(10));
        clients.schedule(socket);
        assert_eq!(clients.next_deadline(), Some(at(60)));
        // We start to close at 6 s: the peer has 5 s to answer.
        let client = &mut clients.get_mut(socket).unwrap().client;
        client.close(1000, "bye", at(6));
        clients.schedule(socket);
        assert_eq!(clients.take_due(at(11)), [socket]);
        // The entry at 60 s is left over: it comes up, and is skipped.
        assert_eq!(clients.take_due(at(99)), []);
    }

    #[test]
    fn a_gone_clients_entry_is_skipped() {
        let t0 = Instant::now();
        let (mut clients, mut poller, socket, _peer) = one_client(t0);
        clients.mark_gone(socket);
        clients.close_gone(t0, &mut poller);
        assert!(clients.is_empty());
        let later = t0 + std::time::Duration::from_secs(99);
        assert_eq!(clients.take_due(later), []);
    }

    #[test]
    fn admission_past_max_clients_then_past_the_overflow() {
        let limits = Limits {
            max_clients: 2,
            ..Limits::default()
        };
        let admission = |count| Admission::for_count(count, &limits);
        assert_eq!([admission(0), admission(1)], [Admission::Welcome; 2]);
        assert_eq!(admission(2), Admission::Full);
        assert_eq!(admission(2 + OVERFLOW - 1), Admission::Full);
        assert_eq!(admission(2 + OVERFLOW), Admission::Refused);
        let unlimited = Limits {
            max_clients: usize::MAX,
            ..Limits::default()
        };
        assert_eq!(
            Admission::for_count(1 << 40, &unlimited),
            Admission::Welcome
        );
    }

    /// The log budgets of addresses that are gone are forgotten once they
    /// have earned back their burst, those that held lines back too (saying
    /// how many): the table of budgets does not grow with every address ever
    /// seen. Here 100 addresses each write a line of 40 KB and have the
    /// next held back; 30 s later (time to pay for the line and earn back
    /// the burst), one more address comes.
    #[test]
    fn budgets_of_addresses_gone_are_forgotten() {
        let t0 = Instant::now();
        let mut clients = Clients::new(1 << 20);
        let big = "x".repeat(40_000);
        for n in 0..100 {
            let budget = clients.log_budget_for([127, 1, 0, n].into(), t0);
            let mut budget = budget.borrow_mut();
            assert_eq!(budget.take(t0), Some(0));
            budget.spend(&big);
            assert_eq!(budget.take(t0), None);
        }
        assert_eq!(clients.budgets.len(), 100);
        let later = t0 + std::time::Duration::from_secs(30);
        clients.log_budget_for([127, 2, 0, 0].into(), later);
        assert_eq!(clients.budgets.len(), 1);
    }
}
