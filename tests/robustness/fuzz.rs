//! Seeded, deterministic fuzzing: random and mutated requests and frames,
//! first into the pure parsers, then at a running server.
//!
//! The inputs come from a small hand-written generator (SplitMix64), so a
//! run is reproducible from its seed: the default one, or `FUZZ_SEED=N` to
//! try others. A failing case names the seed and the case number that
//! reproduce it.
//!
//! What is checked is not just "no panic" but properties the RFCs imply,
//! against an independent reading where one is cheap to write:
//! - `http::parse_request`: answers "need more" exactly when no blank line
//!   ends the head yet, "too large" exactly past the 8 KiB limit, and once it
//!   answers, more bytes never change the answer;
//! - `access::host_allowed`: answers a mutated `Host` exactly when a plain
//!   reading of the rule does (this server's names, with its port);
//! - `www::serve`: serves exactly the pages of its folder, whatever the
//!   path, streaming each file's exact bytes a chunk at a time;
//! - `frame::parse_header`: agrees with a decoder written here from the
//!   RFC 6455 §5.2 diagram, and asks for more bytes only when the header
//!   really is incomplete;
//! - `protocol::MessageReader::read_event`: leaves unconsumed only an
//!   incomplete frame header, gives the same events however the bytes are
//!   cut into reads, and on valid streams gives back exactly the messages,
//!   pings, pongs and close that were sent;
//! - the whole `client::Client` record, from the handshake on: answers the
//!   same bytes however the input is cut, pongs every ping before its close,
//!   echoes the peer's close code, and fails with the code of the broken
//!   rule the reader found.

use crate::common::*;
use crate::support::*;
use socket_server::config::Config;
use socket_server::protocol::access;
use socket_server::protocol::buffers::{Inbox, Total};
use socket_server::protocol::close::{self, CloseFrame, Violation};
use socket_server::protocol::connection::{Event, State};
use socket_server::protocol::frame;
use socket_server::protocol::http::{self, MAX_REQUEST_HEAD};
use socket_server::protocol::reader::{Incoming, Message, MessageReader};
use socket_server::server::client::{Client, Shared};
use socket_server::server::console::LogBudget;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

// --- The generator ---------------------------------------------------------

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", 2014): one add and a few multiply-xorshifts per number; good
/// enough to pick mutations, and the same numbers on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0). The modulo bias is irrelevant here.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn mask(&mut self) -> [u8; 4] {
        (self.next() as u32).to_be_bytes()
    }
}

const DEFAULT_SEED: u64 = 0x5EED_6455;

/// The base seed: `FUZZ_SEED` (decimal or `0x` hex) or the default.
fn base_seed() -> u64 {
    let Ok(text) = std::env::var("FUZZ_SEED") else {
        return DEFAULT_SEED;
    };
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("FUZZ_SEED={text} is not a number"))
}

/// The seed of case `index` of the test `name`: every test and case gets
/// its own stream, all derived from the base seed.
fn case_seed(base: u64, name: &str, index: usize) -> u64 {
    let name_hash = name.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    });
    Rng::new(base ^ name_hash ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407)).next()
}

/// Run `case` `count` times, each with its own seeded generator; on a
/// failure, say how to reproduce it.
fn for_each_case(name: &str, count: usize, mut case: impl FnMut(&mut Rng)) {
    let base = base_seed();
    for index in 0..count {
        let mut rng = Rng::new(case_seed(base, name, index));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| case(&mut rng))) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("{name}: case {index} failed with FUZZ_SEED={base:#x}: {message}");
        }
    }
}

/// Change `input` in one to four random ways, the classic byte-level
/// mutations plus insertions of `tokens` that mean something to the parser.
fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>], tokens: &[&[u8]]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(8) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = *rng.pick(&[0, 0x7F, 0x80, 0xFF, 126, 127, b'\r', b'\n', b':', b' ']);
            }
            2 => {
                let len = 1 + rng.below(8);
                let random = rng.bytes(len);
                data.splice(at..at, random);
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                let copy = data[at.min(end)..end].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, copy);
            }
            5 => data.truncate(at),
            6 => {
                // Splice: our front, another input's back.
                let other = rng.pick(others);
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            _ => {
                let token = rng.pick(tokens);
                data.splice(at..at, token.iter().copied());
            }
        }
    }
    data
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// --- HTTP requests ---------------------------------------------------------

const REQUEST_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b":",
    b" ",
    b"\t",
    b",",
    b"\0",
    b"\xC3",
    b"Upgrade: websocket\r\n",
    b"Connection: Upgrade\r\n",
    b"Sec-WebSocket-Version: 13\r\n",
    b"Origin: null\r\n",
    b" HTTP/1.1",
];

/// Valid requests to start from: a handshake, the tutorial's, a page.
fn request_corpus(host: &str) -> Vec<Vec<u8>> {
    let handshake = |extra: &str| {
        format!(
            "GET /chat?room=1 HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
             Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
        .into_bytes()
    };
    vec![
        handshake(""),
        handshake("Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"),
        format!("GET / HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\n\r\n").into_bytes(),
        b"GET /mychat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
          Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\n\r\n"
            .to_vec(),
    ]
}

/// A request to try: mutated, random, or grown past the size limit.
fn random_request(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(10) {
        0 => {
            let len = rng.below(200);
            rng.bytes(len)
        }
        1 => {
            // Long: many header lines, perhaps never ending.
            let mut request = b"GET / HTTP/1.1\r\n".to_vec();
            let lines = 100 + rng.below(400);
            for i in 0..lines {
                request
                    .extend_from_slice(format!("X-Filler-{i}: {}\r\n", "f".repeat(10)).as_bytes());
            }
            if rng.chance(50) {
                request.extend_from_slice(b"\r\n");
            }
            request
        }
        _ => {
            let start = rng.pick(corpus).clone();
            mutate(rng, &start, corpus, REQUEST_TOKENS)
        }
    }
}

/// The properties of `parse_request` on one input.
fn check_parse_request(input: &[u8]) {
    let result = http::parse_request(input);
    // RFC 9112 §2.2: empty lines before the request line are skipped, and
    // count towards the size cap. `end` is where the head's blank line starts.
    let window = &input[..input.len().min(MAX_REQUEST_HEAD)];
    let mut skipped = 0;
    while window[skipped..].starts_with(b"\r\n") {
        skipped += 2;
    }
    let end = find(&window[skipped..], b"\r\n\r\n").map(|at| skipped + at);
    // A head that ends in a bare LF LF before any CR LF CR LF is refused as
    // soon as that blank line is in, and not before.
    let bare = find(&window[skipped..], b"\n\n").map(|at| skipped + at);
    if let Some(bare) = bare.filter(|bare| end.is_none_or(|end| *bare < end)) {
        let refused = result.as_ref().map_err(|r| (r.status, r.reason));
        let expected = Err((400, "lines must end in CR LF"));
        assert_eq!(refused, expected, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(http::parse_request(&input[..bare + 1]), Ok(None));
        return;
    }
    let show = || String::from_utf8_lossy(&input[..input.len().min(300)]).into_owned();
    match (&result, end) {
        (Ok(None), None) => assert!(input.len() < MAX_REQUEST_HEAD, "{}", show()),
        (Err(refusal), None) => {
            assert_eq!(refusal.status, 431, "{}", show());
            assert!(input.len() >= MAX_REQUEST_HEAD, "{}", show())
        }
        (Ok(Some((request, len))), Some(end)) => {
            assert_eq!(*len, end + 4, "{}", show());
            assert!(*len <= input.len() && *len <= MAX_REQUEST_HEAD);
            // The parts are what RFC 9112 allows, and they say the same
            // thing when written out again and parsed back.
            let is_token = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            };
            assert!(is_token(&request.method), "method {:?}", request.method);
            assert!(!request.target.is_empty() && !request.target.contains(' '));
            assert!(request.version.starts_with("HTTP/"));
            let mut again = format!(
                "{} {} {}\r\n",
                request.method, request.target, request.version
            );
            for (name, value) in &request.headers {
                assert!(is_token(name), "header name {name:?}");
                assert!(
                    !value.chars().any(|c| c.is_control() && c != '\t'),
                    "control character in {value:?}"
                );
                assert_eq!(
                    value.trim_matches([' ', '\t']),
                    value,
                    "untrimmed {value:?}"
                );
                again.push_str(&format!("{name}: {value}\r\n"));
            }
            again.push_str("\r\n");
            let reparsed = http::parse_request(again.as_bytes()).expect("reparse");
            assert_eq!(reparsed.map(|(r, _)| r).as_ref(), Some(request));
        }
        (Err(refusal), Some(_)) => {
            assert!(
                matches!(refusal.status, 400 | 505),
                "{refusal:?}: {}",
                show()
            )
        }
        _ => panic!(
            "parse_request gave {result:?} with the blank line at {end:?}: {:?}",
            show()
        ),
    }
    // Once there is an answer, it depends on the head alone: cutting the
    // input just after the blank line, or adding bytes, changes nothing; and
    // any shorter prefix still asks for more.
    if let Some(end) = end {
        assert_eq!(http::parse_request(&input[..end + 4]), result);
        let mut longer = input.to_vec();
        longer.extend_from_slice(b"\x81\x85garbage after the head");
        assert_eq!(http::parse_request(&longer), result);
        for cut in [0, skipped + (end - skipped) / 2, end + 3] {
            assert_eq!(http::parse_request(&input[..cut]), Ok(None), "cut at {cut}");
        }
    }
}

#[test]
fn parse_request_on_random_and_mutated_requests() {
    let corpus = request_corpus("127.0.0.1:1222");
    for request in &corpus {
        assert!(matches!(http::parse_request(request), Ok(Some(_))));
    }
    for_each_case("parse_request", 5000, |rng| {
        let input = random_request(rng, &corpus);
        check_parse_request(&input);
        // A connection's search picks up where it stopped: the same bytes
        // in any number of reads get the same answer as all at once.
        let mut search = http::HeadSearch::default();
        let mut end = 0;
        let answer = loop {
            end = (end + 1 + rng.below(200)).min(input.len());
            match search.parse(&input[..end]) {
                Ok(None) if end < input.len() => continue,
                answer => break answer,
            }
        };
        assert_eq!(
            answer,
            http::parse_request(&input),
            "{:?}",
            String::from_utf8_lossy(&input)
        );
    });
}

// --- The Host rule -------------------------------------------------------

/// What `access::host_allowed` should answer, read plainly off the rule for
/// a server on port 1222 with `--allowed-host chat.lan`: a loopback name
/// with our port, or `chat.lan` on any port. Names ignore case; a port is
/// digits (leading zeros allowed) that make a port number.
fn host_rule(host: &str) -> bool {
    let lower = host.to_ascii_lowercase();
    let port_of = |digits: &str| {
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse::<u16>().ok())
            .flatten()
    };
    for name in ["127.0.0.1", "localhost", "[::1]"] {
        if let Some(digits) = lower.strip_prefix(name).and_then(|r| r.strip_prefix(':')) {
            if port_of(digits) == Some(1222) {
                return true;
            }
        }
    }
    match lower.strip_prefix("chat.lan") {
        Some("") => true,
        Some(rest) => rest.strip_prefix(':').and_then(port_of).is_some(),
        None => false,
    }
}

/// DNS rebinding's defence: mutated `Host` values are answered only when
/// they name this server, and the check never panics, whatever the bytes.
#[test]
fn host_allowed_answers_only_this_servers_names() {
    let config = Config {
        port: 1222,
        allowed_hosts: vec!["chat.lan".into()],
        ..Config::default()
    };
    let corpus: Vec<Vec<u8>> = [
        "127.0.0.1:1222",
        "LocalHost:1222",
        "[::1]:1222",
        "chat.lan",
        "chat.lan:8080",
        "evil.example:1222",
        "127.0.0.1.evil.example:1222",
    ]
    .iter()
    .map(|h| h.as_bytes().to_vec())
    .collect();
    let tokens: &[&[u8]] = &[
        b":",
        b"[",
        b"]",
        b"1222",
        b"0",
        b".",
        b"localhost",
        b":99999",
    ];
    for_each_case("host", 5000, |rng| {
        let start = rng.pick(&corpus).clone();
        let bytes = mutate(rng, &start, &corpus, tokens);
        let host = String::from_utf8_lossy(&bytes);
        assert_eq!(
            access::host_allowed(&host, &config.policy()),
            host_rule(&host),
            "Host {host:?}"
        );
    });
}

// --- Serving files ---------------------------------------------------------

/// A folder of pages whose sizes sit on both sides of `www::CHUNK`.
fn pages() -> (std::path::PathBuf, Vec<(&'static str, Vec<u8>)>) {
    let chunk = socket_server::server::www::CHUNK;
    let files: Vec<(&'static str, Vec<u8>)> = vec![
        ("empty.txt", Vec::new()),
        ("one.txt", b"x".to_vec()),
        ("chunk.bin", (0..chunk).map(|i| i as u8).collect()),
        (
            "chunk1.bin",
            (0..chunk + 1).map(|i| (i * 7) as u8).collect(),
        ),
        (
            "three.bin",
            (0..3 * chunk - 1).map(|i| (i * 13) as u8).collect(),
        ),
        ("sub/page.html", b"<p>sub</p>".to_vec()),
    ];
    let dir = std::env::temp_dir().join(format!("socket_server-fuzz-www-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for (name, content) in &files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    (dir, files)
}

/// `www::serve` on random and mutated requests: it refuses what is not one
/// of the pages (never anything outside the folder), and for a page it
/// answers a head whose `Content-Length` is the file's, then hands out
/// exactly the file's bytes, one chunk at most at a time; a HEAD, none.
#[test]
fn serving_files_streams_exactly_the_file_and_nothing_else() {
    let (root, files) = pages();
    let corpus: Vec<Vec<u8>> = files
        .iter()
        .map(|(name, _)| format!("/{name}").into_bytes())
        .chain(
            [
                "/../Cargo.toml",
                "/sub/../one.txt",
                "//one.txt",
                "/one.txt?x=1",
            ]
            .map(|p| p.as_bytes().to_vec()),
        )
        .collect();
    let tokens: &[&[u8]] = &[b"/", b"..", b".", b"%2e", b"?", b"sub", b"\\", b"one.txt"];
    for_each_case("www", 2000, |rng| {
        let start = rng.pick(&corpus).clone();
        // Half the time a page's own path (perhaps with a query), so that
        // the streaming itself is exercised; half the time, mutated.
        let path = match rng.chance(50) {
            true if rng.chance(50) => [start, b"?q=".to_vec(), rng.bytes(3)].concat(),
            true => start,
            false => mutate(rng, &start, &corpus, tokens),
        };
        let Ok(target) = String::from_utf8(path) else {
            return;
        };
        let method = *rng.pick(&["GET", "HEAD", "POST"]);
        let request = socket_server::protocol::http::Request {
            method: method.into(),
            target: target.clone(),
            version: "HTTP/1.1".into(),
            headers: vec![],
        };
        let wanted = target.split('?').next().unwrap_or("");
        let page = files.iter().find(|(name, _)| format!("/{name}") == wanted);
        match (socket_server::server::www::serve(&root, &request), page) {
            (Err(refusal), _) if method == "POST" => assert_eq!(refusal.status, 405),
            (Err(refusal), None) => assert_eq!(refusal.status, 404, "{target:?}"),
            (Ok(served), Some((_, content))) => {
                let head = String::from_utf8(served.head).unwrap();
                let length = format!("\r\nContent-Length: {}\r\n", content.len());
                assert!(head.contains(&length), "{target:?}: {head}");
                let mut sent = Vec::new();
                if let Some(mut body) = served.body {
                    assert_eq!(method, "GET", "a HEAD with a body");
                    while !body.is_done() {
                        let before = sent.len();
                        body.read_into(&mut sent).unwrap();
                        assert!(sent.len() - before <= socket_server::server::www::CHUNK);
                    }
                }
                let expected: &[u8] = if method == "GET" { content } else { &[] };
                assert!(sent == expected, "{target:?}: the body is not the file");
            }
            (answer, page) => panic!(
                "{method} {target:?}: got {:?}, page {:?}",
                answer.map(|p| p.head.len()),
                page.map(|(name, _)| name)
            ),
        }
    });
    let _ = std::fs::remove_dir_all(root);
}

// --- Frame headers ---------------------------------------------------------

/// A frame header with random fields, length forms and edge values,
/// including ones the RFC forbids.
fn random_header(rng: &mut Rng) -> Vec<u8> {
    let mut bytes = vec![rng.next() as u8 & if rng.chance(70) { 0x8F } else { 0xFF }];
    let masked = if rng.chance(85) { 0x80 } else { 0 };
    let random = rng.next() >> rng.below(64);
    let length = *rng.pick(&[
        0,
        1,
        125,
        126,
        127,
        0xFFFF,
        0x1_0000,
        1 << 40,
        (1 << 63) - 1,
        1 << 63,
        u64::MAX,
        random,
    ]);
    match rng.below(3) {
        0 => bytes.push(masked | (length.min(125) as u8)),
        1 => {
            bytes.push(masked | 126);
            bytes.extend_from_slice(&(length as u16).to_be_bytes());
        }
        _ => {
            bytes.push(masked | 127);
            bytes.extend_from_slice(&length.to_be_bytes());
        }
    }
    if masked != 0 {
        bytes.extend_from_slice(&rng.mask());
    }
    let extra = rng.below(4);
    bytes.extend(rng.bytes(extra));
    bytes
}

/// RFC 6455 §5.2, read independently of `frame.rs`: how long the header at
/// the front of `bytes` is, and every rule it breaks (of those the bytes at
/// hand can show).
fn rfc_header(bytes: &[u8], require_mask: bool) -> (usize, Vec<Violation>) {
    let (first, second) = (bytes[0], bytes[1]);
    let opcode = first & 0x0F;
    let fin = first & 0x80 != 0;
    let masked = second & 0x80 != 0;
    let control = opcode & 0x08 != 0;
    let mut broken = Vec::new();
    if first & 0x70 != 0 {
        broken.push(Violation::ReservedBits);
    }
    if !matches!(opcode, 0x0..=0x2 | 0x8..=0xA) {
        broken.push(Violation::ReservedOpcode(opcode));
    }
    if control && !fin {
        broken.push(Violation::FragmentedControl);
    }
    if require_mask && !masked {
        broken.push(Violation::UnmaskedFrame);
    }
    let extended = match second & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let header_len = 2 + extended + if masked { 4 } else { 0 };
    if let Some(ext) = bytes.get(2..2 + extended) {
        let length = match extended {
            0 => u64::from(second & 0x7F),
            _ => ext.iter().fold(0, |n, b| n << 8 | u64::from(*b)),
        };
        if length >> 63 != 0 {
            broken.push(Violation::LengthTooLarge);
        }
        if (extended == 2 && length < 126) || (extended == 8 && length < 0x1_0000) {
            broken.push(Violation::NonMinimalLength);
        }
        if control && length > 125 {
            broken.push(Violation::ControlTooLong);
        }
    }
    (header_len, broken)
}

/// The properties of `parse_header` on one input.
fn check_parse_header(bytes: &[u8], require_mask: bool) {
    let result = frame::parse_header(bytes, require_mask);
    if bytes.len() < 2 {
        assert_eq!(result, Ok(None), "{bytes:02x?}");
        return;
    }
    let (header_len, broken) = rfc_header(bytes, require_mask);
    match &result {
        Ok(Some(header)) => {
            assert!(
                broken.is_empty(),
                "accepted {bytes:02x?}, which breaks {broken:?}"
            );
            assert!(bytes.len() >= header_len);
            assert_eq!(header.header_len, header_len);
            assert_eq!(header.fin, bytes[0] & 0x80 != 0);
            assert_eq!(header.opcode as u8, bytes[0] & 0x0F);
            let length = match header_len - if header.mask.is_some() { 4 } else { 0 } {
                2 => u64::from(bytes[1] & 0x7F),
                n => bytes[2..n].iter().fold(0, |l, b| l << 8 | u64::from(*b)),
            };
            assert_eq!(header.payload_len, length);
            let mask = (bytes[1] & 0x80 != 0).then(|| {
                let at = header_len - 4;
                [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]
            });
            assert_eq!(header.mask, mask);
        }
        Ok(None) => assert!(
            bytes.len() < header_len,
            "asked for more than the {header_len}-byte header in {bytes:02x?}"
        ),
        Err(violation) => assert!(
            broken.contains(violation),
            "{violation:?} for {bytes:02x?}, which breaks only {broken:?}"
        ),
    }
    // A complete answer depends only on the bytes it used: every prefix
    // either asks for more or gives the same answer.
    for cut in 0..bytes.len().min(15) {
        let partial = frame::parse_header(&bytes[..cut], require_mask);
        assert!(
            partial == Ok(None) || partial == result,
            "prefix {cut} of {bytes:02x?}: {partial:?}, whole: {result:?}"
        );
    }
}

#[test]
fn parse_header_agrees_with_the_rfc_on_random_and_mutated_headers() {
    let corpus: Vec<Vec<u8>> = vec![
        frame(TEXT, b"hello"),
        frame(BINARY, &[0; 200]),
        frame(BINARY, &[0; 70_000])[..20].to_vec(),
        frame(PING, b""),
        frame(CLOSE, &1000u16.to_be_bytes()),
    ];
    for_each_case("parse_header", 10_000, |rng| {
        let mut bytes = random_header(rng);
        if rng.chance(40) {
            bytes = mutate(rng, &bytes, &corpus, &[&[0x80], &[0x7E], &[0x7F], &[0xFF]]);
        }
        check_parse_header(&bytes, rng.chance(80));
    });
}

// --- Whole connections -----------------------------------------------------

/// The largest message the fuzzed connections accept.
const LIMIT: usize = 1000;

/// A valid client byte stream and what a correct server makes of it.
struct Script {
    bytes: Vec<u8>,
    frames: usize,
    events: Vec<Incoming>,
    pongs: Vec<Vec<u8>>,
    /// The close frame's code and reason, if the stream ends with one.
    close: Option<CloseFrame>,
}

impl Script {
    /// Append one frame, masked with a fresh random key.
    fn push(&mut self, first: u8, payload: &[u8], rng: &mut Rng) {
        self.bytes
            .extend_from_slice(&masked_frame(first, payload, rng.mask()));
        self.frames += 1;
    }

    /// Perhaps a few pings (to be answered) and unsolicited pongs (§5.5.3:
    /// not answered).
    fn controls(&mut self, rng: &mut Rng) {
        while rng.chance(20) {
            let len = rng.below(126);
            let payload = rng.bytes(len);
            if rng.chance(70) {
                self.push(0x80 | PING, &payload, rng);
                self.events.push(Incoming::Ping(payload.clone()));
                self.pongs.push(payload);
            } else {
                self.push(0x80 | PONG, &payload, rng);
                self.events.push(Incoming::Pong(payload));
            }
        }
    }
}

/// Text with one-, two-, three- and four-byte characters, which the frame
/// boundaries below may cut anywhere (§5.6 allows a character to straddle
/// fragments).
fn random_text(rng: &mut Rng, max_bytes: usize) -> String {
    let palette = [
        'a',
        'Z',
        '7',
        ' ',
        '\n',
        '\0',
        'é',
        'κ',
        '€',
        '\u{FFFD}',
        '😀',
        '\u{10FFFF}',
    ];
    let mut text = String::new();
    loop {
        let c = *rng.pick(&palette);
        if text.len() + c.len_utf8() > max_bytes {
            return text;
        }
        text.push(c);
    }
}

/// A valid client stream: messages split into fragments at random byte
/// positions, pings and unsolicited pongs between fragments (§5.4 allows
/// control frames in the middle of a fragmented message), and perhaps a
/// close at the end. Every frame has its own random mask.
fn valid_stream(rng: &mut Rng) -> Script {
    let mut script = Script {
        bytes: Vec::new(),
        frames: 0,
        events: Vec::new(),
        pongs: Vec::new(),
        close: None,
    };
    for _ in 0..rng.below(6) {
        let size = rng.below(300);
        let (opcode, data, message) = if rng.chance(50) {
            let text = random_text(rng, size);
            (TEXT, text.clone().into_bytes(), Message::Text(text))
        } else {
            let data = rng.bytes(size);
            (BINARY, data.clone(), Message::Binary(data))
        };
        let pieces = 1 + rng.below(4);
        let mut cuts: Vec<usize> = (1..pieces).map(|_| rng.below(data.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.insert(0, 0);
        cuts.push(data.len());
        for (i, bounds) in cuts.windows(2).enumerate() {
            script.controls(rng);
            let code = if i == 0 { opcode } else { CONTINUATION };
            let fin = if i == pieces - 1 { 0x80 } else { 0 };
            script.push(fin | code, &data[bounds[0]..bounds[1]], rng);
        }
        script.events.push(Incoming::Message(message));
    }
    script.controls(rng);
    if rng.chance(60) {
        let close = if rng.chance(15) {
            CloseFrame {
                code: None,
                reason: String::new(),
            }
        } else {
            CloseFrame {
                code: Some(*rng.pick(&[1000, 1001, 1003, 1008, 1011, 3000, 4999])),
                reason: random_text(rng, 123),
            }
        };
        let payload = match close.code {
            Some(code) => close::payload(code, &close.reason),
            None => Vec::new(),
        };
        script.push(0x80 | CLOSE, &payload, rng);
        script.events.push(Incoming::Close(close.clone()));
        script.close = Some(close);
        // After the close, anything is ignored (§5.5.1).
        if rng.chance(50) {
            let len = rng.below(50);
            let junk = rng.bytes(len);
            script.bytes.extend_from_slice(&junk);
        }
    }
    script
}

/// Feed `stream` to a new reader the way the client record does: bytes
/// arrive in reads of the given sizes (cycled) and wait in an inbox, and
/// `read_event` is called until it wants more. Reading stops after a close
/// or a failure, as the record's does.
fn read_events(stream: &[u8], reads: &[usize]) -> Vec<Incoming> {
    let mut reader = MessageReader::new(LIMIT, false);
    let mut inbox = Inbox::default();
    let mut events = Vec::new();
    for piece in pieces(stream, reads) {
        inbox.extend(piece);
        while let Some(event) = reader.read_event(&mut inbox) {
            let last = matches!(event, Incoming::Close(_) | Incoming::Failed(_));
            events.push(event);
            if last {
                return events;
            }
        }
        // All that may be left is the start of a frame header.
        let rest = inbox.unread();
        assert!(
            rest.len() < 14 && frame::parse_header(rest, true) == Ok(None),
            "{} bytes left unconsumed: {rest:02x?}",
            rest.len()
        );
    }
    events
}

/// `stream` cut into reads of the given sizes, cycled.
fn pieces<'a>(stream: &'a [u8], reads: &'a [usize]) -> impl Iterator<Item = &'a [u8]> {
    let mut at = 0;
    reads.iter().cycle().map_while(move |&read| {
        if at == stream.len() {
            return None;
        }
        let read = read.clamp(1, stream.len() - at);
        at += read;
        Some(&stream[at - read..at])
    })
}

/// What a whole client record made of a stream, after its handshake: the
/// messages it handed to the loop, and the bytes it wrote after the 101.
#[derive(Debug, PartialEq, Eq)]
struct Conversation {
    messages: Vec<Message>,
    out: Vec<u8>,
    /// Whether the record stopped reading frames (closed or failed).
    ended: bool,
}

/// Drive a client record (echo mode) as the loop does: the handshake, then
/// `stream` in reads of the given sizes; after each read, every message is
/// taken out and echoed, and everything the record wants written is
/// "written" at once.
fn converse(stream: &[u8], reads: &[usize]) -> Conversation {
    let config = Config {
        limits: socket_server::config::Limits {
            max_message_size: LIMIT,
            ..Default::default()
        },
        ..Config::default()
    };
    let peer = "127.0.0.1:9".parse().unwrap();
    let now = Instant::now();
    let total = Rc::new(Total::new(config.limits.max_buffered));
    let budget = Rc::new(std::cell::RefCell::new(LogBudget::new(now)));
    let shared = Shared {
        config: Rc::new(config),
        total,
        log_budget: budget,
    };
    let mut client = Client::new("fuzz".into(), peer, shared, false, now);
    let request = &request_corpus("127.0.0.1:1222")[0];
    client.connection.receive_data(request, now);
    assert_eq!(client.next_event(now), Some(Event::Joined));
    assert_eq!(client.next_event(now), None);
    let head = take_output(&mut client);
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{head:?}");
    let mut talk = Conversation {
        messages: Vec::new(),
        out: Vec::new(),
        ended: false,
    };
    for piece in pieces(stream, reads) {
        client.connection.receive_data(piece, now);
        while let Some(event) = client.next_event(now) {
            if let Event::Message(message) = event {
                client.send(message.clone(), now);
                talk.messages.push(message);
            }
        }
        talk.out.extend(take_output(&mut client));
    }
    talk.ended = !matches!(client.state(), State::Open { .. });
    talk
}

/// Everything the record wants written, as if the socket took it all.
fn take_output(client: &mut Client) -> Vec<u8> {
    let mut out = Vec::new();
    while client.connection.wants_write() {
        let mut pieces = [&[][..]; 8];
        let count = client.connection.data_to_send(&mut pieces);
        let bytes = pieces[..count].concat();
        client.data_sent(bytes.len(), Instant::now());
        out.extend(bytes);
    }
    out
}

/// Random read sizes, from single bytes up to more than a whole stream.
fn random_reads(rng: &mut Rng) -> Vec<usize> {
    let scale = *rng.pick(&[1, 3, 16, 200, 5000]);
    (0..1 + rng.below(20))
        .map(|_| 1 + rng.below(scale))
        .collect()
}

/// Frames the server wrote, parsed by the test's own reader (which checks
/// that they are unmasked and use no reserved bits, §5.1 and §5.2).
fn server_frames(mut out: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while !out.is_empty() {
        let (frame, used) = parse_server_frame(out).expect("whole frames only");
        frames.push(frame);
        out = &out[used..];
    }
    frames
}

/// What holds for any stream, valid or not, between what the reader found
/// (`events`) and what the record answered (`talk`).
fn check_conversation(events: &[Incoming], talk: &Conversation) {
    let messages: Vec<&Message> = events
        .iter()
        .filter_map(|event| match event {
            Incoming::Message(message) => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(messages, talk.messages.iter().collect::<Vec<_>>());
    for message in &talk.messages {
        let len = match message {
            Message::Text(text) => text.len(),
            Message::Binary(data) => data.len(),
        };
        assert!(
            len <= LIMIT,
            "a {len}-byte message got through the {LIMIT}-byte limit"
        );
    }
    // The record answers in the order the reader found things: an echo per
    // message, a pong per ping (§5.5.2, identical data, §5.5.3), nothing for
    // a pong, and at the end a close: the peer's code echoed (§5.5.1), or
    // the code of the broken rule (§7.1.7).
    let mut expected = Vec::new();
    for event in events {
        match event {
            Incoming::Message(Message::Text(text)) => {
                expected.push((TEXT, text.as_bytes().to_vec()))
            }
            Incoming::Message(Message::Binary(data)) => expected.push((BINARY, data.clone())),
            Incoming::Ping(data) => expected.push((PONG, data.clone())),
            Incoming::Pong(_) => {}
            Incoming::Close(close) => {
                let code = close.code.map_or(Vec::new(), |c| c.to_be_bytes().to_vec());
                expected.push((CLOSE, code));
            }
            Incoming::Failed(violation) => {
                let code = violation.close_code().to_be_bytes().to_vec();
                expected.push((CLOSE, code));
            }
        }
    }
    let frames = server_frames(&talk.out);
    let sent: Vec<(u8, Vec<u8>)> = frames
        .iter()
        .map(|frame| {
            assert!(frame.fin, "{frame:?}");
            match frame.opcode {
                // A failure's close carries the rule as its reason too.
                CLOSE => (CLOSE, frame.payload[..frame.payload.len().min(2)].to_vec()),
                opcode => (opcode, frame.payload.clone()),
            }
        })
        .collect();
    assert_eq!(sent, expected);
    if let Some(close) = frames.last().filter(|f| f.opcode == CLOSE) {
        assert!(close.payload.len() <= 125);
        if let Some(code) = close.close_code() {
            assert!(close::is_valid_on_wire(code), "sent close code {code}");
        }
    }
    let ended = matches!(
        events.last(),
        Some(Incoming::Close(_) | Incoming::Failed(_))
    );
    assert_eq!(talk.ended, ended);
}

#[test]
fn a_valid_stream_gives_back_exactly_what_it_holds_however_it_is_cut() {
    for_each_case("receive valid", 1500, |rng| {
        let script = valid_stream(rng);
        let events = read_events(&script.bytes, &[usize::MAX]);
        assert_eq!(events, script.events);
        let talk = converse(&script.bytes, &[usize::MAX]);
        check_conversation(&events, &talk);
        let frames = server_frames(&talk.out);
        let pongs: Vec<&[u8]> = frames
            .iter()
            .filter(|f| f.opcode == PONG)
            .map(|f| f.payload.as_slice())
            .collect();
        assert_eq!(pongs, script.pongs, "§5.5.3: a pong echoes its ping");
        if let Some(close) = &script.close {
            assert_eq!(frames.last().and_then(Frame::close_code), close.code);
        }
        for _ in 0..2 {
            let reads = random_reads(rng);
            assert_eq!(
                read_events(&script.bytes, &reads),
                events,
                "reads of {reads:?}"
            );
            assert_eq!(converse(&script.bytes, &reads), talk, "reads of {reads:?}");
        }
    });
}

#[test]
fn mutated_streams_are_answered_the_same_way_however_they_are_cut() {
    let corpus: Vec<Vec<u8>> = {
        let mut rng = Rng::new(base_seed());
        (0..20).map(|_| valid_stream(&mut rng).bytes).collect()
    };
    let tokens: &[&[u8]] = &[
        &[0x81],
        &[0x01],
        &[0x80],
        &[0x88, 0x80],
        &[0x89, 0x80, 0, 0, 0, 0],
        &[0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        &[0xED, 0xA0, 0x80],
        &[0xF4, 0x90],
    ];
    for_each_case("receive mutated", 3000, |rng| {
        let start = valid_stream(rng).bytes;
        let stream = mutate(rng, &start, &corpus, tokens);
        let events = read_events(&stream, &[usize::MAX]);
        let talk = converse(&stream, &[usize::MAX]);
        check_conversation(&events, &talk);
        let reads = random_reads(rng);
        assert_eq!(read_events(&stream, &reads), events, "reads of {reads:?}");
        assert_eq!(converse(&stream, &reads), talk, "reads of {reads:?}");
    });
}

/// §10.4: a header may declare up to 2^63 - 1 bytes. The reader must
/// refuse a declared length past its limit at once, from the header alone,
/// without allocating for it (which would abort the test process).
#[test]
fn huge_declared_lengths_are_refused_from_the_header_alone() {
    for_each_case("receive huge", 200, |rng| {
        // The largest length the RFC allows is 2^63 - 1 (§5.2); larger is
        // another error, tested elsewhere.
        let declared =
            ((LIMIT as u64 + 1) + (rng.next() >> (1 + rng.below(63)))).min(i64::MAX as u64);
        let mut stream = vec![0x80 | *rng.pick(&[TEXT, BINARY])];
        if declared <= 0xFFFF {
            stream.push(0x80 | 126);
            stream.extend_from_slice(&(declared as u16).to_be_bytes());
        } else {
            stream.push(0x80 | 127);
            stream.extend_from_slice(&declared.to_be_bytes());
        }
        stream.extend_from_slice(&rng.mask());
        let events = read_events(&stream, &[usize::MAX]);
        assert_eq!(
            events,
            [Incoming::Failed(Violation::MessageTooBig { limit: LIMIT })],
            "declared {declared}"
        );
        check_conversation(&events, &converse(&stream, &[usize::MAX]));
    });
}

// --- A live server ---------------------------------------------------------

/// Read the response head to a valid handshake; panics unless it is a 101.
fn complete_handshake(stream: &mut TcpStream, request: &[u8]) {
    stream.write_all(request).expect("send handshake");
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("handshake answer cut short ({other:?}): {head:?}"),
        }
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
}

/// Read whatever the server has sent so far, without waiting.
fn drain_now(stream: &mut TcpStream) {
    let _ = stream.set_nonblocking(true);
    let mut chunk = [0; 16 * 1024];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
    }
}

/// Counts of what one fuzzing thread sent.
#[derive(Debug, Default, Clone, Copy)]
struct Sent {
    handshakes: usize,
    frames: usize,
}

/// One thread's share of the live fuzzing: connections with mutated
/// handshakes, and connections with good handshakes followed by valid,
/// mutated or random frames; some read, some half-close, some vanish with
/// answers unread (a reset). A few are kept open at once so that the
/// server juggles them.
fn hammer(addr: SocketAddr, seed: u64, connections: usize, until: Instant) -> Sent {
    let mut rng = Rng::new(seed);
    let host = addr.to_string();
    let corpus = request_corpus(&host);
    let streams: Vec<Vec<u8>> = (0..10).map(|_| valid_stream(&mut rng).bytes).collect();
    let mut open: VecDeque<TcpStream> = VecDeque::new();
    let mut sent = Sent::default();
    for _ in 0..connections {
        if Instant::now() >= until {
            break;
        }
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        if rng.chance(50) {
            // Errors are fine: the server may already have answered and
            // closed, which is the point.
            let _ = stream.write_all(&random_request(&mut rng, &corpus));
            sent.handshakes += 1;
        } else {
            complete_handshake(&mut stream, &corpus[rng.below(2)]);
            sent.handshakes += 1;
            for _ in 0..1 + rng.below(4) {
                let script = valid_stream(&mut rng);
                let (bytes, frames) = match rng.below(4) {
                    0 => (script.bytes, script.frames),
                    1 => {
                        let len = rng.below(64);
                        (rng.bytes(len), 1)
                    }
                    _ => {
                        let tokens: &[&[u8]] = &[&[0x81], &[0x88, 0x80]];
                        let bytes = mutate(&mut rng, &script.bytes, &streams, tokens);
                        (bytes, script.frames)
                    }
                };
                sent.frames += frames;
                if stream.write_all(&bytes).is_err() {
                    break;
                }
            }
        }
        match rng.below(4) {
            0 => drain_now(&mut stream),
            1 => {
                let _ = stream.shutdown(Shutdown::Write);
            }
            _ => {}
        }
        open.push_back(stream);
        if open.len() > 12 {
            open.pop_front();
        }
    }
    sent
}

/// A few thousand random and mutated handshakes and frames over two
/// thousand connections from four threads, then: the server still runs, never
/// panicked, wrote only well-formed log lines, and serves a normal client
/// correctly. Bounded to about 8 s however slow the machine.
#[test]
fn a_live_server_survives_a_barrage_of_bad_input() {
    let mut server = Server::launch(
        &[
            "--mode",
            "echo",
            "--max-message-size",
            "65536",
            "--handshake-timeout",
            "2",
            "--close-timeout",
            "1",
            "--allowed-origin",
            "http://example.com",
        ],
        Launch {
            capture_stderr: true,
            ..Launch::default()
        },
    );
    let base = base_seed();
    let until = Instant::now() + Duration::from_secs(8);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let addr = server.addr;
            let seed = case_seed(base, "live", t);
            std::thread::spawn(move || hammer(addr, seed, 500, until))
        })
        .collect();
    let mut total = Sent::default();
    for (t, thread) in threads.into_iter().enumerate() {
        let sent = thread
            .join()
            .unwrap_or_else(|_| panic!("live fuzzing thread {t} failed with FUZZ_SEED={base:#x}"));
        total.handshakes += sent.handshakes;
        total.frames += sent.frames;
    }
    assert!(
        total.handshakes >= 100 && total.frames >= 100,
        "too little was sent to mean anything: {total:?}"
    );

    assert!(
        server.is_running(),
        "the server died (FUZZ_SEED={base:#x}): {}",
        server.stderr()
    );
    assert_echo_works(&server);
    let stderr = server.stderr();
    assert!(
        !stderr.contains("panicked"),
        "FUZZ_SEED={base:#x}: {stderr}"
    );
    for line in server.log().lines() {
        assert!(
            is_record(line),
            "FUZZ_SEED={base:#x}: a forged log line: {line:?}"
        );
    }
    eprintln!("live fuzzing sent {total:?}");
}
