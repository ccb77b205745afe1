//! `--mode chat`: one room, where every message goes to every member.
//!
//! The tutorial's server answered each client alone, though its example
//! request already asks for the `chat` subprotocol; a chat room is what a
//! learner builds next. The room lives beside the client table and, like
//! the client record, touches no socket: the loop tells it who joined (a
//! handshake done), what someone said, and who left, and it answers with
//! [`Delivery`]s: a text for one member, or one for all of them, and the
//! lines for the log. The loop encodes a text for all once, and queues the
//! same frame for each member.
//!
//! What the room sends is a small JSON object per message, so that a page
//! can tell a message from a join: `{"type":"message","id":…,"name":…,
//! "text":…}` for everyone, the sender included (its page knows its own id
//! from the `welcome`, and marks the message as its own), `join`, `leave`,
//! `nick`, and, for one member only, `welcome`, `who`, `reply` and
//! `error`. `docs/chat.md` lists them.
//!
//! What members send is plain text. Text starting with `/` is a command:
//! `/nick NAME`, `/who`, `/help`, and the tutorial's commands (`/age`,
//! `/bye`, ...), whose answers go to the one who asked.

use crate::app::tutorial::{self, Clock, Reply};
use crate::protocol::reader::Message;
use crate::server::app::{App, Delivery};
use crate::server::poll::Socket;
use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

/// The longest nickname, in characters.
pub const MAX_NAME: usize = 20;

/// `--mode chat`: the room, as the app the loop talks to.
#[derive(Debug)]
pub struct Chat {
    room: Room,
    /// When the server started, for the tutorial's `/age`.
    started: Instant,
}

impl Chat {
    pub fn new(started: Instant) -> Chat {
        Chat {
            room: Room::default(),
            started,
        }
    }
}

impl App for Chat {
    fn joined(&mut self, who: Socket, id: &str) -> Vec<Delivery> {
        self.room.join(who, id)
    }

    fn message(&mut self, from: Socket, message: Message, now: Instant) -> Vec<Delivery> {
        let clock = Clock {
            uptime: now.saturating_duration_since(self.started),
            now: SystemTime::now(),
        };
        self.room.hear(from, message, clock)
    }

    fn left(&mut self, who: Socket) -> Vec<Delivery> {
        self.room.leave(who)
    }

    fn members(&self) -> Vec<Socket> {
        self.room.sockets().collect()
    }
}

/// One member of the room.
#[derive(Debug, Clone)]
struct Member {
    /// The client's id (`uniqid()`), unique for the server's life.
    id: String,
    /// What the room calls it: its short id until it picks a nickname.
    name: String,
}

/// The room: who is in it, by socket.
#[derive(Debug, Default)]
pub struct Room {
    members: BTreeMap<Socket, Member>,
}

impl Room {
    /// How many are in the room.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The members' sockets, for a delivery to all.
    pub fn sockets(&self) -> impl Iterator<Item = Socket> + '_ {
        self.members.keys().copied()
    }

    /// A client finished its handshake: it is welcomed (with its id, its
    /// name and who is here), and everyone hears it joined.
    pub fn join(&mut self, socket: Socket, id: &str) -> Vec<Delivery> {
        let member = Member {
            id: id.to_owned(),
            name: short_id(id).to_owned(),
        };
        let logged = Delivery::Log(socket, format!("joined the room as {}", member.name));
        let welcome = format!(
            r#"{{"type":"welcome","id":{},"name":{},"members":{}}}"#,
            json(&member.id),
            json(&member.name),
            self.roll_call()
        );
        let joined = format!(
            r#"{{"type":"join","id":{},"name":{}}}"#,
            json(&member.id),
            json(&member.name)
        );
        self.members.insert(socket, member);
        vec![logged, to(socket, welcome), Delivery::All(joined)]
    }

    /// A member left (its connection closed or failed): the others hear.
    pub fn leave(&mut self, socket: Socket) -> Vec<Delivery> {
        let Some(member) = self.members.remove(&socket) else {
            return Vec::new();
        };
        let left = format!(
            r#"{{"type":"leave","id":{},"name":{}}}"#,
            json(&member.id),
            json(&member.name)
        );
        let logged = Delivery::Log(socket, "left the room".into());
        vec![logged, Delivery::All(left)]
    }

    /// A member sent a message: a command, or words for everyone.
    pub fn hear(&mut self, socket: Socket, message: Message, clock: Clock) -> Vec<Delivery> {
        let Some(member) = self.members.get(&socket) else {
            return Vec::new();
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => return error(socket, "the room carries text only"),
        };
        if let Some(command) = text.strip_prefix('/') {
            return self.command(socket, command.trim(), clock);
        }
        let said = format!(
            r#"{{"type":"message","id":{},"name":{},"text":{}}}"#,
            json(&member.id),
            json(&member.name),
            json(&text)
        );
        vec![Delivery::All(said)]
    }

    /// `/nick NAME`, `/who`, `/help`, or one of the tutorial's commands.
    fn command(&mut self, socket: Socket, command: &str, clock: Clock) -> Vec<Delivery> {
        let (word, rest) = command.split_once(' ').unwrap_or((command, ""));
        match word.to_lowercase().as_str() {
            "nick" => self.rename(socket, rest.trim()),
            "who" => {
                let who = format!(r#"{{"type":"who","members":{}}}"#, self.roll_call());
                vec![to(socket, who)]
            }
            "help" => reply(socket, &help()),
            word if tutorial::COMMANDS.contains(&word) => {
                let asked = Message::Text(word.to_owned());
                match tutorial::reply(crate::config::Mode::Tutorial, asked, clock) {
                    Reply::Send(answer) => reply(socket, &text_of(answer)),
                    Reply::SendAndClose(answer) => {
                        let mut deliveries = reply(socket, &text_of(answer));
                        deliveries.push(Delivery::Close(socket));
                        deliveries
                    }
                }
            }
            _ => error(
                socket,
                &format!("unknown command /{word}; /help lists them"),
            ),
        }
    }

    /// `/nick NAME`: a new name, if it is a good one and nobody has it.
    fn rename(&mut self, socket: Socket, name: &str) -> Vec<Delivery> {
        if let Err(why) = valid_name(name) {
            return error(socket, why);
        }
        let taken = self
            .members
            .iter()
            .any(|(s, m)| *s != socket && m.name.to_lowercase() == name.to_lowercase());
        if taken {
            return error(socket, &format!("{name} is taken; try another name"));
        }
        let Some(member) = self.members.get_mut(&socket) else {
            return Vec::new();
        };
        let old = std::mem::replace(&mut member.name, name.to_owned());
        let renamed = format!(
            r#"{{"type":"nick","id":{},"old":{},"new":{}}}"#,
            json(&member.id),
            json(&old),
            json(name)
        );
        let logged = Delivery::Log(socket, format!("is now called {name}"));
        vec![logged, Delivery::All(renamed)]
    }

    /// Everyone here, as a JSON array of `{"id":…,"name":…}`.
    fn roll_call(&self) -> String {
        let members: Vec<String> = self
            .members
            .values()
            .map(|m| format!(r#"{{"id":{},"name":{}}}"#, json(&m.id), json(&m.name)))
            .collect();
        format!("[{}]", members.join(","))
    }
}

/// A name a member may take: 1 to [`MAX_NAME`] characters, letters and
/// digits (of any script), `-`, `_` and `.`: printable, no spaces, and
/// nothing that could pass for punctuation of the room's own.
pub fn valid_name(name: &str) -> Result<(), &'static str> {
    let length = name.chars().count();
    if length == 0 {
        return Err("a name needs at least one character: /nick NAME");
    }
    if length > MAX_NAME {
        return Err("a name has at most 20 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || "-_.".contains(c))
    {
        return Err("a name has letters, digits, '-', '_' and '.' only");
    }
    Ok(())
}

/// What the room calls a member before it picks a name: the last six hex
/// digits of its id (its microseconds: they differ from client to client).
pub fn short_id(id: &str) -> &str {
    &id[id.len().saturating_sub(6)..]
}

/// A text for one member.
fn to(socket: Socket, text: String) -> Delivery {
    Delivery::To(socket, Message::Text(text))
}

fn reply(socket: Socket, text: &str) -> Vec<Delivery> {
    let reply = format!(r#"{{"type":"reply","text":{}}}"#, json(text));
    vec![to(socket, reply)]
}

fn error(socket: Socket, text: &str) -> Vec<Delivery> {
    let error = format!(r#"{{"type":"error","text":{}}}"#, json(text));
    vec![to(socket, error)]
}

fn help() -> String {
    let tutorial: Vec<String> = tutorial::COMMANDS.iter().map(|c| format!("/{c}")).collect();
    format!(
        "Type to talk to everyone. Commands: /nick NAME, /who, /help, {}.",
        tutorial.join(", ")
    )
}

fn text_of(message: Message) -> String {
    match message {
        Message::Text(text) => text,
        Message::Binary(data) => String::from_utf8_lossy(&data).into_owned(),
    }
}

/// `text` as a JSON string (RFC 8259 §7): in quotes, with `"`, `\` and the
/// control characters escaped.
pub fn json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn clock() -> Clock {
        Clock {
            uptime: Duration::from_secs(61),
            now: UNIX_EPOCH + Duration::from_secs(1_795_568_523),
        }
    }

    /// A socket number, as the server would hand one to the room.
    fn s(n: i32) -> Socket {
        Socket::numbered(n)
    }

    fn say(room: &mut Room, socket: Socket, text: &str) -> Vec<Delivery> {
        room.hear(socket, Message::Text(text.into()), clock())
    }

    /// A room with two members: alice (socket 5) and bob (socket 6).
    fn two() -> Room {
        let mut room = Room::default();
        room.join(s(5), "6b11733f0a1111");
        room.join(s(6), "6b11733f0b2222");
        room
    }

    #[test]
    fn a_newcomer_is_welcomed_and_everyone_hears() {
        let mut room = two();
        let deliveries = room.join(s(7), "6b11733f0c3333");
        assert_eq!(
            deliveries,
            [
                Delivery::Log(s(7), "joined the room as 0c3333".into()),
                Delivery::To(
                    s(7),
                    Message::Text(r#"{"type":"welcome","id":"6b11733f0c3333","name":"0c3333","members":[{"id":"6b11733f0a1111","name":"0a1111"},{"id":"6b11733f0b2222","name":"0b2222"}]}"#.into())
                ),
                Delivery::All(r#"{"type":"join","id":"6b11733f0c3333","name":"0c3333"}"#.into()),
            ]
        );
        assert_eq!(room.len(), 3);
    }

    #[test]
    fn words_go_to_everyone_with_who_said_them() {
        let mut room = two();
        assert_eq!(
            say(&mut room, s(5), "hello \"bob\""),
            [Delivery::All(
                r#"{"type":"message","id":"6b11733f0a1111","name":"0a1111","text":"hello \"bob\""}"#
                    .into()
            )]
        );
    }

    #[test]
    fn nicknames_are_checked_and_announced() {
        let mut room = two();
        assert_eq!(
            say(&mut room, s(5), "/nick alice"),
            [
                Delivery::Log(s(5), "is now called alice".into()),
                Delivery::All(
                    r#"{"type":"nick","id":"6b11733f0a1111","old":"0a1111","new":"alice"}"#.into()
                )
            ]
        );
        let refused = |deliveries: Vec<Delivery>| matches!(&deliveries[..], [Delivery::To(who, Message::Text(text))] if *who == s(6) && text.contains(r#""type":"error""#));
        assert!(refused(say(&mut room, s(6), "/nick ALICE")), "taken");
        room.join(s(7), "6b11733f0c3333");
        assert!(
            refused(say(&mut room, s(6), "/nick 0c3333")),
            "carol's name"
        );
        assert!(refused(say(&mut room, s(6), "/nick")));
        assert!(refused(say(&mut room, s(6), "/nick bob smith")));
        assert!(refused(say(&mut room, s(6), "/nick <script>")));
        assert!(refused(say(
            &mut room,
            s(6),
            &format!("/nick {}", "b".repeat(21))
        )));
        let renamed = say(&mut room, s(6), &format!("/nick {}", "β".repeat(20)));
        assert!(matches!(
            &renamed[..],
            [Delivery::Log(who, _), Delivery::All(_)] if *who == s(6)
        ));
        let said = say(&mut room, s(5), "hi");
        assert!(matches!(&said[..], [Delivery::All(text)] if text.contains(r#""name":"alice""#)));
    }

    #[test]
    fn who_and_the_tutorials_commands_answer_the_one_who_asked() {
        let mut room = two();
        let who = say(&mut room, s(6), "/who");
        assert!(
            matches!(&who[..], [Delivery::To(who, Message::Text(text))] if *who == s(6) && text.starts_with(r#"{"type":"who","members":[{"#))
        );
        assert_eq!(
            say(&mut room, s(6), "/age"),
            [Delivery::To(
                s(6),
                Message::Text(
                    r#"{"type":"reply","text":"I have been running for 1 min 1 s."}"#.into()
                )
            )]
        );
        assert_eq!(
            say(&mut room, s(6), "/bye"),
            [
                Delivery::To(
                    s(6),
                    Message::Text(r#"{"type":"reply","text":"Goodbye!"}"#.into())
                ),
                Delivery::Close(s(6))
            ]
        );
        let unknown = say(&mut room, s(6), "/frobnicate");
        assert!(
            matches!(&unknown[..], [Delivery::To(who, Message::Text(text))] if *who == s(6) && text.contains("unknown command"))
        );
        assert!(
            matches!(&say(&mut room, s(6), "/help")[..], [Delivery::To(who, Message::Text(text))] if *who == s(6) && text.contains("/nick NAME"))
        );
    }

    #[test]
    fn a_leaver_is_announced_once() {
        let mut room = two();
        assert_eq!(
            room.leave(s(6)),
            [
                Delivery::Log(s(6), "left the room".into()),
                Delivery::All(r#"{"type":"leave","id":"6b11733f0b2222","name":"0b2222"}"#.into())
            ]
        );
        assert_eq!(room.leave(s(6)), []);
        assert_eq!(say(&mut room, s(6), "anyone?"), []);
        assert_eq!(room.len(), 1);
    }

    #[test]
    fn json_strings_escape_what_they_must() {
        assert_eq!(json("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
    }
}
