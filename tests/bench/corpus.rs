//! The data both DEFLATE codecs are measured and checked on: random
//! bytes, English-like text, JSON as a chat API sends it, and binary
//! records, made by a seeded generator so that every run sees the same
//! bytes. Shared by `make bench` (the compressed echo and the codec rows)
//! and `tests/deflate.rs` (the round trips and the `figures` test), so
//! that both measure the same data.

/// xorshift64: a small deterministic generator, so every run sees the
/// same bytes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Small numbers far more often than big ones, as words in a language.
    pub fn skewed(&mut self, n: usize) -> usize {
        let k = self.below(n) + 1;
        self.below(k)
    }
}

/// What kind of bytes: each compresses differently.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Random,
    Text,
    Json,
    Binary,
}

pub const KINDS: [Kind; 4] = [Kind::Random, Kind::Text, Kind::Json, Kind::Binary];

const WORDS: [&str; 64] = [
    "the", "of", "and", "a", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on",
    "are", "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had",
    "by", "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said",
    "there", "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up",
    "other", "about", "out", "many", "then", "them", "these", "so", "some", "her", "would",
    "server", "message",
];

fn sentence(rng: &mut Rng, out: &mut Vec<u8>) {
    let words = 4 + rng.below(12);
    for i in 0..words {
        let word = WORDS[rng.skewed(WORDS.len())];
        if i == 0 {
            out.extend(word[..1].to_uppercase().bytes());
            out.extend_from_slice(&word.as_bytes()[1..]);
        } else {
            out.extend_from_slice(word.as_bytes());
        }
        let after: &[u8] = match rng.below(12) {
            0 => b", ",
            _ if i + 1 == words => b". ",
            _ => b" ",
        };
        out.extend_from_slice(after);
    }
    if rng.below(5) == 0 {
        out.push(b'\n');
    }
}

fn json_object(rng: &mut Rng, id: usize, out: &mut Vec<u8>) {
    let user = rng.skewed(50);
    let mut text = Vec::new();
    sentence(rng, &mut text);
    let text = String::from_utf8(text).expect("words are ASCII");
    let tags = ["chat", "news", "ping", "room", "bot"];
    let item = format!(
        "{{\"id\":{id},\"type\":\"message\",\"user\":\"user{user}\",\"text\":{:?},\
         \"tags\":[\"{}\",\"{}\"],\"score\":{}.{},\"active\":{}}},",
        text.trim_end(),
        tags[rng.below(5)],
        tags[rng.below(5)],
        rng.below(100),
        rng.below(1000),
        rng.below(2) == 0,
    );
    out.extend_from_slice(item.as_bytes());
}

/// Records as a binary protocol might send them: a counter, a type from a
/// few, small numbers, padding, and now and then a random field.
fn record(rng: &mut Rng, n: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(rng.skewed(8) as u16).to_be_bytes());
    out.extend_from_slice(&(rng.skewed(1000) as u64).to_le_bytes());
    out.extend_from_slice(&[0; 6]);
    if rng.below(4) == 0 {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
}

/// `size` bytes of `kind`; the same bytes for the same seed, every run.
pub fn corpus(kind: Kind, size: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
    let mut out = Vec::with_capacity(size + 512);
    if let Kind::Json = kind {
        out.push(b'[');
    }
    let mut n = 0;
    while out.len() < size {
        match kind {
            Kind::Random => out.extend_from_slice(&rng.next().to_le_bytes()),
            Kind::Text => sentence(&mut rng, &mut out),
            Kind::Json => json_object(&mut rng, n, &mut out),
            Kind::Binary => record(&mut rng, n as u32, &mut out),
        }
        n += 1;
    }
    out.truncate(size);
    out
}
