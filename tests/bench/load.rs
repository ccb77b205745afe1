//! The load generator and the meters, the same for our server and the
//! peer: a server process (`Target`), WebSocket connections opened with the
//! RFC's sample key, masked client frames, and readings of a process's CPU
//! time and memory from `/proc`.

use socket_server::protocol::frame::{self, OpCode};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where our servers write `log.txt` during a run: one directory per bench
/// process, removed by `remove_logs` when the run ends.
fn log_dir() -> PathBuf {
    std::env::temp_dir().join(format!("socket_server-bench-{}", std::process::id()))
}

/// The run is over: its logs (megabytes of connection lines) go too.
pub fn remove_logs() {
    let _ = std::fs::remove_dir_all(log_dir());
}

/// A server under measurement, in a process of its own; killed on drop.
pub struct Target {
    child: Child,
    pub addr: SocketAddr,
}

impl Target {
    /// Our release build, `socket_server --port 0 ARGS...`, with its log in
    /// a temporary directory.
    pub fn ours(args: &[&str]) -> Target {
        let binary = sibling("socket_server");
        let dir = log_dir();
        std::fs::create_dir_all(&dir).expect("log directory");
        let mut command = Command::new(&binary);
        command.args(["--port", "0"]).args(args).current_dir(&dir);
        Target::start("ours", command)
    }

    /// The tungstenite peer (`peer.rs`): this same binary, `--peer KIND`.
    pub fn peer(kind: &str) -> Target {
        let mut command = Command::new(std::env::current_exe().expect("own path"));
        command.args(["--peer", kind]);
        Target::start("tungstenite", command)
    }

    fn start(name: &'static str, mut command: Command) -> Target {
        let mut child = command
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {command:?} (run `make bench`): {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("ws://"))
            .unwrap_or_else(|| panic!("{name}: no address in {line:?}"));
        let addr = addr.trim_end_matches('/').parse().expect("an address");
        Target { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's CPU time so far, user + system, all threads.
    pub fn cpu(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // After the command name (in parentheses) come fields 3 onwards;
        // utime and stime are fields 14 and 15, in ticks of 10 ms.
        let rest = stat.rsplit(')').next().unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| {
            fields
                .get(n - 3)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Duration::from_millis((field(14) + field(15)) * 10)
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A file next to this binary's directory: target/release/examples/bench
/// -> target/release/NAME.
fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target directory")
        .join(name)
}

/// A WebSocket connection, handshake done, with timeouts to read and to
/// write so that a stuck server fails the bench instead of hanging it.
pub fn connect(addr: SocketAddr) -> TcpStream {
    connect_with(addr, "").0
}

/// The same, with `headers` (whole lines, each ending in CRLF) added to
/// the request; and the server's answer, its head up to the blank line.
pub fn connect_with(addr: SocketAddr, headers: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let limit = Some(Duration::from_secs(60));
    stream.set_read_timeout(limit).expect("timeout");
    stream.set_write_timeout(limit).expect("timeout");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .expect("send the handshake");
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("read the handshake");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    (stream, head)
}

/// `count` connections, opened one after another (paced by their
/// handshakes, so the listener's backlog never overflows).
pub fn connect_many(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count).map(|_| connect(addr)).collect()
}

/// A masked client frame (`first`: FIN and opcode), built with the
/// library's own `encode` and `unmask`.
pub fn client_frame(out: &mut Vec<u8>, first: u8, payload: &[u8]) {
    let start = out.len();
    frame::encode(out, OpCode::Binary, payload);
    let header = frame::parse_header(&out[start..], false).unwrap().unwrap();
    out[start] = first;
    out[start + 1] |= 0x80;
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut body = out.split_off(start + header.header_len);
    frame::unmask(&mut body, mask, 0);
    out.extend_from_slice(&mask);
    out.extend_from_slice(&body);
}

/// The length of an unmasked server frame carrying `size` bytes.
pub fn server_frame_len(size: usize) -> usize {
    let header = match size {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    };
    header + size
}

/// Read one unmasked server frame: its payload into `payload` (replacing
/// what was there), and its first byte (FIN, RSV1 to RSV3, the opcode).
pub fn read_frame(reader: &mut impl Read, payload: &mut Vec<u8>) -> u8 {
    let mut head = [0; 2];
    reader.read_exact(&mut head).expect("a frame");
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0; 2];
            reader.read_exact(&mut ext).expect("length");
            u16::from_be_bytes(ext) as usize
        }
        127 => {
            let mut ext = [0; 8];
            reader.read_exact(&mut ext).expect("length");
            u64::from_be_bytes(ext) as usize
        }
        n => n as usize,
    };
    payload.clear();
    payload.resize(len, 0);
    reader.read_exact(payload).expect("payload");
    head[0]
}

/// Read and discard exactly `bytes` bytes.
pub fn drain(stream: &mut TcpStream, mut bytes: usize, buffer: &mut [u8]) {
    while bytes > 0 {
        let most = bytes.min(buffer.len());
        let n = stream.read(&mut buffer[..most]).expect("read");
        assert!(n > 0, "the server closed the connection");
        bytes -= n;
    }
}

/// What one timed run measured.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Messages (or MiB, or deliveries) done.
    pub work: f64,
    pub elapsed: Duration,
    /// The server's CPU time over the run.
    pub cpu: Duration,
}

impl Sample {
    pub fn rate(&self) -> f64 {
        self.work / self.elapsed.as_secs_f64()
    }

    /// Server CPU per unit of work, in microseconds.
    pub fn cpu_per(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.work.max(1.0)
    }
}

/// Time `run` (which returns the work it did) and the target's CPU over it.
pub fn measure(target: &Target, run: impl FnOnce() -> f64) -> Sample {
    let cpu = target.cpu();
    let start = Instant::now();
    let work = run();
    let elapsed = start.elapsed();
    Sample {
        work,
        elapsed,
        cpu: target.cpu().saturating_sub(cpu),
    }
}

/// Closed-loop echo: every connection has one `size`-byte message in
/// flight; two generator threads each send one on each of their
/// connections, then read every echo, until `window` has passed. Returns
/// how many messages came back.
pub fn round_trips(streams: &mut [TcpStream], size: usize, window: Duration) -> f64 {
    let start = Instant::now();
    echo_rounds(streams, size, |_| start.elapsed() < window)
}

/// The same, for exactly `rounds` rounds.
pub fn round_trips_counted(streams: &mut [TcpStream], size: usize, rounds: usize) -> f64 {
    echo_rounds(streams, size, |round| round < rounds)
}

/// Rounds of one message per connection, while `more(rounds done)`.
fn echo_rounds(streams: &mut [TcpStream], size: usize, more: impl Fn(usize) -> bool + Sync) -> f64 {
    let mut message = Vec::new();
    client_frame(&mut message, 0x82, &vec![b'x'; size]);
    let reply = server_frame_len(size);
    let per_thread = streams.len().div_ceil(2).max(1);
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let threads: Vec<_> = streams
            .chunks_mut(per_thread)
            .map(|group| {
                let (message, more) = (&message, &more);
                scope.spawn(move || {
                    let mut buffer = vec![0; 1 << 16];
                    let mut rounds = 0;
                    while more(rounds) {
                        for stream in group.iter_mut() {
                            stream.write_all(message).expect("send");
                        }
                        for stream in group.iter_mut() {
                            drain(stream, reply, &mut buffer);
                        }
                        rounds += 1;
                    }
                    (rounds * group.len()) as u64
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("generator"))
            .collect()
    });
    counts.iter().sum::<u64>() as f64
}

/// `rounds` messages of `size` bytes on one connection, each written by a
/// second thread while this one reads the echo (so that a server may echo
/// while the message still arrives). Returns the MiB echoed.
pub fn large(stream: &mut TcpStream, size: usize, rounds: usize) -> f64 {
    let mut bytes = Vec::with_capacity(size + 16);
    client_frame(&mut bytes, 0x82, &vec![b'z'; size]);
    let mut buffer = vec![0; 1 << 16];
    for _ in 0..rounds {
        let mut writer = stream.try_clone().expect("clone");
        std::thread::scope(|scope| {
            scope.spawn(|| writer.write_all(&bytes).expect("send"));
            drain(stream, server_frame_len(size), &mut buffer);
        });
    }
    (rounds * size) as f64 / (1 << 20) as f64
}

/// The median of some numbers (the middle one, or the mean of the two).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Count the system calls a process makes while `run` runs, with
/// `strace -c -f`; `None` when strace is not installed.
pub fn count_syscalls(target: &Target, run: impl FnOnce()) -> Option<u64> {
    let out =
        std::env::temp_dir().join(format!("socket_server-bench-strace-{}", std::process::id()));
    let mut strace = Command::new("strace")
        .args(["-c", "-f", "-o"])
        .arg(&out)
        .args(["-p", &target.pid().to_string()])
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // strace prints nothing when it is attached: give it a moment.
    std::thread::sleep(Duration::from_millis(500));
    run();
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    let _ = strace.wait();
    let summary = std::fs::read_to_string(&out).ok()?;
    let _ = std::fs::remove_file(&out);
    // The last line: "100.00  0.123456  1  12345  67  total": % time,
    // seconds, microseconds per call, calls, errors.
    let total = summary
        .lines()
        .rev()
        .find(|l| l.trim_end().ends_with("total"))?;
    let numbers: Vec<u64> = total
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    numbers.get(1).copied()
}

/// A helper process holding idle connections to a server: this same
/// binary, `--hold ADDRESS COUNT`. It says `held` once they are all open,
/// and keeps them until it is killed (on drop).
pub struct Holder(Child);

impl Holder {
    pub fn start(addr: SocketAddr, count: usize) -> Holder {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .args(["--hold", &addr.to_string(), &count.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a holder");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its first line");
        assert_eq!(line.trim(), "held", "the holder failed");
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The holder's side: open the connections, say so, and wait to be killed.
pub fn hold(addr: &str, count: &str) {
    socket_server::server::poll::raise_descriptor_limit();
    let addr: SocketAddr = addr.parse().expect("an address");
    let count: usize = count.parse().expect("a count");
    let held = connect_many(addr, count);
    println!("held");
    std::io::stdout().flush().expect("stdout");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
        let _ = &held;
    }
}
