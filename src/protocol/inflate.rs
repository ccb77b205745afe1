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
//! small table. Bits are read up to eight bytes at a time
//! ([`Bits::refill`]). The output grows as it is produced, never from a
//! size read in the stream, and stops at the caller's limit: a
//! "decompression bomb" costs at most that.
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

/// The fixed distance code's lengths. §3.2.6: "Distance codes 0-31 are
/// represented by (fixed-length) 5-bit codes" (30 and 31 never occur).
pub(crate) const FIXED_DISTANCE_LENGTHS: [u8; 32] = [5; 32];

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
    /// The longest distance any copy reached back (0 if none did): the
    /// tests check with it that our deflate keeps to its window (RFC 7692
    /// §7.1.2.1). The server asks no window of its peers, so it has
    /// nothing to check.
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
/// held before. On error, `out` is cut back to what it held (its capacity
/// may have grown, never past `limit` and a few bytes).
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
    limit: usize,
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
            return Err(InflateError::TooBig { limit: self.limit });
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

/// The most bits a first-level table is indexed by.
const MAX_TABLE_BITS: u32 = 10;

/// A decoding table for one Huffman code: indexed by the next `bits` bits
/// of input, as they come (the first bit lowest), it gives the symbol
/// whose code they start with. Codes longer than `bits` go through a
/// second table per prefix, at the end of `entries`.
struct Table {
    entries: Vec<u32>,
    /// At most [`MAX_TABLE_BITS`].
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
        self.entries.clear();
        self.entries.resize(size, 0);
        if self.longest <= self.bits {
            return; // no code longer than the table: no second tables
        }
        let mut depth = [0u32; 1 << MAX_TABLE_BITS];
        for (&len, &code) in lengths.iter().zip(codes) {
            let extra = u32::from(len).saturating_sub(self.bits);
            let prefix = usize::from(code) & (size - 1);
            depth[prefix] = depth[prefix].max(extra);
        }
        for (prefix, &extra) in depth[..size].iter().enumerate() {
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
                limit,
            },
            literals: Table::new(MAX_TABLE_BITS, Alphabet::LiteralLength),
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
            self.distances.build(&FIXED_DISTANCE_LENGTHS)?;
            self.fixed = true;
        }
        self.symbols()
    }

    /// The block's data, in the codes just made: literals and copies up to
    /// its end of block (§3.2.5).
    fn symbols(&mut self) -> Result<(), InflateError> {
        let (literals, distances) = (&self.literals, &self.distances);
        let farthest = decode_symbols(&mut self.bits, &mut self.out, literals, distances)?;
        self.max_distance = self.max_distance.max(farthest);
        Ok(())
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
        self.symbols()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A DEFLATE stream written by hand, bit by bit.
    #[derive(Default)]
    struct Stream {
        bytes: Vec<u8>,
        acc: u64,
        count: u32,
    }

    impl Stream {
        /// A field, least significant bit first (§3.1.1).
        fn bits(&mut self, value: u32, n: u32) -> &mut Self {
            self.acc |= u64::from(value) << self.count;
            self.count += n;
            while self.count >= 8 {
                self.bytes.push(self.acc as u8);
                self.acc >>= 8;
                self.count -= 8;
            }
            self
        }

        /// A symbol in the code with these lengths.
        fn symbol(&mut self, lengths: &[u8], symbol: usize) -> &mut Self {
            let codes = canonical_codes(lengths);
            self.bits(u32::from(codes[symbol]), u32::from(lengths[symbol]))
        }

        /// A block header: BFINAL, then BTYPE.
        fn header(&mut self, last: bool, btype: u32) -> &mut Self {
            self.bits(u32::from(last), 1).bits(btype, 2)
        }

        fn fixed(&mut self, symbol: usize) -> &mut Self {
            self.symbol(&fixed_lengths(), symbol)
        }

        fn distance(&mut self, code: usize) -> &mut Self {
            self.bits(u32::from(canonical_codes(&FIXED_DISTANCE_LENGTHS)[code]), 5)
        }

        /// A complete code length code in which every symbol has a code:
        /// 0-12 in 4 bits, 13-18 in 5 (13/16 + 6/32 = 1).
        fn code_length_lengths() -> [u8; 19] {
            let mut lengths = [4; 19];
            lengths[13..].fill(5);
            lengths
        }

        /// The start of a dynamic block: the counts, the code length code,
        /// then `runs`, each a code length symbol and its extra bits.
        fn dynamic(
            &mut self,
            last: bool,
            counts: (usize, usize),
            runs: &[(usize, u32)],
        ) -> &mut Self {
            let cl = Self::code_length_lengths();
            self.header(last, 0b10);
            self.bits((counts.0 - 257) as u32, 5)
                .bits((counts.1 - 1) as u32, 5);
            self.bits(19 - 4, 4);
            for symbol in CODE_LENGTH_ORDER {
                self.bits(u32::from(cl[symbol]), 3);
            }
            for &(symbol, extra) in runs {
                self.symbol(&cl, symbol);
                let n = [(16, 2), (17, 3), (18, 7)].iter().find(|p| p.0 == symbol);
                self.bits(extra, n.map_or(0, |p| p.1));
            }
            self
        }

        fn done(&mut self) -> Vec<u8> {
            if self.count > 0 {
                self.bits(0, 8 - self.count);
            }
            std::mem::take(&mut self.bytes)
        }
    }

    /// Each length sent as itself.
    fn plain(lengths: &[u8]) -> Vec<(usize, u32)> {
        lengths.iter().map(|&l| (usize::from(l), 0)).collect()
    }

    fn inflate_all(input: &[u8]) -> Result<(Vec<u8>, Inflated), InflateError> {
        let mut out = Vec::new();
        inflate(input, &mut out, usize::MAX).map(|done| (out, done))
    }

    fn with_trailer(payload: &[u8]) -> Vec<u8> {
        [payload, &[0, 0, 0xff, 0xff]].concat()
    }

    #[test]
    fn rfc_7692_examples() {
        // §7.2.3.1: "Hello" in one block of fixed codes, BFINAL not set.
        let hello = with_trailer(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        let (out, done) = inflate_all(&hello).unwrap();
        assert_eq!(
            (&out[..], done.end, done.used),
            (&b"Hello"[..], End::SyncFlush, 11)
        );
        // §7.2.3.3: "Using a DEFLATE Block with No Compression".
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        let (out, done) = inflate_all(&with_trailer(&stored)).unwrap();
        assert_eq!((&out[..], done.end), (&b"Hello"[..], End::SyncFlush));
        // §7.2.3.4: "Using a DEFLATE Block with BFINAL Set to 1": the
        // stream ends at its final block; the rest is the caller's.
        let last = with_trailer(&[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]);
        let (out, done) = inflate_all(&last).unwrap();
        assert_eq!(
            (&out[..], done.end, done.used),
            (&b"Hello"[..], End::Final, 7)
        );
        // §7.2.3.5: "Two DEFLATE Blocks in One Message", a flush between.
        let two = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        let (out, done) = inflate_all(&with_trailer(&two)).unwrap();
        assert_eq!((&out[..], done.end), (&b"Hello"[..], End::SyncFlush));
    }

    #[test]
    fn canonical_codes_as_in_the_rfc_example() {
        // §3.2.2: "Consider the alphabet ABCDEFGH, with bit lengths (3, 3,
        // 3, 3, 3, 2, 4, 4)" ... "Step 3 produces the following code values".
        let codes = canonical_codes(&[3, 3, 3, 3, 3, 2, 4, 4]);
        let lengths = [3, 3, 3, 3, 3, 2, 4, 4];
        let as_written: Vec<u16> = codes
            .iter()
            .zip(lengths)
            .map(|(&c, len)| c.reverse_bits() >> (16 - len))
            .collect();
        assert_eq!(
            as_written,
            [0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111]
        );
    }

    #[test]
    fn fixed_codes_as_in_the_rfc_table() {
        // §3.2.6: "0 - 143 8 00110000 through 10111111, 144 - 255 9
        // 110010000 through 111111111, 256 - 279 7 0000000 through
        // 0010111, 280 - 287 8 11000000 through 11000111".
        let lengths = fixed_lengths();
        let codes = canonical_codes(&lengths);
        let code = |s: usize| codes[s].reverse_bits() >> (16 - lengths[s]);
        let expected = [
            (0, 0b00110000),
            (143, 0b10111111),
            (144, 0b110010000),
            (255, 0b111111111),
            (256, 0b0000000),
            (279, 0b0010111),
            (280, 0b11000000),
            (287, 0b11000111),
        ];
        for (symbol, value) in expected {
            assert_eq!(code(symbol), value, "symbol {symbol}");
        }
    }

    #[test]
    fn stored_blocks_skip_to_a_byte_and_check_nlen() {
        // §3.2.4: "Any bits of input up to the next byte boundary are
        // ignored": here five ones after the header.
        let mut s = Stream::default();
        s.header(true, 0b00).bits(0b11111, 5);
        let input = [&s.done()[..], &[2, 0, 0xfd, 0xff, b'o', b'k']].concat();
        assert_eq!(inflate_all(&input).unwrap().0, b"ok");
        // "NLEN is the one's complement of LEN."
        let bad = [1, 2, 0, 0xfd, 0xfe, b'o', b'k'];
        let refused = InflateError::StoredLengthMismatch {
            len: 2,
            nlen: 0xfefd,
        };
        assert_eq!(inflate_all(&bad).unwrap_err(), refused);
    }

    #[test]
    fn block_type_11_is_reserved() {
        // §3.2.3: "11 - reserved (error)".
        let input = Stream::default().header(true, 0b11).done();
        assert_eq!(
            inflate_all(&input).unwrap_err(),
            InflateError::ReservedBlockType
        );
    }

    #[test]
    fn an_overlapping_copy_repeats_what_it_copies() {
        // §3.2.3: "if the last 2 bytes decoded have values X and Y, a
        // string reference with <length = 5, distance = 2> adds X,Y,X,Y,X".
        let mut s = Stream::default();
        s.header(true, 0b01).fixed(b'X'.into()).fixed(b'Y'.into());
        s.fixed(259).distance(1).fixed(END_OF_BLOCK); // 259: length 5; code 1: distance 2
        assert_eq!(inflate_all(&s.done()).unwrap().0, b"XYXYXYX");
    }

    #[test]
    fn a_distance_cannot_refer_past_the_beginning() {
        // §3.2.3: "However a distance cannot refer past the beginning of
        // the output stream."
        let mut s = Stream::default();
        s.header(true, 0b01)
            .fixed(b'a'.into())
            .fixed(257)
            .distance(1);
        let refused = InflateError::DistanceTooFar {
            distance: 2,
            available: 1,
        };
        assert_eq!(inflate_all(&s.done()).unwrap_err(), refused);
        // Nor into what `out` held before: each call is a stream of its own.
        let mut out = b"earlier".to_vec();
        let input = Stream::default()
            .header(true, 0b01)
            .fixed(257)
            .distance(0)
            .done();
        assert!(inflate(&input, &mut out, 100).is_err());
        assert_eq!(out, b"earlier", "left as it was");
    }

    #[test]
    fn symbols_that_never_occur_are_refused() {
        // §3.2.6: "Literal/length values 286-287 will never actually occur
        // in the compressed data, but participate in the code construction.
        // ... Note that distance codes 30-31 will never actually occur".
        for symbol in [286, 287] {
            let input = Stream::default().header(true, 0b01).fixed(symbol).done();
            let refused = InflateError::InvalidLengthSymbol(symbol as u16);
            assert_eq!(inflate_all(&input).unwrap_err(), refused);
        }
        for code in [30, 31] {
            let mut s = Stream::default();
            s.header(true, 0b01).fixed(0).fixed(257).distance(code);
            let refused = InflateError::InvalidDistanceSymbol(code as u16);
            assert_eq!(inflate_all(&s.done()).unwrap_err(), refused);
        }
    }

    #[test]
    fn length_284_with_every_extra_bit_is_258_as_zlib_reads_it() {
        // §3.2.5 gives 284 the range 227-257, but its five extra bits can
        // say 258; zlib accepts that, and so do we.
        let mut s = Stream::default();
        s.header(true, 0b01).fixed(b'z'.into());
        s.fixed(284).bits(31, 5).distance(0).fixed(END_OF_BLOCK);
        assert_eq!(inflate_all(&s.done()).unwrap().0, vec![b'z'; 259]);
    }

    /// A literal/length code (HLIT + 257 = 258) with codes for `a`, `b`,
    /// the end of block and 257 (a length of 3), two bits each.
    fn small_literals() -> Vec<u8> {
        let mut lengths = vec![0; 258];
        (lengths[usize::from(b'a')], lengths[usize::from(b'b')]) = (2, 2);
        (lengths[END_OF_BLOCK], lengths[257]) = (2, 2);
        lengths
    }

    #[test]
    fn a_dynamic_block_reads_its_own_codes() {
        let literals = small_literals();
        let mut s = Stream::default();
        s.dynamic(true, (258, 1), &plain(&[&literals[..], &[1]].concat()));
        for symbol in [b'a', b'b', b'b', b'a'] {
            s.symbol(&literals, symbol.into());
        }
        s.symbol(&literals, END_OF_BLOCK);
        assert_eq!(inflate_all(&s.done()).unwrap().0, b"abba");
    }

    #[test]
    fn hlit_over_286_and_hdist_over_30_are_refused() {
        // §3.2.7: "HLIT, # of Literal/Length codes - 257 (257 - 286)"; and
        // distance codes 30-31 "will never actually occur", so zlib refuses
        // an HDIST that sends their lengths.
        for (literals, distances) in [(287, 1), (288, 30), (257, 31), (286, 32)] {
            let input = Stream::default()
                .dynamic(true, (literals, distances), &[])
                .done();
            let refused = InflateError::TooManyCodes {
                literals,
                distances,
            };
            assert_eq!(inflate_all(&input).unwrap_err(), refused);
        }
    }

    #[test]
    fn over_subscribed_codes_are_refused() {
        // §3.2.2: codes are consecutive values per length, shorter first;
        // three codes of one bit do not fit in one bit.
        let mut lengths = vec![0; 257];
        (lengths[0], lengths[1], lengths[END_OF_BLOCK]) = (1, 1, 1);
        let runs = plain(&[&lengths[..], &[1]].concat());
        let input = Stream::default().dynamic(true, (257, 1), &runs).done();
        let refused = InflateError::OverSubscribed(Alphabet::LiteralLength);
        assert_eq!(inflate_all(&input).unwrap_err(), refused);
        // The code length code: HCLEN's lengths say 3 bits for all 19.
        let mut s = Stream::default();
        s.header(true, 0b10).bits(0, 5).bits(0, 5).bits(15, 4);
        for _ in 0..19 {
            s.bits(3, 3);
        }
        let refused = InflateError::OverSubscribed(Alphabet::CodeLength);
        assert_eq!(inflate_all(&s.done()).unwrap_err(), refused);
    }

    /// A dynamic block with these literal/length and distance lengths.
    fn with_codes(literals: &[u8], distances: &[u8]) -> Stream {
        let mut s = Stream::default();
        let counts = (literals.len(), distances.len());
        s.dynamic(true, counts, &plain(&[literals, distances].concat()));
        s
    }

    #[test]
    fn an_incomplete_literal_code_only_as_zlib_allows_it() {
        // A two-bit string no symbol's.
        let mut literals = vec![0; 257];
        (literals[0], literals[1], literals[END_OF_BLOCK]) = (2, 2, 2);
        let refused = InflateError::Incomplete(Alphabet::LiteralLength);
        let input = with_codes(&literals, &[1, 1]).done();
        assert_eq!(inflate_all(&input).unwrap_err(), refused);
        // zlib takes a literal/length code of one one-bit code, which can
        // only be the end of the block, and so do we.
        let mut lone = vec![0; 257];
        lone[END_OF_BLOCK] = 1;
        let input = with_codes(&lone, &[0]).bits(0, 1).done();
        assert_eq!(inflate_all(&input).unwrap().0, b"");
    }

    #[test]
    fn an_incomplete_distance_code_only_as_the_rfc_allows_it() {
        // §3.2.7: "If only one distance code is used, it is encoded using
        // one bit, not zero bits; in this case there is a single code length
        // of one, with one unused code."
        let literals = small_literals();
        let mut s = with_codes(&literals, &[1]);
        s.symbol(&literals, b'a'.into()).symbol(&literals, 257);
        s.symbol(&[1], 0).symbol(&literals, END_OF_BLOCK);
        assert_eq!(inflate_all(&s.done()).unwrap().0, b"aaaa");
        // The unused string is no code.
        let mut s = with_codes(&literals, &[1]);
        s.symbol(&literals, b'a'.into()).symbol(&literals, 257);
        s.bits(1, 1).bits(0, 16);
        let refused = InflateError::InvalidCode(Alphabet::Distance);
        assert_eq!(inflate_all(&s.done()).unwrap_err(), refused);
        // A code with two unused strings is not that allowance.
        let refused = InflateError::Incomplete(Alphabet::Distance);
        let input = with_codes(&literals, &[2]).done();
        assert_eq!(inflate_all(&input).unwrap_err(), refused);
        // "One distance code of zero bits means that there are no distance
        // codes used at all (the data is all literals)": then a length
        // has no distance to go with it.
        let mut s = with_codes(&literals, &[0]);
        s.symbol(&literals, b'b'.into())
            .symbol(&literals, END_OF_BLOCK);
        assert_eq!(inflate_all(&s.done()).unwrap().0, b"b");
        let mut s = with_codes(&literals, &[0]);
        s.symbol(&literals, b'b'.into()).symbol(&literals, 257);
        s.bits(0, 16);
        let refused = InflateError::InvalidCode(Alphabet::Distance);
        assert_eq!(inflate_all(&s.done()).unwrap_err(), refused);
    }

    #[test]
    fn the_code_length_code_must_be_complete() {
        // One code length symbol alone, even in one bit, is refused (zlib
        // does the same): HCLEN covers 16, 17, 18, 0 and 8 gets one bit.
        let mut s = Stream::default();
        s.header(true, 0b10).bits(0, 5).bits(0, 5).bits(1, 4);
        s.bits(0, 3).bits(0, 3).bits(0, 3).bits(0, 3).bits(1, 3);
        let refused = InflateError::Incomplete(Alphabet::CodeLength);
        assert_eq!(inflate_all(&s.done()).unwrap_err(), refused);
    }

    #[test]
    fn code_length_repeats() {
        // "16: Copy the previous code length 3 - 6 times": not first.
        let input = Stream::default().dynamic(true, (257, 1), &[(16, 0)]).done();
        assert_eq!(
            inflate_all(&input).unwrap_err(),
            InflateError::RepeatWithoutLength
        );
        // "18: Repeat a code length of 0 for 11 - 138 times": 138 zeros
        // twice then 0 for 11 more would pass 258 lengths.
        let runs = [(18, 127), (18, 127), (18, 0)];
        let input = Stream::default().dynamic(true, (257, 1), &runs).done();
        assert_eq!(
            inflate_all(&input).unwrap_err(),
            InflateError::RepeatPastEnd
        );
        // "The code length repeat codes can cross from HLIT + 257 to the
        // HDIST + 1 code lengths": the 2 of the end of block, copied 4
        // times, gives the four distance codes theirs.
        let mut literals = vec![0; 257];
        (
            literals[0],
            literals[usize::from(b'a')],
            literals[usize::from(b'b')],
        ) = (2, 2, 2);
        literals[END_OF_BLOCK] = 2;
        let mut runs = plain(&literals);
        runs.push((16, 1));
        let mut s = Stream::default();
        s.dynamic(true, (257, 4), &runs);
        s.symbol(&literals, b'a'.into())
            .symbol(&literals, b'b'.into());
        s.symbol(&literals, END_OF_BLOCK);
        assert_eq!(inflate_all(&s.done()).unwrap().0, b"ab");
    }

    #[test]
    fn a_block_must_be_able_to_end() {
        // "The literal/length symbol 256 (end of data)" ends each block.
        let mut literals = vec![0; 257];
        (literals[0], literals[1]) = (1, 1);
        let runs = plain(&[&literals[..], &[1]].concat());
        let input = Stream::default().dynamic(true, (257, 1), &runs).done();
        assert_eq!(
            inflate_all(&input).unwrap_err(),
            InflateError::MissingEndOfBlock
        );
    }

    #[test]
    fn codes_longer_than_the_table_use_second_tables() {
        // Lengths 1, 2, ..., 15, 15: complete, and as deep as DEFLATE goes.
        let mut lengths: Vec<u8> = (1..=15).collect();
        lengths.push(15);
        let mut table = Table::new(10, Alphabet::LiteralLength);
        table.build(&lengths).unwrap();
        let mut s = Stream::default();
        let order = [15, 0, 14, 9, 10, 11, 3, 12, 13, 1, 15];
        for &symbol in &order {
            s.symbol(&lengths, symbol);
        }
        let input = s.done();
        let mut bits = Bits::new(&input);
        for &symbol in &order {
            bits.refill();
            assert_eq!(table.decode(&mut bits).unwrap(), symbol);
        }
    }

    #[test]
    fn the_input_may_end_only_after_a_final_block_or_a_sync_flush() {
        let hello = with_trailer(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        for cut in 0..hello.len() {
            let refused = inflate_all(&hello[..cut]).unwrap_err();
            assert_eq!(refused, InflateError::Truncated, "cut at {cut}");
        }
        // An empty stored block that is not final, in the middle, is a
        // flush and the stream goes on.
        let two = [&hello[..], &[0x03, 0x00]].concat();
        let (out, done) = inflate_all(&two).unwrap();
        assert_eq!(
            (&out[..], done.end, done.used),
            (&b"Hello"[..], End::Final, 13)
        );
        // Ending after a stored block that is not empty, or a Huffman block
        // that is not final, is ending too soon.
        let stored = [0x00, 0x01, 0x00, 0xfe, 0xff, b'!'];
        assert_eq!(inflate_all(&stored).unwrap_err(), InflateError::Truncated);
        let fixed = Stream::default()
            .header(false, 0b01)
            .fixed(END_OF_BLOCK)
            .done();
        assert_eq!(inflate_all(&fixed).unwrap_err(), InflateError::Truncated);
    }

    #[test]
    fn the_limit_stops_the_output_at_once() {
        let hello = with_trailer(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        let mut out = b"kept".to_vec();
        assert_eq!(inflate(&hello, &mut out, 5).unwrap().end, End::SyncFlush);
        assert_eq!(out, b"keptHello");
        out.truncate(4);
        let refused = InflateError::TooBig { limit: 4 };
        assert_eq!(inflate(&hello, &mut out, 4).unwrap_err(), refused);
        assert_eq!(out, b"kept", "left as it was");
        let stored = [0x01, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let refused = InflateError::TooBig { limit: 4 };
        assert_eq!(inflate(&stored, &mut out, 4).unwrap_err(), refused);
    }

    /// The most DEFLATE can expand: one literal, then 258 bytes for each
    /// two bits (a length of 258 and a distance of 1, in one-bit codes
    /// that are both 0), so the rest of the input is zero bytes. That is
    /// 1032 to 1 at most: 1 KiB cannot reach gigabytes, 1 MiB can.
    fn bomb(zero_bytes: usize) -> Vec<u8> {
        let mut literals = vec![0; 286];
        (literals[0], literals[END_OF_BLOCK], literals[285]) = (2, 2, 1);
        let mut s = Stream::default();
        s.dynamic(true, (286, 2), &plain(&[&literals[..], &[1, 1]].concat()));
        s.symbol(&literals, 0);
        let mut input = s.done();
        input.resize(input.len() + zero_bytes, 0);
        input
    }

    #[test]
    fn a_decompression_bomb_costs_the_limit_and_no_more() {
        // 1 KiB of input would make about a mebibyte.
        let small = bomb(1024);
        let refused = InflateError::TooBig { limit: 65536 };
        let mut out = Vec::new();
        assert_eq!(inflate(&small, &mut out, 65536).unwrap_err(), refused);
        assert!(out.is_empty() && out.capacity() <= 65536 + SLACK);
        // A mebibyte of input would make a gibibyte: it stops at 16 MiB,
        // having held no more than that.
        let big = bomb(1 << 20);
        let refused = InflateError::TooBig { limit: 16 << 20 };
        let mut out = Vec::new();
        assert_eq!(inflate(&big, &mut out, 16 << 20).unwrap_err(), refused);
        assert!(out.capacity() <= (16 << 20) + SLACK, "{}", out.capacity());
        // Under a limit it does not reach, the small one inflates whole:
        // after the zeros, three more copies and the end of block (11).
        let (out, _) = inflate_all(&[&small[..], &[0xc0]].concat()).unwrap();
        assert!(out.len() > 258 * 4096 && out.len() % 258 == 1);
    }

    #[test]
    fn random_input_never_panics() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut out = Vec::new();
        for round in 0..30_000 {
            let len = (next() % 300) as usize;
            let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // A third each: stored, fixed and dynamic blocks first.
            if let Some(first) = input.first_mut() {
                *first = (*first & !0b110) | [0b000, 0b010, 0b100][round % 3];
            }
            out.clear();
            let limit = (next() % 4096) as usize;
            if let Ok(done) = inflate(&input, &mut out, limit) {
                assert!(done.used <= input.len());
            }
            assert!(out.len() <= limit);
        }
    }
}
