//! A message for everyone in the room: one frame, shared by every member's
//! outbox and counted once; and the room's flow control, so that whoever
//! causes the load is the one who pays for it.
//!
//! - **One frame, counted once.** A text for all is encoded once, and every
//!   member's outbox holds a reference to the same bytes
//!   (`buffers::SharedFrame`). What all clients hold together
//!   (`--max-buffered`) counts the frame's memory once, from when it is
//!   made until the last member has written it (`buffers::Counted`).
//! - **A talker waits for the readers.** When a member that reads has more
//!   than [`ROOM_BACKLOG`] of the room's frames waiting, the member whose
//!   message it was (words, a join, a new name) is not read from until
//!   every reading member has caught up: TCP then slows the talker down.
//!   Its own clocks stop meanwhile (`Connection::resume`): nobody is closed
//!   for talking fast.
//! - **A member that does not read goes.** One whose socket has taken
//!   nothing for `client::STALL_AFTER` holds back no one, and is dropped
//!   at `--max-pending-output`; when memory is short, those that will not
//!   read what waits for them go first, those whose going frees the most
//!   first.
//! - **A message the room cannot carry is refused to its sender** (1013),
//!   and every other member goes on. (A leave is always announced: it is
//!   small, and the one it is about is gone already.)

use super::poll::Socket;
use super::table::Entry;
use super::Server;
use crate::protocol::buffers::Counted;
use crate::protocol::frame::{self, OpCode};
use std::rc::Rc;
use std::time::Instant;

/// A member that reads, with more than this of the room's frames waiting,
/// holds back the room's talkers until it has read down below it.
pub(crate) const ROOM_BACKLOG: usize = 1024 * 1024;

impl Server {
    /// `Delivery::All`: encode `text` once and queue the same frame for
    /// every member; written to each once the burst is routed
    /// (`write_to_room`).
    pub(super) fn deliver_to_all(&mut self, from: Socket, text: &str, now: Instant) {
        let mut bytes = Vec::with_capacity(text.len() + 14);
        frame::encode(&mut bytes, OpCode::Text, text.as_bytes());
        let members = self.app.members();
        if !self.room_can_carry(bytes.capacity(), &members, now) {
            if let Some(Entry { client: sender, .. }) = self.clients.get_mut(from) {
                if sender.connection.is_open() {
                    return sender.refuse_for_memory(now);
                }
            }
        }
        let frame = Counted::new(bytes, self.clients.total());
        if let Some(Entry { client: sender, .. }) = self.clients.get_mut(from) {
            sender.show_frame_to_all(frame.bytes(), members.len(), now);
        }
        for &socket in &members {
            if let Some(Entry { client, .. }) = self.clients.get_mut(socket) {
                client.send_shared(&frame, now);
            }
        }
        if self.room_congested(&members, now) {
            self.hold_back(from);
        }
        self.queued_for_room += frame.bytes().len();
        if self.queued_for_room >= super::ROOM_BURST {
            self.write_to_room(now);
        }
    }

    /// Is there room in what all clients may hold for a frame of `size`
    /// bytes? If not, room is made by those that will not read what waits
    /// for them: connections already ending (failed, or closing: they lose
    /// only the courtesy of their last bytes), and members whose socket has
    /// taken nothing for `client::STALL_AFTER`; those whose going frees the
    /// most go first. A member that reads never makes room.
    fn room_can_carry(&mut self, size: usize, members: &[Socket], now: Instant) -> bool {
        let total = Rc::clone(self.clients.total());
        if !total.would_pass(size) {
            return true;
        }
        let member = |socket: &Socket| members.binary_search(socket).is_ok();
        let mut not_reading: Vec<(usize, Socket)> = self
            .clients
            .iter()
            .filter(|(socket, client)| {
                // (A page being sent is ending too, but it reads.)
                let ending = !client.connection.is_open() && !client.sending_file();
                ending || (member(socket) && client.is_stalled(now))
            })
            .map(|(socket, client)| (client.freed_if_dropped(), socket))
            .filter(|(freed, _)| *freed > 0)
            .collect();
        not_reading.sort_unstable_by(|a, b| b.cmp(a)); // the most freed first
        for (_, socket) in not_reading {
            if !total.would_pass(size) {
                break;
            }
            if let Some(Entry { client, .. }) = self.clients.get_mut(socket) {
                client.drop_for_room(now);
            }
            self.clients.mark_gone(socket);
        }
        !total.would_pass(size)
    }

    /// Does a member that reads have more than [`ROOM_BACKLOG`] of the
    /// room's frames waiting? (Its own answers do not count: they are its
    /// own business, held to its own cap.)
    fn room_congested(&self, members: &[Socket], now: Instant) -> bool {
        members.iter().any(|&socket| {
            self.clients.get(socket).is_some_and(|entry| {
                let client = &entry.client;
                !client.is_stalled(now) && client.room_backlog() > ROOM_BACKLOG
            })
        })
    }

    /// Stop reading from `talker` until the room's readers have caught up.
    fn hold_back(&mut self, talker: Socket) {
        if let Some(Entry { client, .. }) = self.clients.get_mut(talker) {
            if !client.held_back {
                client.held_back = true;
                self.held_back.push(talker);
                self.changed.push(talker);
            }
        }
    }

    /// Once the room's readers have caught up, read from the talkers held
    /// back again, their clocks started anew. (Once a turn, before the
    /// wait.)
    pub(super) fn let_talkers_go(&mut self, now: Instant) {
        if self.room_congested(&self.app.members(), now) {
            return;
        }
        for talker in std::mem::take(&mut self.held_back) {
            if let Some(Entry { client, .. }) = self.clients.get_mut(talker) {
                client.let_go(now);
                self.changed.push(talker);
            }
        }
    }
}
