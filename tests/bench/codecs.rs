//! Our DEFLATE codecs (`src/protocol/inflate.rs`, `src/protocol/deflate.rs`)
//! beside miniz_oxide's on the same data, and both put in RFC 7692's form
//! of a message. Shared by `make bench` (its codec rows, and the client of
//! its compressed echo) and `tests/deflate.rs` (the round trips and the
//! `figures` test), so that the two measure alike.

use miniz_oxide::deflate::core::{
    compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
};
use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use socket_server::protocol::{deflate, inflate};
use std::time::{Duration, Instant};

/// RFC 7692 §7.2.1: a compressed message leaves off these last four bytes
/// of its sync flush (an empty stored block); §7.2.2: the receiver puts
/// them back before it inflates.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Our encoder's output as RFC 7692 sends it: the tail stripped.
pub fn ours_compressed(data: &[u8], window_bits: u8) -> Vec<u8> {
    let mut out = Vec::new();
    deflate(data, window_bits, &mut out);
    assert!(out.ends_with(&TAIL), "ends with a sync flush");
    out.truncate(out.len() - TAIL.len());
    out
}

/// miniz's output as a client sends a message: raw DEFLATE (no zlib
/// header) at `level`, window 15, ended by a sync flush as zlib's
/// `Z_SYNC_FLUSH` ends a browser's, its tail stripped.
pub fn miniz_compressed(data: &[u8], level: u8) -> Vec<u8> {
    // Window bits 0 asks for no zlib header; strategy 0 is the default.
    let flags = create_comp_flags_from_zip_params(level.into(), 0, 0);
    let mut compressor = CompressorOxide::new(flags);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let (status, used) = compress_to_output(&mut compressor, data, TDEFLFlush::Sync, |bytes| {
        out.extend_from_slice(bytes);
        true
    });
    assert!(
        matches!(status, TDEFLStatus::Okay) && used == data.len(),
        "{status:?}"
    );
    assert!(out.ends_with(&TAIL), "ends with a sync flush");
    out.truncate(out.len() - TAIL.len());
    out
}

/// A message's payload read back by miniz as an RFC 7692 receiver reads
/// it: the tail put back (§7.2.2), then an empty final block in the fixed
/// codes (`03 00`), since miniz, unlike ours, wants a stream that ends.
pub fn miniz_inflate_message(payload: &[u8]) -> Vec<u8> {
    let mut stream = Vec::with_capacity(payload.len() + TAIL.len() + 2);
    stream.extend_from_slice(payload);
    stream.extend_from_slice(&TAIL);
    stream.extend_from_slice(&[0x03, 0x00]);
    miniz_oxide::inflate::decompress_to_vec(&stream)
        .unwrap_or_else(|e| panic!("miniz refuses it ({} bytes): {e:?}", payload.len()))
}

/// How long the codecs are timed: `turns` turns each, a turn running the
/// work over and over for `window`.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub turns: usize,
    pub window: Duration,
}

/// MB/s of `ours` and of `miniz`, each doing work on `bytes` bytes: they
/// take turns (the first changing each turn, so that neither always runs
/// on a cache the other warmed), and each keeps its best turn, the one
/// least disturbed by the rest of the machine.
fn speeds(bytes: usize, timing: Timing, ours: impl FnMut(), miniz: impl FnMut()) -> (f64, f64) {
    let mut runs: [Box<dyn FnMut() + '_>; 2] = [Box::new(ours), Box::new(miniz)];
    let mut best = [0.0_f64; 2];
    for turn in 0..timing.turns {
        for k in 0..2 {
            let i = (k + turn) % 2;
            best[i] = best[i].max(speed(bytes, timing.window, &mut runs[i]));
        }
    }
    (best[0], best[1])
}

/// MB/s of `work` on `bytes` bytes, run until `window` has passed.
fn speed(bytes: usize, window: Duration, work: &mut dyn FnMut()) -> f64 {
    let (start, mut runs) = (Instant::now(), 0);
    while start.elapsed() < window {
        work();
        runs += 1;
    }
    (bytes * runs) as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// miniz's fastest way to inflate: into a buffer made once, big enough.
fn miniz_inflate_into(stream: &[u8], buf: &mut [u8]) -> usize {
    let mut state = DecompressorOxide::new();
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let (status, _, written) = decompress(&mut state, stream, buf, 0, flags);
    assert!((status as i32) >= 0, "miniz: {status:?}");
    written
}

/// Inflate, MB/s of output, ours and miniz's, on one stream: `data` as
/// miniz writes it at `level`. Ours inflates into a `Vec` it keeps
/// reusing, miniz into a buffer made once for all: each at its fastest.
pub fn inflate_speeds(data: &[u8], level: u8, timing: Timing) -> (f64, f64) {
    let stream = miniz_oxide::deflate::compress_to_vec(data, level);
    let size = data.len();
    let mut out = Vec::with_capacity(size);
    let mut buf = vec![0; size];
    let ours = || {
        out.clear();
        inflate(&stream, &mut out, size).expect("ours inflates miniz's");
    };
    let miniz = || assert_eq!(miniz_inflate_into(&stream, &mut buf), size);
    speeds(size, timing, ours, miniz)
}

/// What `deflate_figures` found.
#[derive(Debug, Clone, Copy)]
pub struct Deflated {
    /// Compressed bytes, ours and miniz's.
    pub sizes: (usize, usize),
    /// MB/s of input, ours and miniz's.
    pub speeds: (f64, f64),
}

/// Deflate, one message on its own as RFC 7692 sends it (window 15, the
/// tail stripped, no context): ours against miniz's level 1, its fastest
/// level that still looks for repeats, as our encoder looks once.
pub fn deflate_figures(data: &[u8], timing: Timing) -> Deflated {
    let sizes = (
        ours_compressed(data, 15).len(),
        miniz_compressed(data, 1).len(),
    );
    let speeds = speeds(
        data.len(),
        timing,
        || drop(ours_compressed(data, 15)),
        || drop(miniz_compressed(data, 1)),
    );
    Deflated { sizes, speeds }
}
