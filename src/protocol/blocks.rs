//! DEFLATE taken apart for `--trace`: the blocks a compressed message's
//! first bytes hold (RFC 1951 §3.2.3), and in each Huffman block its first
//! symbols: literal bytes, `<length, backward distance>` pairs (§3.2.5),
//! the end of the block.
//!
//! `inflate.rs` reads DEFLATE fast, through lookup tables, and keeps no
//! record of what it read. This reads it the slow way, as RFC 1951 tells
//! it: one bit at a time, a Huffman code matched a bit longer each time, a
//! copy made byte by byte, and writes down what it meets ([`describe`]).
//! It runs only for the trace: `server/trace.rs` calls it as it formats a
//! frame, which happens only with `--trace` on, on the bytes the frame
//! kept (at most `seen::KEPT_COMPRESSED`).
//!
//! It only describes. `inflate` checks every message for real, and fails
//! the connection on a broken one; here a broken stream just ends the
//! description, saying why ([`Ending::Broken`]). No input can make it
//! panic or run long: every step reads at least one bit, and what it keeps
//! is bounded ([`SYMBOLS_SHOWN`], [`BLOCKS_SHOWN`], [`OUTPUT_KEPT`]).
//!
//! The RFC's tables and the canonical codes (§3.2.2) are `inflate.rs`'s.

use super::inflate::{
    canonical_codes, fixed_lengths, Alphabet, InflateError, CODE_LENGTH_ORDER, DIST_BASE,
    DIST_EXTRA, END_OF_BLOCK, FIXED_DISTANCE_LENGTHS, LENGTH_BASE, LENGTH_EXTRA, MAX_CODE_BITS,
    MAX_DISTANCE_CODES, MAX_LITERAL_CODES,
};

/// How many symbols of each Huffman block are kept: enough for a run of
/// literals and the first matches.
pub(crate) const SYMBOLS_SHOWN: usize = 12;

/// How many blocks are described: bytes of nothing but empty blocks (10
/// bits each) would otherwise make hundreds.
pub(crate) const BLOCKS_SHOWN: usize = 8;

/// How much of what the blocks inflate to is kept, to show what each match
/// copies. Past it (512 bytes can inflate to half a megabyte) matches are
/// shown without their bytes.
const OUTPUT_KEPT: usize = 4096;

/// What the bytes hold, block by block, and why the description stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Description {
    pub blocks: Vec<Block>,
    pub end: Ending,
}

/// One block (§3.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// BFINAL: "set if and only if this is the last block of the data set".
    pub last: bool,
    pub kind: Kind,
    /// A Huffman block's first symbols, at most [`SYMBOLS_SHOWN`].
    pub symbols: Vec<Symbol>,
    /// How many more symbols were read in it, past those.
    pub more: usize,
}

/// A block's BTYPE, and what its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 00 (§3.2.4): LEN bytes as they are. `data`: those that were in the
    /// bytes given.
    Stored { len: u16, data: Vec<u8> },
    /// 00 at the very end of a whole message, with no LEN and NLEN after
    /// it: the empty stored block of a sync flush, whose last four bytes,
    /// `00 00 ff ff`, the sender cut off (RFC 7692 §7.2.1). The message
    /// ends here.
    SyncFlush,
    /// 01 (§3.2.6): the codes the RFC fixed.
    Fixed,
    /// 10 (§3.2.7): codes of its own, sent at its start.
    Dynamic(Counts),
}

/// A dynamic block's first three fields (§3.2.7): how many codes of each
/// alphabet it sends the lengths of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    /// "# of Literal/Length codes - 257 (257 - 286)"
    pub hlit: u8,
    /// "# of Distance codes - 1 (1 - 32)"
    pub hdist: u8,
    /// "# of Code Length codes - 4 (4 - 19)"
    pub hclen: u8,
}

/// One symbol of a Huffman block (§3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Symbol {
    /// 0-255: this byte, as it is.
    Literal(u8),
    /// 257-285 then a distance code: "copy `length` bytes from `distance`
    /// back" (LZ77); `copied`, those bytes, while the output is kept.
    Match {
        length: usize,
        distance: usize,
        copied: Option<Vec<u8>>,
    },
    /// 256: the end of the block.
    EndOfBlock,
}

/// Why the description stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The stream is over: a block with BFINAL set ended (§3.2.3), or the
    /// whole message ended with its sync flush ([`Kind::SyncFlush`]).
    Complete,
    /// The bytes given end, and the message goes on after them.
    MoreBytes,
    /// [`BLOCKS_SHOWN`] blocks were described, and more bytes follow.
    MoreBlocks,
    /// Here the bytes stop being DEFLATE, for this reason: the message will
    /// not inflate.
    Broken(InflateError),
}

/// Describe the DEFLATE stream at the start of `bytes`: the whole message
/// (`whole`), or only its first bytes.
pub(crate) fn describe(bytes: &[u8], whole: bool) -> Description {
    let mut walk = Walk {
        bytes,
        at: 0,
        whole,
        out: Vec::new(),
        produced: 0,
    };
    let mut blocks = Vec::new();
    let end = loop {
        if blocks.len() == BLOCKS_SHOWN && !walk.at_end() {
            break Ending::MoreBlocks;
        }
        // §3.2.3: "do ... while not last block".
        match walk.block(&mut blocks) {
            Ok(true) => break Ending::Complete,
            Ok(false) => {}
            Err(end) => break end,
        }
    };
    Description { blocks, end }
}

impl Block {
    fn new(last: bool, kind: Kind) -> Block {
        Block {
            last,
            kind,
            symbols: Vec::new(),
            more: 0,
        }
    }

    /// Keep a symbol, if it is among the first; count it otherwise.
    fn note(&mut self, symbol: Symbol) {
        if self.symbols.len() < SYMBOLS_SHOWN {
            self.symbols.push(symbol);
        } else {
            self.more += 1;
        }
    }
}

/// Each step returns what it read, or, as an error, why the description
/// stops there.
type Step<T> = Result<T, Ending>;

/// How far the description has got in the bytes, and what they inflated
/// to so far.
struct Walk<'a> {
    bytes: &'a [u8],
    /// The next bit: bit `at % 8` of byte `at / 8`, the lowest first
    /// (§3.1.1: "Data elements are packed into bytes in order of
    /// increasing bit number within the byte").
    at: usize,
    /// `bytes` are the whole message.
    whole: bool,
    /// What the blocks inflate to, while there is at most [`OUTPUT_KEPT`].
    out: Vec<u8>,
    /// How many bytes the blocks inflate to so far.
    produced: usize,
}

impl Walk<'_> {
    fn bit(&mut self) -> Step<u32> {
        let Some(&byte) = self.bytes.get(self.at / 8) else {
            return Err(self.ran_out());
        };
        let bit = (byte >> (self.at % 8)) & 1;
        self.at += 1;
        Ok(u32::from(bit))
    }

    /// A number of `bits` bits (at most 16). §3.1.1: "Data elements other
    /// than Huffman codes are packed starting with the least-significant
    /// bit of the data element."
    fn number(&mut self, bits: u32) -> Step<u32> {
        let mut value = 0;
        for i in 0..bits {
            value |= self.bit()? << i;
        }
        Ok(value)
    }

    /// The bytes ended in the middle of something: the rest of the message
    /// was not given, or, if it all was, it ends too soon.
    fn ran_out(&self) -> Ending {
        match self.whole {
            true => Ending::Broken(InflateError::Truncated),
            false => Ending::MoreBytes,
        }
    }

    fn at_end(&self) -> bool {
        self.at >= self.bytes.len() * 8
    }

    /// One block, added to `blocks` as soon as its header is read, so that
    /// a block cut short is still shown. Returns BFINAL.
    fn block(&mut self, blocks: &mut Vec<Block>) -> Step<bool> {
        // "Each block of compressed data begins with 3 header bits
        // containing the following data: first bit BFINAL, next 2 bits
        // BTYPE".
        let last = self.bit()? == 1;
        let kind = match self.number(2)? {
            0b00 => return self.stored(blocks, last).map(|()| last),
            0b01 => Kind::Fixed,
            0b10 => Kind::Dynamic(Counts {
                hlit: self.number(5)? as u8,
                hdist: self.number(5)? as u8,
                hclen: self.number(4)? as u8,
            }),
            _ => return Err(Ending::Broken(InflateError::ReservedBlockType)),
        };
        blocks.push(Block::new(last, kind));
        let block = blocks.last_mut().expect("the block just added");
        let (literals, distances) = match block.kind {
            Kind::Dynamic(counts) => self.dynamic_codes(counts)?,
            _ => fixed_codes()?,
        };
        self.symbols(block, &literals, &distances)?;
        Ok(last)
    }

    /// §3.2.4, a block with no compression: LEN, NLEN, then LEN bytes.
    fn stored(&mut self, blocks: &mut Vec<Block>, last: bool) -> Step<()> {
        // "Any bits of input up to the next byte boundary are ignored."
        self.at = self.at.div_ceil(8) * 8;
        // RFC 7692 §7.2.1: a sender cuts off the 4 bytes that would come
        // next, LEN 0 and NLEN ffff, so a whole message normally ends here.
        if self.whole && !last && self.at_end() {
            blocks.push(Block::new(false, Kind::SyncFlush));
            return Err(Ending::Complete);
        }
        // "LEN is the number of data bytes in the block. NLEN is the one's
        // complement of LEN."
        let len = self.number(16)? as u16;
        let nlen = self.number(16)? as u16;
        if nlen != !len {
            let mismatch = InflateError::StoredLengthMismatch { len, nlen };
            return Err(Ending::Broken(mismatch));
        }
        let bytes = self.bytes;
        let start = self.at / 8;
        let data = &bytes[start..bytes.len().min(start + usize::from(len))];
        self.at += 8 * data.len();
        self.put(data);
        blocks.push(Block::new(
            last,
            Kind::Stored {
                len,
                data: data.to_vec(),
            },
        ));
        if data.len() < usize::from(len) {
            return Err(self.ran_out());
        }
        Ok(())
    }

    /// §3.2.7: a dynamic block's codes. First the code length code, its
    /// lengths 3 bits each "in the order: 16, 17, 18, 0, 8, ...", then in
    /// it the lengths of the literal/length and distance codes.
    fn dynamic_codes(&mut self, counts: Counts) -> Step<(Code, Code)> {
        let literals = 257 + usize::from(counts.hlit);
        let distances = 1 + usize::from(counts.hdist);
        if literals > MAX_LITERAL_CODES || distances > MAX_DISTANCE_CODES {
            let too_many = InflateError::TooManyCodes {
                literals,
                distances,
            };
            return Err(Ending::Broken(too_many));
        }
        let mut code_length_lengths = [0; 19];
        for &symbol in &CODE_LENGTH_ORDER[..4 + usize::from(counts.hclen)] {
            code_length_lengths[symbol] = self.number(3)? as u8;
        }
        let code_length_code = Code::new(&code_length_lengths, Alphabet::CodeLength)?;
        let lengths = self.code_lengths(&code_length_code, literals + distances)?;
        // "The literal/length symbol 256 (end of data)": without a code for
        // it, the block could not end.
        if lengths[END_OF_BLOCK] == 0 {
            return Err(Ending::Broken(InflateError::MissingEndOfBlock));
        }
        let (literal_lengths, distance_lengths) = lengths.split_at(literals);
        Ok((
            Code::new(literal_lengths, Alphabet::LiteralLength)?,
            Code::new(distance_lengths, Alphabet::Distance)?,
        ))
    }

    /// §3.2.7: `count` code lengths in the code length code, "0 - 15" as
    /// they are, 16-18 repeats. "The code length repeat codes can cross
    /// from HLIT + 257 to the HDIST + 1 code lengths."
    fn code_lengths(&mut self, code: &Code, count: usize) -> Step<Vec<u8>> {
        let mut lengths = Vec::with_capacity(count);
        while lengths.len() < count {
            let (length, times) = match code.read(self)? {
                symbol @ 0..=15 => (symbol as u8, 1),
                // "16: Copy the previous code length 3 - 6 times."
                16 => match lengths.last() {
                    Some(&previous) => (previous, 3 + self.number(2)?),
                    None => return Err(Ending::Broken(InflateError::RepeatWithoutLength)),
                },
                // "17: Repeat a code length of 0 for 3 - 10 times."
                17 => (0, 3 + self.number(3)?),
                // "18: Repeat a code length of 0 for 11 - 138 times."
                _ => (0, 11 + self.number(7)?),
            };
            let times = times as usize;
            if lengths.len() + times > count {
                return Err(Ending::Broken(InflateError::RepeatPastEnd));
            }
            lengths.resize(lengths.len() + times, length);
        }
        Ok(lengths)
    }

    /// §3.2.3, a Huffman block's data: "loop (until end of block code
    /// recognized)", each symbol noted in `block`.
    fn symbols(&mut self, block: &mut Block, literals: &Code, distances: &Code) -> Step<()> {
        loop {
            let symbol = match literals.read(self)? {
                // "if value < 256 copy value (literal byte) to output stream"
                byte @ 0..=255 => {
                    self.put(&[byte as u8]);
                    Symbol::Literal(byte as u8)
                }
                END_OF_BLOCK => Symbol::EndOfBlock,
                length_code => {
                    let (length, distance) = self.pair(length_code, distances)?;
                    // "a distance cannot refer past the beginning of the
                    // output stream": shown, then the end of the description.
                    let available = self.produced;
                    if distance > available {
                        block.note(Symbol::Match {
                            length,
                            distance,
                            copied: None,
                        });
                        let too_far = InflateError::DistanceTooFar {
                            distance,
                            available,
                        };
                        return Err(Ending::Broken(too_far));
                    }
                    let copied = self.copy(length, distance);
                    Symbol::Match {
                        length,
                        distance,
                        copied,
                    }
                }
            };
            let end = symbol == Symbol::EndOfBlock;
            block.note(symbol);
            if end {
                return Ok(());
            }
        }
    }

    /// §3.2.5: a length code (257-285) with its extra bits, then a distance
    /// code with its own: the `<length, backward distance>` pair.
    fn pair(&mut self, length_code: usize, distances: &Code) -> Step<(usize, usize)> {
        // "Literal/length values 286-287 will never actually occur".
        let code = length_code - 257;
        if code >= LENGTH_BASE.len() {
            let invalid = InflateError::InvalidLengthSymbol(length_code as u16);
            return Err(Ending::Broken(invalid));
        }
        let extra = self.number(u32::from(LENGTH_EXTRA[code]))?;
        let length = usize::from(LENGTH_BASE[code]) + extra as usize;
        // "distance codes 30-31 will never actually occur".
        let code = distances.read(self)?;
        if code >= DIST_BASE.len() {
            let invalid = InflateError::InvalidDistanceSymbol(code as u16);
            return Err(Ending::Broken(invalid));
        }
        let extra = self.number(u32::from(DIST_EXTRA[code]))?;
        let distance = usize::from(DIST_BASE[code]) + extra as usize;
        Ok((length, distance))
    }

    /// Count `n` more bytes of output: false once there are more than
    /// [`OUTPUT_KEPT`], and none are kept any longer.
    fn grow(&mut self, n: usize) -> bool {
        self.produced += n;
        if self.produced > OUTPUT_KEPT {
            self.out = Vec::new();
            return false;
        }
        true
    }

    fn put(&mut self, bytes: &[u8]) {
        if self.grow(bytes.len()) {
            self.out.extend_from_slice(bytes);
        }
    }

    /// §3.2.3: "move backwards distance bytes in the output stream, and
    /// copy length bytes from this position to the output stream", byte
    /// by byte: "the referenced string may overlap the current position",
    /// and then each byte copied is one just written. Returns the bytes
    /// copied, while the output is kept. `distance` is at most what was
    /// produced.
    fn copy(&mut self, length: usize, distance: usize) -> Option<Vec<u8>> {
        let from = self.produced - distance;
        if !self.grow(length) {
            return None;
        }
        for at in from..from + length {
            let byte = self.out[at];
            self.out.push(byte);
        }
        Some(self.out[self.out.len() - length..].to_vec())
    }
}

/// §3.2.6: the fixed literal/length code, and distance codes "represented
/// by (fixed-length) 5-bit codes".
fn fixed_codes() -> Step<(Code, Code)> {
    Ok((
        Code::new(&fixed_lengths(), Alphabet::LiteralLength)?,
        Code::new(&FIXED_DISTANCE_LENGTHS, Alphabet::Distance)?,
    ))
}

/// A Huffman code, read one bit at a time.
struct Code {
    /// For each length, the codes of that length and their symbols. Codes
    /// as [`canonical_codes`] gives them: bit-reversed, so that they read
    /// as they arrive.
    by_length: Vec<Vec<(u16, usize)>>,
    /// The longest code's length (0 if there is no code).
    longest: usize,
    alphabet: Alphabet,
}

impl Code {
    /// The code these lengths define (§3.2.2), if they define one.
    fn new(lengths: &[u8], alphabet: Alphabet) -> Step<Code> {
        // A code of `len` bits takes 2^-len of all bit strings: lengths
        // that take more than all of them make no prefix code (they are
        // "over-subscribed"), and `canonical_codes` would overflow on them.
        // (`inflate` also refuses most codes that take less; a description
        // can show them, and stops at bits that are no code.)
        let taken: u32 = lengths
            .iter()
            .filter(|&&len| len > 0)
            .map(|&len| 1 << (MAX_CODE_BITS - usize::from(len)))
            .sum();
        if taken > 1 << MAX_CODE_BITS {
            return Err(Ending::Broken(InflateError::OverSubscribed(alphabet)));
        }
        let mut by_length = vec![Vec::new(); MAX_CODE_BITS + 1];
        for (symbol, (&len, code)) in lengths.iter().zip(canonical_codes(lengths)).enumerate() {
            if len > 0 {
                by_length[usize::from(len)].push((code, symbol));
            }
        }
        let longest = by_length.iter().rposition(|codes| !codes.is_empty());
        Ok(Code {
            by_length,
            longest: longest.unwrap_or(0),
            alphabet,
        })
    }

    /// The next symbol. §3.1.1: "Huffman codes are packed starting with the
    /// most-significant bit of the code": one bit more at a time, until the
    /// bits so far are some symbol's whole code.
    fn read(&self, walk: &mut Walk) -> Step<usize> {
        let mut code = 0u16;
        for len in 1..=self.longest {
            // Reversed, each bit that arrives goes above those before it.
            code |= (walk.bit()? as u16) << (len - 1);
            let symbol = self.by_length[len].iter().find(|&&(c, _)| c == code);
            if let Some(&(_, symbol)) = symbol {
                return Ok(symbol);
            }
        }
        Err(Ending::Broken(InflateError::InvalidCode(self.alphabet)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::deflate::deflate;
    use crate::protocol::inflate::inflate;

    fn literals(text: &[u8]) -> Vec<Symbol> {
        text.iter().map(|&b| Symbol::Literal(b)).collect()
    }

    fn block(last: bool, kind: Kind, symbols: Vec<Symbol>) -> Block {
        Block {
            last,
            kind,
            symbols,
            more: 0,
        }
    }

    /// The bytes the shown symbols stand for, block after block, while
    /// each match's copy is known.
    fn spelled(description: &Description) -> Vec<u8> {
        let mut out = Vec::new();
        for block in &description.blocks {
            if let Kind::Stored { data, .. } = &block.kind {
                out.extend_from_slice(data);
            }
            for symbol in &block.symbols {
                match symbol {
                    Symbol::Literal(byte) => out.push(*byte),
                    Symbol::Match { copied, .. } => out.extend(copied.as_ref().expect("kept")),
                    Symbol::EndOfBlock => {}
                }
            }
        }
        out
    }

    /// Fields (value, bits) packed as DEFLATE packs them, the lowest bit
    /// first (§3.1.1).
    fn packed(fields: &[(u32, u32)]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut at = 0;
        for &(value, bits) in fields {
            for i in 0..bits {
                if at % 8 == 0 {
                    bytes.push(0);
                }
                *bytes.last_mut().expect("a byte") |= (((value >> i) & 1) as u8) << (at % 8);
                at += 1;
            }
        }
        bytes
    }

    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    #[test]
    fn rfc_7692_hello_is_one_fixed_block_then_the_sync_flush() {
        // §7.2.3.1: "Hello" in "1 compressed DEFLATE block (compressed
        // with fixed Huffman code and the "BFINAL" bit not set)", then the
        // empty stored block whose `00 00 ff ff` was stripped.
        let mut symbols = literals(b"Hello");
        symbols.push(Symbol::EndOfBlock);
        let expected = Description {
            blocks: vec![
                block(false, Kind::Fixed, symbols),
                block(false, Kind::SyncFlush, vec![]),
            ],
            end: Ending::Complete,
        };
        assert_eq!(describe(&HELLO, true), expected);
        // Only the first bytes given: the same block, and more to come.
        let first = describe(&HELLO[..3], false);
        assert_eq!(first.blocks[0].symbols, literals(b"He"));
        assert_eq!(first.end, Ending::MoreBytes);
        // The same bytes as a whole message that ends there: too soon.
        let cut = describe(&HELLO[..3], true);
        assert_eq!(cut.end, Ending::Broken(InflateError::Truncated));
    }

    #[test]
    fn rfc_7692_sharing_the_window_is_a_match_into_the_last_message() {
        // §7.2.3.2: with context takeover, a second "Hello" is
        // `f2 00 11 00 00`. Read bit by bit, that is a literal "H", then
        // <4, 5>: "ello", copied from 5 bytes back, in the first message.
        let second = [0xf2, 0x00, 0x11, 0x00, 0x00];
        let ello = Symbol::Match {
            length: 4,
            distance: 5,
            copied: Some(b"ello".to_vec()),
        };
        // The two as one stream: the first with its tail put back (§7.2.2).
        let stream = [&HELLO[..], &[0x00, 0x00, 0xff, 0xff], &second].concat();
        let described = describe(&stream, true);
        let kinds: Vec<&Kind> = described.blocks.iter().map(|b| &b.kind).collect();
        let empty = Kind::Stored {
            len: 0,
            data: vec![],
        };
        assert_eq!(
            kinds,
            [&Kind::Fixed, &empty, &Kind::Fixed, &Kind::SyncFlush]
        );
        let symbols = [Symbol::Literal(b'H'), ello, Symbol::EndOfBlock];
        assert_eq!(described.blocks[2].symbols, symbols);
        assert_eq!(spelled(&described), b"HelloHello");
        // The fast reader agrees.
        let mut out = Vec::new();
        let tail = [0x00, 0x00, 0xff, 0xff];
        inflate(&[&stream[..], &tail].concat(), &mut out, 100).unwrap();
        assert_eq!(out, b"HelloHello");
        // Alone, as this server reads every message (no context takeover),
        // the match reaches back past the message's start.
        let alone = describe(&second, true);
        let too_far = InflateError::DistanceTooFar {
            distance: 5,
            available: 1,
        };
        assert_eq!(alone.end, Ending::Broken(too_far));
        let shown = Symbol::Match {
            length: 4,
            distance: 5,
            copied: None,
        };
        assert_eq!(alone.blocks[0].symbols, [Symbol::Literal(b'H'), shown]);
    }

    #[test]
    fn rfc_7692_stored_and_final_blocks() {
        // §7.2.3.3: "Using a DEFLATE Block with No Compression".
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        let hello = Kind::Stored {
            len: 5,
            data: b"Hello".to_vec(),
        };
        let expected = Description {
            blocks: vec![
                block(false, hello, vec![]),
                block(false, Kind::SyncFlush, vec![]),
            ],
            end: Ending::Complete,
        };
        assert_eq!(describe(&stored, true), expected);
        // Cut in its data: what was there, and more to come.
        let cut = describe(&stored[..7], false);
        let he = Kind::Stored {
            len: 5,
            data: b"He".to_vec(),
        };
        assert_eq!((&cut.blocks[0].kind, &cut.end), (&he, &Ending::MoreBytes));
        // §7.2.3.4: "Using a DEFLATE Block with "BFINAL" Set to 1": the
        // stream ends with it, and the `00` after it is not read.
        let last = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        let described = describe(&last, true);
        assert_eq!(described.blocks.len(), 1);
        assert!(described.blocks[0].last);
        assert_eq!(described.end, Ending::Complete);
        // §7.2.3.5: "Two DEFLATE Blocks in 1 Message", a flush between.
        let two = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        let described = describe(&two, true);
        assert_eq!(described.blocks.len(), 4);
        assert_eq!(spelled(&described), b"Hello");
    }

    #[test]
    fn a_dynamic_block_shows_its_counts_and_first_symbols() {
        // Our encoder picks a dynamic block for a longer text.
        let text = b"It was the best of times, it was the worst of times, it was the \
            age of wisdom, it was the age of foolishness, it was the epoch of belief";
        let mut stream = Vec::new();
        deflate(text, 15, &mut stream);
        stream.truncate(stream.len() - 4); // the tail, as RFC 7692 sends it
        let described = describe(&stream, true);
        let first = &described.blocks[0];
        let Kind::Dynamic(counts) = first.kind else {
            panic!("{described:?}");
        };
        assert!(counts.hlit <= 29 && counts.hdist <= 29, "{counts:?}");
        assert_eq!(first.symbols[..7], literals(b"It was ")[..]);
        assert_eq!(first.symbols.len(), SYMBOLS_SHOWN);
        assert!(first.more > 0);
        assert_eq!(described.end, Ending::Complete);
        // What the twelve symbols stand for is how the text begins.
        let spelled = spelled(&described);
        assert!(text.starts_with(&spelled), "{spelled:?}");
    }

    #[test]
    fn broken_streams_end_the_description_with_the_reason() {
        // BTYPE 11, "reserved (error)".
        let reserved = describe(&[0b111], true);
        assert_eq!(
            reserved.end,
            Ending::Broken(InflateError::ReservedBlockType)
        );
        // NLEN is not LEN's complement.
        let mismatch = describe(&[0x01, 0x05, 0x00, 0x00, 0x00], false);
        let why = InflateError::StoredLengthMismatch { len: 5, nlen: 0 };
        assert_eq!(mismatch.end, Ending::Broken(why));
        // A dynamic block whose 19 code length codes are 1 bit each:
        // over-subscribed.
        let mut fields = vec![(1, 1), (0b10, 2), (0, 5), (0, 5), (15, 4)];
        fields.extend([(1, 3); 19]);
        let over = describe(&packed(&fields), false);
        let why = InflateError::OverSubscribed(Alphabet::CodeLength);
        assert_eq!(over.end, Ending::Broken(why));
    }

    #[test]
    fn many_blocks_stop_at_the_blocks_shown() {
        // Empty fixed blocks, not final: 10 bits each (3 + the 7 of the
        // end of block), all zeros but their BTYPE.
        let mut bits = vec![0u8; 40];
        for n in 0..20 {
            let at = n * 10 + 1; // BTYPE's low bit
            bits[at / 8] |= 1 << (at % 8);
        }
        let described = describe(&bits, false);
        assert_eq!(described.blocks.len(), BLOCKS_SHOWN);
        assert_eq!(described.end, Ending::MoreBlocks);
    }

    /// A small random generator (xorshift), the same run after run.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        for round in 0..30_000 {
            let len = (next() % 600) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // A third each: stored, fixed and dynamic blocks first.
            if let Some(first) = bytes.first_mut() {
                *first = (*first & !0b110) | [0b000, 0b010, 0b100][round % 3];
            }
            let described = describe(&bytes, round % 2 == 0);
            assert!(described.blocks.len() <= BLOCKS_SHOWN);
            for block in &described.blocks {
                assert!(block.symbols.len() <= SYMBOLS_SHOWN);
            }
        }
    }

    #[test]
    fn real_streams_read_to_their_end_and_broken_ones_stop() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        for round in 0..3_000 {
            // Text from a few letters repeats, so it has matches.
            let len = 1 + (next() % 2000) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| b"abc d\n"[(next() % 6) as usize])
                .collect();
            let mut stream = Vec::new();
            deflate(&text, 15, &mut stream);
            stream.truncate(stream.len() - 4);
            let described = describe(&stream, true);
            let end = &described.end;
            assert!(
                matches!(end, Ending::Complete | Ending::MoreBlocks),
                "{end:?}"
            );
            // The first block's symbols, when they are all shown, spell the
            // text's start.
            let first = &described.blocks[0];
            if first.more == 0 && !matches!(first.kind, Kind::Stored { .. }) {
                let only_first = Description {
                    blocks: vec![first.clone()],
                    end: Ending::Complete,
                };
                assert!(text.starts_with(&spelled(&only_first)), "round {round}");
            }
            // A bit flipped, or the stream cut: no panic, whatever it reads.
            let at = (next() % (stream.len() as u64 * 8)) as usize;
            stream[at / 8] ^= 1 << (at % 8);
            describe(&stream, true);
            describe(&stream[..at / 8], false);
        }
    }
}
