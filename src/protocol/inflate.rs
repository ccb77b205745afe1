//! Reading DEFLATE (RFC 1951): the decoder behind permessage-deflate
//! (RFC 7692), with every rule of the format checked.
//!
//! A compressed message is a string of blocks. Each starts with three bits:
//! BFINAL (is this the last block?) and BTYPE, which says how the rest is
//! written (§3.2.3):
//!
//! - **stored** (00): the bytes as they are, after a length and its
//!   complement ([`Inflater::stored`]);
//! - **fixed Huffman** (01): symbols in codes the RFC fixes once for all
//!   ([`fixed_lengths`]);
//! - **dynamic Huffman** (10): codes made for this block, sent at its start
//!   as a list of code lengths, itself compressed ([`Inflater::dynamic`],
//!   [`Inflater::read_lengths`]).
//!
//! A symbol is a literal byte, the end of the block, or a length, which is
//! followed by a distance: "go back this far in the output and copy this
//! many bytes" (LZ77; [`decode_symbols`], [`Output::copy_match`]).
//!
//! Speed comes from lookup tables ([`Table`]): the next 10 bits of input
//! (8 for distances) index a table that gives the symbol and its code's
//! length at once, and the few codes longer than that go through a second,
//! small table. Bits are read 64 at a time ([`Bits::refill`]). The output
//! grows as it is produced, never from a size read in the stream, and
//! stops at the caller's limit: a "decompression bomb" costs at most that.
//!
//! Where RFC 1951 is silent, this decoder does what zlib's does: it
//! refuses HLIT over 286 and HDIST over 30, refuses an incomplete code
//! except a single one-bit code ([`check_lengths`]), and accepts length
//! code 284 with all five extra bits set (258).
//!
//! RFC 7692 §7.2.2 has the receiver "append 4 octets of 0x00 0x00 0xff
//! 0xff to the tail end of the payload": those are the end of an empty
//! stored block that is not final (a "sync flush"), so a message normally
//! ends there, not with a final block. [`inflate`] reports which end it
//! met ([`End`]).

use std::fmt;

/// RFC 1951 §3.2.5: the shortest length of each length code 257..=285
/// ("Code 257: 3, ..., 265: 11,12, ..., 285: 258").
pub(crate) const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];

/// §3.2.5: how many extra bits follow each length code, to pick a length
/// within its range.
pub(crate) const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];

/// §3.2.5: the shortest distance of each distance code 0..=29.
pub(crate) const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];

/// §3.2.5: how many extra bits follow each distance code.
pub(crate) const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// §3.2.7: the code lengths of the code length alphabet are sent "in the
/// order: 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15"
/// (the likeliest first, so that a short list can stop early).
pub(crate) const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// §3.2.7: HLIT says at most 286 literal/length codes ("257 - 286").
pub(crate) const MAX_LITERAL_CODES: usize = 286;
/// At most 30 distance codes: §3.2.6 says codes 30 and 31 "will never
/// actually occur", and zlib refuses an HDIST that names them.
pub(crate) const MAX_DISTANCE_CODES: usize = 30;
/// §3.2.7: code 256 is "end of data", the end of the block.
pub(crate) const END_OF_BLOCK: usize = 256;
/// No Huffman code in DEFLATE is longer than 15 bits (zlib's MAXBITS).
pub(crate) const MAX_CODE_BITS: usize = 15;

/// §3.2.6: the lengths of the fixed literal/length code. "Lit Value 0 -
/// 143: 8 bits, 144 - 255: 9, 256 - 279: 7, 280 - 287: 8." (286 and 287
/// "participate in the code construction" but never occur.) The fixed
/// distance code is 5 bits for each of 0-31.
pub(crate) fn fixed_lengths() -> [u8; 288] {
    let mut lengths = [8; 288];
    lengths[144..256].fill(9);
    lengths[256..280].fill(7);
    lengths
}

/// The canonical code of each symbol, from the code lengths alone
/// (§3.2.2), bit-reversed: Huffman codes "are packed starting with the
/// most-significant bit of the code" (§3.1.1), while everything else is
/// read from the least significant bit, so reversed, a code is read like
/// any other field. A length of 0 gets no code.
pub(crate) fn canonical_codes(lengths: &[u8]) -> Vec<u16> {
    // Step 1: "Count the number of codes for each code length."
    let mut count = [0u16; MAX_CODE_BITS + 1];
    for &len in lengths {
        count[len as usize] += 1;
    }
    // Step 2: "Find the numerical value of the smallest code for each code
    // length": shorter codes come first, each length after the last.
    let mut next = [0u16; MAX_CODE_BITS + 2];
    count[0] = 0;
    for bits in 1..=MAX_CODE_BITS {
        next[bits] = (next[bits - 1] + count[bits - 1]) << 1;
    }
    // Step 3: "Assign numerical values to all codes, using consecutive
    // values for all codes of the same length", in symbol order.
    let mut codes = vec![0; lengths.len()];
    for (code, &len) in codes.iter_mut().zip(lengths) {
        if len != 0 {
            let value = next[len as usize];
            next[len as usize] = value.wrapping_add(1);
            *code = value.reverse_bits() >> (16 - len);
        }
    }
    codes
}

/// Which of a block's three codes (§3.2.7's "alphabets") a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// The code that compresses the code lengths of the other two.
    CodeLength,
    /// Literal bytes, end of block, and lengths.
    LiteralLength,
    Distance,
}

/// Why a DEFLATE stream was refused: one variant per rule of RFC 1951,
/// each named beside the sentence it enforces, and the caller's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// The input ended inside a block, or before a final block (or a
    /// sync flush, see [`End`]).
    Truncated,
    /// §3.2.3: BTYPE "11 - reserved (error)".
    ReservedBlockType,
    /// §3.2.4: "NLEN is the one's complement of LEN."
    StoredLengthMismatch { len: u16, nlen: u16 },
    /// §3.2.7: more than 286 literal/length codes or 30 distance codes.
    TooManyCodes { literals: usize, distances: usize },
    /// §3.2.2: the code lengths ask for more codes of some length than
    /// there are bit strings left for them: no prefix code has them.
    OverSubscribed(Alphabet),
    /// Some bit strings are no symbol's code. §3.2.7 allows it for "a
    /// single code length of one, with one unused code" (and zlib for a
    /// literal/length code too), and no codes at all for distances.
    Incomplete(Alphabet),
    /// §3.2.7: code 16, "copy the previous code length", came first.
    RepeatWithoutLength,
    /// §3.2.7: a repeat ran past the HLIT + HDIST + 258 code lengths.
    RepeatPastEnd,
    /// §3.2.7: the block's code has no code for 256, "end of data".
    MissingEndOfBlock,
    /// The bits are one of the unused strings of an incomplete code, or a
    /// distance came in a block with no distance codes.
    InvalidCode(Alphabet),
    /// §3.2.6: "Literal/length values 286-287 will never actually occur".
    InvalidLengthSymbol(u16),
    /// §3.2.6: "distance codes 30-31 will never actually occur".
    InvalidDistanceSymbol(u16),
    /// §3.2.3: "a distance cannot refer past the beginning of the output
    /// stream."
    DistanceTooFar { distance: usize, available: usize },
    /// The output would pass the caller's limit (RFC 6455 §10.4: an
    /// endpoint limits what it accepts). Decoding stopped there.
    TooBig { limit: usize },
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use InflateError as E;
        match self {
            E::Truncated => write!(f, "the compressed data ends inside a block"),
            E::ReservedBlockType => write!(f, "reserved block type 11"),
            E::StoredLengthMismatch { len, nlen } => {
                write!(f, "stored block LEN {len:#06x} with NLEN {nlen:#06x}")
            }
            E::TooManyCodes {
                literals,
                distances,
            } => write!(
                f,
                "{literals} literal/length and {distances} distance codes"
            ),
            E::OverSubscribed(a) => write!(f, "over-subscribed {a:?} code"),
            E::Incomplete(a) => write!(f, "incomplete {a:?} code"),
            E::RepeatWithoutLength => write!(f, "a code length repeat with nothing to repeat"),
            E::RepeatPastEnd => write!(f, "a code length repeat runs past the end"),
            E::MissingEndOfBlock => write!(f, "no code for end of block"),
            E::InvalidCode(a) => write!(f, "bits that are no {a:?} code"),
            E::InvalidLengthSymbol(s) => write!(f, "invalid length symbol {s}"),
            E::InvalidDistanceSymbol(s) => write!(f, "invalid distance symbol {s}"),
            E::DistanceTooFar {
                distance,
                available,
            } => write!(
                f,
                "distance {distance} with only {available} bytes before it"
            ),
            E::TooBig { limit } => write!(f, "inflates to more than {limit} bytes"),
        }
    }
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// At the end of a block with BFINAL set: the stream is complete, and
    /// any bytes after it are not DEFLATE's ([`Inflated::used`] says
    /// where they start).
    Final,
    /// Exactly at the end of the input, just after an empty stored block
    /// without BFINAL: a sync flush, what an RFC 7692 message ends with
    /// once the receiver has appended `00 00 ff ff` (§7.2.2).
    SyncFlush,
}

/// What [`inflate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inflated {
    /// How many input bytes the stream took, up to the end of the byte
    /// that holds its last bit. With [`End::SyncFlush`] that is all of
    /// them; after a final block, the caller decides about the rest.
    pub used: usize,
    pub end: End,
    /// The longest distance any copy reached back (0 if none did), so a
    /// receiver can check the window the peer promised (RFC 7692 §7.1.2).
    pub max_distance: usize,
}

/// Decompress the raw DEFLATE stream at the start of `input`, appending the
/// bytes to `out`, at most `limit` of them.
///
/// The stream ends at a final block, or with the input just after an empty
/// stored block that is not final ([`End`]); the input running out
/// anywhere else is [`InflateError::Truncated`]. For an RFC 7692 message,
/// append `00 00 ff ff` to the payload and expect [`End::SyncFlush`]; a
/// sender may also end with a final block (RFC 7692 §7.2.3.4), which
/// leaves the appended bytes unused: [`Inflated::used`] tells.
///
/// Copies reach back only into this call's output, never into what `out`
/// held before. On error, `out` is left as it was.
pub fn inflate(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<Inflated, InflateError> {
    let start = out.len();
    let mut inflater = Inflater::new(input, out, limit);
    let result = inflater.run();
    let (used, max_distance, written) = (
        inflater.bits.used(),
        inflater.max_distance,
        inflater.out.pos,
    );
    match result {
        Ok(end) => {
            out.truncate(written);
            Ok(Inflated {
                used,
                end,
                max_distance,
            })
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// The input, read a bit at a time from the least significant bit of each
/// byte (§3.1.1: "Data elements are packed into bytes in order of
/// increasing bit number within the byte").
struct Bits<'a> {
    input: &'a [u8],
    /// The next byte not yet in `buf`.
    next: usize,
    /// Up to 63 bits read ahead, the next one lowest. Above `count` it may
    /// hold the bytes that follow, never anything else.
    buf: u64,
    count: u32,
}

impl<'a> Bits<'a> {
    fn new(input: &'a [u8]) -> Self {
        Bits {
            input,
            next: 0,
            buf: 0,
            count: 0,
        }
    }

    /// Fill `buf` with as many whole bytes as fit: eight at once when there
    /// are eight, so one refill serves a whole length and distance (at most
    /// 48 bits).
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(eight) = self.input.get(self.next..self.next + 8) {
            let word = u64::from_le_bytes(eight.try_into().expect("8 bytes"));
            self.buf |= word << self.count;
            let taken = (63 - self.count) / 8;
            self.next += taken as usize;
            self.count += taken * 8;
        } else {
            while self.count <= 55 {
                let Some(&byte) = self.input.get(self.next) else {
                    break;
                };
                self.buf |= u64::from(byte) << self.count;
                self.next += 1;
                self.count += 8;
            }
        }
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf >>= n;
        self.count -= n;
    }

    /// The next `n` bits (0 to 16) as a number, its first bit lowest
    /// (§3.1.1: "Data elements other than Huffman codes are packed starting
    /// with the least-significant bit").
    #[inline(always)]
    fn take(&mut self, n: u32) -> Result<u32, InflateError> {
        if self.count < n {
            self.refill();
            if self.count < n {
                return Err(InflateError::Truncated);
            }
        }
        let value = (self.buf & ((1u64 << n) - 1)) as u32;
        self.consume(n);
        Ok(value)
    }

    /// §3.2.4: "Any bits of input up to the next byte boundary are
    /// ignored." Returns where the next byte is, and reads on from there.
    fn skip_to_byte(&mut self) -> usize {
        self.consume(self.count % 8);
        let at = self.used();
        self.restart_at(at);
        at
    }

    fn restart_at(&mut self, at: usize) {
        (self.next, self.buf, self.count) = (at, 0, 0);
    }

    /// Bytes read so far: the whole bytes still in `buf` go back.
    fn used(&self) -> usize {
        self.next - (self.count / 8) as usize
    }

    fn at_end(&self) -> bool {
        self.used() == self.input.len()
    }
}

/// Room past the last byte written for a copy that overshoots: see
/// [`Output::copy_match`].
const SLACK: usize = 8;
/// The most one symbol writes: a length of 258, and the slack.
const MAX_WRITE: usize = 258 + SLACK;
/// The least the output grows by, so that small messages grow once.
const MIN_GROWTH: usize = 4096;

/// The caller's `Vec`, written from `start` on. It is kept zero-filled up
/// to a little past `pos` (`buf.len()`), so that writes are plain indexing,
/// and cut back to `pos` at the end.
struct Output<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
    /// Where the next byte goes.
    pos: usize,
    /// `start + limit`: output may not pass it.
    end: usize,
}

impl Output<'_> {
    /// Make `buf` long enough for `n` more bytes, or up to the limit.
    /// It doubles what has been produced, so growing costs a few copies of
    /// the output in all, and never passes the limit (and the slack).
    #[inline(always)]
    fn make_room(&mut self, n: usize) {
        let cap = self.end.saturating_add(SLACK);
        let want = (self.pos + n).min(cap);
        if self.buf.len() < want {
            let doubled = self.start + 2 * (self.pos - self.start);
            let target = want.max(doubled).max(self.start + MIN_GROWTH).min(cap);
            self.buf.reserve_exact(target - self.buf.len());
            self.buf.resize(target, 0);
        }
    }

    fn check_room(&self, n: usize) -> Result<(), InflateError> {
        if n > self.end - self.pos {
            let limit = self.end - self.start;
            return Err(InflateError::TooBig { limit });
        }
        Ok(())
    }

    /// A literal byte. [`Output::make_room`] has made room for it.
    #[inline(always)]
    fn push(&mut self, byte: u8) -> Result<(), InflateError> {
        self.check_room(1)?;
        self.buf[self.pos] = byte;
        self.pos += 1;
        Ok(())
    }

    fn extend(&mut self, bytes: &[u8]) -> Result<(), InflateError> {
        self.check_room(bytes.len())?;
        self.make_room(bytes.len());
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
        Ok(())
    }

    /// §3.2.3: "move backwards distance bytes in the output stream, and
    /// copy length bytes from this position to the output stream."
    #[inline(always)]
    fn copy_match(&mut self, distance: usize, length: usize) -> Result<(), InflateError> {
        let available = self.pos - self.start;
        // "However a distance cannot refer past the beginning of the
        // output stream."
        if distance > available {
            return Err(InflateError::DistanceTooFar {
                distance,
                available,
            });
        }
        self.check_room(length)?;
        let (from, to) = (self.pos - distance, self.pos);
        let buf = &mut self.buf[..];
        if distance >= SLACK {
            // Eight bytes at a time. Each piece is read from at least eight
            // bytes back, so from bytes already in place even when the
            // copy overlaps itself; the last piece may write up to seven
            // bytes too many, into the slack, to be overwritten later.
            for at in (0..length).step_by(8) {
                let piece: [u8; 8] = buf[from + at..from + at + 8].try_into().expect("8");
                buf[to + at..to + at + 8].copy_from_slice(&piece);
            }
        } else if distance == 1 {
            let byte = buf[from];
            buf[to..to + length].fill(byte);
        } else {
            // "Note also that the referenced string may overlap the current
            // position": X, Y with <length = 5, distance = 2> adds X,Y,X,Y,X.
            // Byte by byte, each copy sees the ones before it.
            for at in 0..length {
                buf[to + at] = buf[from + at];
            }
        }
        self.pos += length;
        Ok(())
    }
}

/// One entry of a [`Table`], in a `u32`: the symbol in the high 16 bits,
/// the length of its code in the low 8. A length of 0 means no code
/// starts with these bits. With [`LINK`] set, the entry instead points to
/// a second table: its index in the high bits, and in the low 8 how many
/// further bits index it.
const LINK: u32 = 1 << 8;

/// A decoding table for one Huffman code: indexed by the next `bits` bits
/// of input, as they come (the first bit lowest), it gives the symbol
/// whose code they start with. Codes longer than `bits` go through a
/// second table per prefix, at the end of `entries`.
struct Table {
    entries: Vec<u32>,
    bits: u32,
    /// The longest code in use: with fewer bits left, a lookup that finds
    /// nothing may just be the input running out.
    longest: u32,
    alphabet: Alphabet,
}

impl Table {
    fn new(bits: u32, alphabet: Alphabet) -> Self {
        Table {
            entries: Vec::new(),
            bits,
            longest: 0,
            alphabet,
        }
    }

    /// Make the table for the code these lengths define, after checking
    /// that they define one.
    fn build(&mut self, lengths: &[u8]) -> Result<(), InflateError> {
        let mut count = [0u16; MAX_CODE_BITS + 1];
        for &len in lengths {
            count[len as usize] += 1;
        }
        check_lengths(&count, self.alphabet)?;
        self.longest = (1..=MAX_CODE_BITS)
            .rev()
            .find(|&b| count[b] > 0)
            .unwrap_or(0) as u32;
        let codes = canonical_codes(lengths);
        self.link_long_codes(lengths, &codes);
        let size = 1usize << self.bits;
        for (symbol, (&len, &code)) in lengths.iter().zip(&codes).enumerate() {
            let (len, code) = (u32::from(len), usize::from(code));
            let entry = (symbol as u32) << 16 | len;
            if len == 0 {
                continue;
            } else if len <= self.bits {
                // Every index whose first `len` bits are the code.
                for at in (code..size).step_by(1 << len) {
                    self.entries[at] = entry;
                }
            } else {
                let link = self.entries[code & (size - 1)];
                let (base, sub_bits) = ((link >> 16) as usize, link & 0xFF);
                let rest = code >> self.bits;
                for at in (rest..1 << sub_bits).step_by(1 << (len - self.bits)) {
                    self.entries[base + at] = entry;
                }
            }
        }
        Ok(())
    }

    /// Empty the table, then give each prefix that starts codes longer
    /// than `bits` a second table, as deep as its longest code needs.
    fn link_long_codes(&mut self, lengths: &[u8], codes: &[u16]) {
        let size = 1usize << self.bits;
        let mut depth = vec![0u32; size];
        for (&len, &code) in lengths.iter().zip(codes) {
            let extra = u32::from(len).saturating_sub(self.bits);
            let prefix = usize::from(code) & (size - 1);
            depth[prefix] = depth[prefix].max(extra);
        }
        self.entries.clear();
        self.entries.resize(size, 0);
        for (prefix, &extra) in depth.iter().enumerate() {
            if extra > 0 {
                let base = self.entries.len();
                self.entries[prefix] = (base as u32) << 16 | LINK | extra;
                self.entries.resize(base + (1 << extra), 0);
            }
        }
    }

    /// The next symbol, its code's bits consumed. The caller has refilled.
    #[inline(always)]
    fn decode(&self, bits: &mut Bits) -> Result<usize, InflateError> {
        let mask = (1u64 << self.bits) - 1;
        let mut entry = self.entries[(bits.buf & mask) as usize];
        if entry & LINK != 0 {
            let sub = (bits.buf >> self.bits) & ((1u64 << (entry & 0xFF)) - 1);
            entry = self.entries[(entry >> 16) as usize + sub as usize];
        }
        let len = entry & 0xFF;
        if len == 0 || len > bits.count {
            return Err(if bits.count < self.longest {
                InflateError::Truncated
            } else {
                InflateError::InvalidCode(self.alphabet)
            });
        }
        bits.consume(len);
        Ok((entry >> 16) as usize)
    }
}

/// Do these counts of codes per length (`count[len]`) make a prefix code?
///
/// A code of length `len` takes 2^-len of all bit strings (Kraft): they
/// may not take more than all of them (over-subscribed), and should take
/// all (complete), else some bits decode to nothing. Taking them length
/// by length, `left` is how many strings of the current length are free.
fn check_lengths(count: &[u16; MAX_CODE_BITS + 1], alphabet: Alphabet) -> Result<(), InflateError> {
    let mut left: i32 = 1;
    for &codes in &count[1..] {
        left = 2 * left - i32::from(codes);
        if left < 0 {
            return Err(InflateError::OverSubscribed(alphabet));
        }
    }
    let used: u16 = count[1..].iter().sum();
    let complete = left == 0;
    // §3.2.7: "If only one distance code is used, it is encoded using one
    // bit, not zero bits; in this case there is a single code length of
    // one, with one unused code. One distance code of zero bits means that
    // there are no distance codes used at all (the data is all literals)."
    // zlib allows the single one-bit code for literal/length codes too (a
    // block with only its end), never for the code length code.
    let allowed = match alphabet {
        Alphabet::Distance => used == 0 || (used == 1 && count[1] == 1),
        Alphabet::LiteralLength => used == 1 && count[1] == 1,
        Alphabet::CodeLength => false,
    };
    if complete || allowed {
        Ok(())
    } else {
        Err(InflateError::Incomplete(alphabet))
    }
}

/// The state of one call of [`inflate`].
struct Inflater<'a> {
    bits: Bits<'a>,
    out: Output<'a>,
    literals: Table,
    distances: Table,
    code_lengths: Table,
    /// The two tables above hold the fixed codes (§3.2.6), built once.
    fixed: bool,
    max_distance: usize,
}

impl<'a> Inflater<'a> {
    fn new(input: &'a [u8], out: &'a mut Vec<u8>, limit: usize) -> Self {
        let start = out.len();
        Inflater {
            bits: Bits::new(input),
            out: Output {
                buf: out,
                start,
                pos: start,
                end: start.saturating_add(limit),
            },
            literals: Table::new(10, Alphabet::LiteralLength),
            distances: Table::new(8, Alphabet::Distance),
            code_lengths: Table::new(7, Alphabet::CodeLength),
            fixed: false,
            max_distance: 0,
        }
    }

    /// §3.2.3: "do read block header from input stream ... while not last
    /// block".
    fn run(&mut self) -> Result<End, InflateError> {
        loop {
            // "Each block of compressed data begins with 3 header bits
            // containing the following data: first bit BFINAL, next 2 bits
            // BTYPE".
            let last = self.bits.take(1)? == 1;
            match self.bits.take(2)? {
                0b00 => {
                    let len = self.stored()?;
                    if !last && len == 0 && self.bits.at_end() {
                        return Ok(End::SyncFlush);
                    }
                }
                0b01 => self.fixed()?,
                0b10 => self.dynamic()?,
                _ => return Err(InflateError::ReservedBlockType),
            }
            if last {
                return Ok(End::Final);
            }
        }
    }

    /// §3.2.4, a block with no compression: LEN, NLEN, then LEN bytes.
    /// Returns LEN.
    fn stored(&mut self) -> Result<usize, InflateError> {
        let at = self.bits.skip_to_byte();
        let input = self.bits.input;
        let header = input.get(at..at + 4).ok_or(InflateError::Truncated)?;
        let len = u16::from_le_bytes([header[0], header[1]]);
        let nlen = u16::from_le_bytes([header[2], header[3]]);
        // "LEN is the number of data bytes in the block. NLEN is the one's
        // complement of LEN."
        if nlen != !len {
            return Err(InflateError::StoredLengthMismatch { len, nlen });
        }
        // The bytes must be there before any room is made for them.
        let data = input.get(at + 4..at + 4 + usize::from(len));
        self.out.extend(data.ok_or(InflateError::Truncated)?)?;
        self.bits.restart_at(at + 4 + usize::from(len));
        Ok(usize::from(len))
    }

    /// §3.2.6, a block in the fixed codes.
    fn fixed(&mut self) -> Result<(), InflateError> {
        if !self.fixed {
            self.literals.build(&fixed_lengths())?;
            self.distances.build(&[5; 32])?;
            self.fixed = true;
        }
        decode_symbols(
            &mut self.bits,
            &mut self.out,
            &self.literals,
            &self.distances,
        )
        .map(|farthest| self.max_distance = self.max_distance.max(farthest))
    }

    /// §3.2.7, a block in codes of its own, sent before its data.
    fn dynamic(&mut self) -> Result<(), InflateError> {
        // "5 Bits: HLIT, # of Literal/Length codes - 257 (257 - 286)
        //  5 Bits: HDIST, # of Distance codes - 1 (1 - 32)
        //  4 Bits: HCLEN, # of Code Length codes - 4 (4 - 19)"
        let literals = 257 + self.bits.take(5)? as usize;
        let distances = 1 + self.bits.take(5)? as usize;
        let code_length_codes = 4 + self.bits.take(4)? as usize;
        if literals > MAX_LITERAL_CODES || distances > MAX_DISTANCE_CODES {
            return Err(InflateError::TooManyCodes {
                literals,
                distances,
            });
        }
        // "(HCLEN + 4) x 3 bits: code lengths for the code length alphabet
        // ... These code lengths are interpreted as 3-bit integers (0-7)";
        // those not sent are 0.
        let mut code_lengths = [0u8; 19];
        for &symbol in &CODE_LENGTH_ORDER[..code_length_codes] {
            code_lengths[symbol] = self.bits.take(3)? as u8;
        }
        self.code_lengths.build(&code_lengths)?;
        let mut lengths = [0u8; MAX_LITERAL_CODES + MAX_DISTANCE_CODES];
        let lengths = &mut lengths[..literals + distances];
        self.read_lengths(lengths)?;
        // "The literal/length symbol 256 (end of data)" ends every block:
        // a code without it could never end.
        if lengths[END_OF_BLOCK] == 0 {
            return Err(InflateError::MissingEndOfBlock);
        }
        let (literal_lengths, distance_lengths) = lengths.split_at(literals);
        self.literals.build(literal_lengths)?;
        self.distances.build(distance_lengths)?;
        self.fixed = false;
        decode_symbols(
            &mut self.bits,
            &mut self.out,
            &self.literals,
            &self.distances,
        )
        .map(|farthest| self.max_distance = self.max_distance.max(farthest))
    }

    /// §3.2.7: the literal/length code lengths (HLIT + 257 of them), then
    /// the distance code lengths (HDIST + 1), in the code length code. "The
    /// code length repeat codes can cross from HLIT + 257 to the HDIST + 1
    /// code lengths. In other words, all code lengths form a single
    /// sequence".
    fn read_lengths(&mut self, lengths: &mut [u8]) -> Result<(), InflateError> {
        let mut i = 0;
        while i < lengths.len() {
            self.bits.refill();
            let symbol = self.code_lengths.decode(&mut self.bits)?;
            // "0 - 15: Represent code lengths of 0 - 15"
            let (length, times) = match symbol {
                0..=15 => (symbol as u8, 1),
                // "16: Copy the previous code length 3 - 6 times. The next
                // 2 bits indicate repeat length (0 = 3, ... , 3 = 6)"
                16 => match i.checked_sub(1) {
                    Some(previous) => (lengths[previous], 3 + self.bits.take(2)?),
                    None => return Err(InflateError::RepeatWithoutLength),
                },
                // "17: Repeat a code length of 0 for 3 - 10 times. (3 bits
                // of length)"
                17 => (0, 3 + self.bits.take(3)?),
                // "18: Repeat a code length of 0 for 11 - 138 times (7 bits
                // of length)"
                _ => (0, 11 + self.bits.take(7)?),
            };
            let run = lengths
                .get_mut(i..i + times as usize)
                .ok_or(InflateError::RepeatPastEnd)?;
            run.fill(length);
            i += times as usize;
        }
        Ok(())
    }
}

/// §3.2.3, the data of a Huffman block: "loop (until end of block code
/// recognized)". Returns the farthest any copy reached back.
///
/// One function, and the hottest: each turn refills the bits and makes
/// room for the longest write first, so the steps below need neither.
fn decode_symbols(
    bits: &mut Bits,
    out: &mut Output,
    literals: &Table,
    distances: &Table,
) -> Result<usize, InflateError> {
    let mut farthest = 0;
    loop {
        bits.refill();
        out.make_room(MAX_WRITE);
        let symbol = literals.decode(bits)?;
        // "if value < 256 copy value (literal byte) to output stream"
        if symbol < 256 {
            out.push(symbol as u8)?;
            continue;
        }
        // "if value = end of block (256) break from loop"
        if symbol == END_OF_BLOCK {
            return Ok(farthest);
        }
        // "otherwise (value = 257..285)": 286 and 287 have fixed codes
        // but "will never actually occur in the compressed data".
        let code = symbol - 257;
        if code >= LENGTH_BASE.len() {
            return Err(InflateError::InvalidLengthSymbol(symbol as u16));
        }
        let extra = bits.take(u32::from(LENGTH_EXTRA[code]))?;
        let length = usize::from(LENGTH_BASE[code]) + extra as usize;
        // "decode distance from input stream": 30 and 31 likewise never occur.
        let code = distances.decode(bits)?;
        if code >= DIST_BASE.len() {
            return Err(InflateError::InvalidDistanceSymbol(code as u16));
        }
        let extra = bits.take(u32::from(DIST_EXTRA[code]))?;
        let distance = usize::from(DIST_BASE[code]) + extra as usize;
        out.copy_match(distance, length)?;
        farthest = farthest.max(distance);
    }
}
