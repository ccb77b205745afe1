//! The app: what the server says. The tutorial's answers, the echo, and the
//! chat room.

pub mod room;
pub mod tutorial;
