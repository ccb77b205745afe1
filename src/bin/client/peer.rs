//! The TCP connection to the server, for both halves of the client: the
//! conversation of `main.rs` and the checker of `check/`. It connects,
//! writes, reads, and holds what was read and not yet used. It prints
//! nothing: each half says in its own way what happened.
//!
//! Every wait has a deadline, however many reads it takes. A connection
//! can be given a cap on all it reads, so that a server that never stops
//! sending costs at most that; nothing here is ever sized from a length
//! the server declared (RFC 6455 §10.4), only from bytes that came.

use std::io::ErrorKind::{Interrupted, NotFound, TimedOut, WouldBlock};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The largest response head read: a server's 101 or refusal is a few
/// hundred bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// The TCP connection to the server, and what was read from it but not
/// yet used.
pub struct Peer {
    pub stream: TcpStream,
    pub inbox: Vec<u8>,
    pub timeout: Duration,
    /// What we wait for now, and until when: each step has its own
    /// deadline, however many reads it takes.
    pub waiting_for: &'static str,
    pub deadline: Instant,
    /// How many more bytes this connection may read in all.
    room: usize,
}

/// Why a read brought no bytes, other than the end of the stream.
#[derive(Debug)]
pub enum Stop {
    /// The deadline passed.
    Silent,
    /// The cap on what this connection reads is reached, or a response
    /// head is longer than [`MAX_HEAD`].
    Full,
    /// The socket failed: the server reset the connection, say.
    Failed(io::Error),
}

impl Peer {
    /// Connect to the first address of `host` that answers within
    /// `timeout`; the connection, and the address it reached.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<(Peer, SocketAddr)> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let mut why = io::Error::new(NotFound, "the host has no address");
        for address in (bare, port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&address, timeout) {
                Ok(stream) => {
                    stream.set_write_timeout(Some(timeout))?;
                    // Each write goes out as it is made: a request in
                    // pieces or a frame a byte at a time must not be
                    // gathered into one segment by Nagle's algorithm.
                    stream.set_nodelay(true)?;
                    let (inbox, deadline) = (Vec::new(), Instant::now());
                    let waiting_for = "";
                    let room = usize::MAX;
                    let peer = Peer {
                        stream,
                        inbox,
                        timeout,
                        waiting_for,
                        deadline,
                        room,
                    };
                    return Ok((peer, address));
                }
                Err(e) => why = e,
            }
        }
        Err(why)
    }

    /// Read at most `bytes` more on this connection, in all.
    pub fn cap(&mut self, bytes: usize) {
        self.room = bytes;
    }

    /// From now, wait at most the timeout for `what`.
    pub fn wait_for(&mut self, what: &'static str) {
        self.waiting_for = what;
        self.deadline = Instant::now() + self.timeout;
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Read what has arrived onto the inbox: false at the end of the
    /// stream. Fails once the deadline has passed.
    pub fn fill(&mut self) -> Result<bool, Stop> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Stop::Silent);
        }
        if self.room == 0 {
            return Err(Stop::Full);
        }
        let _ = self.stream.set_read_timeout(Some(left));
        let mut chunk = [0; 64 * 1024];
        let most = chunk.len().min(self.room);
        loop {
            return match self.stream.read(&mut chunk[..most]) {
                Ok(0) => Ok(false),
                Ok(n) => {
                    self.room -= n;
                    self.inbox.extend_from_slice(&chunk[..n]);
                    Ok(true)
                }
                Err(e) if matches!(e.kind(), WouldBlock | TimedOut) => Err(Stop::Silent),
                // A signal came before any byte: read again.
                Err(e) if e.kind() == Interrupted => continue,
                Err(e) => Err(Stop::Failed(e)),
            };
        }
    }

    /// The response head, up to and with its empty line (RFC 9112 §2.1);
    /// `None` if the stream ended first (what came stays in the inbox).
    /// Bytes after the head stay in the inbox: frames.
    pub fn read_head(&mut self) -> Result<Option<Vec<u8>>, Stop> {
        loop {
            if let Some(at) = self.inbox.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(Some(self.inbox.drain(..at + 4).collect()));
            }
            if self.inbox.len() > MAX_HEAD {
                return Err(Stop::Full);
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }
}
