//! Helpers that only the robustness tests need: flooding a socket, waiting
//! for a peer to hang up, and reading a process's memory and CPU time from
//! `/proc`.

use crate::common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A normal client still gets served, correctly: a text and a binary
/// message come back unchanged, and the closing handshake completes.
pub fn assert_echo_works(server: &Server) {
    let mut client = server.client();
    client.send_text("still there?");
    assert_eq!(client.read_text(), "still there?");
    let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
    client.send(&frame(BINARY, &payload));
    let echoed = client.read_frame();
    assert_eq!((echoed.opcode, echoed.payload == payload), (BINARY, true));
    client.send_close(1000);
    assert_eq!(client.expect_close(), Some(1000));
    client.expect_eof();
}

/// Read and discard until the peer ends the connection (end of stream or a
/// reset); returns how many bytes were discarded. Panics if the connection
/// is still open after `patience`.
pub fn read_until_closed(stream: &mut TcpStream, patience: Duration) -> usize {
    let deadline = Instant::now() + patience;
    let mut discarded = 0;
    let mut chunk = vec![0; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the connection is still open after {patience:?}"
        );
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return discarded,
            Ok(n) => discarded += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_reset(&e) => return discarded,
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

/// Has the peer closed the connection? Waits at most `wait` for news; data
/// that arrives meanwhile is discarded.
pub fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut chunk = [0; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if is_reset(&e) => return true,
            Err(e) if is_timeout(&e) => return false,
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

pub fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// How a flood ended.
#[derive(Debug)]
pub struct Flood {
    /// Bytes the kernel took from us.
    pub bytes: u64,
    /// Whole frames written.
    pub frames: usize,
    /// How far into the next frame we got (0: none of it).
    pub partial: usize,
    /// The server stopped taking bytes: no progress for [`STALL`].
    pub blocked: bool,
    /// The write failed: the server closed or reset the connection.
    pub error: Option<std::io::Error>,
}

/// No progress for this long means the server has stopped reading.
pub const STALL: Duration = Duration::from_millis(500);

/// Write `frame` again and again without reading anything, until the
/// server stops taking bytes, the connection fails, or `cap` bytes are out.
pub fn flood(stream: &mut TcpStream, frame: &[u8], cap: u64) -> Flood {
    stream.set_nonblocking(true).unwrap();
    let mut flood = Flood {
        bytes: 0,
        frames: 0,
        partial: 0,
        blocked: false,
        error: None,
    };
    let mut last_progress = Instant::now();
    while flood.bytes < cap {
        match stream.write(&frame[flood.partial..]) {
            Ok(n) => {
                flood.bytes += n as u64;
                flood.partial += n;
                if flood.partial == frame.len() {
                    flood.frames += 1;
                    flood.partial = 0;
                }
                last_progress = Instant::now();
            }
            Err(e) if is_timeout(&e) => {
                if last_progress.elapsed() >= STALL {
                    flood.blocked = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                flood.error = Some(e);
                break;
            }
        }
    }
    stream.set_nonblocking(false).unwrap();
    flood
}

/// Does `line` look like the start of a log record (env_logger's
/// `[2024-01-01T00:00:00.000Z INFO  module] text`)?
pub fn is_record(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('[') else {
        return false;
    };
    rest.len() > 24
        && rest.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && rest.as_bytes()[4] == b'-'
        && ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
            .iter()
            .any(|level| rest[24..].trim_start().starts_with(level))
}

/// Lines of `log` that contain `needle`.
pub fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|line| line.contains(needle)).count()
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`, ...).
#[cfg(target_os = "linux")]
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat`.
#[cfg(target_os = "linux")]
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // The command name (field 2) is in parentheses and may hold spaces;
    // fields 14 and 15, utime and stime, count from after it.
    let after_name = &stat[stat.rfind(')').expect("stat format") + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64)
}

/// The CPU time a process uses while the test waits one second, and that
/// second as measured: a server with nothing to do uses next to none.
#[cfg(target_os = "linux")]
pub fn cpu_in_a_second(pid: u32) -> (Duration, Duration) {
    let cpu_before = cpu_time(pid);
    let start = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    (cpu_time(pid) - cpu_before, start.elapsed())
}

/// `sysconf(_SC_CLK_TCK)`, the unit of `/proc/PID/stat` times; asked of
/// `getconf` so the tests need no C bindings. It is 100 on every Linux
/// architecture we know of, which is the fallback.
#[cfg(target_os = "linux")]
fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

/// A server started by hand (not through `Server`), killed when the test
/// ends, even by a failed assertion: a leftover server would hold its port
/// and a core.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
