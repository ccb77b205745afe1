//! What every integration test needs: the real server binary on an ephemeral
//! loopback port in a fresh directory, and a raw WebSocket client that sends
//! exactly the bytes a test asks for.
//!
//! The client's framing is written here again on purpose, from the RFC,
//! rather than borrowed from `src/`: a test that used the server's own
//! encoder could not catch a mistake the encoder and the parser share.
#![allow(dead_code)] // each test file uses a different part of this

pub mod lesson;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running server, killed and cleaned up when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The working directory, holding `log.txt`.
    pub dir: PathBuf,
}

/// How to start a server, beyond its flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Launch {
    /// Environment variables to set (`RUST_LOG` is cleared otherwise).
    pub env: &'static [(&'static str, &'static str)],
    /// Run under `ulimit -n N`: at most N open file descriptors.
    pub fd_limit: Option<u32>,
    /// Keep what the server writes to stderr in `stderr.txt` in its directory
    /// (read it with [`Server::stderr`]) instead of discarding it.
    pub capture_stderr: bool,
}

impl Server {
    /// Start `socket_server --port 0 ARGS...` in a new temporary directory.
    pub fn start(args: &[&str]) -> Server {
        Server::launch(args, Launch::default())
    }

    /// Like `start`, with environment variables (e.g. `RUST_LOG`) set.
    pub fn start_with_env(args: &[&str], env: &'static [(&'static str, &'static str)]) -> Server {
        Server::launch(
            args,
            Launch {
                env,
                ..Launch::default()
            },
        )
    }

    /// Like [`Server::start`], with the extra conditions in `launch`.
    pub fn launch(args: &[&str], launch: Launch) -> Server {
        let dir = temp_dir();
        let binary = env!("CARGO_BIN_EXE_socket_server");
        let mut command = match launch.fd_limit {
            // `exec` replaces the shell, so the child's pid is the server's
            // and signals and /proc/PID reach the server itself.
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(binary);
                sh
            }
            None => Command::new(binary),
        };
        let stderr = if launch.capture_stderr {
            Stdio::from(std::fs::File::create(dir.join("stderr.txt")).expect("stderr file"))
        } else {
            Stdio::null()
        };
        // `TEST_POLLER=poll make test` runs the same tests with the other
        // way of waiting (`make test` does, for the protocol suites).
        if let Ok(poller) = std::env::var("TEST_POLLER") {
            command.args(["--poller", &poller]);
        }
        let mut child = command
            .args(["--port", "0"])
            .args(args)
            .current_dir(&dir)
            .env_remove("RUST_LOG")
            .envs(launch.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start the server");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read stdout");
        let Some(addr) = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("ws://"))
        else {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
            panic!("no address in {line:?}; stderr: {stderr}");
        };
        let addr = addr.parse().expect("an address");
        Server { child, addr, dir }
    }

    /// Start the server in echo mode with extra flags.
    pub fn echo(args: &[&str]) -> Server {
        let mut all = vec!["--mode", "echo"];
        all.extend_from_slice(args);
        Server::start(&all)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log.txt")).unwrap_or_default()
    }

    /// Wait until the log contains `needle`; false if it never does.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        wait_until(|| self.log().contains(needle))
    }

    /// Send a signal and wait for the server to exit; its exit status.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        self.send_signal(signal);
        self.wait_exit()
    }

    /// Is the process still running?
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// A raw TCP connection to the server, with read and write timeouts.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// A raw TCP connection from another loopback address (127.0.0.2,
    /// say): a peer the server counts apart from the others.
    pub fn connect_from(&self, source: std::net::IpAddr) -> TcpStream {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        let from = SocketAddr::new(source, 0);
        socket
            .bind(&from.into())
            .expect("bind to the source address");
        socket.connect(&self.addr.into()).expect("connect");
        let stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// A WebSocket client from the loopback address `source` whose socket
    /// can hold only about `bytes` of what the server sends (SO_RCVBUF):
    /// one that does not read is soon one whose socket is full.
    pub fn client_with_small_buffer(&self, source: std::net::IpAddr, bytes: usize) -> Client {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        socket
            .bind(&SocketAddr::new(source, 0).into())
            .expect("bind to the source address");
        socket.connect(&self.addr.into()).expect("connect");
        let stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        self.handshaken(stream)
    }

    /// A WebSocket client that has completed its handshake.
    pub fn client(&self) -> Client {
        self.handshaken(self.connect())
    }

    /// The same, from the loopback address `source`.
    pub fn client_from(&self, source: std::net::IpAddr) -> Client {
        self.handshaken(self.connect_from(source))
    }

    fn handshaken(&self, stream: TcpStream) -> Client {
        let mut client = Client {
            stream,
            buffer: Vec::new(),
        };
        let response = client.handshake(&handshake_request(self.addr, ""));
        assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
        client
    }

    /// Send raw bytes as an HTTP request and read the whole response (the
    /// server closes the connection after it).
    pub fn http(&self, request: &str) -> Response {
        let mut stream = self.connect();
        stream.write_all(request.as_bytes()).expect("write request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read response");
        Response::parse(&raw)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh, empty directory of this test run's own.
pub fn temp_dir() -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "socket_server-test-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The `n`th of many loopback addresses (127.1.0.0 onwards), for a test
/// that plays many peers and reads the log: the server logs what each
/// address causes within a budget of its own (`console::LogBudget`).
pub fn peer_address(n: u32) -> std::net::IpAddr {
    std::net::Ipv4Addr::from(0x7f01_0000 + n).into()
}

/// Skip the rest of a test whose tools are missing (a browser, a debugger).
///
/// Under CI (`CI` set) a skip is a failure: CI must never pass by skipping.
/// Elsewhere the line goes straight to stderr, past the test harness's
/// output capture, so `make test` sees it and counts it in its total.
pub fn skip(test: &str, why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run {test}, but {why}"
    );
    let line = format!("SKIPPED: {test}: {why}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// Poll `condition` every 10 ms for up to [`PATIENCE`].
pub fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A valid handshake request for `addr`, with `extra` header lines (each
/// ending in `\r\n`) added before the blank line.
pub fn handshake_request(addr: SocketAddr, extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// An HTTP response, split into its parts.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn parse(raw: &[u8]) -> Response {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8(raw[..end + 4].to_vec()).expect("text head");
        let status = head[9..12].parse().expect("status");
        Response {
            status,
            head,
            body: raw[end + 4..].to_vec(),
        }
    }

    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The close code of a close frame, if it has one.
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, 0x8, "not a close frame: {self:?}");
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub fn text(&self) -> String {
        assert_eq!(self.opcode, 0x1, "not a text frame: {self:?}");
        String::from_utf8(self.payload.clone()).expect("UTF-8 text")
    }
}

pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// A client frame, built from the RFC 6455 §5.2 layout: `first` is the
/// whole first byte (FIN, RSV1-3, opcode); the payload is masked with `mask`.
pub fn masked_frame(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = vec![first];
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if len < 65536 {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A final frame of `opcode` with a fixed mask.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    masked_frame(0x80 | opcode, payload, [0x12, 0x34, 0x56, 0x78])
}

/// A raw WebSocket client over a TCP stream.
pub struct Client {
    pub stream: TcpStream,
    /// Bytes read but not yet parsed.
    buffer: Vec<u8>,
}

impl Client {
    /// Wrap a raw connection (no handshake yet).
    pub fn raw(stream: TcpStream) -> Client {
        Client {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Break the connection: close it with a reset (RST) instead of a FIN,
    /// so that the server's next read fails.
    pub fn reset(self) {
        let socket = socket2::SockRef::from(&self.stream);
        socket.set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
        drop(self);
    }

    /// Send a request head and read the response head; bytes after it stay
    /// buffered for `read_frame`.
    pub fn handshake(&mut self, request: &str) -> String {
        self.stream
            .write_all(request.as_bytes())
            .expect("send handshake");
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buffer.drain(..end + 4).collect();
                return String::from_utf8(head).expect("text head");
            }
            assert!(self.fill(), "connection closed during the handshake");
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    pub fn send_text(&mut self, text: &str) {
        self.send(&frame(TEXT, text.as_bytes()));
    }

    /// Send a close frame with `code` and no reason.
    pub fn send_close(&mut self, code: u16) {
        self.send(&frame(CLOSE, &code.to_be_bytes()));
    }

    /// Read more bytes into the buffer; false at end of stream (or reset).
    fn fill(&mut self) -> bool {
        let mut chunk = [0; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read failed (timeout = server silent): {e}"),
        }
    }

    /// The next frame from the server, or `None` if the connection ended.
    /// Panics on a masked server frame (§5.1 forbids them).
    pub fn try_read_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, used)) = parse_server_frame(&self.buffer) {
                self.buffer.drain(..used);
                return Some(frame);
            }
            if !self.fill() {
                assert!(self.buffer.is_empty(), "connection ended mid-frame");
                return None;
            }
        }
    }

    pub fn read_frame(&mut self) -> Frame {
        self.try_read_frame()
            .expect("a frame, but the connection ended")
    }

    /// The next text message's content.
    pub fn read_text(&mut self) -> String {
        self.read_frame().text()
    }

    /// Expect a close frame (skipping nothing) and return its code.
    pub fn expect_close(&mut self) -> Option<u16> {
        let frame = self.read_frame();
        assert_eq!(frame.opcode, CLOSE, "expected a close frame, got {frame:?}");
        frame.close_code()
    }

    /// Expect the server to end the TCP connection with nothing more sent.
    pub fn expect_eof(&mut self) {
        if let Some(frame) = self.try_read_frame() {
            panic!("expected the connection to end, got {frame:?}");
        }
    }

    /// Expect a close frame with `code`, answer it, and expect the
    /// connection to end: a complete closing handshake.
    pub fn expect_close_handshake(&mut self, code: u16) {
        assert_eq!(self.expect_close(), Some(code));
        self.send_close(code);
        self.expect_eof();
    }

    pub fn shutdown_write(&self) {
        self.stream.shutdown(Shutdown::Write).expect("shutdown");
    }
}

/// Parse one unmasked server frame from the front of `bytes`.
pub fn parse_server_frame(bytes: &[u8]) -> Option<(Frame, usize)> {
    if bytes.len() < 2 {
        return None;
    }
    assert_eq!(bytes[0] & 0x70, 0, "server set an RSV bit");
    assert_eq!(bytes[1] & 0x80, 0, "server frames must not be masked");
    let (len, start) = match bytes[1] & 0x7F {
        126 if bytes.len() >= 4 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
        127 if bytes.len() >= 10 => (
            u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    if bytes.len() < start + len {
        return None;
    }
    let frame = Frame {
        fin: bytes[0] & 0x80 != 0,
        opcode: bytes[0] & 0x0F,
        payload: bytes[start..start + len].to_vec(),
    };
    Some((frame, start + len))
}

impl Server {
    /// What the server wrote to stderr so far (only with `capture_stderr`).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default()
    }

    /// Send a signal (`TERM`, `INT`, ...) and return at once.
    pub fn send_signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Wait (at most [`PATIENCE`]) for the server to exit; its exit status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        wait_for_exit(&mut self.child, "the server")
    }
}

/// The tutorial's own request, byte for byte (docs/handshake.md §1): it
/// names another site's host and origin.
pub const TUTORIAL_REQUEST: &str = "GET /mychat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
    Sec-WebSocket-Protocol: chat\r\n\
    Sec-WebSocket-Version: 13\r\n\
    Origin: http://example.com\r\n\
    \r\n";

/// RFC 6455 §5.7: "A single-frame masked text message" containing "Hello".
pub const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

/// A port that was free a moment ago, and is closed again: nothing listens
/// on it (unless another program takes it meanwhile).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Wait (at most [`PATIENCE`]) for `child` (`what`, in the failure) to
/// exit; its exit status.
pub fn wait_for_exit(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "{what} did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A program run to its end: how it exited, what it printed, how long it took.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    /// Expect the exit status `status`; else fail, showing what was said.
    pub fn expect(&self, status: i32) -> &Run {
        let (out, err) = (&self.stdout, &self.stderr);
        assert_eq!(
            self.status, status,
            "--- stdout:\n{out}\n--- stderr:\n{err}"
        );
        self
    }

    /// Expect each of `lines` in what the program printed on stdout.
    pub fn printed(&self, lines: &[&str]) -> &Run {
        for line in lines {
            assert!(
                self.stdout.contains(line),
                "{line:?} not in:\n{}",
                self.stdout
            );
        }
        self
    }

    /// Expect each of `lines` in what the program said on stderr.
    pub fn said(&self, lines: &[&str]) -> &Run {
        for line in lines {
            assert!(
                self.stderr.contains(line),
                "{line:?} not in:\n{}",
                self.stderr
            );
        }
        self
    }
}

/// Run `binary ARGS` to its end, reading both pipes as it goes (so a
/// program that prints much never blocks on a full pipe); kill it and
/// fail the test past `limit`.
pub fn run_to_end(binary: &str, args: &[&str], limit: Duration) -> Run {
    run_to_end_in(&std::env::temp_dir(), binary, args, limit)
}

/// [`run_to_end`], with `dir` as the program's working directory.
pub fn run_to_end_in(dir: &std::path::Path, binary: &str, args: &[&str], limit: Duration) -> Run {
    let start = Instant::now();
    let mut child = Command::new(binary)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{binary} {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        status: status.code().expect("the program exited by itself"),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        took: start.elapsed(),
    }
}
