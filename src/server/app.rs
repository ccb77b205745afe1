//! What the server asks of an app: the one interface between the loop and
//! what the server says (`src/app/`).
//!
//! The PHP's loop had its answer written into it: `"You have entered:
//! ".$decoded_data` (line 63). Here the loop hands each event to an [`App`]
//! and sends what it answers: the tutorial's replies, the echo, or the chat
//! room, chosen once, in `main.rs`. So the loop never asks which mode it is
//! in, and an app never touches a socket: it names one, to say to whom.

use super::poll::Socket;
use crate::protocol::reader::Message;
use std::time::Instant;

/// Something an app wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A message for one client.
    To(Socket, Message),
    /// A text for everyone [`App::members`] names: encoded once, and the
    /// same frame queued for each.
    All(String),
    /// Start the closing handshake with this client (1000), after what was
    /// queued for it before.
    Close(Socket),
    /// A line for the log about this client: written after its id, within
    /// its address's budget, as every line a peer causes.
    Log(Socket, String),
}

/// What the server says: told who opened a WebSocket, what they sent, and
/// who left, it answers with [`Delivery`]s.
pub trait App {
    /// A client's handshake is done: a WebSocket is open (the PHP's
    /// `handshake = true`). `id` is its `uniqid()`.
    fn joined(&mut self, who: Socket, id: &str) -> Vec<Delivery>;

    /// A whole message from a client: the PHP's `$decoded_data`.
    fn message(&mut self, from: Socket, message: Message, now: Instant) -> Vec<Delivery>;

    /// A client can take no more messages: it is closing, failed, or gone.
    fn left(&mut self, who: Socket) -> Vec<Delivery>;

    /// Who a [`Delivery::All`] goes to, in socket order.
    fn members(&self) -> Vec<Socket>;

    /// What the app calls a client, if it has a name for it (the chat
    /// room's nickname): shown in `--inspect`'s table. Looked up, not made:
    /// it is asked for every row the inspector is sent.
    fn name_of(&self, _who: Socket) -> Option<&str> {
        None
    }
}
