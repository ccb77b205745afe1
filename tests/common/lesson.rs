//! The lesson server (`src/bin/lesson.rs`) as the tests start it: in a
//! fresh directory (it appends to `log.txt` where it runs), on a port the
//! system picks, learnt from its first line; killed and cleaned up when
//! dropped. `tests/lesson/` drives it; `tests/check.rs` checks it.

use super::{temp_dir, PATIENCE};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;

/// A running lesson server.
pub struct Lesson {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    /// The server's stdout, held open so that it never writes to a closed
    /// pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Lesson {
    /// Start `lesson --port 0 --php-bugs BUGS` (no `--php-bugs` when
    /// `bugs` is empty) and learn its port from its first line.
    pub fn start(bugs: &str) -> Lesson {
        let dir = temp_dir();
        let mut command = Command::new(env!("CARGO_BIN_EXE_lesson"));
        command.args(["--port", "0"]);
        if !bugs.is_empty() {
            command.args(["--php-bugs", bugs]);
        }
        let mut child = command
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the lesson");
        let stdout = child.stdout.take().expect("stdout");
        let Some((line, stdout)) = first_line(stdout) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the lesson printed no line within {PATIENCE:?}");
        };
        // `listening on ws://127.0.0.1:PORT/  (open http://...)`
        let addr = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("ws://"))
            .map(|addr| addr.trim_end_matches('/'))
            .and_then(|addr| addr.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no address in {line:?}");
        };
        Lesson {
            child,
            addr,
            dir,
            _stdout: stdout,
        }
    }
}

impl Drop for Lesson {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The first line the server prints, read on a thread so that the wait is
/// bounded: a server that never prints is killed by the caller, which ends
/// the read.
fn first_line(stdout: ChildStdout) -> Option<(String, BufReader<ChildStdout>)> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = sender.send((line, reader));
    });
    receiver.recv_timeout(PATIENCE).ok()
}
