//! The debugger walk: the server runs under gdb while a client sends it the
//! tutorial's handshake, RFC 6455 §5.7's masked "Hello", and a close.
//!
//! `make walk` (`tests/walk/walk.rs`) runs it in gdb's batch mode with
//! `docs/walk.gdb` and prints what gdb saw; `tests/walk.rs` checks that this
//! is still the transcript in `docs/debugging.md`; `make debug` runs it with
//! gdb waiting for you at each breakpoint.
//!
//! The server listens on a free port, never 1222, so the walk works while
//! `make run` is going in another terminal.
#![allow(dead_code)] // the test and the example each use part of it

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The tutorial's request, byte for byte. Its `Host` and `Origin` name
/// other sites, so the server is started with `--allowed-host
/// server.example.com --allowed-origin http://example.com`.
pub const TUTORIAL_REQUEST: &[u8] = b"GET /mychat HTTP/1.1\r\nHost: server.example.com\r\n\
    Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
    Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\r\n";

/// RFC 6455 §5.7: "A single-frame masked text message" containing "Hello".
pub const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

/// A close frame with code 1000, masked with the same key.
pub const MASKED_CLOSE_1000: [u8; 8] = [0x88, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x34, 0x12];

/// What a batch walk printed.
#[derive(Debug)]
pub struct Walk {
    /// gdb's output, with what changes from run to run (addresses, the
    /// port, the process id) written the same way every time.
    pub transcript: String,
    /// What the client received, one line per step.
    pub client: Vec<String>,
}

impl Walk {
    /// What `make walk` prints: gdb's transcript, then the client's lines.
    pub fn report(&self) -> String {
        let mut report = self.transcript.clone();
        report.push('\n');
        for line in &self.client {
            report.push_str(&format!("[client] {line}\n"));
        }
        report
    }
}

/// The debugger to use: `rust-gdb` (gdb with Rust's pretty-printers, from
/// the Rust toolchain) if there is one, else plain `gdb`; `None` if neither.
pub fn debugger() -> Option<&'static str> {
    ["rust-gdb", "gdb"].into_iter().find(|gdb| installed(gdb))
}

/// Does `program --version` run?
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The server's flags for the walk: its port, and patience, because clocks
/// keep running while it sits at a breakpoint.
fn server_args(port: u16, log_dir: &Path) -> Vec<String> {
    let log_file = log_dir.join("log.txt");
    [
        "--port",
        &port.to_string(),
        "--allowed-host",
        "server.example.com",
        "--allowed-origin",
        "http://example.com",
        "--handshake-timeout",
        "3600",
        "--idle-timeout",
        "0",
        "--close-timeout",
        "3600",
        "--log-file",
        log_file.to_str().expect("a UTF-8 temporary path"),
    ]
    .map(String::from)
    .to_vec()
}

/// Run the walk in batch mode: gdb with `docs/walk.gdb` (relative to
/// `root`, the repository) on `server`, and the client beside it.
pub fn run_batch(gdb: &str, server: &Path, root: &Path) -> Result<Walk, String> {
    let port = free_port()?;
    let log_dir = temp_dir("walk")?;
    let child = Command::new(gdb)
        .current_dir(root)
        .args(["-batch", "-nx", "-x", "docs/walk.gdb", "--args"])
        .arg(server)
        .args(server_args(port, &log_dir))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {gdb}: {e}"))?;
    let (done, client_result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(tutorial_client(port, Duration::from_secs(60), false));
    });
    // If the client fails (the server refused it, say), gdb would wait at
    // a breakpoint that never comes: stop it then.
    let mut client = None;
    let output = wait_with_timeout(child, Duration::from_secs(120), || {
        if client.is_none() {
            client = client_result.try_recv().ok();
        }
        matches!(client, Some(Err(_)))
    });
    let client = match client {
        Some(result) => result,
        None => client_result
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| "the client never finished".to_string())?,
    };
    let client = client.map_err(|e| format!("the client: {e}"))?;
    let output = output?;
    let _ = std::fs::remove_dir_all(&log_dir);
    let raw = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "{gdb} failed ({}):\n{raw}\n{stderr}",
            output.status
        ));
    }
    Ok(Walk {
        transcript: normalize(&raw, port),
        client,
    })
}

/// Run the walk for a person: gdb stops at each breakpoint of
/// `docs/breakpoints.gdb` and waits at its prompt, while the client waits
/// as long as it takes. When the client is done, the server is stopped
/// (SIGTERM, as Ctrl-C would stop it outside gdb), so that gdb says it
/// exited and gives its prompt back for `quit`.
pub fn run_interactive(gdb: &str, server: &Path, root: &Path) -> Result<(), String> {
    let port = free_port()?;
    let log_dir = temp_dir("debug")?;
    println!("The server will listen on port {port}; a client sends the tutorial's handshake,");
    println!("a masked \"Hello\" and a close. gdb stops in handshake, in accept_key and twice in");
    println!("unmask: docs/debugging.md says what to type at each stop. When the client is done,");
    println!("the server is stopped, gdb says it exited, and `quit` ends it.\n");
    let mut child = Command::new(gdb)
        .current_dir(root)
        .args(["-nx", "-x", "docs/breakpoints.gdb"])
        // The SIGTERM that ends the walk goes straight to the server,
        // without stopping in gdb first.
        .args(["-ex", "handle SIGTERM nostop noprint pass", "-ex", "run"])
        .arg("--args")
        .arg(server)
        .args(server_args(port, &log_dir))
        .spawn()
        .map_err(|e| format!("cannot start {gdb}: {e}"))?;
    let gdb_pid = child.id();
    let server = server.to_path_buf();
    std::thread::spawn(move || {
        let patience = Duration::from_secs(3600);
        match tutorial_client(port, patience, true) {
            Ok(_) => println!("\n[client] done."),
            Err(e) => println!("\n[client] {e}"),
        }
        match stop_server(gdb_pid, &server) {
            Ok(()) => println!("[client] stopping the server (SIGTERM); then type `quit`."),
            Err(e) => println!("[client] {e}: press Ctrl-C, then type `quit`."),
        }
    });
    child.wait().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&log_dir);
    Ok(())
}

/// Send SIGTERM to the server that gdb (process `gdb_pid`) runs: the
/// process among gdb's descendants whose program is `server`.
fn stop_server(gdb_pid: u32, server: &Path) -> Result<(), String> {
    let server = std::fs::canonicalize(server).map_err(|e| e.to_string())?;
    let pid = descendants(gdb_pid)
        .into_iter()
        .find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == server))
        .ok_or("cannot find the server's process")?;
    let status = Command::new("kill")
        .args(["-s", "TERM", &pid.to_string()])
        .status()
        .map_err(|e| format!("cannot run kill: {e}"))?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("kill -s TERM {pid} failed")),
    }
}

/// Every process descended from `root`, read from Linux's `/proc` (each
/// `/proc/PID/stat` names its parent); none elsewhere.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // "PID (name) STATE PPID ...": the name may hold spaces and parentheses.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        if let Some(parent) = after_name
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
        {
            parent_of.push((pid, parent));
        }
    }
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(pid, _)| *pid),
        );
        next += 1;
    }
    found.split_off(1)
}

/// The client: the tutorial's handshake, the masked "Hello", a close; one
/// line for each thing it receives (printed as it comes, if `say`).
fn tutorial_client(port: u16, patience: Duration, say: bool) -> Result<Vec<String>, String> {
    let mut seen = Vec::new();
    let mut note = |line: String| {
        if say {
            println!("\n[client] {line}");
        }
        seen.push(line);
    };
    let mut stream = connect(port, patience)?;
    stream
        .set_read_timeout(Some(patience))
        .map_err(|e| e.to_string())?;
    let send = |stream: &mut TcpStream, bytes: &[u8]| {
        stream.write_all(bytes).map_err(|e| format!("send: {e}"))
    };
    send(&mut stream, TUTORIAL_REQUEST)?;
    let head = read_head(&mut stream)?;
    let status = head.lines().next().unwrap_or("").to_owned();
    let accept = head
        .lines()
        .find(|line| line.starts_with("Sec-WebSocket-Accept:"))
        .unwrap_or("no Sec-WebSocket-Accept")
        .to_owned();
    if !status.starts_with("HTTP/1.1 101 ") {
        return Err(format!("the server refused the handshake: {status}"));
    }
    note(format!("got {status}, {accept}"));
    send(&mut stream, &MASKED_HELLO)?;
    let (opcode, payload) = read_frame(&mut stream)?;
    note(format!(
        "got a frame, opcode {opcode:#x}: {:?}",
        String::from_utf8_lossy(&payload)
    ));
    send(&mut stream, &MASKED_CLOSE_1000)?;
    let (opcode, payload) = read_frame(&mut stream)?;
    let code = payload
        .get(..2)
        .map_or(0, |code| u16::from_be_bytes([code[0], code[1]]));
    note(format!("got a frame, opcode {opcode:#x}: close {code}"));
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    note(format!(
        "the server closed the connection ({} more bytes)",
        rest.len()
    ));
    Ok(seen)
}

/// Connect as soon as the server listens (gdb takes a moment to start it).
fn connect(port: u16, patience: Duration) -> Result<TcpStream, String> {
    let deadline = Instant::now() + patience.min(Duration::from_secs(60));
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return Ok(stream),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("the server never listened on {port}: {e}")),
        }
    }
}

fn read_head(stream: &mut TcpStream) -> Result<String, String> {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => return Err(format!("the response was cut short: {other:?}")),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// One unmasked server frame with a 7-bit length (all the walk's are).
fn read_frame(stream: &mut TcpStream) -> Result<(u8, Vec<u8>), String> {
    let mut header = [0; 2];
    stream
        .read_exact(&mut header)
        .map_err(|e| format!("read a frame: {e}"))?;
    let mut payload = vec![0; usize::from(header[1] & 0x7F)];
    stream
        .read_exact(&mut payload)
        .map_err(|e| format!("read a payload: {e}"))?;
    Ok((header[0] & 0x0F, payload))
}

/// A port nobody is listening on now (the system picks it).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn temp_dir(what: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("socket_server-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Wait for gdb, at most `limit`, and no longer once `give_up` says so.
fn wait_with_timeout(
    mut child: std::process::Child,
    limit: Duration,
    mut give_up: impl FnMut() -> bool,
) -> Result<std::process::Output, String> {
    let deadline = Instant::now() + limit;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline || give_up() {
            let _ = child.kill();
            let output = child.wait_with_output().map_err(|e| e.to_string())?;
            let stdout = String::from_utf8_lossy(&output.stdout);
            return Err(format!(
                "gdb stopped after {limit:?} or a failed client:\n{stdout}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().map_err(|e| e.to_string())
}

/// gdb's output, the same from run to run: addresses become `0x…`, the
/// port `PORT`, the process id `PID`; lines about the system's thread
/// library are left out.
pub fn normalize(raw: &str, port: u16) -> String {
    let mut out = String::new();
    for line in raw.lines() {
        if line.starts_with("[Thread debugging") || line.starts_with("Using host libthread_db") {
            continue;
        }
        let line = line.replace(&port.to_string(), "PORT");
        let line = replace_hex_addresses(&line);
        let line = match line.find("(process ") {
            Some(at) => {
                let end = line[at..].find(')').map_or(line.len(), |e| at + e);
                format!("{}(process PID{}", &line[..at], &line[end..])
            }
            None => line,
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `0x7fffffffca78` -> `0x…`, for every hex number of five digits or more
/// (addresses; the walk's own values are shorter).
fn replace_hex_addresses(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = rest[at + 2..]
            .bytes()
            .take_while(u8::is_ascii_hexdigit)
            .count();
        if digits >= 5 {
            out.push_str("0x…");
        } else {
            out.push_str(&rest[at..at + 2 + digits]);
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}
