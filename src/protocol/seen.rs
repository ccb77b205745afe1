//! What `--trace` shows of a frame: the bytes the protocol kept, for the
//! server to format (`server/trace.rs`).
//!
//! Kept only while someone looks: with `--trace`, or while the inspector
//! samples (`Connection::keep_seen` switches it at any time); with neither,
//! nothing here is made or copied.

use super::close::Violation;
use super::frame::{self, Header, OpCode};

/// How many payload bytes a frame keeps for the trace: every control
/// payload whole (they are at most 125 bytes, §5.5), and the start of a
/// message.
pub const KEPT: usize = 125;

/// How many bytes the first frame of a compressed message keeps,
/// unmasked: its DEFLATE blocks are read from them for the trace
/// (`blocks.rs`), and a dynamic block's own codes come first, often tens
/// of bytes of them.
pub const KEPT_COMPRESSED: usize = 512;

/// What `--trace` shows, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A frame read or queued.
    Frame(Seen),
    /// The connection failed on a broken rule: with the first bytes that
    /// were left unread, to show where it was.
    Failure(Violation, Vec<u8>),
    /// Here an event happened (`connection::Event`): what comes before was
    /// before it, what comes after, after.
    Event,
}

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the server: masked.
    In,
    /// From the server to the client: never masked (§5.1).
    Out,
    /// From the server to every member of the chat room: one frame, the
    /// same bytes for each, shown once.
    ToAll { members: usize },
}

/// What `--trace` shows of one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub direction: Direction,
    pub header: Header,
    /// The header's bytes, as they were on the wire (2 to 14).
    pub header_bytes: Vec<u8>,
    /// The first payload bytes as they were on the wire (masked, if the
    /// frame was), at most [`KEPT`].
    pub wire: Vec<u8>,
    /// The same bytes unmasked, at most [`KEPT`] ([`KEPT_COMPRESSED`] if
    /// RSV1 is set).
    pub plain: Vec<u8>,
    /// The frame carries (part of) a text message.
    pub text: bool,
    /// The frame carries (part of) a compressed message (RFC 7692 §6): its
    /// payload is DEFLATE, not text. RSV1 says so on the first frame only.
    pub deflated: bool,
    /// A compressed message, on its last frame: the first bytes of what it
    /// inflates to, at most [`KEPT`], and how many there are in all.
    pub inflated: Option<(Vec<u8>, usize)>,
}

impl Seen {
    /// A frame arriving: its header now, its payload as it comes ([`Seen::keep`]).
    pub fn incoming(header: Header, header_bytes: &[u8], text: bool) -> Seen {
        let mut seen = Seen {
            direction: Direction::In,
            header,
            header_bytes: header_bytes.to_vec(),
            wire: Vec::new(),
            plain: Vec::new(),
            text,
            deflated: false,
            inflated: None,
        };
        seen.deflated = seen.compressed();
        seen
    }

    /// A frame we send: `opcode` and its whole `payload`.
    pub(crate) fn outgoing(opcode: OpCode, payload: &[u8]) -> Seen {
        let mut header_bytes = Vec::new();
        frame::encode_header(&mut header_bytes, opcode, payload.len());
        let kept = payload[..payload.len().min(KEPT)].to_vec();
        Seen {
            direction: Direction::Out,
            header: Header {
                fin: true,
                opcode,
                mask: None,
                payload_len: payload.len() as u64,
                header_len: header_bytes.len(),
            },
            header_bytes,
            wire: kept.clone(),
            plain: kept,
            text: opcode == OpCode::Text,
            deflated: false,
            inflated: None,
        }
    }

    /// A compressed message we send (RFC 7692 §6): its one frame carries
    /// `compressed`, RSV1 set; `plain` is what it inflates to.
    pub(crate) fn outgoing_compressed(opcode: OpCode, compressed: &[u8], plain: &[u8]) -> Seen {
        let mut seen = Seen::outgoing(opcode, compressed);
        seen.header_bytes.clear();
        frame::encode_compressed_header(&mut seen.header_bytes, opcode, compressed.len());
        seen.deflated = true;
        seen.plain = compressed[..compressed.len().min(KEPT_COMPRESSED)].to_vec();
        seen.keep_inflated(plain);
        seen
    }

    /// Keep the first bytes of what the compressed message this frame ends
    /// inflated to (`plain`), to show with the frame.
    pub(crate) fn keep_inflated(&mut self, plain: &[u8]) {
        self.inflated = Some((plain[..plain.len().min(KEPT)].to_vec(), plain.len()));
    }

    /// RSV1 is set: the frame begins a compressed message (RFC 7692 §6).
    pub fn compressed(&self) -> bool {
        self.header_bytes
            .first()
            .is_some_and(|b| b & frame::COMPRESSED != 0)
    }

    /// A frame already encoded (`bytes`, header then payload), sent to all
    /// `members` of the room.
    pub(crate) fn to_all(bytes: &[u8], members: usize) -> Option<Seen> {
        let header = frame::parse_header(bytes, false).ok()??;
        let payload = bytes.get(header.header_len..)?;
        let mut seen = Seen::outgoing(header.opcode, payload);
        seen.direction = Direction::ToAll { members };
        Some(seen)
    }

    /// Keep the first bytes of a payload piece, up to [`KEPT`] in all: as
    /// it came (`wire`), or unmasked (`plain`, but see [`Seen::keep_plain`]).
    pub fn keep(kept: &mut Vec<u8>, piece: &[u8]) {
        keep_up_to(kept, piece, KEPT);
    }

    /// Keep the first bytes of a payload piece unmasked: up to [`KEPT`], or
    /// [`KEPT_COMPRESSED`] of a compressed message's first frame.
    pub(crate) fn keep_plain(&mut self, piece: &[u8]) {
        let limit = if self.compressed() {
            KEPT_COMPRESSED
        } else {
            KEPT
        };
        keep_up_to(&mut self.plain, piece, limit);
    }
}

/// Add the start of `piece` to `kept`, up to `limit` bytes in all.
fn keep_up_to(kept: &mut Vec<u8>, piece: &[u8], limit: usize) {
    let room = limit.saturating_sub(kept.len());
    kept.extend_from_slice(&piece[..piece.len().min(room)]);
}
