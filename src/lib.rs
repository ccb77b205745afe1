//! A WebSocket server, ported from a classic PHP tutorial and made correct
//! to RFC 6455. `docs/php-to-rust.md` maps each PHP function to its home here.

// `unsafe` is refused everywhere but in `server::poll`, which declares the C
// functions std does not wrap (epoll(7), poll(2), signal(2), getrlimit(2)).
#![deny(unsafe_code)]

pub mod app;
pub mod config;
pub mod protocol;
pub mod server;
