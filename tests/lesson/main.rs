//! The lesson server, `src/bin/lesson.rs`, run as a program: what it does
//! right (`binary.rs`), and each of the PHP's bugs it brings back with
//! `--php-bugs` (`bugs.rs`), seen with its switch and not without.
//!
//! The client is `tests/common`'s, written from RFC 6455 and not from
//! `src/`, so a mistake the lesson shares with the full server still shows.
//! The launcher is `common::lesson`'s (`common::Server` starts
//! `socket_server` with that binary's own flags, which the lesson does not
//! take), shared with `tests/check.rs`; this file adds what these tests
//! read of the running lesson.

#[path = "../common/mod.rs"]
mod common;

mod binary;
mod bugs;
mod exercises;
mod reading;

pub use common::lesson::Lesson;
pub use common::TUTORIAL_REQUEST;
use common::{handshake_request, Client, PATIENCE};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::ExitStatus;
use std::time::Duration;

/// The text every reply starts with (the PHP's line 63).
pub const ENTERED: &str = "You have entered: ";

impl Lesson {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log.txt")).unwrap_or_default()
    }

    /// Wait (at most [`PATIENCE`]) until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        common::wait_until(|| self.log().contains(needle))
    }

    /// A raw TCP connection, every read and write bounded by [`PATIENCE`].
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// A raw connection past a 101: the next bytes either way are frames.
    pub fn upgraded(&self) -> TcpStream {
        let mut stream = self.connect();
        let request = handshake_request(self.addr, "");
        stream.write_all(request.as_bytes()).expect("send request");
        let head = read_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        stream
    }

    /// `tests/common`'s client, past a 101.
    pub fn client(&self) -> Client {
        Client::raw(self.upgraded())
    }

    /// Wait (at most [`PATIENCE`]) for the server to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        common::wait_for_exit(&mut self.child, "the lesson")
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// How many sockets the server holds open: the listener and each
    /// client. Only sockets are counted, so the `log.txt` the server opens
    /// and closes for every line cannot make the count jump.
    pub fn sockets(&self) -> usize {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid())).expect("/proc/PID/fd");
        fds.filter_map(Result::ok)
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    }

    /// The CPU time the server has used so far, user and system, in clock
    /// ticks: fields 14 and 15 of `/proc/PID/stat` (proc(5)).
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        // Field 2, the command, is in parentheses and may hold spaces:
        // count from the last `)`, which ends it. Field 3 comes next.
        let (_, rest) = stat.rsplit_once(')').expect("a stat line");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields[n - 3].parse::<u64>().expect("a number of ticks");
        field(14) + field(15)
    }

    /// How long the server has been runnable, in nanoseconds: on a CPU or
    /// waiting in a run queue for one (the first two fields of
    /// `/proc/PID/schedstat`). A loop that never sleeps is runnable all
    /// the time, however little CPU a busy machine lets it have.
    pub fn runnable_ns(&self) -> u64 {
        let path = format!("/proc/{}/schedstat", self.pid());
        let stat = std::fs::read_to_string(path).expect("schedstat");
        let mut fields = stat
            .split_whitespace()
            .map(|n| n.parse::<u64>().expect("ns"));
        fields.next().expect("run time") + fields.next().expect("wait time")
    }
}

/// How a run of the lesson that should stop at once ended.
pub struct Exit {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run `lesson ARGS` to its end (at most [`PATIENCE`]), in a fresh
/// directory: for flags that make it exit before it listens.
pub fn run(args: &[&str]) -> Exit {
    let dir = common::temp_dir();
    let ran = common::run_to_end_in(&dir, env!("CARGO_BIN_EXE_lesson"), args, PATIENCE);
    let _ = std::fs::remove_dir_all(&dir);
    Exit {
        code: Some(ran.status),
        stdout: ran.stdout,
        stderr: ran.stderr,
    }
}

/// Read an HTTP response head byte by byte, so that nothing after it is
/// taken from the stream.
pub fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 65536, "no end of head in 64 KiB");
        let mut byte = [0u8];
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => panic!("the connection ended in the head: {head:?}"),
            Err(e) => panic!("no whole head ({e}; a timeout is a silent server): {head:?}"),
        }
    }
    String::from_utf8(head).expect("a text head")
}

/// Exactly `n` bytes (each read bounded by the stream's timeout).
pub fn read_bytes(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    stream
        .read_exact(&mut bytes)
        .expect("bytes from the server");
    bytes
}

/// One server frame as sent, read by §5.2's rules (lengths in network byte
/// order): its header bytes and its payload.
pub fn read_raw_frame(stream: &mut TcpStream) -> (Vec<u8>, Vec<u8>) {
    let mut header = read_bytes(stream, 2);
    let extra = match header[1] & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    header.extend(read_bytes(stream, extra));
    let length = match extra {
        0 => u64::from(header[1] & 0x7F),
        _ => header[2..].iter().fold(0, |n, &b| n << 8 | u64::from(b)),
    };
    let payload = read_bytes(stream, usize::try_from(length).expect("a length"));
    (header, payload)
}

/// The header §5.2 gives a final unmasked text frame of `length` bytes:
/// the shortest of the three length forms, in network byte order.
pub fn text_header(length: usize) -> Vec<u8> {
    let mut header = vec![0x81];
    match length {
        0..=125 => header.push(length as u8),
        126..=65535 => {
            header.push(126);
            header.extend((length as u16).to_be_bytes());
        }
        _ => {
            header.push(127);
            header.extend((length as u64).to_be_bytes());
        }
    }
    header
}

/// `n` bytes of printable text whose every position is told apart from
/// its neighbours, so a payload cut, shifted or doubled does not compare
/// equal.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 23) as u8).collect()
}

/// The reply the lesson owes `text`.
pub fn entered(text: &[u8]) -> Vec<u8> {
    [ENTERED.as_bytes(), text].concat()
}

/// True if nothing arrives on `stream` within `wait`, and the connection
/// stays open. Asserted only where silence is the behaviour under test, so
/// a slow machine cannot make it false; it can only make it miss a bug.
pub fn silent_for(stream: &TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8];
    let silent = match stream.peek(&mut byte) {
        Ok(_) => false,
        Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    };
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    silent
}
