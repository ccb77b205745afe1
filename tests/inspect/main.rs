//! `--inspect`: the inspector's event stream, read over a raw socket.
//!
//! - `access`: who gets the inspector: nobody without `--inspect` (a 404,
//!   `www/` included), only loopback peers with it, the `Host` and
//!   `Origin` rules, its subprotocol; and no inspector ever sees its own
//!   traffic or another's;
//! - `events`: the table an inspector gets when it comes, then each kind
//!   of event as it happens, the caps on what a peer's bytes may fill, and
//!   escaping;
//! - `load`: past its budget the server sends counts; an inspector that
//!   reads slowly loses events and is told how many; one that stops
//!   reading is dropped, and nobody else waits for it.
//!
//! The events are read with a JSON reader of the test's own (`json.rs`),
//! so that the server's hand-written JSON is checked by code that shares
//! nothing with it. `tests/browser.rs` drives the page.
//!
//! Run just this suite with `cargo test --test inspect`.

#[path = "../common/mod.rs"]
mod common;
mod inspector;
mod json;

mod access;
mod events;
mod load;
