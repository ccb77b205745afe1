//! The app: what the server says. The loop hands every event to one
//! [`App`] (`server/app.rs`), chosen here from `--mode`, once:
//!
//! - `tutorial` (`tutorial::Tutorial`): the PHP's `"You have entered: "`
//!   and the commands its page lists;
//! - `echo` (`tutorial::Echo`): every message back, unchanged;
//! - `chat` (`room::Chat`): one room, every message to every member.
//!
//! An app touches no socket and writes no log line itself: it answers
//! with [`Delivery`]s, and the server sends them.

pub(crate) mod room;
pub(crate) mod tutorial;

use crate::config::Mode;
use crate::server::app::{App, Delivery};
use std::time::Instant;

/// The app `--mode` asks for, started at `now` (the `age` command counts
/// from there).
pub fn for_mode(mode: Mode, now: Instant) -> Box<dyn App> {
    match mode {
        Mode::Tutorial => Box::new(tutorial::Tutorial::new(now)),
        Mode::Echo => Box::new(tutorial::Echo),
        Mode::Chat => Box::new(room::Chat::new(now)),
    }
}

/// The answer of an app that only ever answers the one who spoke.
fn nothing() -> Vec<Delivery> {
    Vec::new()
}
