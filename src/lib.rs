//! A WebSocket server, ported from a classic PHP tutorial and made correct
//! to RFC 6455. `docs/php-to-rust.md` maps each PHP function to its home here.
//!
//! The modules, in the order data flows through them:
//! socket -> bytes ([`server`], [`poll`]) -> HTTP request ([`http`]) ->
//! who may connect ([`access`]) -> [`handshake`], or a page from [`www`] -> frames ([`frame`]) -> messages
//! ([`protocol`], [`utf8`], [`close`]) -> reply ([`replies`], or the chat
//! [`room`]) -> frames ->
//! bytes -> socket. [`timers`] keeps every client's next deadline in order.
//! [`clients`] is the table pairing each socket with its
//! [`client`] record (the connection's whole life, with no socket in it) and
//! its [`buffers`]; [`config`] holds the flags, [`console`] the log,
//! [`trace`] what `--trace` shows, [`calendar`] the date.

// `unsafe` is refused everywhere but in `poll`, which declares the C
// functions std does not wrap (epoll(7), poll(2), signal(2), getrlimit(2)).
#![deny(unsafe_code)]

pub mod access;
pub mod buffers;
pub mod calendar;
pub mod client;
pub mod clients;
pub mod close;
pub mod config;
pub mod console;
pub mod frame;
pub mod handshake;
pub mod http;
#[allow(unsafe_code)]
pub mod poll;
pub mod protocol;
pub mod replies;
pub mod room;
pub mod server;
pub mod timers;
pub mod trace;
pub mod utf8;
pub mod www;
