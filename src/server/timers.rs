//! Deadlines in time order: which client needs attention first, found
//! without looking at every client.
//!
//! Each client has at most one deadline at a time (`Client::deadline`: its
//! handshake, its idle ping, the peer's close frame, ...), and the loop
//! must wake for the earliest even if no socket stirs. Asking every client
//! on every turn costs time in proportion to all of them, idle or not: with
//! 10,000 idle connections, that alone dwarfs serving the busy ones (with
//! the poll list rebuilt each turn too, 10 active clients beside 5,000 idle
//! ones kept 3% of their rate; with both gone, they keep all of it). So
//! the deadlines wait in a heap, earliest on top.
//!
//! A deadline that moves *later* (a message arrived, so the idle ping can
//! wait) is left where it was: the old entry comes up early, the loop finds
//! nothing due, and the client is filed again at its new time. Only a
//! deadline that moves *earlier* is filed at once. So a message usually
//! costs nothing here. The client table keeps, for each client, the time it
//! was last filed at (`Entry::filed`): an entry that does not match it is
//! left over, and skipped (`Clients::take_due`).

use crate::server::poll::Socket;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Socket)>>,
}

impl Timers {
    /// File `socket` to be looked at, at `at`.
    pub fn file(&mut self, at: Instant, socket: Socket) {
        self.heap.push(Reverse((at, socket)));
    }

    /// The earliest time filed.
    pub fn first(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The earliest entry, if its time has come, taken out.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, Socket)> {
        match self.first() {
            Some(at) if at <= now => self.heap.pop().map(|Reverse(entry)| entry),
            _ => None,
        }
    }

    /// How many entries, left-over ones included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Start again from these entries alone: the left-over ones go.
    pub(crate) fn rebuild(&mut self, entries: impl Iterator<Item = (Instant, Socket)>) {
        self.heap = entries.map(Reverse).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_earliest_comes_first_and_only_when_due() {
        let start = Instant::now();
        let at = |s| start + Duration::from_secs(s);
        let mut timers = Timers::default();
        timers.file(at(30), Socket::numbered(7));
        timers.file(at(10), Socket::numbered(8));
        timers.file(at(20), Socket::numbered(9));
        assert_eq!(timers.first(), Some(at(10)));
        assert_eq!(timers.pop_due(at(5)), None);
        assert_eq!(timers.pop_due(at(25)), Some((at(10), Socket::numbered(8))));
        assert_eq!(timers.pop_due(at(25)), Some((at(20), Socket::numbered(9))));
        assert_eq!(timers.pop_due(at(25)), None);
        assert_eq!(timers.len(), 1);
        timers.rebuild([(at(40), Socket::numbered(9))].into_iter());
        assert_eq!(timers.first(), Some(at(40)));
    }
}
