//! The WebSocket frame (RFC 6455 §5.2): its header, `unmask()` and `encode()`.
//!
//! These are the PHP tutorial's `unmask($payload)` and `encode($text)`, made
//! correct and split so that each does one job on plain byte slices, with no
//! sockets anywhere:
//!
//! - [`parse_header`] reads the 2 to 14 header bytes, or says it needs more;
//! - [`unmask`] undoes the client's XOR mask on payload bytes (in place);
//! - [`encode`] writes a whole unmasked server frame.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```

use crate::protocol::close::Violation;

/// The opcodes RFC 6455 §5.2 defines. The others (0x3-0x7, 0xB-0xF) are
/// reserved and rejected by [`parse_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

impl OpCode {
    /// RFC 6455 §5.2: opcodes with the high bit set (0x8-0xF) are control frames.
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }

    /// Its name in the RFC's table of opcodes (§5.2, §11.8).
    pub fn name(self) -> &'static str {
        match self {
            OpCode::Continuation => "continuation",
            OpCode::Text => "text",
            OpCode::Binary => "binary",
            OpCode::Close => "close",
            OpCode::Ping => "ping",
            OpCode::Pong => "pong",
        }
    }

    fn from_bits(bits: u8) -> Option<OpCode> {
        match bits {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }
}

/// A parsed frame header: everything before the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    pub opcode: OpCode,
    /// The masking key; client frames always carry one (§5.3).
    pub mask: Option<[u8; 4]>,
    /// How many payload bytes follow the header. Only a *declared* length:
    /// nothing may be allocated from it before the bytes actually arrive.
    pub payload_len: u64,
    /// How many bytes the header itself took (2 to 14).
    pub header_len: usize,
}

/// Read a frame header from the front of `bytes`.
///
/// Returns `Ok(None)` when `bytes` does not yet hold the whole header: the
/// caller reads more from the socket and tries again. Returns a
/// [`Violation`] when the header breaks a rule of RFC 6455 §5.
///
/// `require_mask` is true on a server: every client frame must be masked.
/// No extension is agreed, so every RSV bit must be clear.
pub fn parse_header(bytes: &[u8], require_mask: bool) -> Result<Option<Header>, Violation> {
    parse_header_with(bytes, require_mask, false)
}

/// RSV1, "Per-Message Compressed" in permessage-deflate (RFC 7692 §6).
pub const COMPRESSED: u8 = 0x40;

/// [`parse_header`], on a connection that agreed to permessage-deflate
/// when `deflate` is true: then RSV1 ([`COMPRESSED`]) may be set on a text
/// or binary frame, which always begins a message (a later fragment is a
/// continuation).
pub fn parse_header_with(
    bytes: &[u8],
    require_mask: bool,
    deflate: bool,
) -> Result<Option<Header>, Violation> {
    let [first, second, ..] = *bytes else {
        return Ok(None);
    };

    let fin = first & 0x80 != 0;
    check_reserved_bits(first, deflate)?;
    // §5.2: "If an unknown opcode is received, the receiving endpoint MUST
    // _Fail the WebSocket Connection_."
    let bits = first & 0x0F;
    let opcode = OpCode::from_bits(bits).ok_or(Violation::ReservedOpcode(bits))?;
    // §5.5: "All control frames MUST have a payload length of 125 bytes or
    // less and MUST NOT be fragmented."
    if opcode.is_control() && !fin {
        return Err(Violation::FragmentedControl);
    }

    let masked = second & 0x80 != 0;
    // §5.1: "The server MUST close the connection upon receiving a frame that
    // is not masked."
    if require_mask && !masked {
        return Err(Violation::UnmaskedFrame);
    }

    let Some((payload_len, len_bytes)) = payload_length(second, bytes)? else {
        return Ok(None);
    };
    if opcode.is_control() && payload_len > 125 {
        return Err(Violation::ControlTooLong);
    }

    let mut header_len = 2 + len_bytes;
    let mask = if masked {
        let Some(key) = bytes.get(header_len..header_len + 4) else {
            return Ok(None);
        };
        header_len += 4;
        Some([key[0], key[1], key[2], key[3]])
    } else {
        None
    };

    Ok(Some(Header {
        fin,
        opcode,
        mask,
        payload_len,
        header_len,
    }))
}

/// §5.2: "RSV1, RSV2, RSV3: 1 bit each. MUST be 0 unless an extension is
/// negotiated that defines meanings for non-zero values." RFC 7692 §6.1:
/// permessage-deflate (`deflate`) gives RSV1 a meaning, and never on
/// "control frames and non-first fragments of a data message": only a
/// text or binary frame may carry it, and a later fragment is a
/// continuation (opcode 0), so both are refused here.
fn check_reserved_bits(first: u8, deflate: bool) -> Result<(), Violation> {
    let data = matches!(first & 0x0F, 0x1 | 0x2);
    let rsv1_allowed = deflate && data;
    if first & 0x30 != 0 || (first & COMPRESSED != 0 && !rsv1_allowed) {
        return Err(Violation::ReservedBits);
    }
    Ok(())
}

/// The payload length and how many bytes after the first two held it
/// (0, 2 or 8); `Ok(None)` until they have all arrived.
///
/// §5.2: the 7-bit length, or 126 then 16 bits, or 127 then 64 bits, all
/// in network byte order (big-endian). The PHP's `unmask()` skipped the
/// right number of bytes but never read the long lengths, and its
/// `encode()` wrote them in the wrong byte order.
fn payload_length(second: u8, bytes: &[u8]) -> Result<Option<(u64, usize)>, Violation> {
    let (payload_len, len_bytes) = match second & 0x7F {
        126 => match bytes.get(2..4) {
            None => return Ok(None),
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 2),
        },
        127 => match bytes.get(2..10) {
            None => return Ok(None),
            Some(b) => (u64::from_be_bytes(b.try_into().expect("8 bytes")), 8),
        },
        short => (u64::from(short), 0),
    };
    // §5.2: "the most significant bit MUST be 0" in the 64-bit form.
    if payload_len > i64::MAX as u64 {
        return Err(Violation::LengthTooLarge);
    }
    // §5.2: "the minimal number of bytes MUST be used to encode the length".
    if (len_bytes == 2 && payload_len < 126) || (len_bytes == 8 && payload_len <= 0xFFFF) {
        return Err(Violation::NonMinimalLength);
    }
    Ok(Some((payload_len, len_bytes)))
}

/// Undo the client's mask on payload bytes, in place (RFC 6455 §5.3).
///
/// Byte `i` of the payload was XORed with `mask[i % 4]`. Payloads arrive in
/// pieces, so `offset` says where in the payload `data` starts: the mask
/// carries on from there. XOR is its own inverse, so the same function masks.
pub fn unmask(data: &mut [u8], mask: [u8; 4], offset: u64) {
    // Turn the key so that its first byte lines up with data[0].
    let start = (offset % 4) as usize;
    let key = [0, 1, 2, 3].map(|i| mask[(start + i) % 4]);
    // Eight bytes at a time: the key twice over, as one 64-bit word, XORed
    // into each 8-byte piece of the payload. (Byte order does not matter:
    // the bytes go into the word and come out the same way.) A byte at a
    // time, this loop was 30% of the server's time on 64 KiB messages.
    let [a, b, c, d] = key;
    let word = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut pieces = data.chunks_exact_mut(8);
    for piece in &mut pieces {
        let bytes: [u8; 8] = piece.try_into().expect("chunks_exact gives 8");
        piece.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    // The last 0 to 7 bytes, one at a time. Eight is a multiple of four,
    // so they start again at the key's first byte.
    for (byte, k) in pieces.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

/// Append one whole, final, unmasked frame to `out` (RFC 6455 §5.2).
///
/// Server frames MUST NOT be masked (§5.1). Writing into the caller's buffer
/// lets a reply go straight into a client's outgoing bytes with one copy.
pub fn encode(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8]) {
    encode_header(out, opcode, payload.len());
    out.extend_from_slice(payload);
}

/// Append the header of a whole, final, unmasked frame of `len` payload
/// bytes: [`encode`] without the payload, for a payload that follows in a
/// buffer of its own.
pub(crate) fn encode_header(out: &mut Vec<u8>, opcode: OpCode, len: usize) {
    // FIN set, no RSV bits, then the opcode: the PHP's `0x80 | 0x1` for text.
    out.push(0x80 | opcode as u8);
    // The length in the shortest of §5.2's three forms, network byte order.
    if len <= 125 {
        out.push(len as u8);
    } else if len <= 0xFFFF {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// [`encode_header`] for a compressed message's only frame: RSV1 set as
/// well (RFC 7692 §6: "the Per-Message Compressed bit"), `len` the
/// compressed length.
pub(crate) fn encode_compressed_header(out: &mut Vec<u8>, opcode: OpCode, len: usize) {
    let first = out.len();
    encode_header(out, opcode, len);
    out[first] |= COMPRESSED;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// RFC 6455 §5.7: "A single-frame masked text message" containing "Hello".
    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    #[test]
    fn rfc_example_masked_hello() {
        let header = parse_header(&MASKED_HELLO, true).unwrap().unwrap();
        assert!(header.fin);
        assert_eq!(header.opcode, OpCode::Text);
        assert_eq!(header.payload_len, 5);
        assert_eq!(header.header_len, 6);
        let mut payload = MASKED_HELLO[6..].to_vec();
        unmask(&mut payload, header.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
    }

    #[test]
    fn rfc_example_unmasked_hello_is_what_encode_writes() {
        // §5.7: "A single-frame unmasked text message".
        let mut out = Vec::new();
        encode(&mut out, OpCode::Text, b"Hello");
        assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    }

    #[test]
    fn unmask_a_word_at_a_time_matches_a_byte_at_a_time() {
        // The reference: §5.3 word for word, one byte at a time.
        fn reference(data: &mut [u8], mask: [u8; 4], offset: u64) {
            for (i, byte) in data.iter_mut().enumerate() {
                *byte ^= mask[((offset + i as u64) % 4) as usize];
            }
        }
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for len in [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 100, 1000] {
            for offset in 0..8 {
                let mut ours = payload[..len].to_vec();
                let mut theirs = ours.clone();
                unmask(&mut ours, mask, offset);
                reference(&mut theirs, mask, offset);
                assert_eq!(ours, theirs, "{len} bytes from offset {offset}");
            }
        }
    }

    #[test]
    fn unmask_in_pieces_matches_unmask_at_once() {
        let mask = [1, 2, 3, 4];
        let original: Vec<u8> = (0..=255).collect();
        let mut whole = original.clone();
        unmask(&mut whole, mask, 0);
        for split in [1, 2, 3, 5, 7, 100] {
            let mut pieces = original.clone();
            let (a, b) = pieces.split_at_mut(split);
            unmask(a, mask, 0);
            unmask(b, mask, split as u64);
            assert_eq!(pieces, whole, "split at {split}");
        }
    }

    #[test]
    fn header_needs_more_bytes_at_every_cut() {
        let frame = client_frame(0x82, &vec![7; 70_000]);
        for cut in 0..14 {
            assert_eq!(parse_header(&frame[..cut], true), Ok(None), "cut {cut}");
        }
        assert!(parse_header(&frame[..14], true).unwrap().is_some());
    }

    #[test]
    fn round_trip_at_every_length_boundary() {
        for len in [0, 1, 125, 126, 127, 65535, 65536, 3 << 20] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            // Server direction: encode, then read our own header back.
            let mut out = Vec::new();
            encode(&mut out, OpCode::Binary, &payload);
            let header = parse_header(&out, false).unwrap().unwrap();
            assert_eq!(header.payload_len, len as u64, "len {len}");
            assert_eq!(&out[header.header_len..], &payload[..], "len {len}");
            // Client direction: a masked frame unmasks to the payload.
            let frame = client_frame(0x82, &payload);
            let header = parse_header(&frame, true).unwrap().unwrap();
            let mut data = frame[header.header_len..].to_vec();
            unmask(&mut data, header.mask.unwrap(), 0);
            assert_eq!(data, payload, "len {len}");
        }
    }

    #[test]
    fn lengths_are_big_endian() {
        let mut out = Vec::new();
        encode(&mut out, OpCode::Text, &[b'a'; 0x0102]);
        assert_eq!(&out[..4], &[0x81, 126, 0x01, 0x02]);
        out.clear();
        encode(&mut out, OpCode::Text, &vec![b'a'; 0x010203]);
        assert_eq!(&out[..10], &[0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x02, 0x03]);
    }

    #[test]
    fn header_rules() {
        let check = |bytes: &[u8]| parse_header(bytes, true);
        assert_eq!(
            check(&[0xC1, 0x80, 0, 0, 0, 0]),
            Err(Violation::ReservedBits)
        );
        assert_eq!(
            check(&[0x83, 0x80, 0, 0, 0, 0]),
            Err(Violation::ReservedOpcode(3))
        );
        assert_eq!(
            check(&[0x8B, 0x80, 0, 0, 0, 0]),
            Err(Violation::ReservedOpcode(0xB))
        );
        assert_eq!(check(&[0x81, 0x00]), Err(Violation::UnmaskedFrame));
        assert_eq!(check(&[0x09, 0x80]), Err(Violation::FragmentedControl));
        assert_eq!(check(&[0x89, 0xFE, 0, 126]), Err(Violation::ControlTooLong));
        assert_eq!(
            check(&[0x82, 0xFE, 0, 125]),
            Err(Violation::NonMinimalLength)
        );
        let mut huge = vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(check(&huge), Err(Violation::LengthTooLarge));
        huge[2] = 0;
        huge[9] = 0xFF; // 255 in the 64-bit form
        assert_eq!(check(&huge), Err(Violation::NonMinimalLength));
    }

    #[test]
    fn a_huge_declared_length_allocates_nothing() {
        // 14 bytes that declare a 2^62-byte payload: the header parses, and
        // nothing in this module reserved memory for it.
        let bytes = [0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        let header = parse_header(&bytes, true).unwrap().unwrap();
        assert_eq!(header.payload_len, 1 << 62);
        assert_eq!(header.header_len, 14);
    }

    /// The server frames in `bytes`, as (opcode, payload). Shared with the
    /// tests of the connection and the record.
    pub(crate) fn frames(mut bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut frames = Vec::new();
        while let Some(header) = parse_header(bytes, false).unwrap() {
            let end = header.header_len + header.payload_len as usize;
            frames.push((header.opcode, bytes[header.header_len..end].to_vec()));
            bytes = &bytes[end..];
        }
        assert!(bytes.is_empty(), "a frame cut short");
        frames
    }

    /// A close frame's (opcode, payload), as `frames` gives it.
    pub(crate) fn close_frame(code: u16, reason: &str) -> (OpCode, Vec<u8>) {
        (OpCode::Close, crate::protocol::close::payload(code, reason))
    }

    /// A client frame: `first` is the whole first byte (FIN, RSV, opcode);
    /// the payload is masked. Shared with the tests of the reader and the connection.
    pub(crate) fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        encode(&mut frame, OpCode::Binary, payload);
        let header_len = parse_header(&frame, false).unwrap().unwrap().header_len;
        frame[0] = first;
        frame[1] |= 0x80;
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut body = frame.split_off(header_len);
        unmask(&mut body, mask, 0);
        frame.extend_from_slice(&mask);
        frame.extend_from_slice(&body);
        frame
    }
}
