//! Our frames, as a client writes them (RFC 6455 §5.2, §5.3), and the
//! record `--trace`'s blocks are drawn from (`Seen`), for a frame either
//! way. The library writes a whole unmasked frame (`frame::encode`); a
//! client's differs from it in a bit or two and four bytes.

use socket_server::dissect::{Direction, Seen};
use socket_server::protocol::frame::{self, Header, OpCode};

/// The masking key of our frames: RFC 6455 §5.7's. A real client picks a
/// new random key for each frame (§5.3), so that a page's script cannot
/// choose the bytes on the wire (§10.3).
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// The key of a split message's second frame: each frame has its own.
pub const SECOND_MASK: [u8; 4] = [0x7d, 0x24, 0x9e, 0x08];

/// A client's frame (§5.2). `mask` is `None` only to break §5.1 on
/// purpose: a client MUST mask every frame.
pub fn client_frame(opcode: OpCode, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    // FIN 0: more frames of this message follow (§5.4).
    let fin_bit = if fin { 0x80 } else { 0 };
    raw_frame(fin_bit | opcode as u8, payload, mask)
}

/// A frame whose first byte (FIN, RSV1-3 and the opcode) is `first`, as
/// given: the checker sets reserved bits and opcodes with it on purpose.
/// The length is in its shortest form, in network byte order (§5.2).
pub fn raw_frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(14 + payload.len());
    // The library writes the length; the first byte is then ours.
    frame::encode(&mut bytes, OpCode::Binary, payload);
    bytes[0] = first;
    if let Some(key) = mask {
        let at = bytes.len() - payload.len();
        bytes[1] |= 0x80; // MASK 1, and the key after the length (§5.2)
        frame::unmask(&mut bytes[at..], key, 0); // XOR masks as it unmasks
        bytes.splice(at..at, key);
    }
    bytes
}

/// A message's one frame (FIN 1), masked with [`MASK`].
pub fn masked(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    client_frame(opcode, true, payload, Some(MASK))
}

/// What `--trace` formats of one frame: `bytes` is its header, then (the
/// start of) its payload as it went on the wire.
pub fn seen(direction: Direction, header: Header, bytes: &[u8], text: bool) -> Seen {
    let (header_bytes, payload) = bytes.split_at(header.header_len);
    // The library's record of a frame read, turned round if it is ours.
    let mut seen = Seen::incoming(header, header_bytes, text);
    seen.direction = direction;
    Seen::keep(&mut seen.wire, payload);
    seen.plain = seen.wire.clone();
    if let Some(key) = header.mask {
        frame::unmask(&mut seen.plain, key, 0);
    }
    seen
}
