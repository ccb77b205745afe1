//! A client's row in the inspector's table: what the PHP kept in
//! `$clients[$socket]` (its id and its `handshake` flag), and what the
//! record keeps beside it: the peer, the state, the app's name for it,
//! the bytes and frames both ways, what waits to be written, and the next
//! deadline with what it is for.

use super::describe::state_name;
use super::json::Object;
use super::Feed;
use crate::config::Limits;
use crate::protocol::connection::State;
use crate::server::client::Client;
use crate::server::poll::Socket;
use std::time::Instant;

/// The row of `client`, known to the app as `name`, written into `o`.
pub(crate) fn row(
    o: &mut Object,
    socket: Socket,
    client: &Client,
    name: Option<&str>,
    limits: &Limits,
    feed: &Feed,
) {
    let (frames_in, frames_out) = client.connection.frames();
    let watch = client.watch.as_deref();
    let counted = |f: fn(&super::watch::Watch) -> u64| watch.map_or(0, f);
    o.str("id", &client.id)
        .int("socket", socket.number())
        .str("peer", &client.peer.to_string())
        .bool("handshake", watch.is_some_and(|w| w.handshaken))
        .str("state", state_name(client.state()))
        .bool("held_back", client.held_back)
        .opt_str("name", name)
        .num("since", counted(|w| w.accepted))
        .num("bytes_in", counted(|w| w.bytes_in))
        .num("bytes_out", counted(|w| w.bytes_out))
        .num("frames_in", frames_in)
        .num("frames_out", frames_out)
        .num("queued", client.unread() as u64)
        .num("queued_room", client.room_backlog() as u64);
    match next_deadline(client, limits) {
        Some((at, what)) => o.num("deadline", feed.millis(at)).str("deadline_for", what),
        None => o.null("deadline").null("deadline_for"),
    };
}

/// When the client is next due, and what for: the deadline is the
/// connection's (`Connection::timer` decides it from the state), or the
/// record's tidy timer.
fn next_deadline(client: &Client, limits: &Limits) -> Option<(Instant, &'static str)> {
    let at = client.deadline()?;
    if client.connection.deadline() != Some(at) {
        return Some((at, "giving back memory grown for a big message"));
    }
    let what = match client.state() {
        State::Handshaking { .. } => "the whole request head (--handshake-timeout)",
        State::Open {
            message_since: Some((_, since)),
            ..
        } if limits.message_timeout.is_some_and(|t| since + t == at) => {
            "the rest of a message begun (--message-timeout)"
        }
        State::Open { pinged: false, .. } => "a ping if it stays silent (--idle-timeout)",
        State::Open { pinged: true, .. } => "an answer to our ping, else close 1011",
        State::Closing { .. } => "the peer's close frame (--close-timeout)",
        State::Flushing { .. } => "the peer to read our last bytes (--close-timeout)",
        State::Lingering { .. } => "the peer to close TCP (--close-timeout)",
        State::Gone => "nothing: it is closed at the end of this turn",
    };
    Some((at, what))
}
