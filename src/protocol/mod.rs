//! The protocol: RFC 6455 over bytes, with no I/O.
//!
//! Everything here is pure: bytes and the time (`now`, passed in) go in,
//! bytes and events come out. No socket, no file, no log, no clock of its
//! own, no flags: a limit arrives as a plain value. So every rule can be
//! unit-tested with byte arrays and made-up instants, and a debugger that
//! stops here has the whole input in view. It uses std, `sha1_smol` and
//! `base64`, and nothing else of this crate (`tests/layers.rs` checks).

pub mod access;
// DEFLATE (RFC 1951) taken apart for `--trace`: a compressed message's
// blocks and their first symbols, read slowly, a bit at a time.
pub(crate) mod blocks;
pub mod buffers;
pub(crate) mod calendar;
pub mod close;
pub mod connection;
// Writing DEFLATE (RFC 1951), for permessage-deflate (RFC 7692).
pub(crate) mod deflate;
// `Sec-WebSocket-Extensions`: agreeing to permessage-deflate (RFC 7692).
pub(crate) mod extensions;
pub mod frame;
pub(crate) mod handshake;
pub mod http;
// Reading DEFLATE (RFC 1951), for permessage-deflate (RFC 7692).
pub(crate) mod inflate;
pub mod reader;
pub(crate) mod seen;
pub(crate) mod utf8;

// For the raw client (`src/bin/client/`): the accept key it expects from
// a server, worked out by the function the server answers with. Only these
// two leave the crate; the rest of `handshake` stays crate-private.
pub use handshake::{accept_key, AcceptKey};

// For tests/deflate.rs, which checks the two DEFLATE codecs against
// another one (miniz_oxide, a dev-dependency that code in src/protocol may
// not name) and measures them: their entry points and what they return.
// Nothing else of `inflate` and `deflate` leaves the crate.
pub use deflate::deflate;
pub use inflate::{inflate, Alphabet, End, InflateError, Inflated};
