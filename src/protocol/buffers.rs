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
use std::collections::VecDeque;
use std::rc::Rc;

/// A buffer may keep this much memory for good. A bigger one keeps its
/// memory while its client is busy (freeing and allocating 64 KiB per
/// message cost three `brk` calls and the page faults after them, and
/// halved the rate of 64 KiB echoes), and gives it back a moment after it
/// last held much (the server's tidy timer calls `give_back_spare`), however
/// many small messages come meanwhile: one big message must not cost a
/// client memory for the rest of its life, and an idle connection costs
/// about 1 KiB.
pub(crate) const KEEP_CAPACITY: usize = 16 * 1024;

/// What all clients hold together: messages still arriving and output not
/// yet written, against `--max-buffered`. Whoever holds a connection keeps
/// it counted here ([`Total::change`]), and takes it out when it goes.
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
        let held = self.held.get().saturating_sub(before);
        self.held.set(held.saturating_add(after));
    }

    /// Bytes counted, all clients together.
    pub fn sum(&self) -> usize {
        self.held.get()
    }

    /// The most one client that counts `counted` now may hold: the limit,
    /// less what all the others hold.
    pub(crate) fn room_for(&self, counted: usize) -> usize {
        let others = self.held.get().saturating_sub(counted);
        self.limit.saturating_sub(others)
    }

    /// Count `more` bytes now, if they do not take the total past the
    /// limit; `false` (and nothing counted) if they would.
    pub(crate) fn reserve(&self, more: usize) -> bool {
        let held = self.held.get().saturating_add(more);
        if held > self.limit {
            return false;
        }
        self.held.set(held);
        true
    }

    /// Would `more` bytes take the total past the limit?
    pub(crate) fn would_pass(&self, more: usize) -> bool {
        self.held.get().saturating_add(more) > self.limit
    }
}

/// What `buffer` counts for in [`Total`]: a small buffer, the bytes it
/// holds (`in_use`); a buffer grown past [`KEEP_CAPACITY`], all its memory,
/// used or kept for later.
pub(crate) fn counts_for(buffer: &Vec<u8>, in_use: usize) -> usize {
    if buffer.capacity() > KEEP_CAPACITY {
        buffer.capacity()
    } else {
        in_use
    }
}

/// Give back the memory of an empty `buffer` that grew past
/// [`KEEP_CAPACITY`].
fn give_back(buffer: &mut Vec<u8>) {
    if buffer.is_empty() && buffer.capacity() > KEEP_CAPACITY {
        *buffer = Vec::new();
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

    /// `n` more bytes are used. `n` is at most `unread().len()`. (They
    /// stay in memory until the next read makes room, [`Inbox::extend`]:
    /// nothing more to do here.)
    pub(crate) fn consume(&mut self, n: usize) {
        self.read = (self.read + n).min(self.bytes.len());
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
        self.bytes = Vec::new();
        self.read = 0;
    }

    /// Once nothing is left unread, start again at the front: so that the
    /// tidy timer (`give_back_spare`) finds it empty. (Between reads this is
    /// not needed: the next read makes room, [`Inbox::extend`].)
    fn rewind(&mut self) {
        if self.read == self.bytes.len() {
            self.bytes.clear();
            self.read = 0;
        }
    }

    /// Nothing unread, but holding more memory than it may keep for good.
    pub(crate) fn holds_spare(&self) -> bool {
        self.unread().is_empty() && self.bytes.capacity() > KEEP_CAPACITY
    }

    /// What it counts for in [`Total`]: the bytes not used yet. (Its
    /// memory is not counted: it grows with the reads, at most about two
    /// of them, not with what a peer declares, and the tidy timer gives it
    /// back.)
    pub fn counted(&self) -> usize {
        self.unread().len()
    }

    /// The tidy timer: give back what [`Inbox::holds_spare`].
    pub(crate) fn give_back_spare(&mut self) {
        self.rewind();
        give_back(&mut self.bytes);
    }
}

/// A payload at least this big is moved into the outbox as a piece of its
/// own rather than copied behind its frame header ([`Outbox::push`]).
/// Smaller ones are cheaper to copy than to send as a separate piece.
pub(crate) const MOVE_AT: usize = 16 * 1024;

/// Bytes waiting to be written to the socket, in pieces, oldest first.
///
/// Frame headers, small payloads and HTTP responses are copied onto the
/// end of the last piece ([`Outbox::queue`]). A big payload is moved in as
/// a piece of its own ([`Outbox::push`]): copying a 16 MiB message only to
/// put a 10-byte header in front of it took a fifth of the server's time
/// on big echoes. A frame for a whole room is shared ([`Outbox::share`]):
/// one copy in memory, however many members wait to be sent it. The loop
/// hands the socket several pieces in one call (`writev`, through
/// [`Outbox::pending`]). Writes may be partial, so it remembers how much of
/// the first piece is already sent.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// The last piece, if it is this outbox's own, is the one appended to.
    pieces: VecDeque<Piece>,
    /// How much of the first piece is written already.
    sent: usize,
    /// Bytes still to be written, all pieces together...
    len: usize,
    /// ...of which in frames shared with other outboxes.
    shared_len: usize,
    /// The socket's buffer is full: the last write did not take everything
    /// it was offered, or took nothing.
    socket_full: bool,
    /// A moved-in payload, all written: its memory can serve the next
    /// message (`Outbox::take_written`).
    written: Option<Vec<u8>>,
}

/// A frame written once and queued for many (a room's message): one copy
/// in memory, however many outboxes hold it.
pub type SharedFrame = Rc<Counted>;

/// Bytes counted in a [`Total`] for as long as they live: made with
/// [`Counted::new`], taken out of the total when the last holder lets go.
/// (So a shared frame is counted once, and nothing has to look for it.)
#[derive(Debug)]
pub struct Counted {
    bytes: Vec<u8>,
    total: Rc<Total>,
}

impl Counted {
    /// `bytes`, counted in `total` from now on, ready to be shared.
    pub(crate) fn new(bytes: Vec<u8>, total: &Rc<Total>) -> SharedFrame {
        total.change(0, bytes.capacity());
        Rc::new(Counted {
            bytes,
            total: Rc::clone(total),
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.total.change(self.bytes.capacity(), 0);
    }
}

/// One piece of an outbox.
#[derive(Debug)]
enum Piece {
    /// Bytes of this outbox's own: it counts them, and frees them.
    Own(Vec<u8>),
    /// A frame queued for many (a room's): whoever made it counts it, once;
    /// it is freed when the last outbox that holds it has written it.
    Shared(SharedFrame),
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Own(bytes) => bytes,
            Piece::Shared(frame) => frame.bytes(),
        }
    }
}

/// At most this many pieces are offered to one write.
pub(crate) const PIECES_PER_WRITE: usize = 4;

impl Outbox {
    /// Append to the last piece with `write` (frame headers, small frames,
    /// responses, a file's next chunk). The bytes written already are
    /// dropped first if they are more than half of the only piece: often
    /// enough that the buffer does not grow forever under a stream of
    /// small writes, and only when something is added, so that a big reply
    /// being written bit by bit is never moved (moving it on each partial
    /// write was 4% of a 16 MiB echo).
    pub(crate) fn queue<R>(&mut self, write: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        if !matches!(self.pieces.back(), Some(Piece::Own(_))) {
            self.pieces.push_back(Piece::Own(Vec::new()));
        }
        if let (1, Some(Piece::Own(first))) = (self.pieces.len(), self.pieces.front_mut()) {
            if self.sent > first.len() / 2 {
                first.drain(..self.sent);
                self.sent = 0;
            }
        }
        let Some(Piece::Own(last)) = self.pieces.back_mut() else {
            unreachable!("the last piece is our own: pushed above if not");
        };
        let before = last.len();
        let result = write(last);
        self.len += last.len() - before;
        result
    }

    /// Move `payload` in as a piece of its own, after everything queued so
    /// far; it is freed once written.
    pub fn push(&mut self, payload: Vec<u8>) {
        if !payload.is_empty() {
            self.len += payload.len();
            self.pieces.push_back(Piece::Own(payload));
            // What comes next goes into a fresh piece, not behind it.
            self.pieces.push_back(Piece::Own(Vec::new()));
        }
    }

    /// Queue a frame shared with other outboxes (a room's), after
    /// everything queued so far: this outbox holds a reference, not a copy.
    pub(crate) fn share(&mut self, frame: &SharedFrame) {
        let len = frame.bytes().len();
        if len > 0 {
            self.len += len;
            self.shared_len += len;
            self.pieces.push_back(Piece::Shared(Rc::clone(frame)));
        }
    }

    /// What is still to be written, as up to `out.len()` pieces in order;
    /// returns how many it filled in.
    pub fn pending<'a>(&'a self, out: &mut [&'a [u8]]) -> usize {
        let first = self
            .pieces
            .iter()
            .take(1)
            .map(|piece| &piece.bytes()[self.sent..]);
        let rest = self.pieces.iter().skip(1).map(Piece::bytes);
        let mut count = 0;
        for piece in first.chain(rest).filter(|piece| !piece.is_empty()) {
            if count == out.len() {
                break;
            }
            out[count] = piece;
            count += 1;
        }
        count
    }

    /// How many bytes are still to be written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// How many of them are its own (not frames shared with others).
    pub(crate) fn own_len(&self) -> usize {
        self.len - self.shared_len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Was the socket full at the last attempt to write? Then any bytes it
    /// takes now, it has room for because the peer read.
    pub(crate) fn socket_full(&self) -> bool {
        self.socket_full
    }

    /// A write took nothing: the socket is full.
    pub(crate) fn mark_socket_full(&mut self) {
        self.socket_full = true;
    }

    /// The socket took `n` bytes of what [`Outbox::pending`] offered. If
    /// that was not all it was offered, the socket is full.
    pub(crate) fn advance(&mut self, n: usize) {
        // What the loop was offered: the same pieces `pending` gives now
        // (nothing has changed since), as many as one write takes.
        let mut offered = [&[][..]; PIECES_PER_WRITE];
        let count = self.pending(&mut offered);
        let offered: usize = offered[..count].iter().map(|piece| piece.len()).sum();
        self.socket_full = n < offered;
        let mut n = n.min(self.len);
        self.len -= n;
        let mut pieces_left = self.pieces.len();
        while let Some(first) = self.pieces.front_mut() {
            let left = first.bytes().len() - self.sent;
            let shared = matches!(first, Piece::Shared(_));
            if n < left {
                self.sent += n;
                self.shared_len -= if shared { n } else { 0 };
                break;
            }
            self.shared_len -= if shared { left } else { 0 };
            // This piece is all written. Our own last one stays, emptied,
            // keeping its memory for what comes next; the others go (a
            // shared frame is freed with its last holder's reference).
            n -= left;
            self.sent = 0;
            if let (1, Piece::Own(last)) = (pieces_left, &mut *first) {
                last.clear();
                break;
            }
            pieces_left -= 1;
            match self.pieces.pop_front() {
                Some(Piece::Own(piece)) if piece.capacity() >= MOVE_AT => {
                    self.written = Some(piece)
                }
                _ => {}
            }
        }
    }

    /// What it counts for in [`Total`]: each piece of its own as
    /// [`counts_for`] says. (A shared frame is counted once, by whoever
    /// made it: not here.)
    pub fn counted(&self) -> usize {
        let mut counted = 0;
        for (i, piece) in self.pieces.iter().enumerate() {
            if let Piece::Own(bytes) = piece {
                let sent = if i == 0 { self.sent } else { 0 };
                counted += counts_for(bytes, bytes.len() - sent);
            }
        }
        counted
    }

    /// The memory of a moved-in payload now written, if there is one.
    pub(crate) fn take_written(&mut self) -> Option<Vec<u8>> {
        self.written.take()
    }

    /// Empty, but holding more memory than it may keep for good.
    pub(crate) fn holds_spare(&self) -> bool {
        self.is_empty()
            && self.pieces.iter().any(|piece| match piece {
                Piece::Own(bytes) => bytes.capacity() > KEEP_CAPACITY,
                Piece::Shared(_) => false,
            })
    }

    /// The tidy timer: give back what [`Outbox::holds_spare`].
    pub(crate) fn give_back_spare(&mut self) {
        if self.is_empty() {
            for piece in &mut self.pieces {
                if let Piece::Own(bytes) = piece {
                    give_back(bytes);
                }
            }
        }
    }

    /// What [`Outbox::discard`] would give back: its own pieces' memory,
    /// and the shared frames no other outbox holds.
    pub(crate) fn freed_if_discarded(&self) -> usize {
        let last_holder = |frame: &SharedFrame| Rc::strong_count(frame) == 1;
        let shared: usize = self
            .pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Shared(frame) if last_holder(frame) => Some(frame.bytes().len()),
                _ => None,
            })
            .sum();
        self.counted() + shared
    }

    /// Throw away everything not written yet (the connection is over),
    /// and give back the memory: shared frames lose a holder.
    pub(crate) fn discard(&mut self) {
        *self = Outbox::default();
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
    fn an_emptied_inbox_keeps_its_memory_until_told_to_give_it_back() {
        let mut inbox = Inbox::default();
        inbox.extend(&vec![0; 64 * 1024]);
        inbox.consume(64 * 1024);
        // Busy: the memory stays for the next read.
        assert!(inbox.bytes.capacity() >= 64 * 1024);
        assert!(inbox.holds_spare());
        inbox.extend(&[1; 100]);
        assert!(!inbox.holds_spare()); // not empty: nothing to give back
        inbox.take(100);
        inbox.rewind();
        // Quiet: given back.
        inbox.give_back_spare();
        assert_eq!(inbox.bytes.capacity(), 0);
        assert!(!inbox.holds_spare());
        // A small buffer is kept for good.
        inbox.extend(&[1; 100]);
        inbox.consume(100);
        assert!(!inbox.holds_spare());
    }

    /// Everything `outbox` offers to one write, joined.
    fn offered(outbox: &Outbox) -> Vec<u8> {
        let mut pieces = [&[][..]; PIECES_PER_WRITE];
        let count = outbox.pending(&mut pieces);
        pieces[..count].concat()
    }

    #[test]
    fn outbox_writes_in_pieces() {
        let mut outbox = Outbox::default();
        outbox.queue(|out| out.extend_from_slice(b"abcdef"));
        outbox.advance(2);
        assert_eq!(offered(&outbox), b"cdef");
        outbox.queue(|out| out.extend_from_slice(b"gh"));
        outbox.advance(5);
        assert_eq!(offered(&outbox), b"h");
        outbox.advance(1);
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_moved_in_payload_goes_out_between_what_came_before_and_after() {
        let mut outbox = Outbox::default();
        outbox.queue(|out| out.extend_from_slice(b"head"));
        let payload = vec![b'p'; MOVE_AT];
        let at = payload.as_ptr();
        outbox.push(payload);
        outbox.queue(|out| out.extend_from_slice(b"tail"));
        assert_eq!(outbox.len(), 4 + MOVE_AT + 4);
        // Offered as three pieces; the payload is the very bytes moved in.
        let mut pieces = [&[][..]; PIECES_PER_WRITE];
        assert_eq!(outbox.pending(&mut pieces), 3);
        assert_eq!(pieces[1].as_ptr(), at);
        // Written across the pieces' edges.
        outbox.advance(6);
        assert_eq!(offered(&outbox).len(), MOVE_AT - 2 + 4);
        outbox.advance(MOVE_AT - 2 + 1);
        assert_eq!(offered(&outbox), b"ail");
        outbox.advance(3);
        assert!(outbox.is_empty() && offered(&outbox).is_empty());
    }

    #[test]
    fn a_partial_write_or_none_means_the_socket_is_full() {
        let mut outbox = Outbox::default();
        // Everything written at once: the socket had room.
        outbox.queue(|out| out.extend_from_slice(&[0; 10]));
        outbox.advance(10);
        assert!(!outbox.socket_full());
        // A partial write: the socket is full.
        outbox.queue(|out| out.extend_from_slice(&[0; 10]));
        outbox.advance(4);
        assert!(outbox.socket_full());
        // Emptied: it has room again.
        outbox.advance(6);
        assert!(!outbox.socket_full());
        // More pieces than one write is offered, all taken: not full.
        for _ in 0..PIECES_PER_WRITE {
            outbox.push(vec![1; MOVE_AT]);
        }
        outbox.advance(PIECES_PER_WRITE * MOVE_AT - 1);
        assert!(outbox.socket_full());
        outbox.advance(1);
        outbox.push(vec![1; MOVE_AT]);
        outbox.push(vec![1; MOVE_AT]);
        outbox.advance(2 * MOVE_AT);
        assert!(!outbox.socket_full() && outbox.is_empty());
        // A write that took nothing.
        outbox.queue(|out| out.extend_from_slice(&[0; 10]));
        outbox.mark_socket_full();
        assert!(outbox.socket_full());
    }

    #[test]
    fn the_total_follows_each_clients_changes() {
        let total = Total::new(100);
        total.change(0, 60);
        total.change(0, 30);
        assert_eq!(total.sum(), 90);
        assert!(!total.would_pass(10) && total.would_pass(11));
        total.change(60, 0);
        assert_eq!(total.sum(), 30);
    }

    #[test]
    fn an_emptied_outbox_keeps_its_memory_until_told_to_give_it_back() {
        let mut outbox = Outbox::default();
        outbox.queue(|out| out.extend_from_slice(&vec![0; 1 << 20]));
        outbox.advance(1 << 20);
        assert!(outbox.holds_spare());
        outbox.give_back_spare();
        assert!(!outbox.holds_spare());
        let own = |piece: &Piece| match piece {
            Piece::Own(bytes) => bytes.capacity(),
            Piece::Shared(frame) => frame.bytes().len(),
        };
        assert!(outbox.pieces.iter().all(|piece| own(piece) == 0));
    }

    #[test]
    fn a_big_reply_written_bit_by_bit_is_never_moved() {
        let mut outbox = Outbox::default();
        outbox.queue(|out| out.extend_from_slice(&vec![7; 1 << 20]));
        let start = offered(&outbox).len();
        assert_eq!(start, 1 << 20);
        let first = |outbox: &Outbox| {
            let mut pieces = [&[][..]; 1];
            outbox.pending(&mut pieces);
            pieces[0].as_ptr()
        };
        let at = first(&outbox);
        outbox.advance(600 << 10);
        // Past the half, and not moved: the bytes are where they were.
        assert_eq!(first(&outbox), at.wrapping_add(600 << 10));
        // Only adding more drops the written part.
        outbox.queue(|out| out.extend_from_slice(b"next"));
        assert_eq!(outbox.len(), (424 << 10) + 4);
        assert_eq!(outbox.sent, 0);
    }

    /// Would fail if a frame shared by many outboxes (a room's) were
    /// counted by each of them, or freed before the last had written it.
    /// What all clients hold is then what each holds of its own, and each
    /// shared frame once.
    #[test]
    fn a_shared_frame_is_counted_once_and_freed_with_its_last_holder() {
        let total = Rc::new(Total::new(1 << 20));
        let frame = Counted::new(vec![1; 100_000], &total);
        let (mut a, mut b) = (Outbox::default(), Outbox::default());
        a.queue(|out| out.extend_from_slice(b"own"));
        a.share(&frame);
        b.share(&frame);
        assert_eq!((a.len(), a.own_len(), a.counted()), (100_003, 3, 3));
        assert_eq!((b.len(), b.own_len(), b.counted()), (100_000, 0, 0));
        total.change(0, a.counted() + b.counted());
        assert_eq!(total.sum(), 100_003, "the frame once, and a's own bytes");
        drop(frame);
        a.advance(a.len());
        assert_eq!(total.sum(), 100_003, "b still holds it");
        b.advance(50_000);
        assert_eq!(b.own_len(), 0);
        b.advance(50_000);
        assert_eq!(total.sum(), 3, "freed with its last holder");
    }
}
