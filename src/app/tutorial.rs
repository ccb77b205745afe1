//! What the server says back: the PHP's `"You have entered: ".$decoded_data`,
//! plus the commands the tutorial's page lists but its server never had.
//!
//! [`reply`] is a pure function: a message (and the time) in, a reply out.
//! [`Tutorial`] and [`Echo`] are the apps of `--mode tutorial` and `--mode
//! echo`: each answers the one who spoke, and only that one.

use super::nothing;
use crate::config::Mode;
use crate::protocol::calendar::{DateTime, WEEKDAYS};
use crate::protocol::reader::Message;
use crate::server::app::{App, Delivery};
use crate::server::poll::Socket;
use std::time::{Duration, Instant, SystemTime};

/// `--mode tutorial`: the PHP's answers.
#[derive(Debug)]
pub struct Tutorial {
    /// When the server started, for the `age` command.
    started: Instant,
}

impl Tutorial {
    pub fn new(started: Instant) -> Tutorial {
        Tutorial { started }
    }
}

impl App for Tutorial {
    fn joined(&mut self, _: Socket, _: &str) -> Vec<Delivery> {
        nothing()
    }

    /// The PHP's `socket_write($client, encode("You have entered:
    /// ".$decoded_data))` (line 63), and the commands.
    fn message(&mut self, from: Socket, message: Message, now: Instant) -> Vec<Delivery> {
        match reply(Mode::Tutorial, message, Clock::at(self.started, now)) {
            Reply::Send(answer) => vec![Delivery::To(from, answer)],
            Reply::SendAndClose(answer) => vec![Delivery::To(from, answer), Delivery::Close(from)],
        }
    }

    fn left(&mut self, _: Socket) -> Vec<Delivery> {
        nothing()
    }

    fn members(&self) -> Vec<Socket> {
        Vec::new()
    }
}

/// `--mode echo`: every message back as it came, text as text and binary
/// as binary (for tests and benchmarks).
#[derive(Debug)]
pub struct Echo;

impl App for Echo {
    fn joined(&mut self, _: Socket, _: &str) -> Vec<Delivery> {
        nothing()
    }

    fn message(&mut self, from: Socket, message: Message, _: Instant) -> Vec<Delivery> {
        vec![Delivery::To(from, message)]
    }

    fn left(&mut self, _: Socket) -> Vec<Delivery> {
        nothing()
    }

    fn members(&self) -> Vec<Socket> {
        Vec::new()
    }
}

/// What to do after a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Send this message back.
    Send(Message),
    /// Send this message, then start the closing handshake with 1000.
    SendAndClose(Message),
}

/// The commands the client page lists, in its order.
pub const COMMANDS: [&str; 8] = [
    "hello", "hi", "name", "age", "date", "time", "thanks", "bye",
];

/// The time, as far as replies care: how long the server has been up, and
/// the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub uptime: Duration,
    pub now: SystemTime,
}

impl Clock {
    /// The time at `now`, for a server up since `started` (the wall clock
    /// read here: an app is not the protocol, and may).
    pub fn at(started: Instant, now: Instant) -> Clock {
        Clock {
            uptime: now.saturating_duration_since(started),
            now: SystemTime::now(),
        }
    }
}

/// Answer one message.
pub fn reply(mode: Mode, message: Message, clock: Clock) -> Reply {
    match (mode, message) {
        // Echo: exactly what came in, text as text and binary as binary.
        (Mode::Echo, message) => Reply::Send(message),
        // The room (`room.rs`) routes what is said in chat mode; a command
        // it passes on is answered as in tutorial mode.
        (Mode::Tutorial | Mode::Chat, Message::Text(text)) => tutorial(&text, clock),
        (Mode::Tutorial | Mode::Chat, Message::Binary(data)) => Reply::Send(Message::Text(
            format!("You have sent {} bytes of binary data.", data.len()),
        )),
    }
}

/// The tutorial's replies. Commands are matched without regard to case or
/// surrounding spaces; anything else is repeated back, as in the PHP.
fn tutorial(text: &str, clock: Clock) -> Reply {
    let say = |s: String| Reply::Send(Message::Text(s));
    match text.trim().to_lowercase().as_str() {
        "hello" | "hi" => say(format!("Hello! Try one of: {}.", COMMANDS.join(", "))),
        "name" => say("My name is socket_server, a Rust port of the PHP tutorial's server.".into()),
        "age" => say(format!(
            "I have been running for {}.",
            duration(clock.uptime)
        )),
        "date" => say(format!("Today is {} (UTC).", date(clock.now))),
        "time" => say(format!("The time is {} UTC.", time_of_day(clock.now))),
        "thanks" => say("You're welcome!".into()),
        "bye" => Reply::SendAndClose(Message::Text("Goodbye!".into())),
        _ => say(format!("You have entered: {text}")),
    }
}

/// `1 h 2 min 3 s`, leaving out leading zero units.
fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min {s} s"),
    }
}

/// `Wednesday, 2026-11-25`, in UTC.
fn date(now: SystemTime) -> String {
    let t = DateTime::from(now);
    let weekday = WEEKDAYS[t.weekday as usize];
    format!("{weekday}, {:04}-{:02}-{:02}", t.year, t.month, t.day)
}

/// `13:04:05`, in UTC.
fn time_of_day(now: SystemTime) -> String {
    let t = DateTime::from(now);
    format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// 2026-11-25 01:02:03 UTC, a Wednesday; up for an hour and a bit.
    fn clock() -> Clock {
        Clock {
            uptime: Duration::from_secs(3723),
            now: UNIX_EPOCH + Duration::from_secs(1_795_568_523),
        }
    }

    fn text_of(reply: Reply) -> String {
        match reply {
            Reply::Send(Message::Text(t)) | Reply::SendAndClose(Message::Text(t)) => t,
            other => panic!("not text: {other:?}"),
        }
    }

    fn ask(text: &str) -> String {
        text_of(reply(Mode::Tutorial, Message::Text(text.into()), clock()))
    }

    #[test]
    fn plain_text_is_repeated_as_in_the_php() {
        assert_eq!(ask("hello world"), "You have entered: hello world");
    }

    #[test]
    fn every_listed_command_has_its_own_answer() {
        for command in COMMANDS {
            assert!(!ask(command).starts_with("You have entered"), "{command}");
        }
        assert!(ask("  HeLLo ").starts_with("Hello!"));
        assert_eq!(ask("age"), "I have been running for 1 h 2 min 3 s.");
        assert_eq!(ask("date"), "Today is Wednesday, 2026-11-25 (UTC).");
        assert_eq!(ask("time"), "The time is 01:02:03 UTC.");
        assert!(ask("name").contains("socket_server"));
    }

    #[test]
    fn bye_answers_then_closes() {
        let answer = reply(Mode::Tutorial, Message::Text("bye".into()), clock());
        assert_eq!(
            answer,
            Reply::SendAndClose(Message::Text("Goodbye!".into()))
        );
    }

    #[test]
    fn echo_sends_back_exactly() {
        let binary = Message::Binary(vec![0, 1, 255]);
        assert_eq!(
            reply(Mode::Echo, binary.clone(), clock()),
            Reply::Send(binary)
        );
        let text = Message::Text("bye".into());
        assert_eq!(reply(Mode::Echo, text.clone(), clock()), Reply::Send(text));
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_secs(59)), "59 s");
        assert_eq!(duration(Duration::from_secs(61)), "1 min 1 s");
    }
}
