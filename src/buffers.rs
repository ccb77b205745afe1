//! A client's two buffers: the bytes read but not yet used ([`Inbox`]) and
//! the bytes waiting to be written ([`Outbox`]).
//!
//! The PHP had neither. It assumed that one `socket_recv` held exactly one
//! request or one frame (lines 52 and 60), and that `socket_write` always
//! took everything (lines 63 and 157). A real socket gives half a frame, or
//! three, and takes only what fits. And it had no bound on what it held; the
//! [`Total`] here counts what every client holds, against
//! `--max-buffered`.

use std::cell::Cell;

/// An emptied buffer bigger than this is freed rather than kept: one big
/// message must not cost an idle client memory for the rest of its life.
/// (A busy client whose reads are larger than this gets a fresh buffer after
/// each of them: one allocation per 64 KiB read, a fair price for idle
/// clients that cost about 1 KiB.)
pub const KEEP_CAPACITY: usize = 16 * 1024;

/// What all clients hold together: messages still arriving and output not
/// yet written, against `--max-buffered`. Each client keeps itself counted
/// here (`Client::recount`), and takes itself out when it goes.
#[derive(Debug)]
pub struct Total {
    limit: usize,
    held: Cell<usize>,
}

impl Total {
    pub fn new(limit: usize) -> Total {
        Total {
            limit,
            held: Cell::new(0),
        }
    }

    /// A client that held `before` bytes now holds `after`.
    pub fn change(&self, before: usize, after: usize) {
        let held = self.held.get() - before.min(self.held.get());
        self.held.set(held.saturating_add(after));
    }

    /// Bytes held, all clients together.
    pub fn held(&self) -> usize {
        self.held.get()
    }

    /// Would `more` bytes take the total past the limit?
    pub fn would_pass(&self, more: usize) -> bool {
        self.held.get().saturating_add(more) > self.limit
    }
}

/// Empty `buffer`, giving its memory back if it grew past [`KEEP_CAPACITY`].
fn empty(buffer: &mut Vec<u8>) {
    if buffer.capacity() > KEEP_CAPACITY {
        *buffer = Vec::new();
    } else {
        buffer.clear();
    }
}

/// Bytes read from the socket that are not used yet: a request head still
/// incomplete, or the start of a frame. Whoever reads from it says how much
/// it used ([`Inbox::consume`], [`Inbox::take`]); a reader that needs more
/// bytes than have arrived consumes nothing and waits for the next read.
#[derive(Debug, Default)]
pub struct Inbox {
    bytes: Vec<u8>,
    /// How many bytes at the front are already used.
    read: usize,
}

impl Inbox {
    /// Append bytes just read from the socket.
    pub fn extend(&mut self, more: &[u8]) {
        // Forget the used bytes first. What is left is at most an
        // unfinished frame header or request head, so the move is short.
        self.bytes.drain(..self.read);
        self.read = 0;
        self.bytes.extend_from_slice(more);
    }

    /// The bytes not used yet.
    pub fn unread(&self) -> &[u8] {
        &self.bytes[self.read..]
    }

    /// `n` more bytes are used. `n` is at most `unread().len()`.
    pub fn consume(&mut self, n: usize) {
        self.read = (self.read + n).min(self.bytes.len());
        if self.read == self.bytes.len() {
            empty(&mut self.bytes);
            self.read = 0;
        }
    }

    /// Use the next `n` bytes (at most what is unread), handing them out
    /// mutable so the caller can unmask them in place.
    pub fn take(&mut self, n: usize) -> &mut [u8] {
        let start = self.read;
        let end = (start + n).min(self.bytes.len());
        self.read = end;
        &mut self.bytes[start..end]
    }

    /// Throw away everything, read or not (the connection is ending), and
    /// give back the memory.
    pub fn discard(&mut self) {
        empty(&mut self.bytes);
        self.read = 0;
    }

    /// Give back the memory of the used bytes once nothing is left unread.
    pub fn tidy(&mut self) {
        if self.read == self.bytes.len() {
            self.discard();
        }
    }
}

/// Bytes waiting to be written to the socket. Writes may be partial, so it
/// remembers how much of the front is already sent.
#[derive(Debug, Default)]
pub struct Outbox {
    bytes: Vec<u8>,
    sent: usize,
    /// The socket's buffer is full: the last write did not take everything,
    /// or took nothing.
    socket_full: bool,
}

impl Outbox {
    /// Where frames and responses are appended.
    pub fn queue(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// What is still to be written.
    pub fn pending(&self) -> &[u8] {
        &self.bytes[self.sent..]
    }

    /// How many bytes are still to be written.
    pub fn len(&self) -> usize {
        self.bytes.len() - self.sent
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Was the socket full at the last attempt to write? Then any bytes it
    /// takes now, it has room for because the peer read.
    pub fn socket_full(&self) -> bool {
        self.socket_full
    }

    /// A write took nothing: the socket is full.
    pub fn mark_socket_full(&mut self) {
        self.socket_full = true;
    }

    /// `n` more bytes were written. If that was not all, the socket is full.
    pub fn advance(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.bytes.len());
        self.socket_full = self.sent < self.bytes.len();
        if self.sent == self.bytes.len() {
            empty(&mut self.bytes);
            self.sent = 0;
        } else if self.sent > self.bytes.len() / 2 {
            // Drop the written half now and then, so the buffer does not
            // grow forever, without moving the bytes on every small write.
            self.bytes.drain(..self.sent);
            self.sent = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_hands_out_bytes_once_and_keeps_the_rest() {
        let mut inbox = Inbox::default();
        inbox.extend(b"hello wor");
        inbox.consume(2);
        assert_eq!(inbox.take(3), b"llo");
        assert_eq!(inbox.unread(), b" wor");
        inbox.extend(b"ld");
        assert_eq!(inbox.unread(), b" world");
        // Asking for more than there is gives what there is.
        assert_eq!(inbox.take(100), b" world");
        assert!(inbox.unread().is_empty());
    }

    #[test]
    fn an_emptied_inbox_gives_back_big_buffers() {
        let mut inbox = Inbox::default();
        inbox.extend(&vec![0; 64 * 1024]);
        inbox.consume(64 * 1024);
        assert_eq!(inbox.bytes.capacity(), 0);
        inbox.extend(&[1; 100]);
        inbox.take(100);
        inbox.tidy();
        assert!(inbox.bytes.is_empty() && inbox.bytes.capacity() <= KEEP_CAPACITY);
    }

    #[test]
    fn outbox_writes_in_pieces() {
        let mut outbox = Outbox::default();
        outbox.queue().extend_from_slice(b"abcdef");
        outbox.advance(2);
        assert_eq!(outbox.pending(), b"cdef");
        outbox.queue().extend_from_slice(b"gh");
        outbox.advance(5);
        assert_eq!(outbox.pending(), b"h");
        outbox.advance(1);
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_partial_write_or_none_means_the_socket_is_full() {
        let mut outbox = Outbox::default();
        // Everything written at once: the socket had room.
        outbox.queue().extend_from_slice(&[0; 10]);
        outbox.advance(10);
        assert!(!outbox.socket_full());
        // A partial write: the socket is full.
        outbox.queue().extend_from_slice(&[0; 10]);
        outbox.advance(4);
        assert!(outbox.socket_full());
        // Emptied: it has room again.
        outbox.advance(6);
        assert!(!outbox.socket_full());
        // A write that took nothing.
        outbox.queue().extend_from_slice(&[0; 10]);
        outbox.mark_socket_full();
        assert!(outbox.socket_full());
    }

    #[test]
    fn the_total_follows_each_clients_changes() {
        let total = Total::new(100);
        total.change(0, 60);
        total.change(0, 30);
        assert_eq!(total.held(), 90);
        assert!(!total.would_pass(10) && total.would_pass(11));
        total.change(60, 0);
        assert_eq!(total.held(), 30);
    }

    #[test]
    fn an_emptied_outbox_gives_back_big_buffers() {
        let mut outbox = Outbox::default();
        outbox.queue().extend_from_slice(&vec![0; 1 << 20]);
        outbox.advance(1 << 20);
        assert_eq!(outbox.bytes.capacity(), 0);
    }
}
