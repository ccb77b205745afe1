//! `make bench`: how fast, and how small, the server is.
//!
//! Starts the release server (`target/release/socket_server --mode echo`)
//! as its own process on a loopback port and measures:
//!
//! - round trips: clients each sending one small message and waiting for it;
//! - pipelined: one client streaming many small messages in batches;
//! - large: 16 MiB messages in one frame and in 64 KiB fragments;
//! - idle connections: resident memory per open WebSocket.
//!
//! Next to each rate it reports the server's own CPU time per message
//! (utime + stime from `/proc/PID/stat`), because on a 2-core machine the
//! load generator competes with the server and can be the bottleneck. Runs
//! vary by a third from one to the next: compare medians of several runs.
//! Each line says whether the result meets its target; the bench always
//! exits 0 (it is a measurement, not a test).

use socket_server::frame::{self, OpCode};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let mut server = start_server();
    let addr = server.1;
    println!("server pid {} on {addr}\n", server.0.id());
    println!("{:<44} {:>14} {:>16}  target", "case", "rate", "server CPU");

    // Memory first, before the large messages have grown the heap.
    idle_memory(&server.0, addr, 1000);
    for clients in [1, 8, 64] {
        round_trips(&server.0, addr, clients);
    }
    pipelined(&server.0, addr);
    large(&server.0, addr, 1);
    large(&server.0, addr, 256);

    let _ = server.0.kill();
    let _ = server.0.wait();
}

fn start_server() -> (Child, SocketAddr) {
    let exe = std::env::current_exe().expect("own path");
    // target/release/examples/bench -> target/release/socket_server
    let binary = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .join("socket_server");
    let log_dir = std::env::temp_dir().join(format!("socket_server-bench-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir).expect("log dir");
    let mut child = Command::new(&binary)
        .args(["--mode", "echo", "--port", "0", "--max-clients", "5000"])
        .current_dir(&log_dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {} (run `make bench`): {e}", binary.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ws://"))
        .unwrap();
    (child, addr.parse().unwrap())
}

/// A handshaken connection.
fn connect(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    stream
}

/// A masked client frame, built with the library's own `encode` and `unmask`.
fn client_frame(out: &mut Vec<u8>, first: u8, payload: &[u8]) {
    let start = out.len();
    frame::encode(out, OpCode::Binary, payload);
    let header = frame::parse_header(&out[start..], false).unwrap().unwrap();
    out[start] = first;
    out[start + 1] |= 0x80;
    let mask = [0x11, 0x22, 0x33, 0x44];
    let body_at = start + header.header_len;
    let mut body = out.split_off(body_at);
    frame::unmask(&mut body, mask, 0);
    out.extend_from_slice(&mask);
    out.extend_from_slice(&body);
}

/// Read and discard `bytes` bytes.
fn drain(stream: &mut TcpStream, mut bytes: usize) {
    let mut buffer = vec![0; 1 << 16];
    while bytes > 0 {
        let n = stream.read(&mut buffer[..bytes.min(1 << 16)]).unwrap();
        assert!(n > 0, "server closed the connection");
        bytes -= n;
    }
}

/// The server's CPU time so far (user + system), from /proc/PID/stat.
fn cpu_time(server: &Child) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.id())).unwrap_or_default();
    // After the command name (in parentheses) come field 3 (state) onwards;
    // utime and stime are fields 14 and 15, in clock ticks (100 a second).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = field(14) + field(15);
    Duration::from_millis(ticks * 10)
}

fn resident_kib(server: &Child) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn report(case: &str, rate: String, cpu: String, target: &str, met: bool) {
    let verdict = if met { "ok" } else { "BELOW TARGET" };
    println!("{case:<44} {rate:>14} {cpu:>16}  {target} {verdict}");
}

/// Each client sends a 32-byte message and waits for the echo, for 2 s.
fn round_trips(server: &Child, addr: SocketAddr, clients: usize) {
    let run_for = Duration::from_secs(2);
    let cpu_before = cpu_time(server);
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream = connect(addr);
                let mut message = Vec::new();
                client_frame(&mut message, 0x81, &[b'x'; 32]);
                let mut count = 0u64;
                while start.elapsed() < run_for {
                    stream.write_all(&message).unwrap();
                    drain(&mut stream, 2 + 32);
                    count += 1;
                }
                count
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (cpu_time(server) - cpu_before).as_secs_f64();
    let rate = total as f64 / elapsed;
    report(
        &format!("round trips, 32 B, {clients} client(s)"),
        format!("{rate:.0} msg/s"),
        format!("{:.1} us/msg", cpu * 1e6 / total as f64),
        ">= 10000 msg/s",
        rate >= 10_000.0,
    );
}

/// One client sends 200,000 small messages in batches of 1000 and reads
/// every echo: the cost of parsing and framing, not of round trips.
fn pipelined(server: &Child, addr: SocketAddr) {
    let (batches, batch) = (200, 1000);
    let mut stream = connect(addr);
    let mut bytes = Vec::new();
    for _ in 0..batch {
        client_frame(&mut bytes, 0x81, &[b'y'; 32]);
    }
    let cpu_before = cpu_time(server);
    let start = Instant::now();
    for _ in 0..batches {
        stream.write_all(&bytes).unwrap();
        drain(&mut stream, batch * (2 + 32));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let total = (batches * batch) as f64;
    let cpu = (cpu_time(server) - cpu_before).as_secs_f64();
    let rate = total / elapsed;
    report(
        "pipelined, 32 B, 1 client",
        format!("{rate:.0} msg/s"),
        format!("{:.2} us/msg", cpu * 1e6 / total),
        ">= 200000 msg/s",
        rate >= 200_000.0,
    );
}

/// Echo 16 MiB messages, in `fragments` frames each, 4 times.
fn large(server: &Child, addr: SocketAddr, fragments: usize) {
    let size = 16 << 20;
    let rounds = 4;
    let payload = vec![b'z'; size];
    let piece = size / fragments;
    let mut bytes = Vec::with_capacity(size + 16 * fragments);
    for (i, chunk) in payload.chunks(piece).enumerate() {
        let opcode = if i == 0 { 0x2 } else { 0x0 };
        let fin = if i == fragments - 1 { 0x80 } else { 0 };
        client_frame(&mut bytes, fin | opcode, chunk);
    }
    let mut stream = connect(addr);
    let cpu_before = cpu_time(server);
    let start = Instant::now();
    for _ in 0..rounds {
        // Write from another thread: the server echoes while we still send.
        let mut writer = stream.try_clone().unwrap();
        let frames = bytes.clone();
        let sender = std::thread::spawn(move || writer.write_all(&frames).unwrap());
        drain(&mut stream, size + 10);
        sender.join().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (cpu_time(server) - cpu_before).as_secs_f64();
    let mib = (rounds * size) as f64 / (1 << 20) as f64;
    let rate = mib / elapsed;
    report(
        &format!("16 MiB binary in {fragments} frame(s)"),
        format!("{rate:.0} MiB/s"),
        format!("{:.2} ms/MiB", cpu * 1e3 / mib),
        ">= 200 MiB/s",
        rate >= 200.0,
    );
}

/// Open `count` idle WebSocket connections and see what they cost.
fn idle_memory(server: &Child, addr: SocketAddr, count: usize) {
    let before = resident_kib(server);
    let streams: Vec<TcpStream> = (0..count).map(|_| connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let after = resident_kib(server);
    let per = (after.saturating_sub(before) * 1024) as f64 / count as f64;
    report(
        &format!("idle connections ({count})"),
        format!("{:.1} KiB each", per / 1024.0),
        format!("RSS {after} KiB"),
        "<= 8 KiB each",
        per <= 8.0 * 1024.0,
    );
    drop(streams);
}
