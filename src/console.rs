//! The log: the PHP's `console($text)`, which appended to `log.txt`.
//!
//! Here every line goes through the `log` macros (`info!`, `warn!`, ...) and
//! `env_logger`, which adds a timestamp and a level and filters by
//! `RUST_LOG` (default `info`; `debug` adds the handshake headers, as the
//! PHP logged them). Lines are appended to the log file; if it cannot be
//! opened or written, they go to stderr instead, with a warning, and the
//! server runs on.
//!
//! Anything a peer sent goes through [`escape`] first, so that a client
//! cannot forge log lines with a newline, or hide text with terminal
//! escape codes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// How many bytes of a peer's data [`escape`] shows before it cuts.
pub const SHOWN_BYTES: usize = 200;

/// Start logging to `path`; with `trace`, let `--trace`'s blocks through
/// too. Call once, before the server starts.
pub fn init(path: &Path, trace: bool) {
    let sink = LogFile::open(path);
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if trace {
        builder.filter_module(crate::trace::TARGET, log::LevelFilter::Trace);
    }
    builder
        .format_timestamp_millis()
        // The lines after a record's first (a `--trace` block's) start with
        // four spaces, so every line that does not is a record of its own.
        .format_indent(Some(4))
        .target(env_logger::Target::Pipe(Box::new(sink)))
        .init();
}

/// The log file, or stderr once the file has failed.
struct LogFile {
    path: PathBuf,
    file: Option<File>,
}

impl LogFile {
    fn open(path: &Path) -> LogFile {
        let file = OpenOptions::new().create(true).append(true).open(path);
        if let Err(e) = &file {
            eprintln!(
                "warning: cannot open log file {}: {e}; logging to stderr",
                path.display()
            );
        }
        LogFile {
            path: path.to_owned(),
            file: file.ok(),
        }
    }
}

impl Write for LogFile {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if let Some(file) = &mut self.file {
            match file.write_all(line) {
                Ok(()) => return Ok(line.len()),
                Err(e) => {
                    eprintln!(
                        "warning: cannot write log file {}: {e}; logging to stderr",
                        self.path.display()
                    );
                    self.file = None;
                }
            }
        }
        io::stderr().write_all(line)?;
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => io::stderr().flush(),
        }
    }
}

/// Make bytes from the network safe to log: valid UTF-8 is kept, except
/// the characters `is_risky` names, which are written as escapes (`\n`, `\u{1b}`);
/// invalid bytes become `\xNN`; and past [`SHOWN_BYTES`] the text is cut,
/// saying how long it was.
pub fn escape(bytes: &[u8]) -> String {
    escape_up_to(bytes, SHOWN_BYTES)
}

/// [`escape`], showing up to `limit` bytes.
pub fn escape_up_to(bytes: &[u8], limit: usize) -> String {
    let shown = &bytes[..bytes.len().min(limit)];
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
    if bytes.len() > shown.len() {
        text.push_str(&format!("... ({} bytes)", bytes.len()));
    }
    text
}

/// Characters that change how a log reads rather than what it says:
/// control characters (newlines, terminal escapes), the Unicode line and
/// paragraph separators (some viewers break lines there), and the
/// bidirectional controls that can make text display in another order than
/// it is stored ("Trojan Source", CVE-2021-42574).
fn is_risky(c: char) -> bool {
    c.is_control()
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
    use super::escape;

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
