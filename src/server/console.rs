//! The log: the PHP's `console($text)`, which appended to `log.txt`.
//!
//! Here every line goes through the `log` macros (`info!`, `warn!`, ...) and
//! `env_logger`, which adds a timestamp and a level and filters by
//! `RUST_LOG` (default `info`; `debug` adds the handshake headers, as the
//! PHP logged them). Lines are appended to the log file; if it cannot be
//! opened or written, they go to stderr instead, with a warning, and the
//! server runs on. If stderr fails too, the line is lost: no write here can
//! stop the server. SIGHUP ([`reopen`]) opens the file again by its name,
//! as logrotate expects.
//!
//! Anything a peer sent goes through [`escape`] first, so that a client
//! cannot forge log lines with a newline, or hide text with terminal
//! escape codes.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The `log` target of every `--trace` block (`RUST_LOG` can name it too).
pub(crate) const TRACE_TARGET: &str = "socket_server::trace";

/// How many bytes of a peer's data [`escape`] shows before it cuts.
pub(crate) const SHOWN_BYTES: usize = 200;

/// Start logging to `path`; with `trace`, let `--trace`'s blocks through
/// too. Call once, before the server starts.
pub fn init(path: &Path, trace: bool) {
    let sink = LogFile::open(path);
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if trace {
        builder.filter_module(TRACE_TARGET, log::LevelFilter::Trace);
    }
    builder
        .format_timestamp_millis()
        // The lines after a record's first (a `--trace` block's) start with
        // four spaces, so every line that does not is a record of its own.
        .format_indent(Some(4))
        .target(env_logger::Target::Pipe(Box::new(sink)))
        .init();
}

/// A line for a person at the terminal. If stdout cannot be written (a
/// closed pipe, a full disk under `nohup`), the line is lost, and the
/// server goes on: `println!` would panic instead.
pub fn to_stdout(line: &str) {
    let _ = writeln!(io::stdout(), "{line}");
}

/// The same, on stderr.
pub fn to_stderr(line: &str) {
    to_stderr_if_room(format!("{line}\n").as_bytes());
}

/// Write `bytes` to stderr, as far as it has room. A stderr that nobody
/// reads (a full pipe) must not stop the server: what does not fit is lost.
/// It goes in pieces of one pipe buffer (4096 bytes, POSIX's `PIPE_BUF`)
/// at most, each only when stderr says it has room for one.
fn to_stderr_if_room(bytes: &[u8]) {
    for piece in bytes.chunks(4096) {
        if !crate::server::poll::stderr_has_room() {
            return;
        }
        let _ = io::stderr().write_all(piece);
    }
}

/// Set by [`reopen`]: the log file is to be opened again at the next line.
static REOPEN: AtomicBool = AtomicBool::new(false);

/// Open the log file again before the next line, by its name: after
/// logrotate has moved it (it sends SIGHUP), or after it failed.
pub(crate) fn reopen() {
    REOPEN.store(true, Ordering::SeqCst);
}

/// The log file, or stderr while the file cannot be written.
struct LogFile {
    path: PathBuf,
    file: Option<File>,
}

impl LogFile {
    fn open(path: &Path) -> LogFile {
        LogFile {
            path: path.to_owned(),
            file: open_for_appending(path),
        }
    }
}

/// The log file, opened to append, or `None` (and a warning) if it cannot be.
fn open_for_appending(path: &Path) -> Option<File> {
    match OpenOptions::new().create(true).append(true).open(path) {
        Ok(file) => Some(file),
        Err(e) => {
            let path = path.display();
            to_stderr(&format!(
                "warning: cannot open log file {path}: {e}; logging to stderr"
            ));
            None
        }
    }
}

impl Write for LogFile {
    /// Write one log line. It never fails: a line that cannot go anywhere
    /// is lost, and the server goes on.
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if REOPEN.swap(false, Ordering::SeqCst) {
            self.file = open_for_appending(&self.path);
        }
        if let Some(file) = &mut self.file {
            match file.write_all(line) {
                Ok(()) => return Ok(line.len()),
                Err(e) => {
                    let path = self.path.display();
                    to_stderr(&format!(
                        "warning: cannot write log file {path}: {e}; logging to stderr"
                    ));
                    self.file = None;
                }
            }
        }
        to_stderr_if_room(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = match &mut self.file {
            Some(file) => file.flush(),
            None => io::stderr().flush(),
        };
        Ok(())
    }
}

/// How many bytes of log lines one address may cause in a burst, and then
/// how many a second. Bytes, not lines, because lines differ a hundredfold:
/// a connection's "disconnected" is 80 bytes, a `--trace` block of a
/// request head of control bytes 50 KB. A person typing, even with
/// `--trace`, or reloading the page, stays inside it; a script sending
/// thousands of messages or connections a second, or the biggest lines it
/// can make, does not.
pub(crate) const BYTES_AT_ONCE: i64 = 32 * 1024;
pub(crate) const BYTES_PER_SECOND: i64 = 2 * 1024;

/// What `env_logger` adds to a line we hand it, counted against the budget
/// too: its prefix, at most this long (the longest target is the record's:
/// `[2026-12-03T16:28:35.424Z INFO  socket_server::server::client] `), and,
/// in a block of several lines, four spaces after each newline ([`init`]).
const PREFIX_BYTES: usize = 64;
const INDENT_BYTES: usize = 4;

/// The time one byte of budget takes to earn back.
const TICK: Duration = Duration::from_nanos(1_000_000_000 / BYTES_PER_SECOND as u64);

/// One peer's allowance of log output: [`BYTES_AT_ONCE`], then
/// [`BYTES_PER_SECOND`] (a token bucket). Every line a peer can cause
/// spends it: a connection's comings and goings, each message, each block
/// of `--trace`, a refusal. It belongs to the peer's address, shared by all
/// its connections and kept across them, so reconnecting does not renew
/// it. A line may be written while anything is left, and then costs its
/// size, which may leave a debt that time pays back: a line is formatted
/// only when it will be written, and no line is cut. Lines over it are
/// counted, not written, and the next line allowed says how many there
/// were ([`log_within`]): what one peer can make the server write is
/// bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBudget {
    /// Bytes that may be written now; below zero after a line longer than
    /// what was left.
    left: i64,
    /// Since when `left` has been counted.
    refilled: Instant,
    /// Lines held back since the last one logged.
    held_back: u64,
}

impl LogBudget {
    pub fn new(now: Instant) -> LogBudget {
        LogBudget {
            left: BYTES_AT_ONCE,
            refilled: now,
            held_back: 0,
        }
    }

    /// May one more line be logged now? `Some(n)`: yes, and `n` lines were
    /// held back before it (say so first, if there were); then [`spend`]
    /// what it took. `None`: no, and it is counted.
    ///
    /// [`spend`]: LogBudget::spend
    pub fn take(&mut self, now: Instant) -> Option<u64> {
        self.refill(now);
        if self.left <= 0 {
            self.held_back += 1;
            return None;
        }
        Some(std::mem::take(&mut self.held_back))
    }

    /// A line was written: take its bytes off what is left.
    pub(crate) fn spend(&mut self, line: &str) {
        let newlines = line.bytes().filter(|&b| b == b'\n').count();
        let bytes = PREFIX_BYTES + line.len() + INDENT_BYTES * newlines;
        self.left = self
            .left
            .saturating_sub(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Lines held back and not yet reported; from now on, none.
    pub(crate) fn take_held_back(&mut self) -> u64 {
        std::mem::take(&mut self.held_back)
    }

    /// Has it earned back its whole burst? (Then, with no connection left
    /// to use it, it may be forgotten, and a new one made if the address
    /// comes back.)
    pub(crate) fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.left == BYTES_AT_ONCE
    }

    /// Add what the time since the last refill has earned.
    fn refill(&mut self, now: Instant) {
        let ticks = now.saturating_duration_since(self.refilled).as_nanos() / TICK.as_nanos();
        let earned = i64::try_from(ticks).unwrap_or(i64::MAX);
        if self.left.saturating_add(earned) >= BYTES_AT_ONCE {
            (self.left, self.refilled) = (BYTES_AT_ONCE, now);
        } else {
            // Less than a burst and one line's debt: far below u32::MAX.
            self.left += earned;
            self.refilled += TICK * u32::try_from(earned).unwrap_or(u32::MAX);
        }
    }
}

/// Log a line that a peer at `address` caused, if its budget allows one
/// now; first, if lines were held back since its last one, say how many.
/// A line whose level is off costs nothing and spends nothing, and no line
/// is formatted unless it is written.
pub(crate) fn log_within(
    budget: &RefCell<LogBudget>,
    address: IpAddr,
    now: Instant,
    level: log::Level,
    target: &str,
    line: impl FnOnce() -> String,
) {
    if !log::log_enabled!(target: target, level) {
        return;
    }
    let Some(held_back) = budget.borrow_mut().take(now) else {
        return;
    };
    if held_back > 0 {
        let summary = held_back_line(address, held_back);
        budget.borrow_mut().spend(&summary);
        log::info!("{summary}");
    }
    let line = line();
    budget.borrow_mut().spend(&line);
    log::log!(target: target, level, "{line}");
}

/// The line that reports lines held back by an address's [`LogBudget`].
pub(crate) fn held_back_line(address: IpAddr, count: u64) -> String {
    format!(
        "{count} lines from {address} not logged (an address may have {} KiB of lines \
         at once, then {} KiB a second)",
        BYTES_AT_ONCE / 1024,
        BYTES_PER_SECOND / 1024
    )
}

/// Make bytes from the network safe to log: valid UTF-8 is kept, except
/// the characters `is_risky` names, which are written as escapes (`\n`, `\u{1b}`);
/// invalid bytes become `\xNN`; and past [`SHOWN_BYTES`] the text is cut,
/// saying how long it was.
pub(crate) fn escape(bytes: &[u8]) -> String {
    escape_up_to(bytes, SHOWN_BYTES)
}

/// [`escape`], showing up to `limit` bytes.
pub(crate) fn escape_up_to(bytes: &[u8], limit: usize) -> String {
    escape_start(&bytes[..bytes.len().min(limit)], bytes.len())
}

/// [`escape`] of the first bytes (`shown`) of something `len` bytes long:
/// all that was kept of it to be logged.
pub(crate) fn escape_start(shown: &[u8], len: usize) -> String {
    let mut text = String::with_capacity(shown.len());
    for chunk in shown.utf8_chunks() {
        for c in chunk.valid().chars() {
            if is_risky(c) {
                text.extend(c.escape_default());
            } else {
                text.push(c);
            }
        }
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    if len > shown.len() {
        text.push_str(&format!("... ({len} bytes)"));
    }
    text
}

/// Characters that change how a log reads rather than what it says:
/// control characters (newlines, terminal escapes), the Unicode line and
/// paragraph separators (some viewers break lines there), and the
/// bidirectional controls that can make text display in another order than
/// it is stored ("Trojan Source", CVE-2021-42574). And the backslash that
/// starts every escape: written `\\`, so that a peer who sends the two
/// characters `\n` is not logged the same as one who sends a newline.
fn is_risky(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' // line and paragraph separators
                | '\u{061C}' | '\u{200E}' | '\u{200F}' // directional marks
                | '\u{202A}'..='\u{202E}' // embeddings and overrides
                | '\u{2066}'..='\u{2069}' // isolates
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape(b"hi\r\nINFO forged"), "hi\\r\\nINFO forged");
        assert_eq!(escape(b"\x1b[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape("\u{85}next line".as_bytes()), "\\u{85}next line");
        assert_eq!(escape("κόσμε".as_bytes()), "κόσμε");
        assert_eq!(escape("a\u{2028}b".as_bytes()), "a\\u{2028}b");
        assert_eq!(
            escape("x\u{202E}y\u{2066}".as_bytes()),
            "x\\u{202e}y\\u{2066}"
        );
    }

    /// A line of 100 bytes costs 164 with `env_logger`'s prefix.
    const LINE: &str = "[6b11733f0b4a4] Data from client (text): a line of about a hundred bytes, as a person types it today";

    #[test]
    fn a_budget_allows_a_burst_then_a_steady_rate() {
        let t0 = Instant::now();
        let mut budget = LogBudget::new(t0);
        assert_eq!(LINE.len(), 100);
        let mut lines = 0;
        while budget.take(t0).is_some() {
            budget.spend(LINE);
            lines += 1;
        }
        assert_eq!(lines, (BYTES_AT_ONCE + 163) / 164);
        for _ in 0..9 {
            assert_eq!(budget.take(t0), None);
        }
        // 0.15 s later, 307 bytes more: one line, which says 10 were held.
        let later = t0 + Duration::from_millis(150);
        assert_eq!(budget.take(later), Some(10));
        budget.spend(LINE);
        assert_eq!(budget.take(later), Some(0));
        budget.spend(LINE);
        assert_eq!(budget.take(later), None);
        assert_eq!(budget.take_held_back(), 1);
        assert!(!budget.is_full(later));
        assert!(budget.is_full(later + Duration::from_secs(17)));
        // A person typing a line a second for an hour is never held back.
        let mut person = LogBudget::new(t0);
        for second in 0..3600 {
            let now = t0 + Duration::from_secs(second);
            assert_eq!(person.take(now), Some(0));
            person.spend(LINE);
        }
    }

    /// Found in review: a budget of lines let one line in, whatever its
    /// size, so a peer that made its lines as big as it could (a request
    /// head of control bytes, traced, is 50 KB) wrote 270 KB a second. In
    /// bytes, one such line leaves a debt that keeps the address quiet
    /// until it is paid.
    #[test]
    fn one_big_line_is_paid_for_in_silence() {
        let t0 = Instant::now();
        let mut budget = LogBudget::new(t0);
        assert_eq!(budget.take(t0), Some(0));
        budget.spend(&"\\u{1}".repeat(10_000));
        let paid = Duration::from_secs_f64(18_000.0 / BYTES_PER_SECOND as f64);
        assert_eq!(budget.take(t0 + paid / 2), None);
        assert_eq!(budget.take(t0 + paid), Some(1));
    }

    #[test]
    fn a_backslash_is_escaped_so_no_two_inputs_log_the_same() {
        assert_eq!(escape(b"a\\nb"), "a\\\\nb");
        assert_eq!(escape(b"a\nb"), "a\\nb");
        assert_ne!(escape(b"a\\nb"), escape(b"a\nb"));
        assert_ne!(escape(b"\\xff"), escape(b"\xff"));
    }

    #[test]
    fn invalid_bytes_are_shown_as_hex() {
        assert_eq!(escape(b"a\xffb\xc3"), "a\\xffb\\xc3");
    }

    #[test]
    fn long_input_is_cut() {
        let text = escape(&[b'a'; 1000]);
        assert!(text.starts_with(&"a".repeat(200)));
        assert!(text.ends_with("... (1000 bytes)"));
    }
}
