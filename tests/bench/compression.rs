//! `make bench`'s compression rows (permessage-deflate, RFC 7692):
//!
//! - our server with `--deflate --mode echo`, every message sent to it
//!   compressed, beside our server with plain `--mode echo` and the same
//!   messages uncompressed, in the same run, taking turns: what
//!   compression costs the server, in messages a second and CPU;
//! - our DEFLATE codecs beside miniz_oxide's on the same data
//!   (`codecs.rs`): how fast ours inflates, how small ours deflates.
//!
//! The client compresses as a browser does with zlib: raw DEFLATE at
//! level 6, a sync flush, its tail stripped (§7.2.1), RSV1 set (§6). It
//! does so once per connection, before any window is timed, so that the
//! client's own compressing takes none of the two cores the server needs.

use crate::codecs::{self, Timing};
use crate::corpus::{corpus, Kind};
use crate::load::{self, Target};
use crate::{alternate, bytes, heading_against, row, Figures, Goal, Plan};
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

/// FIN and the text opcode; with RSV1, "Per-Message Compressed" (§6).
const TEXT: u8 = 0x81;
const RSV1: u8 = 0x40;

/// The offer as Firefox makes it: the extension with no parameters.
const OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate\r\n";

/// miniz's level for the client's messages: zlib's default, which is
/// what a browser compresses with.
const CLIENT_LEVEL: u8 = 6;

/// One connection and its one message: the frame it sends, and the reply
/// it must get back.
struct Echoer {
    reader: BufReader<TcpStream>,
    frame: Vec<u8>,
    /// The first echo's first byte and payload, checked once (`start`):
    /// with no context takeover the server compresses each message on its
    /// own, so the same message always comes back as the same bytes.
    head: u8,
    reply: Vec<u8>,
    /// Where each later reply is read, to be compared with `reply`.
    scratch: Vec<u8>,
}

impl Echoer {
    /// Connect to `target`, offering permessage-deflate if `compress`;
    /// echo `message` once, and check the reply: compressed with RSV1 if
    /// `compress` (miniz must inflate it back to the message), the
    /// message itself otherwise.
    fn start(target: &Target, message: &[u8], compress: bool) -> Echoer {
        let (stream, answer) = load::connect_with(target.addr, if compress { OFFER } else { "" });
        let agreed = answer
            .to_ascii_lowercase()
            .contains("\r\nsec-websocket-extensions: permessage-deflate");
        assert_eq!(agreed, compress, "the extension agreed or not: {answer}");
        let (first, payload) = if compress {
            let compressed = codecs::miniz_compressed(message, CLIENT_LEVEL);
            (TEXT | RSV1, compressed)
        } else {
            (TEXT, message.to_vec())
        };
        let mut frame = Vec::new();
        load::client_frame(&mut frame, first, &payload);
        let mut echoer = Echoer {
            reader: BufReader::with_capacity(1 << 16, stream),
            frame,
            head: 0,
            reply: Vec::new(),
            scratch: Vec::new(),
        };
        echoer.send();
        let mut reply = Vec::new();
        let head = load::read_frame(&mut echoer.reader, &mut reply);
        assert_eq!(head, first, "the echo's first byte (0xc1: compressed)");
        let back = if compress {
            codecs::miniz_inflate_message(&reply)
        } else {
            reply.clone()
        };
        assert!(back == message, "the echo is the message");
        (echoer.head, echoer.reply) = (head, reply);
        echoer
    }

    fn send(&mut self) {
        self.reader.get_mut().write_all(&self.frame).expect("send");
    }

    /// Read one reply: whether it was the reply expected, byte for byte.
    fn receive(&mut self) -> bool {
        let head = load::read_frame(&mut self.reader, &mut self.scratch);
        head == self.head && self.scratch == self.reply
    }
}

/// Closed loop, as `load::round_trips`: two threads, each sending one
/// message on each of its connections and then reading every reply, until
/// `window` has passed. Returns the replies, and how many of them were
/// the reply expected.
fn echo_rounds(echoers: &mut [Echoer], window: Duration) -> (u64, u64) {
    let start = Instant::now();
    let per_thread = echoers.len().div_ceil(2).max(1);
    std::thread::scope(|scope| {
        let threads: Vec<_> = echoers
            .chunks_mut(per_thread)
            .map(|group| {
                scope.spawn(move || {
                    let (mut replies, mut expected) = (0, 0);
                    while start.elapsed() < window {
                        group.iter_mut().for_each(Echoer::send);
                        for echoer in group.iter_mut() {
                            replies += 1;
                            expected += u64::from(echoer.receive());
                        }
                    }
                    (replies, expected)
                })
            })
            .collect();
        let counts = threads.into_iter().map(|t| t.join().expect("generator"));
        counts.fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    })
}

/// Our server with `--deflate`, then without, the same load: `clients`
/// connections, each with `size` bytes of `kind` of its own. Their
/// figures, and the compressed side's replies: how many, and how many came
/// back compressed as expected.
fn echo_case(
    plan: Plan,
    servers: [&Target; 2],
    clients: usize,
    kind: Kind,
    size: usize,
) -> (Figures, Figures, (u64, u64)) {
    let mut sides = [true, false].map(|compress| {
        let target = servers[usize::from(!compress)];
        let messages = (0..clients).map(|i| corpus(kind, size, i as u64));
        let echoers = messages.map(|m| Echoer::start(target, &m, compress));
        echoers.collect::<Vec<_>>()
    });
    let mut counted = [(0, 0); 2];
    let (a, b) = alternate(plan, servers[0], servers[1], |side| {
        let (replies, expected) = echo_rounds(&mut sides[side], plan.window);
        counted[side] = (counted[side].0 + replies, counted[side].1 + expected);
        replies as f64
    });
    let (replies, expected) = counted[1];
    assert_eq!(replies, expected, "every uncompressed reply is the message");
    (a, b, counted[0])
}

/// The compressed echo: 10 clients × 1 KiB of JSON, and one 1 MiB text.
pub fn compressed_echo(plan: Plan) {
    heading_against(
        "compressed echo: ours --deflate, beside ours uncompressed",
        ("msg/s", "uncompressed"),
        ("µs CPU/msg", "uncompr."),
    );
    let deflating = Target::ours(&["--deflate", "--mode", "echo"]);
    let plain = Target::ours(&["--mode", "echo"]);
    let servers = [&deflating, &plain];
    let cases = [(10, Kind::Json, 1 << 10), (1, Kind::Text, MIB)];
    for (clients, kind, size) in cases {
        let (a, b, (replies, compressed)) = echo_case(plan, servers, clients, kind, size);
        let speed = a.rate / b.rate;
        let speed = if clients == 10 {
            Goal::AtLeast("msg/s", 0.4, speed)
        } else {
            Goal::Report("no target; msg/s", speed)
        };
        let replies = Goal::Count("replies compressed", compressed, replies);
        row(
            &format!("{clients} × {}", name(kind, size)),
            a,
            b,
            &[speed, replies],
        );
    }
}

/// Our codecs beside miniz's, on the same data in the same run: inflate
/// speed, and the size and speed of deflate.
pub fn codec_figures(plan: Plan) {
    // A quarter of the servers' window: a codec's turn has no connection
    // to warm up, and sixteen turns make a round.
    let timing = Timing {
        turns: plan.repeats,
        window: plan.window / 4,
    };
    let cases = [
        (Kind::Text, 1 << 10),
        (Kind::Json, 1 << 10),
        (Kind::Text, MIB),
        (Kind::Json, MIB),
    ];
    heading_against(
        "inflate: ours beside miniz_oxide, the same stream (miniz level 6)",
        ("MB/s", "miniz"),
        ("", ""),
    );
    for (kind, size) in cases {
        let (ours, miniz) = codecs::inflate_speeds(&corpus(kind, size, 1), 6, timing);
        let (a, b) = (Figures::new(ours, f64::NAN), Figures::new(miniz, f64::NAN));
        row(
            &name(kind, size),
            a,
            b,
            &[Goal::AtLeast("MB/s", 0.5, ours / miniz)],
        );
    }
    heading_against(
        "deflate: one message on its own, window 15, beside miniz level 1",
        ("bytes", "miniz"),
        ("MB/s", "miniz"),
    );
    for (kind, size) in cases {
        let found = codecs::deflate_figures(&corpus(kind, size, 2), timing);
        let (sizes, speeds) = (found.sizes, found.speeds);
        let a = Figures::new(sizes.0 as f64, speeds.0);
        let b = Figures::new(sizes.1 as f64, speeds.1);
        let goals = [
            Goal::AtMost("size", 1.25, a.rate / b.rate),
            Goal::Report("no target; MB/s", a.cpu / b.cpu),
        ];
        row(&name(kind, size), a, b, &goals);
    }
}

fn name(kind: Kind, size: usize) -> String {
    let kind = match kind {
        Kind::Text => "text".to_string(),
        Kind::Json => "JSON".to_string(),
        other => format!("{other:?}"),
    };
    format!("{} {kind}", bytes(size))
}
