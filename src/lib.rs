//! A WebSocket server, ported from a classic PHP tutorial and made correct
//! to RFC 6455. `docs/php-to-rust.md` maps each PHP function to its home here.

// `unsafe` is refused everywhere but in `server::poll`, which declares the C
// functions std does not wrap (epoll(7), poll(2), signal(2), getrlimit(2)).
#![deny(unsafe_code)]
// What no one outside the crate needs is `pub(crate)`, but the docs are read
// whole (`make doc` documents private items too), so a public item's doc may
// link to a crate-private one.
#![allow(rustdoc::private_intra_doc_links)]

// The layers, from the bottom: protocol, config, server, app; each uses
// only those below it (`tests/layers.rs`). They are public for the binary,
// the tests and the bench, and only as far as those need: the rest is
// `pub(crate)`.

// What the server says: `app::for_mode`, for `main.rs`.
pub mod app;
// The flags: `main.rs` parses them; the tests build a `Config`.
pub mod config;
// RFC 6455 and just enough HTTP, pure. Public for the fuzz tests
// (`tests/robustness/fuzz.rs`: the parsers, the reader, the connection)
// and the bench's own frames (`frame::encode`, `parse_header`, `unmask`).
pub mod protocol;
// The I/O: `Server` for `main.rs`, the log (`console`) and the signals
// (`poll`) it starts, and for the fuzz tests a whole `client::Client` and
// `www::serve`.
pub mod server;

// JSON strings, escaped as the server escapes them, for the checker's
// `--json` lines (`src/bin/client/check/report.rs`).
pub mod json {
    pub use crate::server::json::quote;
}

// `--trace`'s blocks, for the raw client (`src/bin/client/`), which
// prints what it sends and receives the same way, from the other end: the
// three functions that format a block, its hex, and `Seen`, the record of
// a frame they format. Re-exported one by one: `server::trace` and
// `protocol::seen` themselves stay crate-private.
pub mod dissect {
    pub use crate::protocol::seen::{Direction, Seen};
    pub use crate::server::trace::{accept_key, frame, hex, http};
}
