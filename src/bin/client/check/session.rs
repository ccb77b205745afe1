//! One connection of a case: what it sends, what it reads, and the record
//! of both, which a failure shows dissected as `--trace` would.
//!
//! The reading is lenient where the conversation's is strict: a frame that
//! breaks a rule is not a reason to stop but the finding, so each frame is
//! taken as it comes and said in words (`Heard`), and whatever came of a
//! frame that never completed stays in [`Session::pending`] to be looked at
//! (the PHP's swapped lengths, B16, show there). Nothing is sized from a
//! length the server declared: bytes are kept only as they arrive, at most
//! the session's cap (RFC 6455 §10.4).

use super::{Ctx, Failure, Verdict};
use crate::peer::{Peer, Stop};
use crate::shown::quoted;
use socket_server::protocol::frame::{self, Header, OpCode};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// A whole message, either way: text or binary, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub text: bool,
    pub data: Vec<u8>,
}

impl Msg {
    pub fn of_text(text: &str) -> Msg {
        let data = text.as_bytes().to_vec();
        Msg { text: true, data }
    }

    /// What it is, for people: `text "Hello"` or `binary, 256 bytes`.
    pub fn words(&self) -> String {
        match (self.text, std::str::from_utf8(&self.data)) {
            (true, Ok(text)) => format!("text {}", quoted(text)),
            (true, Err(_)) => format!("text of {} bytes, not UTF-8", self.data.len()),
            (false, _) => format!("binary, {} bytes", self.data.len()),
        }
    }
}

/// What the server did next, once a whole one has come.
pub enum Heard {
    Message(Msg),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A close frame, its payload as it came.
    Close(Vec<u8>),
    /// A frame that breaks a rule of RFC 6455 §5, in words.
    Broken(String),
    /// Nothing whole within the deadline.
    Silent,
    /// The server closed the TCP connection.
    Ended,
    /// The connection failed: a reset, say.
    Failed(String),
    /// The cap on what a case reads is reached.
    Full,
}

/// One thing in the record of a session.
#[derive(Clone)]
pub enum Entry {
    /// A request or response head: sent by us (`out`), or come back.
    Head { out: bool, bytes: Vec<u8> },
    /// A frame: its header and the start of its payload as on the wire,
    /// and its whole length.
    Frame {
        out: bool,
        kept: Vec<u8>,
        total: usize,
        text: bool,
    },
    /// What happened, in words: a silence, the end of the stream.
    Note(String),
    /// A block of text made elsewhere (the accept key worked out).
    Block(String),
}

/// Counts kept across the cases of a run: what the server has done so
/// far, for naming a bug only the order of things shows (B4, B6).
#[derive(Default)]
pub struct Tally {
    /// Opening handshakes answered with a 101.
    pub switched: Cell<usize>,
    /// The case whose message got the server's first answer.
    pub first_answer: Cell<Option<usize>>,
}

/// One connection of a case.
pub struct Session<'c> {
    peer: Peer,
    ctx: &'c Ctx<'c>,
    log: Vec<Entry>,
    /// The server's message whose first frames have come.
    partial: Option<Msg>,
    /// Whether our last data frame, and the server's, began a text message:
    /// a continuation is shown as text if its message is.
    text_out: bool,
    text_in: bool,
    /// A write failed: nothing more is sent, and what came is still read.
    cut: bool,
    /// A probe's connection: what it does is not counted in the tally.
    pub probe: bool,
}

impl<'c> Session<'c> {
    pub fn new(peer: Peer, ctx: &'c Ctx<'c>) -> Session<'c> {
        Session {
            peer,
            ctx,
            log: Vec::new(),
            partial: None,
            text_out: false,
            text_in: false,
            cut: false,
            probe: false,
        }
    }

    /// Send a request head, and keep it in the record.
    pub fn send_head(&mut self, bytes: &[u8]) {
        let bytes = bytes.to_vec();
        self.log.push(Entry::Head {
            out: true,
            bytes: bytes.clone(),
        });
        self.write(bytes);
    }

    /// Send frames, and keep each in the record. Frames the library's
    /// parser refuses (ours, broken on purpose) are kept as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let (header_len, size) = our_frame_size(rest).unwrap_or((rest.len(), rest.len()));
            let (one, after) = rest.split_at(size.min(rest.len()));
            let text = text_of(one, &mut self.text_out);
            self.log.push(frame_entry(true, one, header_len, text));
            rest = after;
        }
        self.write(bytes.to_vec());
    }

    /// The bytes themselves, unless a write failed before: then the
    /// record says so once, and what came is still read.
    fn write(&mut self, bytes: Vec<u8>) {
        if self.cut {
            return;
        }
        if let Err(e) = self.peer.send(&bytes) {
            self.cut = true;
            self.note(format!("(the rest could not be sent: {e})"));
        }
    }

    pub fn note(&mut self, text: String) {
        self.log.push(Entry::Note(text));
    }

    pub fn block(&mut self, text: String) {
        self.log.push(Entry::Block(text));
    }

    /// The response head, or why none came: silent, closed, failed.
    pub fn read_head(&mut self) -> Result<String, String> {
        let why = match self.peer.read_head() {
            Ok(Some(head)) => {
                let text = String::from_utf8_lossy(&head).into_owned();
                self.log.push(Entry::Head {
                    out: false,
                    bytes: head,
                });
                if crate::handshake::status(&text) == Some(101) && !self.probe {
                    let tally = &self.ctx.tally.switched;
                    tally.set(tally.get() + 1);
                }
                return Ok(text);
            }
            Ok(None) if self.peer.inbox.is_empty() => "the server closed the connection".into(),
            Ok(None) => format!(
                "the server closed the connection after {} bytes that end no head: {}",
                self.peer.inbox.len(),
                quoted(&String::from_utf8_lossy(&self.peer.inbox))
            ),
            Err(Stop::Silent) => format!("nothing came within {}", self.ctx.seconds()),
            Err(Stop::Full) => "the response head is over 8 KiB".into(),
            Err(Stop::Failed(e)) => format!("the connection failed: {e}"),
        };
        self.note(format!("({why})"));
        Err(why)
    }

    /// Wait at most `pause` (and never past the deadline) for the server
    /// to send anything or close: true if it did.
    pub fn listen(&mut self, pause: Duration) -> bool {
        let deadline = self.peer.deadline;
        self.peer.deadline = deadline.min(Instant::now() + pause);
        let came = self.peer.fill().is_ok();
        self.peer.deadline = deadline;
        came
    }

    /// Bytes that came and make no whole frame (or head) yet.
    pub fn pending(&self) -> &[u8] {
        &self.peer.inbox
    }

    /// The server's next whole frame, said in words; the fragments of a
    /// message are joined (§5.4) and only the whole message is heard.
    pub fn next(&mut self) -> Heard {
        loop {
            let header = match frame::parse_header(&self.peer.inbox, false) {
                Ok(Some(header)) => header,
                Ok(None) => match self.fill() {
                    Some(stopped) => return stopped,
                    None => continue,
                },
                Err(violation) => {
                    let why = format!("a frame from the server breaks RFC 6455: {violation}");
                    return self.broken(why);
                }
            };
            // §5.1: "A server MUST NOT mask any frames that it sends".
            if header.mask.is_some() {
                return self.broken("a frame from the server is masked (§5.1)".into());
            }
            let end = usize::try_from(header.payload_len)
                .ok()
                .and_then(|len| len.checked_add(header.header_len));
            match end {
                Some(end) if self.peer.inbox.len() >= end => {
                    let bytes: Vec<u8> = self.peer.inbox.drain(..end).collect();
                    if let Some(heard) = self.take(header, &bytes) {
                        return heard;
                    }
                }
                // Not all here yet: read on, as far as the cap and the deadline.
                _ => {
                    if let Some(stopped) = self.fill() {
                        return stopped;
                    }
                }
            }
        }
    }

    /// One whole frame: a control frame is heard at once; a data frame
    /// joins its message, heard when its last frame is in.
    fn take(&mut self, header: Header, bytes: &[u8]) -> Option<Heard> {
        let text = text_of(bytes, &mut self.text_in);
        self.log
            .push(frame_entry(false, bytes, header.header_len, text));
        let payload = bytes[header.header_len..].to_vec();
        match header.opcode {
            OpCode::Ping => return Some(Heard::Ping(payload)),
            OpCode::Pong => return Some(Heard::Pong(payload)),
            OpCode::Close => return Some(Heard::Close(payload)),
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {}
        }
        let message = match (header.opcode, self.partial.take()) {
            (OpCode::Continuation, Some(mut message)) => {
                message.data.extend_from_slice(&payload);
                message
            }
            (OpCode::Continuation, None) => {
                let why = "a continuation frame from the server with no message to continue (§5.4)";
                return Some(Heard::Broken(why.into()));
            }
            (_, Some(_)) => {
                let why = "a new message from the server before its last one ended (§5.4)";
                return Some(Heard::Broken(why.into()));
            }
            (opcode, None) => Msg {
                text: opcode == OpCode::Text,
                data: payload,
            },
        };
        if !header.fin {
            self.partial = Some(message);
            return None;
        }
        self.answered();
        Some(Heard::Message(message))
    }

    /// The server answered a message: the first answer of a run is kept
    /// in the tally (B6 shows right after it).
    fn answered(&self) {
        let first = &self.ctx.tally.first_answer;
        if first.get().is_none() && !self.probe {
            first.set(Some(self.ctx.index));
        }
    }

    /// Read more; `None` if bytes came, else what stopped it, noted.
    fn fill(&mut self) -> Option<Heard> {
        let (heard, why) = match self.peer.fill() {
            Ok(true) => return None,
            Ok(false) => (
                Heard::Ended,
                "the server closed the TCP connection".to_string(),
            ),
            Err(Stop::Silent) => (
                Heard::Silent,
                format!("nothing more came within {}", self.ctx.seconds()),
            ),
            Err(Stop::Full) => (Heard::Full, "the case read as much as it reads".to_string()),
            Err(Stop::Failed(e)) => (
                Heard::Failed(e.to_string()),
                format!("the connection failed: {e}"),
            ),
        };
        let pending = self.peer.inbox.len();
        match pending {
            0 => self.note(format!("({why})")),
            n => self.note(format!(
                "({why}; {n} bytes came that make no whole frame: {})",
                crate::shown::hex(&self.peer.inbox)
            )),
        }
        Some(heard)
    }

    fn broken(&mut self, why: String) -> Heard {
        let shown = crate::shown::hex(&self.peer.inbox);
        self.note(format!("(came back, not a frame by RFC 6455: {shown})"));
        Heard::Broken(why)
    }

    /// Wait for the end of the stream: `Ok` once the server closed the
    /// TCP connection, else what came instead (bytes, or nothing in time).
    pub fn end(&mut self) -> Result<(), String> {
        loop {
            if !self.peer.inbox.is_empty() {
                let n = self.peer.inbox.len();
                return Err(format!(
                    "{n} more bytes came: {}",
                    crate::shown::hex(&self.peer.inbox)
                ));
            }
            match self.fill() {
                None => continue,
                Some(Heard::Ended) => return Ok(()),
                Some(Heard::Silent) => {
                    return Err(format!(
                        "the connection was still open after {}",
                        self.ctx.seconds()
                    ))
                }
                Some(Heard::Failed(e)) => return Err(format!("the connection failed: {e}")),
                Some(_) => return Err("the server sent more than a case reads".into()),
            }
        }
    }

    /// This session's failure, with its record.
    pub fn fail(&self, reason: impl Into<String>) -> Verdict {
        self.fail_as(reason, None)
    }

    /// The same, looking like one of the PHP's bugs.
    pub fn fail_as(&self, reason: impl Into<String>, bug: Option<super::bugs::Bug>) -> Verdict {
        let transcript = self.log.clone();
        Verdict::Failed(Failure {
            reason: reason.into(),
            bug,
            transcript,
        })
    }
}

/// A frame kept for the record: its header and at most 125 bytes of its
/// payload (what `--trace` keeps), and its length.
fn frame_entry(out: bool, bytes: &[u8], header_len: usize, text: bool) -> Entry {
    let kept = bytes[..bytes.len().min(header_len + 125)].to_vec();
    let total = bytes.len();
    Entry::Frame {
        out,
        kept,
        total,
        text,
    }
}

/// The header's size and the whole size of the frame we wrote at the
/// front of `bytes`, read as §5.2 writes them (whatever its first byte
/// says: ours may break a rule on purpose).
fn our_frame_size(bytes: &[u8]) -> Option<(usize, usize)> {
    let second = *bytes.get(1)?;
    let (extra, len) = match second & 0x7F {
        126 => (
            2,
            u64::from(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?])),
        ),
        127 => (8, u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?)),
        n => (0, u64::from(n)),
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    let header_len = 2 + extra + mask;
    Some((header_len, header_len + usize::try_from(len).ok()?))
}

/// Whether a frame carries text: a text frame does, a continuation if its
/// message began as text; `text` is that, for the direction it went.
fn text_of(bytes: &[u8], text: &mut bool) -> bool {
    match bytes.first().map(|b| b & 0x0F) {
        Some(0x1) => *text = true,
        Some(0x2) => *text = false,
        Some(0x0) => {}
        _ => return false,
    }
    *text
}
