//! `make bench`'s inspector rows (`--inspect`): what an inspector costs the
//! server while it looks, and what the flag costs while nobody does.
//!
//! Three of our servers, the same closed-loop echo of 100 clients × 16 B,
//! taking turns in the same run: `--inspect` with one inspector connected,
//! `--inspect` with nobody looking, and no `--inspect`. The inspector is a
//! thread of the bench that reads the event stream and throws it away, as
//! a page reads it; it shares the machine's two cores with the server and
//! the load, as a browser would.

use crate::load::{self, connect_many, Target};
use crate::{heading_against, row, take_turns, Goal, Plan};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The three servers, the echo, and their rows.
pub fn inspector_cost(plan: Plan) {
    heading_against(
        "--inspect: 100 × 16 B echo",
        ("msg/s", "beside"),
        ("µs CPU/msg", "beside"),
    );
    let watched = Target::ours(&["--inspect", "--mode", "echo"]);
    let unwatched = Target::ours(&["--inspect", "--mode", "echo"]);
    let off = Target::ours(&["--mode", "echo"]);
    let (reader, read) = look(&watched);
    let targets = [&watched, &unwatched, &off];
    let mut streams: Vec<Vec<TcpStream>> =
        targets.iter().map(|t| connect_many(t.addr, 100)).collect();
    let figures = take_turns(plan, &targets, |i| {
        load::round_trips(&mut streams[i], 16, plan.window)
    });
    let (looked, nobody, without) = (figures[0], figures[1], figures[2]);
    let kept = looked.rate / nobody.rate;
    row(
        "one inspector, beside nobody",
        looked,
        nobody,
        &[Goal::AtLeast("msg/s", 0.8, kept)],
    );
    let free = nobody.rate / without.rate;
    row(
        "on, nobody looking, beside off",
        nobody,
        without,
        &[Goal::Report("no target; msg/s", free)],
    );
    let seconds = (plan.repeats as f64) * plan.window.as_secs_f64();
    let rate = read.load(Ordering::Relaxed) as f64 / 1024.0 / seconds;
    println!("  (the inspector read about {rate:.0} KiB of events a second while its server ran)");
    drop(watched); // its socket closes, and the reader stops
    let _ = reader.join();
}

/// An inspector for `target`, read and thrown away by a thread of its own;
/// the bytes it read so far.
fn look(target: &Target) -> (JoinHandle<()>, Arc<AtomicU64>) {
    let mut stream = TcpStream::connect(target.addr).expect("connect the inspector");
    let request = format!(
        "GET /inspect HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: inspect\r\n\r\n",
        target.addr
    );
    stream
        .write_all(request.as_bytes())
        .expect("the inspector's handshake");
    let read = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&read);
    let reader = std::thread::spawn(move || {
        let mut buffer = vec![0; 1 << 16];
        while let Ok(n @ 1..) = stream.read(&mut buffer) {
            counted.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    (reader, read)
}
