//! Robustness and security: what the server does when clients are slow,
//! silent, hostile, too many, or gone, and when the system says no.
//!
//! Every test here checks one protection and is written so that it would
//! fail if that protection were removed; the comment on each test says how.
//! All traffic is over loopback, every read has a timeout, and every loop is
//! bounded, so a broken server makes a test fail rather than hang.

#[path = "../common/mod.rs"]
mod common;

mod support;

mod backpressure;
mod faults;
mod files;
mod fuzz;
mod limits;
mod logging;
mod origin;
mod timeouts;
