//! The server: the PHP's `socket_create/bind/listen` and its `while(true)`.
//!
//! One thread, one loop, and every socket call of the program. Every socket
//! is non-blocking, so no call can stall the loop on one client;
//! `Poller::wait` (the PHP's `socket_select`: `epoll` or `poll`) sleeps
//! until some socket is ready or some deadline is due. The client records
//! (`server/client.rs`) never touch a socket: the loop hands them the bytes
//! it read, hands the events they give back to the app (`server/app.rs`),
//! and writes the bytes they want written.

pub mod app;
mod broadcast;
pub mod client;
pub mod console;
pub(crate) mod inspect;
pub(crate) mod json;
#[allow(unsafe_code)]
pub mod poll;
pub(crate) mod table;
pub(crate) mod timers;
pub(crate) mod trace;
pub mod www;

use crate::config::Config;
use crate::protocol::buffers::PIECES_PER_WRITE;
use crate::protocol::close;
use crate::protocol::connection::{Event, Step};
use app::{App, Delivery};
use inspect::Inspectors;
use log::{info, warn};
use poll::{socket_of, Interest, Poller, Ready, Socket};
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::{Duration, Instant};
use table::{Admission, Clients, Entry};

/// How much one `read()` takes (the PHP read 2048 bytes at a time). Room
/// for a 64 KiB message and its header in one read: at 64 KiB, each such
/// message took two reads (about 5% more per 64 KiB echo).
const READ_SIZE: usize = 256 * 1024;
/// Reads from one client per turn, so that one busy client cannot starve
/// the others.
const READS_PER_TURN: usize = 16;
/// Connections accepted per turn, for the same reason.
const ACCEPTS_PER_TURN: usize = 64;
/// After `accept()` fails (out of file descriptors, say) the connection
/// stays queued and the listener stays readable; trying again at once would
/// spin. Wait this long first.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// The longest the loop sleeps. A stop signal interrupts the sleep, but one
/// that arrives just before it starts would otherwise wait for the next
/// event; waking once a second costs nothing measurable.
const LONGEST_SLEEP: Duration = Duration::from_secs(1);
/// The room writes to its members after this many bytes for all, even in
/// the middle of a burst, so that what it holds per member before writing
/// stays small. (Writing once per member per burst instead of once per
/// message took a burst of 100 messages to 1,000 members from 262,000 to
/// 2.3 million deliveries a second.)
const ROOM_BURST: usize = 64 * 1024;
/// How long a stopping server waits for its clients' goodbyes, at most.
const STOP_GRACE: Duration = Duration::from_secs(2);

pub struct Server {
    /// The flags; every client record holds a reference to them too.
    config: Rc<Config>,
    /// The listening socket: the PHP's `$master`.
    master: TcpListener,
    /// The PHP's `$clients` and `$client_list`.
    clients: Clients,
    /// What the server says: the tutorial's replies, the echo, or the
    /// chat room (`src/app/`).
    app: Box<dyn App>,
    /// Bytes queued for every member of the room and not yet written
    /// (see `deliver`).
    queued_for_room: usize,
    /// The one buffer every read goes into: the PHP's `$data`.
    buffer: Vec<u8>,
    /// What the loop waits on: the PHP's `$sockets` array, kept up to date
    /// rather than rebuilt every turn.
    poller: Poller,
    /// What the last wait found ready (kept, to reuse its memory).
    ready: Vec<Ready>,
    /// The listener's own socket, to tell it from the clients' in `ready`.
    listener: Socket,
    /// The clients changed since the last wait, to settle before the next.
    changed: Vec<Socket>,
    /// With `--inspect` and someone looking, the clients settled this
    /// turn, for the inspectors to be told (`inspect/stream.rs`).
    settled: Vec<Socket>,
    /// Talkers not read from until the room's readers catch up.
    held_back: Vec<Socket>,
    /// Whether the poller watches the listener now (not while accepting is
    /// paused, or once we are stopping).
    listening: bool,
    accept_paused_until: Option<Instant>,
    /// When a stop signal arrived, if one did.
    stopping_since: Option<Instant>,
    /// With `--inspect`, who looks inside (`inspect.rs`); without, `None`.
    inspectors: Option<Inspectors>,
}

impl Server {
    /// The PHP's `socket_create`, `SO_REUSEADDR`, `socket_bind` and
    /// `socket_listen`: std's `TcpListener::bind` does all four (on Unix it
    /// sets `SO_REUSEADDR` and listens with a backlog of 128).
    pub fn bind(mut config: Config, app: Box<dyn App>) -> io::Result<Server> {
        // Every client takes a file descriptor: let the process have all it
        // may, and say so if that is fewer than --max-clients needs.
        if let Some(descriptors) = poll::raise_descriptor_limit() {
            let wanted = config.limits.max_clients as u64 + table::OVERFLOW as u64 + 16;
            if descriptors < wanted {
                warn!(
                    "this process may have {descriptors} file descriptors, fewer than the {wanted} \
                     that --max-clients {} may need; when they run out, connections still in \
                     their handshake make room",
                    config.limits.max_clients
                );
            }
        }
        let master = TcpListener::bind((config.address.as_str(), config.port))?;
        master.set_nonblocking(true)?;
        let mut poller = Poller::new(config.poller)?;
        let watch = Interest {
            read: true,
            write: false,
        };
        let listener = socket_of(&master);
        poller.add(listener, watch)?;
        // With `--port 0` the system chose: the Host rule needs the real one.
        config.port = master.local_addr()?.port();
        let mut clients = Clients::new(config.limits.max_buffered);
        let inspectors = config.inspect.then(|| Inspectors::new(Instant::now()));
        if let Some(inspectors) = &inspectors {
            clients.inspect_with(Rc::clone(&inspectors.feed));
        }
        Ok(Server {
            clients,
            app,
            queued_for_room: 0,
            config: Rc::new(config),
            master,
            buffer: vec![0; READ_SIZE],
            poller,
            ready: Vec::new(),
            listener,
            changed: Vec::new(),
            settled: Vec::new(),
            held_back: Vec::new(),
            listening: true,
            accept_paused_until: None,
            stopping_since: None,
            inspectors,
        })
    }

    /// Where we listen (with `--port 0`, the port the system chose).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.master.local_addr()
    }

    /// The PHP's `while(true)`. Each turn:
    ///
    /// 1. on a stop signal, say goodbye to every client; on SIGHUP, open the
    ///    log file again;
    /// 2. settle the clients the last turn changed: do what each
    ///    connection says follows its writes (go on, close our half, or drop
    ///    it; its memory counted again), tell the poller what we now want
    ///    from each socket, and file each one's next deadline; then, with
    ///    `--inspect` and someone looking, tell the inspectors what the turn
    ///    changed and did (`inspect/stream.rs`), and settle the inspectors
    ///    that told wrote to;
    /// 3. once stopping and every client is gone (or the grace period is
    ///    over), return;
    /// 4. wait for readiness or the next deadline (`socket_select`);
    /// 5. accept new clients (the PHP's `$master` branch);
    /// 6. read from clients that sent something and route their messages,
    ///    and write to those whose socket has room (the PHP's other branch);
    /// 7. act on the deadlines that have passed;
    /// 8. drop the clients whose connection is over (those found over while
    ///    settling go in step 2).
    pub fn run(&mut self) -> io::Result<()> {
        let waiting = self.poller.kind().name();
        let inspector = match self.inspectors {
            Some(_) => format!(
                "; the inspector is on, at http://{}/inspect",
                self.local_addr()?
            ),
            None => String::new(),
        };
        info!(
            "Server started on {} (waiting with {waiting}){inspector}",
            self.local_addr()?
        );
        loop {
            if poll::stop_requested() {
                self.begin_stop();
            }
            if poll::hangup_requested() {
                console::reopen(); // this very line goes to the new file
                info!("SIGHUP: the log file is opened again");
            }
            self.settle_changed();
            if self.inspectors.is_some() {
                self.inspect_turn(Instant::now());
                self.settle_changed();
            }
            if self.stopped() {
                break;
            }
            self.wait()?;
            let now = Instant::now();
            // A pause after a failed accept() ends when its time is up (the
            // listener is watched again from the next turn); a deadline left
            // in the past would make every wait return at once.
            self.accept_paused_until = self.accept_paused_until.filter(|until| now < *until);
            let ready = std::mem::take(&mut self.ready);
            for fd in &ready {
                if fd.socket == self.listener {
                    self.accept_clients(now);
                    continue;
                }
                if fd.readable {
                    self.read_from(fd.socket, now);
                }
                if fd.writable {
                    self.write_to(fd.socket, now);
                }
            }
            self.ready = ready;
            self.check_timeouts(now);
            self.drop_gone(now);
        }
        info!("Server stopped");
        log::logger().flush();
        Ok(())
    }

    /// Sleep until a socket is ready or the next deadline; the ready ones
    /// land in `self.ready`.
    fn wait(&mut self) -> io::Result<()> {
        self.watch_listener();
        let now = Instant::now();
        let timeout = self
            .next_deadline()
            .map_or(LONGEST_SLEEP, |deadline| {
                deadline.saturating_duration_since(now)
            })
            .min(LONGEST_SLEEP);
        self.poller.wait(&mut self.ready, Some(timeout))
    }

    /// Watch the listener while we accept, and not while accepting is
    /// paused or we are stopping (else a waiting connection would wake
    /// every wait at once).
    fn watch_listener(&mut self) {
        let accepting = self.accepting();
        if accepting != self.listening {
            let interest = Interest {
                read: accepting,
                write: false,
            };
            if self.poller.change(self.listener, interest).is_ok() {
                self.listening = accepting;
            }
        }
    }

    fn accepting(&self) -> bool {
        let paused = self
            .accept_paused_until
            .is_some_and(|until| Instant::now() < until);
        self.stopping_since.is_none() && !paused
    }

    /// The earliest moment something must happen even if no socket stirs.
    fn next_deadline(&self) -> Option<Instant> {
        let clients = self.clients.next_deadline();
        let inspect = self.inspectors.as_ref().and_then(Inspectors::deadline);
        let paused = self.accept_paused_until;
        clients.into_iter().chain(paused).chain(inspect).min()
    }

    /// The PHP's `$master` branch: `socket_accept()` every waiting
    /// connection, and add it to the table if there is room.
    fn accept_clients(&mut self, now: Instant) {
        for attempt in 0..ACCEPTS_PER_TURN {
            let (stream, peer) = match self.master.accept() {
                Ok(accepted) => accepted,
                Err(e) if would_block(&e) => return,
                Err(e) if is_transient(&e) => continue,
                // No descriptor left. (Linux claims one before it looks at
                // the queue, so this says nothing of who waits, except on
                // the turn's first try: `poll` just said someone does.)
                Err(e) if poll::out_of_descriptors(&e) && attempt > 0 => return,
                // Descriptors can run out before the table is full: a
                // connection still in its handshake gives up its one (and
                // its line says why, within its address's log budget).
                Err(e)
                    if poll::out_of_descriptors(&e)
                        && self.clients.make_room(
                            &format!("socket_accept() failed: {e}"),
                            now,
                            &mut self.poller,
                        ) =>
                {
                    continue
                }
                Err(e) => {
                    warn!("socket_accept() failed: {e}; not accepting for {ACCEPT_PAUSE:?}");
                    self.accept_paused_until = Some(now + ACCEPT_PAUSE);
                    return;
                }
            };
            let limits = &self.config.limits;
            let admission = self
                .clients
                .admission(limits, peer.ip(), now, &mut self.poller);
            if admission == Admission::Refused {
                self.clients.log_refused(peer, now);
                continue; // dropping the stream closes it
            }
            if let Err(e) = stream.set_nonblocking(true) {
                warn!("cannot make the socket of {peer} non-blocking: {e}");
                continue;
            }
            // Each frame we write is a whole answer: send it at once instead
            // of letting Nagle's algorithm hold it back waiting for more.
            let _ = stream.set_nodelay(true);
            let poller = &mut self.poller;
            self.clients
                .connect(stream, peer, admission, &self.config, now, poller);
        }
    }

    /// The PHP's `socket_recv($client, $data, 2048, MSG_DONTWAIT)`: read
    /// what the client sent, hand it to its record and route the messages
    /// that come out; then write the answers straight away (usually the
    /// socket takes them all at once).
    fn read_from(&mut self, socket: Socket, now: Instant) {
        for _ in 0..READS_PER_TURN {
            let Some(entry) = self.clients.get_mut(socket) else {
                return;
            };
            // Held back: it talks faster than the room's readers read.
            if entry.client.held_back {
                break;
            }
            let connection = &mut entry.client.connection;
            if !connection.wants_read() {
                break;
            }
            let n = match entry.stream.read(&mut self.buffer) {
                Ok(0) => {
                    connection.receive_eof(now);
                    break;
                }
                Ok(n) => n,
                Err(e) if would_block(&e) => break,
                Err(e) if interrupted(&e) => continue,
                Err(e) => {
                    entry.client.drop_now(format!("read failed: {e}"));
                    break;
                }
            };
            // The PHP's `socket_recv`, then its two branches: the bytes go
            // to the connection, and what they make happen is routed.
            connection.receive_data(&self.buffer[..n], now);
            if let Some(watch) = &mut entry.client.watch {
                watch.bytes_in += n as u64;
            }
            self.route_events(socket, now);
            // Less than a buffer: the socket is empty for now, and the
            // poller will say when more comes. Not reading again only to
            // hear "would block" saves a system call per message (3.1 ->
            // 2.1 per echo, 10 clients x 16 B).
            if n < self.buffer.len() {
                break;
            }
        }
        self.write_to(socket, now);
    }

    /// Take everything the app must hear out of a client (it joined, its
    /// messages, it left), and send what the app answers.
    fn route_events(&mut self, socket: Socket, now: Instant) {
        while let Some(Entry { client, .. }) = self.clients.get_mut(socket) {
            let Some(event) = client.next_event(now) else {
                break;
            };
            // An inspector (`--inspect`) is the loop's, not the app's.
            if client.watch.is_some() && client.is_inspector() {
                match event {
                    Event::Joined => self.inspector_joined(socket),
                    Event::Left => self.inspector_left(socket),
                    _ => {} // what it sends is not read
                }
                continue;
            }
            let deliveries = match event {
                Event::Joined => self.app.joined(socket, &client.id),
                Event::Message(message) => self.app.message(socket, message, now),
                Event::Left => self.app.left(socket),
                _ => continue, // the record dealt with it
            };
            for delivery in deliveries {
                self.deliver(socket, delivery, now);
            }
        }
        if self.queued_for_room > 0 {
            self.write_to_room(now);
        }
    }

    /// Send what the app wants sent: the PHP's `socket_write($client,
    /// encode("You have entered: ".$decoded_data))` (line 63), without the
    /// write. A text for all is encoded once, and the same frame is queued
    /// for every member; they are written to once the whole burst from one
    /// client is routed (`write_to_room`), so that ten messages read at
    /// once cost each member one write, not ten.
    fn deliver(&mut self, from: Socket, delivery: Delivery, now: Instant) {
        match delivery {
            Delivery::To(socket, message) => {
                if let Some(Entry { client, .. }) = self.clients.get_mut(socket) {
                    client.send(message, now);
                }
            }
            Delivery::All(text) => self.deliver_to_all(from, &text, now),
            Delivery::Close(socket) => {
                if let Some(Entry { client, .. }) = self.clients.get_mut(socket) {
                    client.close(close::NORMAL, "bye", now);
                }
            }
            Delivery::Log(socket, line) => {
                if let Some(Entry { client, .. }) = self.clients.get_mut(socket) {
                    client.log(log::Level::Info, now, format_args!("{line}"));
                }
            }
        }
    }

    /// Write what the room queued to each member, as far as each socket
    /// takes it: a member that does not read holds up nobody (its output
    /// waits in its outbox, up to `--max-pending-output`).
    fn write_to_room(&mut self, now: Instant) {
        self.queued_for_room = 0;
        for socket in self.app.members() {
            self.write_to(socket, now);
        }
    }

    /// Write what is waiting for a client, as much as its socket takes now
    /// (the PHP's `socket_write()` assumed every write takes everything),
    /// then log the messages it answered (the PHP's `console()` after its
    /// `socket_write`, lines 63 and 64); `settle` does what the client says
    /// comes next, before the wait. Called after every change to a client,
    /// so that none is left behind.
    fn write_to(&mut self, socket: Socket, now: Instant) {
        let Some(entry) = self.clients.get_mut(socket) else {
            return;
        };
        let (stream, client) = (&mut entry.stream, &mut entry.client);
        while client.connection.wants_write() {
            // One piece: a plain write(2). Several (a frame header and the
            // big payload moved in behind it): up to four in one writev(2).
            let mut pieces = [&[][..]; PIECES_PER_WRITE];
            let count = client.connection.data_to_send(&mut pieces);
            let written = if count == 1 {
                stream.write(pieces[0])
            } else {
                let slices = pieces.map(IoSlice::new);
                stream.write_vectored(&slices[..count])
            };
            match written {
                Ok(0) => {
                    client.drop_now("write failed: wrote nothing".into());
                    break;
                }
                Ok(n) => client.data_sent(n, now),
                Err(e) if would_block(&e) => {
                    client.connection.send_blocked();
                    break;
                }
                Err(e) if interrupted(&e) => continue,
                // A closed or reset peer: EPIPE or ECONNRESET.
                Err(e) => {
                    client.drop_now(format!("write failed: {e}"));
                    break;
                }
            }
        }
        // The PHP's `console("Data from client:" ...)` (line 64): what was
        // heard is logged once its answer is written (line 63).
        if !client.heard.is_empty() {
            client.log_heard(now);
        }
        // What follows from the write (the memory it gave back, whether the
        // connection is over) is settled once a turn, before the wait
        // (`settle`): not here, on the path of every message.
        self.changed.push(socket);
    }

    /// Settle every client changed since the last wait (each at most once).
    /// One whose connection is over, or that cannot be watched any more, is
    /// dropped at once; that may change others (the room hears it left),
    /// and they are settled too.
    fn settle_changed(&mut self) {
        let now = Instant::now();
        // Talkers held back for the room's readers (`broadcast.rs`).
        if !self.held_back.is_empty() {
            self.let_talkers_go(now);
        }
        loop {
            let mut changed = std::mem::take(&mut self.changed);
            changed.sort_unstable();
            changed.dedup();
            let watching = self.inspectors.as_ref().is_some_and(|i| i.feed.watching());
            for socket in changed.drain(..) {
                self.settle(socket, now);
                if watching {
                    self.settled.push(socket);
                }
            }
            self.changed = changed; // its memory serves the next turn
            if self.clients.gone(0).is_none() {
                return;
            }
            self.drop_gone(now);
        }
    }

    /// After a change to a client: do what its connection says comes next
    /// now that its socket took what it could (`Client::after_write`: go
    /// on, close our half, or drop it; its memory counted again), tell the
    /// poller if what we want from its socket changed (to write: output is
    /// waiting), and file its deadline. Every path that touches a client
    /// once it is in the table ends in `write_to`, which lists it for this,
    /// or lists it itself (the room's talkers held back and let go,
    /// `broadcast.rs`; `Clients::connect` files a new one itself).
    fn settle(&mut self, socket: Socket, now: Instant) {
        let Some(entry) = self.clients.get_mut(socket) else {
            return;
        };
        match entry.client.after_write(now) {
            Step::KeepGoing => {}
            // Our last bytes are out: close our half of the TCP connection
            // (our FIN) and wait for the peer to close its half.
            Step::ShutdownWrite => {
                let _ = entry.stream.shutdown(Shutdown::Write);
            }
            Step::Drop => return self.clients.mark_gone(socket),
        }
        let wants = Interest {
            read: !entry.client.held_back && entry.client.connection.wants_read(),
            write: entry.client.connection.wants_write(),
        };
        if wants != entry.interest {
            match self.poller.change(socket, wants) {
                Ok(()) => entry.interest = wants,
                Err(e) => {
                    let why = format!("cannot watch its socket: {e}");
                    entry.client.drop_now(why);
                    return self.clients.mark_gone(socket);
                }
            }
        }
        self.clients.schedule(socket);
    }

    /// Act on every deadline that has passed.
    fn check_timeouts(&mut self, now: Instant) {
        for socket in self.clients.take_due(now) {
            if let Some(Entry { client, .. }) = self.clients.get_mut(socket) {
                client.on_timeout(now);
            }
            self.route_events(socket, now);
            self.write_to(socket, now);
        }
    }

    /// The end of a turn: the clients whose connection is over leave the
    /// room (which may tell the others, and find more that are over), and
    /// then they are dropped.
    fn drop_gone(&mut self, now: Instant) {
        let mut next = 0;
        while let Some(socket) = self.clients.gone(next) {
            // Its memory is given back before the others hear it left.
            if let Some(Entry { client, .. }) = self.clients.get_mut(socket) {
                client.release(now);
            }
            self.route_events(socket, now);
            next += 1;
        }
        self.clients.close_gone(now, &mut self.poller);
    }

    /// Ctrl-C or SIGTERM: stop accepting, and close every WebSocket client
    /// with 1001 Going Away (RFC 6455 §7.4.1). Clients still in their
    /// handshake are simply dropped.
    fn begin_stop(&mut self) {
        if self.stopping_since.is_some() {
            return;
        }
        let now = Instant::now();
        let open = self.clients.open_count();
        info!("Stopping: closing {open} WebSocket clients with 1001");
        self.stopping_since = Some(now);
        let sockets: Vec<Socket> = self.clients.iter().map(|(socket, _)| socket).collect();
        for socket in sockets {
            if let Some(Entry { client, .. }) = self.clients.get_mut(socket) {
                client.on_stop(now);
            }
            self.route_events(socket, now);
            self.write_to(socket, now);
        }
        // Those still in their handshake are gone: settled and dropped
        // before the next wait (`settle_changed`).
    }

    /// Stopping, and every client is gone (or we have waited long enough).
    fn stopped(&self) -> bool {
        let grace = self.config.limits.close_timeout.min(STOP_GRACE);
        self.stopping_since
            .is_some_and(|since| self.clients.is_empty() || since.elapsed() >= grace)
    }
}

/// The socket has nothing more for now (a read) or no room (a write).
fn would_block(e: &io::Error) -> bool {
    e.kind() == ErrorKind::WouldBlock
}

/// A signal interrupted the call: just make it again.
fn interrupted(e: &io::Error) -> bool {
    e.kind() == ErrorKind::Interrupted
}

/// accept() errors that concern only the one connection, not the listener.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Interrupted | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}
