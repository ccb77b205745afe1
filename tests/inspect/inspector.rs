//! An inspector, as a test drives one: the handshake at `/inspect` with the
//! subprotocol `inspect`, then the event stream, each frame a JSON array
//! read with `json.rs`, every event kept in order.

use crate::common::{frame, parse_server_frame, Server, PATIENCE, PING, PONG, TEXT};
use crate::json::{self, Value};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The inspector's handshake for `addr`, with `extra` header lines.
pub fn request(addr: SocketAddr, extra: &str) -> String {
    format!(
        "GET /inspect HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

pub const ASKS: &str = "Sec-WebSocket-Protocol: inspect\r\n";

pub struct Inspector {
    pub stream: TcpStream,
    buffer: Vec<u8>,
    /// Every event read so far, in order.
    pub events: Vec<Value>,
    /// The server ended the connection.
    pub ended: bool,
}

impl Inspector {
    /// An inspector whose handshake is done.
    pub fn connect(server: &Server) -> Inspector {
        Inspector::over(server.connect(), server.addr)
    }

    /// The same over a stream already connected.
    pub fn over(mut stream: TcpStream, addr: SocketAddr) -> Inspector {
        stream.write_all(request(addr, ASKS).as_bytes()).unwrap();
        let mut inspector = Inspector {
            stream,
            buffer: Vec::new(),
            events: Vec::new(),
            ended: false,
        };
        let head = inspector.head();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        assert!(
            head.contains("\r\nSec-WebSocket-Protocol: inspect\r\n"),
            "{head}"
        );
        inspector
    }

    /// An inspector whose handshake another function did, and that read
    /// `read` of what followed.
    pub fn resume(stream: TcpStream, read: Vec<u8>) -> Inspector {
        Inspector {
            stream,
            buffer: read,
            events: Vec::new(),
            ended: false,
        }
    }

    fn head(&mut self) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buffer.drain(..end + 4).collect();
                return String::from_utf8(head).unwrap();
            }
            assert!(self.fill(deadline), "no response head");
        }
    }

    /// The port it connects from: how the server's events would name it.
    pub fn port(&self) -> u16 {
        self.stream.local_addr().unwrap().port()
    }

    /// Read what arrives until `deadline`; false once it ended or nothing
    /// more came in time.
    fn fill(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || self.ended {
            return false;
        }
        self.stream.set_read_timeout(Some(left)).unwrap();
        let mut chunk = [0; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.ended = true;
                false
            }
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                self.ended = true;
                false
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// The next frame's events (answering a ping on the way); `None` if
    /// none came by `deadline`.
    fn next_events(&mut self, deadline: Instant) -> Option<Vec<Value>> {
        loop {
            if let Some((got, used)) = parse_server_frame(&self.buffer) {
                self.buffer.drain(..used);
                match got.opcode {
                    PING => self.stream.write_all(&frame(PONG, &got.payload)).unwrap(),
                    TEXT => {
                        let text = String::from_utf8(got.payload).expect("UTF-8");
                        let events = json::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
                        return Some(events.arr().to_vec());
                    }
                    _ => {}
                }
                continue;
            }
            if !self.fill(deadline) {
                return None;
            }
        }
    }

    /// Read until an event of `kind` for which `wanted` holds; that event.
    pub fn until(&mut self, kind: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        let mut from = 0;
        loop {
            let found = self.events[from..]
                .iter()
                .find(|e| e.kind() == kind && wanted(e));
            if let Some(event) = found {
                return event.clone();
            }
            from = self.events.len();
            match self.next_events(deadline) {
                Some(events) => self.events.extend(events),
                None => panic!("no {kind} event came: {}", self.dump()),
            }
        }
    }

    /// Everything that arrives within `wait`.
    pub fn read_for(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Some(events) = self.next_events(deadline) {
            self.events.extend(events);
        }
    }

    /// The events of `kind` so far.
    pub fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e.kind() == kind).collect()
    }

    /// The events so far, one a line, for a failure's message.
    pub fn dump(&self) -> String {
        let lines: Vec<String> = self.events.iter().map(|e| e.to_string()).collect();
        lines.join("\n")
    }
}
