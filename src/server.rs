//! The server: the PHP's `socket_create/bind/listen` and its `while(true)`.
//!
//! One thread, one loop. Every socket is non-blocking, so no call can stall
//! the loop on one client; `poll::wait` (the PHP's `socket_select`) sleeps
//! until some socket is ready or some timeout is due. Each turn of the loop:
//!
//! 1. wait for readiness;
//! 2. accept new clients (the PHP's `$master` branch);
//! 3. read from clients that sent something, and let each client turn the
//!    bytes into answers (the PHP's other branch);
//! 4. write what is waiting, as far as each socket takes it;
//! 5. act on timeouts, and drop the clients whose connection is over.
//!
//! This module does all the socket calls; `client.rs` and below only see
//! bytes.

use crate::client::Context;
use crate::clients::Clients;
use crate::config::Config;
use crate::poll::{self, socket_of, PollFd, Socket};
use log::{info, warn};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How much one `read()` takes (the PHP read 2048 bytes at a time).
const READ_SIZE: usize = 64 * 1024;
/// Reads from one client per turn, so that one busy client cannot starve
/// the others.
const READS_PER_TURN: usize = 16;
/// Connections accepted per turn, for the same reason.
const ACCEPTS_PER_TURN: usize = 64;
/// After `accept()` fails (out of file descriptors, say) the connection
/// stays queued and the listener stays readable; trying again at once would
/// spin. Wait this long first.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Connections past `--max-clients` that are still read, to tell them 503.
/// Past this many more, they are closed unanswered.
const OVERFLOW: usize = 64;
/// The longest the loop sleeps. A stop signal interrupts the sleep, but one
/// that arrives just before it starts would otherwise wait for the next
/// event; waking once a second costs nothing measurable.
const LONGEST_SLEEP: Duration = Duration::from_secs(1);

pub struct Server {
    config: Config,
    /// The listening socket: the PHP's `$master`.
    master: TcpListener,
    clients: Clients,
    started: Instant,
    /// The one buffer every read goes into: the PHP's `$data`.
    buffer: Vec<u8>,
    accept_paused_until: Option<Instant>,
    /// When a stop signal arrived, if one did.
    stopping_since: Option<Instant>,
}

impl Server {
    /// The PHP's `socket_create`, `SO_REUSEADDR`, `socket_bind` and
    /// `socket_listen`: std's `TcpListener::bind` does all four (on Unix it
    /// sets `SO_REUSEADDR` and listens with a backlog of 128).
    pub fn bind(config: Config) -> io::Result<Server> {
        let master = TcpListener::bind((config.address.as_str(), config.port))?;
        master.set_nonblocking(true)?;
        Ok(Server {
            config,
            master,
            clients: Clients::default(),
            started: Instant::now(),
            buffer: vec![0; READ_SIZE],
            accept_paused_until: None,
            stopping_since: None,
        })
    }

    /// Where we listen (with `--port 0`, the port the system chose).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.master.local_addr()
    }

    /// The PHP's `while(true)`. Returns after a stop signal, once every
    /// client has been said goodbye to.
    pub fn run(&mut self) -> io::Result<()> {
        info!("Server started on {}", self.local_addr()?);
        loop {
            if poll::stop_requested() {
                self.begin_stop();
            }
            if self.stopped() {
                break;
            }
            let ready = self.wait()?; // socket_select()
            let now = Instant::now();
            // A pause after a failed accept() ends when its time is up (the
            // listener is watched again from the next turn); a deadline left
            // in the past would make every wait return at once.
            self.accept_paused_until = self.accept_paused_until.filter(|until| now < *until);
            for fd in ready {
                if fd.socket() == socket_of(&self.master) {
                    self.accept_clients(now);
                    continue;
                }
                if fd.readable() {
                    self.read_from(fd.socket(), now);
                }
                if fd.writable() {
                    self.write_to(fd.socket(), now);
                }
            }
            self.check_timeouts(now);
            self.clients.drop_gone();
        }
        info!("Server stopped");
        log::logger().flush();
        Ok(())
    }

    /// Sleep until a socket is ready or the next deadline; return the ready ones.
    fn wait(&self) -> io::Result<Vec<PollFd>> {
        let mut fds = Vec::with_capacity(1 + self.clients.len());
        if self.accepting() {
            fds.push(PollFd::new(socket_of(&self.master), true, false));
        }
        for client in self.clients.iter() {
            let socket = socket_of(&client.socket);
            fds.push(PollFd::new(
                socket,
                client.wants_read(),
                client.wants_write(),
            ));
        }
        let now = Instant::now();
        let timeout = self
            .next_deadline()
            .map_or(LONGEST_SLEEP, |deadline| {
                deadline.saturating_duration_since(now)
            })
            .min(LONGEST_SLEEP);
        poll::wait(&mut fds, Some(timeout))?;
        fds.retain(|fd| fd.readable() || fd.writable());
        Ok(fds)
    }

    fn accepting(&self) -> bool {
        let paused = self
            .accept_paused_until
            .is_some_and(|until| Instant::now() < until);
        self.stopping_since.is_none() && !paused
    }

    /// The earliest moment something must happen even if no socket stirs.
    fn next_deadline(&self) -> Option<Instant> {
        let limits = &self.config.limits;
        let clients = self.clients.iter().filter_map(|c| c.deadline(limits));
        clients.chain(self.accept_paused_until).min()
    }

    /// The PHP's `$master` branch: `socket_accept()` every waiting connection.
    fn accept_clients(&mut self, now: Instant) {
        for _ in 0..ACCEPTS_PER_TURN {
            match self.master.accept() {
                Ok((socket, peer)) => self.connect(socket, peer, now),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if is_transient(&e) => continue,
                Err(e) => {
                    warn!("socket_accept() failed: {e}; not accepting for {ACCEPT_PAUSE:?}");
                    self.accept_paused_until = Some(now + ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }

    /// Set up an accepted socket and add it to the table.
    fn connect(&mut self, socket: TcpStream, peer: SocketAddr, now: Instant) {
        let limits = &self.config.limits;
        if self.clients.len() >= limits.max_clients.saturating_add(OVERFLOW) {
            warn!("refused {peer}: {} connections already", self.clients.len());
            return; // dropping the socket closes it
        }
        if let Err(e) = socket.set_nonblocking(true) {
            warn!("cannot make the socket of {peer} non-blocking: {e}");
            return;
        }
        // Each frame we write is a whole answer: send it at once instead of
        // letting Nagle's algorithm hold it back waiting for more.
        let _ = socket.set_nodelay(true);
        self.clients.connect(socket, peer, limits, now);
    }

    /// The PHP's `socket_recv($client, $data, 2048, MSG_DONTWAIT)` branch:
    /// read what the client sent and let it answer; then write the answer
    /// straight away (usually the socket takes it all at once).
    fn read_from(&mut self, socket: Socket, now: Instant) {
        let cx = Context {
            config: &self.config,
            started: self.started,
            now,
        };
        let Some(client) = self.clients.get_mut(socket) else {
            return;
        };
        for _ in 0..READS_PER_TURN {
            if !client.wants_read() {
                break;
            }
            match client.socket.read(&mut self.buffer) {
                Ok(0) => {
                    client.on_peer_closed(now, &self.config.limits);
                    break;
                }
                Ok(n) => client.receive(&self.buffer[..n], &cx),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    client.drop_now(format_args!("read failed: {e}"));
                    return;
                }
            }
        }
        self.write_to(socket, now);
    }

    /// Write what is waiting for a client, as much as its socket takes now.
    /// The PHP's `socket_write()` assumed every write takes everything.
    fn write_to(&mut self, socket: Socket, now: Instant) {
        let limits = &self.config.limits;
        let Some(client) = self.clients.get_mut(socket) else {
            return;
        };
        while client.wants_write() {
            match client.socket.write(client.outbox.pending()) {
                Ok(n) if n > 0 => client.sent(n, now),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // A closed or reset peer: EPIPE, ECONNRESET, or a write of 0.
                result => {
                    let why = result
                        .err()
                        .map_or("wrote nothing".into(), |e| e.to_string());
                    client.drop_now(format_args!("write failed: {why}"));
                    return;
                }
            }
        }
        let pending = client.outbox.pending().len();
        if pending > limits.max_pending_output {
            let limit = limits.max_pending_output;
            client.drop_now(format_args!(
                "{pending} bytes waiting unread (limit {limit})"
            ));
            return;
        }
        // Our last bytes are out: close our half of the TCP connection (our
        // FIN) and wait for the peer to close its half.
        if pending == 0 && client.on_flushed(now, limits) {
            let _ = client.socket.shutdown(Shutdown::Write);
        }
    }

    fn check_timeouts(&mut self, now: Instant) {
        for client in self.clients.iter_mut() {
            client.on_timeout(now, &self.config.limits);
        }
    }

    /// Ctrl-C or SIGTERM: stop accepting, and close every WebSocket client
    /// with 1001 Going Away (RFC 6455 §7.4.1). Clients still in their
    /// handshake are simply dropped.
    fn begin_stop(&mut self) {
        if self.stopping_since.is_some() {
            return;
        }
        let now = Instant::now();
        let open = self.clients.iter().filter(|c| c.handshake).count();
        info!("Stopping: closing {open} WebSocket clients with 1001");
        self.stopping_since = Some(now);
        for client in self.clients.iter_mut() {
            client.on_stop(now);
        }
        // Those still in their handshake go now, not after the next wait.
        self.clients.drop_gone();
    }

    /// Stopping, and every client is gone (or we have waited long enough).
    fn stopped(&self) -> bool {
        let grace = self.config.limits.close_timeout.min(Duration::from_secs(2));
        self.stopping_since
            .is_some_and(|since| self.clients.is_empty() || since.elapsed() >= grace)
    }
}

/// accept() errors that concern only the one connection, not the listener.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Interrupted | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}
