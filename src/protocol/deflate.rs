//! Writing DEFLATE (RFC 1951): the encoder behind permessage-deflate
//! (RFC 7692), written to be read beside [`inflate`](mod@super::inflate).
//!
//! Two steps, as RFC 1951 §4 describes them:
//!
//! 1. **LZ77** ([`Matcher`], [`tokenize`]): for each position, find an
//!    earlier copy of the bytes that follow, through a hash of the next
//!    three bytes and chains of the earlier positions with the same hash,
//!    newest first and only so many of them. A match found is held back one
//!    byte in case the next position starts a longer one ("lazy
//!    matching"). Out come tokens: literal bytes and <length, distance>
//!    pairs, never reaching further back than the window allows.
//! 2. **Huffman coding** ([`Blocks::flush`]): every 16 Ki tokens make a
//!    block, written the smallest of three ways: in codes made for it
//!    (Huffman's, or package-merge's when one would pass 15 bits:
//!    [`limited_lengths`]), in the fixed codes (short blocks, where a code
//!    table costs more than it saves), or stored as they are (data that
//!    does not compress; such blocks are merged, so the output grows by at
//!    most 5 bytes per 64 KiB).
//!
//! The output is what RFC 7692 §7.2.1 asks of a sender with no context
//! takeover: the blocks, none final, then an empty stored block (a sync
//! flush) whose last four bytes, `00 00 ff ff`, the caller strips.

use super::inflate::{
    canonical_codes, fixed_lengths, CODE_LENGTH_ORDER, DIST_BASE, DIST_EXTRA, END_OF_BLOCK,
    FIXED_DISTANCE_LENGTHS, LENGTH_BASE, LENGTH_EXTRA, MAX_CODE_BITS, MAX_DISTANCE_CODES,
    MAX_LITERAL_CODES,
};

/// §3.2.5: matches are 3 to 258 bytes long.
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
/// How many earlier positions with the same hash to try, at most: more
/// finds longer matches, slower. With the three below, about zlib's level
/// 5: on text and JSON of 1 MiB, 9% bigger than miniz's default level (6)
/// and 22 to 27% smaller than its fastest (1) (tests/deflate.rs, `figures`).
const MAX_CHAIN: usize = 16;
/// A match this long is long enough: stop looking for a longer one.
const NICE_MATCH: usize = 128;
/// When the match held back is this long already, try only a quarter of
/// the chain for a longer one.
const GOOD_MATCH: usize = 8;
/// Only a match shorter than this is held back to try the next position.
const LAZY_BELOW: usize = 16;
/// A 3-byte match further back than this costs more bits than three
/// literals would (zlib's TOO_FAR): not worth taking.
const TOO_FAR: usize = 4096;
/// Tokens per block: enough for a table to pay, few enough that the codes
/// follow the data as it changes (zlib's default is the same).
const BLOCK_TOKENS: usize = 1 << 14;
/// §3.2.4: LEN is 16 bits, so a stored block holds at most this much.
const MAX_STORED: usize = 0xFFFF;
/// §3.2.7: code lengths are sent in a code whose lengths are 3-bit numbers.
const MAX_CODE_LENGTH_BITS: usize = 7;
/// Positions are kept as `u32`: a bigger input is compressed in pieces
/// this big, each on its own (no WebSocket message comes near it).
const MAX_PIECE: usize = 1 << 30;

/// Compress `input` into raw DEFLATE, appended to `out`, for a message of
/// permessage-deflate with no context takeover (RFC 7692 §7.2.1).
///
/// No back-reference reaches further than 2^`window_bits` bytes (8 to 15,
/// clamped), the window the peer agreed to (`server_max_window_bits`, or
/// `client_max_window_bits` on a client, §7.1.2). 8 is honoured as 256
/// bytes. zlib's own encoder cannot do 8: it uses 9 instead for a zlib
/// stream, and since 1.2.9 refuses 8 for raw DEFLATE, which is what
/// permessage-deflate sends. Its decoder takes 8, as ours takes any
/// window, so a peer that asked for 8 reads what this writes.
///
/// The output ends with an empty stored block that is not final, `00 00
/// ff ff` last: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the
/// tail end" (§7.2.1, step 3) before sending. No block is final, so the
/// stream is also what zlib's `Z_SYNC_FLUSH` gives; to read it with a
/// decoder that wants a final block, append `03 00` (an empty final block
/// in the fixed codes).
pub fn deflate(input: &[u8], window_bits: u8, out: &mut Vec<u8>) {
    let window_bits = window_bits.clamp(8, 15);
    let mut writer = BitWriter::new(out);
    for piece in input.chunks(MAX_PIECE) {
        tokenize(piece, window_bits, &mut writer);
    }
    // §7.2.1 step 2: "append an empty DEFLATE block with no compression".
    write_stored(&mut writer, &[]);
}

/// The bits of a stream, packed from the least significant bit of each byte
/// (§3.1.1).
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    count: u32,
}

impl<'a> BitWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter {
            out,
            acc: 0,
            count: 0,
        }
    }

    /// Append the low `n` bits of `bits` (at most 32 at once).
    #[inline(always)]
    fn put(&mut self, bits: u32, n: u32) {
        self.acc |= u64::from(bits) << self.count;
        self.count += n;
        if self.count >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.count -= 32;
        }
    }

    /// Pad with zero bits to the next byte boundary and write out.
    fn align(&mut self) {
        while self.count > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.count = self.count.saturating_sub(8);
        }
    }
}

/// One stored block, not final, of at most [`MAX_STORED`] bytes (§3.2.4).
fn write_stored(w: &mut BitWriter, bytes: &[u8]) {
    // BFINAL 0, BTYPE 00; then "Any bits of input up to the next byte
    // boundary are ignored"; then LEN and its one's complement NLEN.
    w.put(0b000, 3);
    w.align();
    let len = bytes.len() as u16;
    w.out.extend_from_slice(&len.to_le_bytes());
    w.out.extend_from_slice(&(!len).to_le_bytes());
    w.out.extend_from_slice(bytes);
}

/// A match: `length` bytes from `distance` back. Length 0 is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Match {
    length: usize,
    distance: usize,
}

const NO_MATCH: Match = Match {
    length: 0,
    distance: 0,
};

/// The LZ77 search (RFC 1951 §4): "a chained hash table to find
/// duplicated strings, using a hash function that operates on 3-byte
/// sequences".
struct Matcher {
    /// For each hash, the latest position with it, plus one (0: none).
    head: Vec<u32>,
    /// For each position (modulo the window), the one before it with the
    /// same hash, plus one: the chains. "There are no deletions from the
    /// hash chains; the algorithm simply discards matches that are too old."
    prev: Vec<u32>,
    hash_shift: u32,
    max_distance: usize,
}

impl Matcher {
    /// Tables sized for `len` bytes: a short message gets small ones.
    fn new(len: usize, window_bits: u8) -> Self {
        let hash_bits = len.next_power_of_two().trailing_zeros().clamp(8, 15);
        let window = 1usize << window_bits;
        Matcher {
            head: vec![0; 1 << hash_bits],
            prev: vec![0; window.min(len.next_power_of_two())],
            hash_shift: 32 - hash_bits,
            max_distance: window,
        }
    }

    #[inline(always)]
    fn hash(&self, data: &[u8], pos: usize) -> usize {
        let three = u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], 0]);
        (three.wrapping_mul(0x9E37_79B1) >> self.hash_shift) as usize
    }

    /// Put `pos` at the head of its chain; returns the chain it joined.
    #[inline(always)]
    fn insert(&mut self, data: &[u8], pos: usize) -> u32 {
        if pos + MIN_MATCH > data.len() {
            return 0;
        }
        let hash = self.hash(data, pos);
        let older = self.head[hash];
        let slot = pos & (self.prev.len() - 1);
        self.prev[slot] = older;
        self.head[hash] = pos as u32 + 1;
        older
    }

    fn insert_range(&mut self, data: &[u8], from: usize, to: usize) {
        for pos in from..to {
            self.insert(data, pos);
        }
    }

    /// Insert `pos`, and find the longest match there longer than
    /// `better_than` (else [`NO_MATCH`]).
    fn search(&mut self, data: &[u8], pos: usize, better_than: usize) -> Match {
        if pos + MIN_MATCH > data.len() {
            return NO_MATCH;
        }
        let chain = self.insert(data, pos);
        let found = self.longest(data, pos, chain, better_than);
        if found.length == MIN_MATCH && found.distance > TOO_FAR {
            return NO_MATCH;
        }
        found
    }

    /// Walk the chain from `candidate`, newest first: "to favor small
    /// distances and thus take advantage of the Huffman encoding".
    fn longest(&self, data: &[u8], pos: usize, mut candidate: u32, better_than: usize) -> Match {
        let max_len = MAX_MATCH.min(data.len() - pos);
        let mut best = Match {
            length: better_than.max(MIN_MATCH - 1),
            distance: 0,
        };
        // "very long hash chains are arbitrarily truncated at a certain length"
        let mut chain = if better_than >= GOOD_MATCH {
            MAX_CHAIN / 4
        } else {
            MAX_CHAIN
        };
        while candidate != 0 && chain > 0 && best.length < max_len {
            let at = candidate as usize - 1;
            let distance = pos - at;
            if distance > self.max_distance {
                break;
            }
            // A longer match must at least agree at its last byte: test
            // that one before comparing the whole.
            if data[at + best.length] == data[pos + best.length] {
                let length = common_length(data, at, pos, max_len);
                if length > best.length {
                    best = Match { length, distance };
                    if length >= NICE_MATCH {
                        break;
                    }
                }
            }
            let older = self.prev[at & (self.prev.len() - 1)];
            // Older positions only: a newer one means the slot was reused.
            if older >= candidate {
                break;
            }
            candidate = older;
            chain -= 1;
        }
        if best.distance == 0 {
            NO_MATCH
        } else {
            best
        }
    }
}

/// How many bytes from `a` and from `b` (`a < b`) agree, up to `max`,
/// eight at a time.
#[inline(always)]
fn common_length(data: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let x = u64::from_le_bytes(data[a + n..a + n + 8].try_into().expect("8"));
        let y = u64::from_le_bytes(data[b + n..b + n + 8].try_into().expect("8"));
        if x != y {
            return n + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && data[a + n] == data[b + n] {
        n += 1;
    }
    n
}

/// Turn `data` into tokens, block by block, written to `w` as they fill.
///
/// RFC 1951 §4, lazy matching: "after a match of length N has been found,
/// the compressor searches for a longer match starting at the next input
/// byte. If it finds a longer match, it truncates the previous match to a
/// length of one (thus producing a single literal byte) and then emits the
/// longer match. Otherwise, it emits the original match".
fn tokenize(data: &[u8], window_bits: u8, w: &mut BitWriter) {
    let mut matcher = Matcher::new(data.len(), window_bits);
    let mut blocks = Blocks::new(data);
    let mut pos = 0;
    // A match already found at `pos` (which is then already inserted).
    let mut found: Option<Match> = None;
    while pos < data.len() {
        if blocks.tokens.len() >= BLOCK_TOKENS {
            blocks.flush(pos, w);
        }
        let here = found.take().unwrap_or_else(|| matcher.search(data, pos, 0));
        if here.length < MIN_MATCH {
            blocks.literal(data[pos]);
            pos += 1;
            continue;
        }
        let mut inserted = pos + 1;
        if here.length < LAZY_BELOW {
            let next = matcher.search(data, pos + 1, here.length);
            if next.length > here.length {
                blocks.literal(data[pos]);
                pos += 1;
                found = Some(next);
                continue;
            }
            inserted = pos + 2;
        }
        // "advances N bytes", each of them put in its chain.
        matcher.insert_range(data, inserted, pos + here.length);
        blocks.matched(here);
        pos += here.length;
    }
    blocks.flush(data.len(), w);
    blocks.write_pending_stored(data.len(), w);
}

/// Which length code (0 for 257, ..., 28 for 285) holds `length`, by the
/// table of §3.2.5: after the first eight, four codes per power of two.
fn length_code(length: usize) -> usize {
    let l = length - MIN_MATCH;
    if length == MAX_MATCH {
        28 // 285 is 258 alone (284 with all its extra bits would be too)
    } else if l < 8 {
        l
    } else {
        let top = (usize::BITS - 1 - l.leading_zeros()) as usize;
        4 * (top - 1) + ((l >> (top - 2)) & 3)
    }
}

/// Which distance code (0 to 29) holds `distance`, by the table of
/// §3.2.5: after the first four, two codes per power of two.
fn distance_code(distance: usize) -> usize {
    let d = distance - 1;
    if d < 4 {
        d
    } else {
        let top = (usize::BITS - 1 - d.leading_zeros()) as usize;
        2 * top + ((d >> (top - 1)) & 1)
    }
}

/// The block being gathered, and where the stream has got to.
struct Blocks<'a> {
    data: &'a [u8],
    /// Where the block being gathered starts in `data`.
    start: usize,
    /// A literal byte (below 256), or `distance << 16 | length`.
    tokens: Vec<u32>,
    literal_counts: [u32; MAX_LITERAL_CODES],
    distance_counts: [u32; MAX_DISTANCE_CODES],
    /// The extra bits of lengths and distances: the same in any code.
    extra_bits: u64,
    /// Where blocks chosen to be stored, not yet written, start: the next
    /// one to be stored joins them.
    stored_from: Option<usize>,
}

impl<'a> Blocks<'a> {
    fn new(data: &'a [u8]) -> Self {
        Blocks {
            data,
            start: 0,
            tokens: Vec::with_capacity(BLOCK_TOKENS.min(data.len())),
            literal_counts: [0; MAX_LITERAL_CODES],
            distance_counts: [0; MAX_DISTANCE_CODES],
            extra_bits: 0,
            stored_from: None,
        }
    }

    fn literal(&mut self, byte: u8) {
        self.tokens.push(u32::from(byte));
        self.literal_counts[usize::from(byte)] += 1;
    }

    fn matched(&mut self, m: Match) {
        self.tokens
            .push((m.distance as u32) << 16 | m.length as u32);
        let (l, d) = (length_code(m.length), distance_code(m.distance));
        self.literal_counts[257 + l] += 1;
        self.distance_counts[d] += 1;
        self.extra_bits += u64::from(LENGTH_EXTRA[l] + DIST_EXTRA[d]);
    }

    /// Write the block that ends at `end`, whichever way is smallest.
    fn flush(&mut self, end: usize, w: &mut BitWriter) {
        if self.tokens.is_empty() {
            return;
        }
        self.literal_counts[END_OF_BLOCK] = 1;
        let dynamic = Dynamic::new(&self.literal_counts, &self.distance_counts);
        let data_bits = |literals: &[u8], distances: &[u8]| {
            cost(literals, &self.literal_counts)
                + cost(distances, &self.distance_counts)
                + self.extra_bits
        };
        let dynamic_bits = dynamic.header_bits + data_bits(&dynamic.literals, &dynamic.distances);
        let fixed_bits = 3 + data_bits(&fixed_lengths(), &FIXED_DISTANCE_LENGTHS);
        // Each stored block: 3 header bits, up to 7 of padding, LEN, NLEN.
        let len = end - self.start;
        let stored_bits = 8 * len as u64 + 42 * len.div_ceil(MAX_STORED) as u64;
        if stored_bits <= dynamic_bits.min(fixed_bits) {
            self.stored_from.get_or_insert(self.start);
        } else {
            self.write_pending_stored(self.start, w);
            if fixed_bits <= dynamic_bits {
                w.put(0b010, 3); // BFINAL 0, BTYPE 01
                let fixed = fixed_lengths();
                let literals = Code::from_lengths(&fixed);
                let distances = Code::from_lengths(&FIXED_DISTANCE_LENGTHS);
                self.write_tokens(&literals, &distances, w);
            } else {
                w.put(0b100, 3); // BFINAL 0, BTYPE 10
                dynamic.write_header(w);
                let literals = Code::from_lengths(&dynamic.literals);
                let distances = Code::from_lengths(&dynamic.distances);
                self.write_tokens(&literals, &distances, w);
            }
        }
        self.start = end;
        self.tokens.clear();
        self.literal_counts = [0; MAX_LITERAL_CODES];
        self.distance_counts = [0; MAX_DISTANCE_CODES];
        self.extra_bits = 0;
    }

    /// Write the stored bytes waiting, up to `end`, 64 KiB a block.
    fn write_pending_stored(&mut self, end: usize, w: &mut BitWriter) {
        if let Some(from) = self.stored_from.take() {
            for piece in self.data[from..end].chunks(MAX_STORED) {
                write_stored(w, piece);
            }
        }
    }

    /// §3.2.5: each literal or length in the literal/length code, a length
    /// followed by its extra bits, then its distance and its extra bits;
    /// and at the end, the end of the block.
    fn write_tokens(&self, literals: &Code, distances: &Code, w: &mut BitWriter) {
        for &token in &self.tokens {
            let distance = (token >> 16) as usize;
            if distance == 0 {
                literals.put(token as usize, w);
                continue;
            }
            let length = (token & 0xFFFF) as usize;
            let l = length_code(length);
            let extra = (length - LENGTH_BASE[l] as usize) as u32;
            literals.put_with_extra(257 + l, extra, LENGTH_EXTRA[l], w);
            let d = distance_code(distance);
            let extra = (distance - DIST_BASE[d] as usize) as u32;
            distances.put_with_extra(d, extra, DIST_EXTRA[d], w);
        }
        literals.put(END_OF_BLOCK, w);
    }
}

/// The bits that these counts of symbols take in the code of these lengths.
fn cost(lengths: &[u8], counts: &[u32]) -> u64 {
    let each = counts.iter().zip(lengths);
    each.map(|(&n, &len)| u64::from(n) * u64::from(len)).sum()
}

/// A Huffman code to write with: each symbol's length, and its code,
/// bit-reversed to be packed like any other field. Made only for the way a
/// block is written; the choice looks at the lengths alone.
struct Code<'a> {
    lengths: &'a [u8],
    codes: Vec<u16>,
}

impl<'a> Code<'a> {
    fn from_lengths(lengths: &'a [u8]) -> Self {
        let codes = canonical_codes(lengths);
        Code { lengths, codes }
    }

    #[inline(always)]
    fn put(&self, symbol: usize, w: &mut BitWriter) {
        w.put(
            u32::from(self.codes[symbol]),
            u32::from(self.lengths[symbol]),
        );
    }

    /// A symbol then its extra bits, in one write.
    #[inline(always)]
    fn put_with_extra(&self, symbol: usize, extra: u32, extra_bits: u8, w: &mut BitWriter) {
        let len = u32::from(self.lengths[symbol]);
        w.put(
            u32::from(self.codes[symbol]) | extra << len,
            len + u32::from(extra_bits),
        );
    }
}

/// Lengths for a code from symbol counts, no code longer than `max_bits`,
/// the total `sum(count * length)` as small as it can be under that limit.
///
/// Huffman's code is the best of all, and usually keeps to the limit; when
/// it does not (a few very rare symbols), package-merge finds the best
/// code that does.
fn limited_lengths(counts: &[u32], max_bits: usize) -> Vec<u8> {
    let mut lengths = vec![0u8; counts.len()];
    let mut symbols: Vec<(u64, usize)> = (0..counts.len())
        .filter(|&s| counts[s] > 0)
        .map(|s| (u64::from(counts[s]), s))
        .collect();
    symbols.sort_unstable();
    let weights: Vec<u64> = symbols.iter().map(|&(weight, _)| weight).collect();
    let mut bits = huffman(&weights);
    if bits.iter().any(|&b| b > max_bits) {
        bits = package_merge(&weights, max_bits);
    }
    for (&(_, symbol), &b) in symbols.iter().zip(&bits) {
        lengths[symbol] = b as u8;
    }
    lengths
}

/// Huffman's code lengths for weights in increasing order (a lone symbol
/// gets one bit): merge the two lightest, again and again. Each pair made
/// weighs no less than the one before, so the two lightest are always at
/// the front of the symbols or of the pairs: two queues, no heap.
fn huffman(weights: &[u64]) -> Vec<usize> {
    let n = weights.len();
    if n < 2 {
        return vec![1; n];
    }
    // Nodes: the n symbols, then the n - 1 pairs in the order made.
    let mut weight = weights.to_vec();
    let mut parent = vec![0; 2 * n - 1];
    let (mut next_symbol, mut next_pair) = (0, n);
    for made in n..2 * n - 1 {
        let mut lightest = || {
            let symbol_first =
                next_symbol < n && (next_pair == made || weight[next_symbol] <= weight[next_pair]);
            let node = if symbol_first {
                &mut next_symbol
            } else {
                &mut next_pair
            };
            *node += 1;
            *node - 1
        };
        let (a, b) = (lightest(), lightest());
        (parent[a], parent[b]) = (made, made);
        weight.push(weight[a] + weight[b]);
    }
    // The last pair made is the root; each node is one below its parent,
    // which was made after it.
    let mut depth = vec![0; 2 * n - 1];
    for node in (0..2 * n - 2).rev() {
        depth[node] = depth[parent[node]] + 1;
    }
    depth.truncate(n);
    depth
}

/// The best code lengths no longer than `max_bits`, for weights in
/// increasing order (two at least): package-merge (Larmore and Hirschberg,
/// 1990).
///
/// One list per allowed bit. The deepest is the symbols; each list above
/// is the symbols again, merged by weight with "packages": the pairs of
/// the list below, each weighing what its two weigh. Pick the 2n - 2
/// lightest items of the top list; each symbol picked gets one bit; each
/// package picked means its two items are picked in the list below, and
/// so on down. The picked items of a list are always its lightest, so its
/// picked symbols are the lightest symbols: a list only needs to say, for
/// each item, whether it is a package.
fn package_merge(weights: &[u64], max_bits: usize) -> Vec<usize> {
    let n = weights.len();
    let mut below = weights.to_vec();
    let mut list = Vec::with_capacity(2 * n);
    // Every list's items, bottom list first: is this one a package?
    let (mut is_package, mut starts) = (vec![false; n], vec![0]);
    for _ in 1..max_bits {
        starts.push(is_package.len());
        list.clear();
        let (mut i, mut j) = (0, 0);
        while i < n || 2 * j + 1 < below.len() {
            let package = below.get(2 * j..2 * j + 2).map(|pair| pair[0] + pair[1]);
            let symbol_first = i < n && package.is_none_or(|weight| weights[i] <= weight);
            if symbol_first {
                list.push(weights[i]);
                i += 1;
            } else {
                list.push(package.expect("the loop goes on while a pair is left"));
                j += 1;
            }
            is_package.push(!symbol_first);
        }
        std::mem::swap(&mut below, &mut list);
    }
    let (mut bits, mut picks) = (vec![0; n], 2 * n - 2);
    for &start in starts.iter().rev() {
        let items = &is_package[start..start + picks];
        let picked = items.iter().filter(|&&package| !package).count();
        bits[..picked].iter_mut().for_each(|b| *b += 1);
        picks = 2 * (picks - picked);
    }
    bits
}

/// Code lengths for counts, with at least two symbols coded: a lone code
/// would be "a single code length of one, with one unused code", which
/// zlib takes only for literals and distances, never for code lengths; two
/// codes are never refused.
fn lengths_for(counts: &[u32], max_bits: usize) -> Vec<u8> {
    let mut counts = counts.to_vec();
    let mut used = counts.iter().filter(|&&n| n > 0).count();
    for count in counts.iter_mut() {
        if used >= 2 {
            break;
        }
        if *count == 0 {
            *count = 1;
            used += 1;
        }
    }
    limited_lengths(&counts, max_bits)
}

/// A block's own codes (§3.2.7), and how its header sends them.
struct Dynamic {
    /// The lengths of the two codes.
    literals: Vec<u8>,
    distances: Vec<u8>,
    /// HLIT + 257 and HDIST + 1: the lengths sent, trailing zeros left out.
    literal_count: usize,
    distance_count: usize,
    /// The code lengths in the code length alphabet: (symbol, extra bits).
    runs: Vec<(u8, u8)>,
    code_lengths: Vec<u8>,
    /// HCLEN + 4.
    code_length_count: usize,
    /// The bits of the block header and the code description.
    header_bits: u64,
}

/// §3.2.7: symbols 16, 17 and 18 are followed by 2, 3 and 7 extra bits.
fn run_extra_bits(symbol: u8) -> u8 {
    match symbol {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

impl Dynamic {
    fn new(literal_counts: &[u32], distance_counts: &[u32]) -> Self {
        let literals = lengths_for(literal_counts, MAX_CODE_BITS);
        let distances = lengths_for(distance_counts, MAX_CODE_BITS);
        let sent = |lengths: &[u8], least: usize| {
            least.max(lengths.iter().rposition(|&l| l != 0).map_or(0, |i| i + 1))
        };
        let literal_count = sent(&literals, 257);
        let distance_count = sent(&distances, 1);
        let all = [&literals[..literal_count], &distances[..distance_count]].concat();
        let runs = run_lengths(&all);
        let mut counts = [0u32; 19];
        for &(symbol, _) in &runs {
            counts[usize::from(symbol)] += 1;
        }
        let code_lengths = lengths_for(&counts, MAX_CODE_LENGTH_BITS);
        let in_order = CODE_LENGTH_ORDER.map(|s| code_lengths[s]);
        let code_length_count = sent(&in_order, 4);
        let run_bits: u64 = runs
            .iter()
            .map(|&(s, _)| u64::from(code_lengths[usize::from(s)] + run_extra_bits(s)))
            .sum();
        let header_bits = 3 + 5 + 5 + 4 + 3 * code_length_count as u64 + run_bits;
        Dynamic {
            literals,
            distances,
            literal_count,
            distance_count,
            runs,
            code_lengths,
            code_length_count,
            header_bits,
        }
    }

    /// "5 Bits: HLIT ... 5 Bits: HDIST ... 4 Bits: HCLEN ... (HCLEN + 4)
    /// x 3 bits: code lengths for the code length alphabet ... HLIT + 257
    /// code lengths for the literal/length alphabet ... HDIST + 1 code
    /// lengths for the distance alphabet".
    fn write_header(&self, w: &mut BitWriter) {
        w.put((self.literal_count - 257) as u32, 5);
        w.put((self.distance_count - 1) as u32, 5);
        w.put((self.code_length_count - 4) as u32, 4);
        for &symbol in &CODE_LENGTH_ORDER[..self.code_length_count] {
            w.put(u32::from(self.code_lengths[symbol]), 3);
        }
        let code = Code::from_lengths(&self.code_lengths);
        for &(symbol, extra) in &self.runs {
            let bits = run_extra_bits(symbol);
            code.put_with_extra(usize::from(symbol), u32::from(extra), bits, w);
        }
    }
}

/// The code lengths as §3.2.7's alphabet writes them: a length (0-15), 16
/// "Copy the previous code length 3 - 6 times", 17 "Repeat a code length
/// of 0 for 3 - 10 times", 18 "Repeat a code length of 0 for 11 - 138
/// times"; each with the number its extra bits carry.
fn run_lengths(lengths: &[u8]) -> Vec<(u8, u8)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < lengths.len() {
        let length = lengths[i];
        let same = lengths[i..].iter().take_while(|&&l| l == length).count();
        if length == 0 && same >= 11 {
            let n = same.min(138);
            runs.push((18, (n - 11) as u8));
            i += n;
        } else if length == 0 && same >= 3 {
            runs.push((17, (same - 3) as u8));
            i += same;
        } else {
            runs.push((length, 0));
            i += 1;
            // The same length again, 3 to 6 at a time, after the first.
            let mut left = same - 1;
            while length != 0 && left >= 3 {
                let n = left.min(6);
                runs.push((16, (n - 3) as u8));
                i += n;
                left -= n;
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::inflate::{inflate, End};

    fn compressed(data: &[u8], window_bits: u8) -> Vec<u8> {
        let mut out = Vec::new();
        deflate(data, window_bits, &mut out);
        out
    }

    /// Compress, check the sync flush at the end, inflate back, check the
    /// bytes and the window; returns the compressed size.
    fn round_trip(data: &[u8], window_bits: u8) -> usize {
        let stream = compressed(data, window_bits);
        assert!(stream.ends_with(&[0, 0, 0xff, 0xff]));
        let mut back = Vec::new();
        let done = inflate(&stream, &mut back, data.len()).expect("ours reads ours");
        assert_eq!((done.end, done.used), (End::SyncFlush, stream.len()));
        assert!(
            back == data,
            "{} bytes, window bits {window_bits}",
            data.len()
        );
        assert!(
            done.max_distance <= 1 << window_bits,
            "{}",
            done.max_distance
        );
        stream.len()
    }

    /// xorshift64, for test data that is the same on every run.
    fn generator(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed | 1;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut next = generator(seed);
        (0..len).map(|_| next() as u8).collect()
    }

    fn text(len: usize, seed: u64) -> Vec<u8> {
        let words = [
            "the ",
            "window ",
            "of ",
            "a ",
            "message, ",
            "deflate ",
            "block. ",
        ];
        let mut next = generator(seed);
        let mut out = Vec::new();
        while out.len() < len {
            let word = words[(next() % words.len() as u64) as usize];
            out.extend_from_slice(word.as_bytes());
        }
        out.truncate(len);
        out
    }

    #[test]
    fn hello_is_the_rfc_7692_example() {
        // RFC 7692 §7.2.3.1: "Hello" in fixed codes, then "an empty DEFLATE
        // block with no compression": "0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00
        // 0x00 0x00 0xff 0xff".
        let expected = [
            0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff,
        ];
        assert_eq!(compressed(b"Hello", 15), expected);
        // Nothing at all is the empty stored block alone.
        assert_eq!(compressed(b"", 15), [0x00, 0x00, 0x00, 0xff, 0xff]);
    }

    #[test]
    fn length_and_distance_codes_as_in_the_rfc_tables() {
        // §3.2.5: each length and distance falls in its code's range:
        // base to base + 2^extra - 1 (285 is 258 alone).
        for length in MIN_MATCH..=MAX_MATCH {
            let code = length_code(length);
            let (base, extra) = (usize::from(LENGTH_BASE[code]), LENGTH_EXTRA[code]);
            assert!(
                base <= length && length < base + (1 << extra),
                "length {length}"
            );
        }
        assert_eq!(length_code(258), 28);
        assert_eq!(length_code(257), 27);
        for distance in 1..=32768 {
            let code = distance_code(distance);
            let (base, extra) = (usize::from(DIST_BASE[code]), DIST_EXTRA[code]);
            assert!(
                base <= distance && distance < base + (1 << extra),
                "distance {distance}"
            );
        }
    }

    #[test]
    fn code_length_runs_as_in_the_rfc() {
        // §3.2.7: "Codes 8, 16 (+2 bits 11), 16 (+2 bits 10) will expand to
        // 12 code lengths of 8 (1 + 6 + 5)".
        assert_eq!(run_lengths(&[8; 12]), [(8, 0), (16, 3), (16, 2)]);
        // Zeros: 18 for 11 to 138 of them, 17 for 3 to 10, else one by one.
        assert_eq!(run_lengths(&[0; 138]), [(18, 127)]);
        assert_eq!(run_lengths(&[0; 139]), [(18, 127), (0, 0)]);
        assert_eq!(run_lengths(&[0; 10]), [(17, 7)]);
        assert_eq!(
            run_lengths(&[0, 0, 5, 5, 5]),
            [(0, 0), (0, 0), (5, 0), (5, 0), (5, 0)]
        );
    }

    /// Kraft's sum of a code's lengths, times 2^15: exactly 2^15 for a
    /// complete code.
    fn kraft(lengths: &[u8]) -> u32 {
        let used = lengths.iter().filter(|&&l| l > 0);
        used.map(|&l| 1u32 << (MAX_CODE_BITS - usize::from(l)))
            .sum()
    }

    /// The cost of a plain Huffman code (no limit): each merge of the two
    /// lightest adds their weight, once per bit it adds to their symbols.
    fn huffman_cost(counts: &[u32]) -> u64 {
        use std::cmp::Reverse;
        let mut heap: std::collections::BinaryHeap<Reverse<u64>> = counts
            .iter()
            .filter(|&&n| n > 0)
            .map(|&n| Reverse(u64::from(n)))
            .collect();
        let mut cost = 0;
        while heap.len() > 1 {
            let (Reverse(a), Reverse(b)) = (heap.pop().unwrap(), heap.pop().unwrap());
            cost += a + b;
            heap.push(Reverse(a + b));
        }
        cost
    }

    #[test]
    fn package_merge_is_optimal_and_keeps_to_its_limit() {
        let mut next = generator(5);
        for round in 0..300 {
            let n = 2 + (next() % 286) as usize;
            // Some unused, the others within 1 to 20 of each other.
            let mut count = || match next() % 4 {
                0 => 0,
                _ => 50 + (next() % 1000) as u32,
            };
            let counts: Vec<u32> = (0..n).map(|_| count()).collect();
            if counts.iter().filter(|&&c| c > 0).count() < 2 {
                continue;
            }
            let lengths = limited_lengths(&counts, MAX_CODE_BITS);
            // Package-merge, given room, finds Huffman's cost too.
            let mut weights: Vec<u64> = counts
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| c.into())
                .collect();
            weights.sort_unstable();
            let merged = package_merge(&weights, MAX_CODE_BITS);
            let merged_cost: u64 = weights
                .iter()
                .zip(&merged)
                .map(|(&w, &b)| w * b as u64)
                .sum();
            assert_eq!(merged_cost, huffman_cost(&counts), "round {round}");
            let cost: u64 = counts
                .iter()
                .zip(&lengths)
                .map(|(&c, &l)| u64::from(c) * u64::from(l))
                .sum();
            assert_eq!(
                kraft(&lengths),
                1 << MAX_CODE_BITS,
                "complete, round {round}"
            );
            // Counts that close never need the limit: then it is Huffman's.
            assert_eq!(cost, huffman_cost(&counts), "round {round}");
        }
        // Fibonacci counts make the deepest Huffman codes: 30 symbols
        // would need 29 bits. Limited, they take 15, and the code is still
        // complete; the code length code's 7 likewise.
        let mut fibonacci = vec![1u32, 1];
        while fibonacci.len() < 30 {
            fibonacci.push(fibonacci[fibonacci.len() - 1] + fibonacci[fibonacci.len() - 2]);
        }
        for (symbols, limit) in [(30, MAX_CODE_BITS), (19, MAX_CODE_LENGTH_BITS)] {
            let lengths = limited_lengths(&fibonacci[..symbols], limit);
            assert_eq!(*lengths.iter().max().unwrap() as usize, limit);
            assert_eq!(kraft(&lengths), 1 << MAX_CODE_BITS);
        }
    }

    #[test]
    fn every_code_has_two_codes_at_least() {
        // One symbol alone would be an incomplete code, which zlib refuses
        // for code lengths: a second one gets a code too.
        for counts in [
            [0u32; 19],
            [0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ] {
            let lengths = lengths_for(&counts, MAX_CODE_LENGTH_BITS);
            assert_eq!(lengths.iter().filter(|&&l| l == 1).count(), 2);
        }
    }

    #[test]
    fn a_skewed_block_is_written_in_codes_up_to_15_bits() {
        // Bytes with Fibonacci counts, 19 of them (10945 bytes, one block),
        // shuffled, as literals only: Huffman would give the rarest 18
        // bits, the limit gives 15, and our inflater reads them.
        let mut next = generator(9);
        let mut data = Vec::new();
        let (mut a, mut b) = (1, 1);
        for byte in 0..19u8 {
            data.extend(std::iter::repeat_n(byte, a));
            (a, b) = (b, a + b);
        }
        for i in (1..data.len()).rev() {
            data.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        let mut blocks = Blocks::new(&data);
        data.iter().for_each(|&byte| blocks.literal(byte));
        let dynamic = Dynamic::new(&blocks.literal_counts, &blocks.distance_counts);
        assert_eq!(dynamic.literals.iter().max(), Some(&15));
        let mut stream = Vec::new();
        let mut w = BitWriter::new(&mut stream);
        blocks.flush(data.len(), &mut w);
        write_stored(&mut w, &[]);
        assert_eq!(stream[0] & 0b110, 0b100, "written in its own codes");
        let mut back = Vec::new();
        inflate(&stream, &mut back, data.len()).expect("ours reads ours");
        assert!(back == data);
    }

    #[test]
    fn each_block_is_written_the_smallest_way() {
        // BTYPE is in bits 1 and 2 of the first byte.
        let btype = |data: &[u8]| (compressed(data, 15)[0] >> 1) & 0b11;
        assert_eq!(btype(b"Hello"), 0b01, "short: the fixed codes");
        assert_eq!(btype(&random_bytes(1000, 1)), 0b00, "noise: stored");
        assert_eq!(btype(&text(5000, 2)), 0b10, "text: its own codes");
    }

    #[test]
    fn noise_grows_by_at_most_five_bytes_per_64_kib() {
        for len in [1, 100, 65535, 65536, 1 << 20] {
            let data = random_bytes(len, len as u64);
            let size = round_trip(&data, 15);
            // Each stored block of up to 65535 bytes adds 5, and the flush 5.
            assert!(
                size <= len + 5 * len.div_ceil(MAX_STORED) + 5,
                "{len}: {size}"
            );
        }
    }

    #[test]
    fn copies_never_reach_past_the_window() {
        // 300 random bytes, said twice: the second copy is 300 back, out
        // of reach of a 256-byte window and in reach of a 512-byte one.
        let once = random_bytes(300, 3);
        let twice = [&once[..], &once[..]].concat();
        let (out_of_reach, in_reach) = (round_trip(&twice, 8), round_trip(&twice, 9));
        assert!(out_of_reach > 600, "both copies stored: {out_of_reach}");
        assert!(in_reach < 340, "the second copy is two matches: {in_reach}");
        for window_bits in 8..=15 {
            for (seed, len) in [(1, 0), (2, 1), (3, 258), (4, 40_000), (5, 70_000)] {
                round_trip(&text(len, seed), window_bits);
                round_trip(&random_bytes(len, seed), window_bits);
            }
            round_trip(&[7; 100_000], window_bits);
        }
    }
}
