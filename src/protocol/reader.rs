//! Reading one WebSocket connection's frames into messages (RFC 6455 §5),
//! with no sockets in sight.
//!
//! This is the half the PHP tutorial is missing. Its loop called `unmask()`
//! on whatever one `socket_recv()` returned (line 62) and assumed that was
//! one whole frame holding one whole message. In reality a read can hold
//! half a frame, or three frames; a message can be split over many frames;
//! pings and closes arrive in between.
//!
//! [`MessageReader::read_event`] takes the bytes waiting in a client's
//! [`Inbox`] and walks through them: frame header, then payload pieces as
//! they arrive (unmasked and checked at once, so nothing is allocated from a
//! length the peer merely declared). It stops at the first thing the
//! connection must act on, an [`Incoming`]: a whole message, a ping, a
//! pong, a close, or a broken rule. What to answer, and when the connection
//! ends, is the connection's business (`connection.rs`); this module only
//! reads.
//!
//! Data flows one way: bytes -> frames -> messages (here) -> events
//! (`connection.rs`) -> the app's answers (`src/app/`) -> frames
//! (`frame::encode`) -> bytes.

use crate::protocol::buffers::{counts_for, Inbox, KEEP_CAPACITY};
use crate::protocol::close::{self, CloseFrame, Violation};
use crate::protocol::extensions;
use crate::protocol::frame::{self, Header, OpCode};
use crate::protocol::seen::Seen;
use crate::protocol::utf8::Utf8Check;

/// A complete message from the peer, or one to send to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

/// What the reader found, for the connection to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A whole text or binary message arrived (§5.6).
    Message(Message),
    /// A ping, with its application data: it wants a pong (§5.5.2).
    Ping(Vec<u8>),
    /// A pong (§5.5.3): an answer to our ping, or unsolicited.
    Pong(Vec<u8>),
    /// The peer's close frame, checked (§5.5.1).
    Close(CloseFrame),
    /// The peer broke a rule; the connection must fail (§7.1.7). The
    /// reader's state is no longer meaningful: read nothing more.
    Failed(Violation),
}

/// The frame whose payload is arriving.
#[derive(Debug)]
struct IncomingFrame {
    header: Header,
    /// Payload bytes of this frame seen so far.
    received: u64,
    /// With `--trace`: its bytes, kept to be shown once it is whole.
    seen: Option<Seen>,
}

/// A text or binary message being put together from its frames (§5.4).
#[derive(Debug)]
struct PartialMessage {
    text: bool,
    /// Its first frame had RSV1 set: `data` is DEFLATE, to be inflated
    /// once the last frame is in (RFC 7692 §6.2).
    compressed: bool,
    data: Vec<u8>,
    utf8: Utf8Check,
}

/// The reading side of one WebSocket connection: where it is in the frame
/// now arriving, and in the message being put together.
#[derive(Debug)]
pub struct MessageReader {
    /// The largest message we accept, in bytes (§10.4): as it arrives, and
    /// once inflated.
    max_message_size: usize,
    /// permessage-deflate was agreed (RFC 7692): a message may come
    /// compressed.
    deflate: bool,
    /// The most a message may inflate to now, besides the size limit:
    /// what the server can still hold (`allow`).
    room: usize,
    frame: Option<IncomingFrame>,
    message: Option<PartialMessage>,
    /// The payload of the control frame now arriving (at most 125 bytes).
    control: Vec<u8>,
    /// `--trace` is on: keep what each frame looked like.
    trace: bool,
    /// With `--trace`: the frames read whole since [`MessageReader::seen_frames`].
    seen: Vec<Seen>,
    /// How many messages and control frames have begun, so far: each gets
    /// the next number, and keeps it until it ends.
    begun: u64,
    /// The number of the message now being put together, if one is.
    message_number: u64,
    /// Frames read whole so far (`--inspect` shows the count).
    frames_read: u64,
    /// Memory from an earlier message, handed back once its reply was
    /// written (`recycle`): the next message grows into it instead of into
    /// fresh pages. A fresh page costs a fault: 3,800 of them per 16 MiB
    /// message, a third of the time of a 16 MiB echo.
    spare: Vec<u8>,
}

impl MessageReader {
    pub fn new(max_message_size: usize, trace: bool) -> MessageReader {
        MessageReader {
            max_message_size,
            deflate: false,
            room: usize::MAX,
            frame: None,
            message: None,
            control: Vec::new(),
            trace,
            seen: Vec::new(),
            begun: 0,
            message_number: 0,
            frames_read: 0,
            spare: Vec::new(),
        }
    }

    /// The handshake agreed to permessage-deflate: from now on RSV1 on a
    /// message's first frame means "compressed" (RFC 7692 §6).
    pub(crate) fn agree_deflate(&mut self) {
        self.deflate = true;
    }

    /// How much a compressed message may inflate to, for what the server
    /// can still hold: past it, the message fails with 1013, as one that
    /// arrives that big does (`connection.rs`).
    pub(crate) fn allow(&mut self, room: usize) {
        self.room = room;
    }

    /// Bytes held in a message or control frame not yet whole.
    pub fn buffered(&self) -> usize {
        self.message.as_ref().map_or(0, |m| m.data.len()) + self.control.len()
    }

    /// What it counts for in the server's total (`buffers::counts_for`): the
    /// message arriving and the control frame, and the memory kept for the
    /// next message.
    pub fn counted(&self) -> usize {
        let message = self
            .message
            .as_ref()
            .map_or(0, |m| counts_for(&m.data, m.data.len()));
        message + self.control.len() + counts_for(&self.spare, 0)
    }

    /// The number of what is arriving now, if anything is: a message (all
    /// its fragments share one number, control frames between them too),
    /// or a control frame. The next number once a frame's header has begun
    /// to arrive (`header_begun`) and nothing else is under way. The same
    /// number for as long as the same thing is arriving: so the connection
    /// can time how long each one takes, however the reads cut it.
    pub(crate) fn arriving(&self, header_begun: bool) -> Option<u64> {
        if self.message.is_some() {
            Some(self.message_number)
        } else if self.frame.is_some() {
            Some(self.begun)
        } else {
            header_begun.then_some(self.begun + 1)
        }
    }

    /// Forget a half-read frame and message, and give their memory back:
    /// the connection is ending, and nothing more will be read.
    pub fn discard(&mut self) {
        self.frame = None;
        self.message = None;
        self.control = Vec::new();
        self.spare = Vec::new();
    }

    /// A message's memory, back from the outbox once its reply was
    /// written: kept for the next message, if it is bigger than what is
    /// kept already.
    pub(crate) fn recycle(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() > self.spare.capacity() {
            buffer.clear();
            self.spare = buffer;
        }
    }

    /// The memory kept for the next message.
    pub(crate) fn spare_capacity(&self) -> usize {
        self.spare.capacity()
    }

    /// The tidy timer: give back the memory kept for the next
    /// message, if it is more than a buffer may keep for good.
    pub(crate) fn give_back_spare(&mut self) {
        if self.spare.capacity() > KEEP_CAPACITY {
            self.spare = Vec::new();
        }
    }

    /// With `--trace`: the frames read whole since the last call, in order,
    /// for the connection to keep for the trace (it keeps them before it
    /// acts on an event).
    pub(crate) fn seen_frames(&mut self) -> Vec<Seen> {
        std::mem::take(&mut self.seen)
    }

    /// Keep what each frame looked like from the next frame on, or stop:
    /// `--inspect` turns it on only while someone looks.
    pub(crate) fn keep_seen(&mut self, on: bool) {
        self.trace = on;
    }

    /// How many frames were read whole so far.
    pub(crate) fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// Read frames from `inbox` until something happens or the bytes run
    /// out (`None`: call again after the next read from the socket).
    ///
    /// The bytes it uses are consumed from the inbox and unmasked in place;
    /// an unfinished frame header is left there for the next call. After an
    /// [`Incoming::Failed`], stop calling.
    pub fn read_event(&mut self, inbox: &mut Inbox) -> Option<Incoming> {
        match self.read_frames(inbox) {
            Ok(event) => event,
            Err(violation) => {
                self.discard();
                Some(Incoming::Failed(violation))
            }
        }
    }

    /// The steps of `read_event`.
    fn read_frames(&mut self, inbox: &mut Inbox) -> Result<Option<Incoming>, Violation> {
        loop {
            // 1. A new frame starts with its header.
            if self.frame.is_none() {
                let bytes = inbox.unread();
                let Some(header) = frame::parse_header_with(bytes, true, self.deflate)? else {
                    return Ok(None); // the header is not all here yet
                };
                self.start_frame(header, &inbox.unread()[..header.header_len])?;
                inbox.consume(header.header_len);
            }
            // 2. Then its payload, as much of it as has arrived.
            self.take_payload(inbox)?;
            let Some(header) = self.complete_frame() else {
                return Ok(None); // the payload is not all here yet
            };
            // 3. The whole frame is here: a control frame or a message's
            // last frame is an event; a fragment before the last is not.
            if let Some(event) = self.finish_frame(header)? {
                return Ok(Some(event));
            }
        }
    }

    /// A frame header arrived (`bytes`): check the rules that depend on
    /// what came before it, then get ready for its payload.
    fn start_frame(&mut self, header: Header, bytes: &[u8]) -> Result<(), Violation> {
        match header.opcode {
            OpCode::Continuation => {
                // §5.4: continuation frames continue a message already begun.
                let Some(message) = &self.message else {
                    return Err(Violation::UnexpectedContinuation);
                };
                self.check_size(message.data.len(), header.payload_len)?;
            }
            OpCode::Text | OpCode::Binary => {
                // §5.4: the fragments of one message are not interleaved with
                // another message's; only control frames may come between.
                if self.message.is_some() {
                    return Err(Violation::ExpectedContinuation);
                }
                self.check_size(0, header.payload_len)?;
                self.message = Some(PartialMessage {
                    text: matches!(header.opcode, OpCode::Text),
                    compressed: bytes[0] & frame::COMPRESSED != 0,
                    data: std::mem::take(&mut self.spare),
                    utf8: Utf8Check::default(),
                });
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => self.control.clear(),
        }
        if !matches!(header.opcode, OpCode::Continuation) {
            self.begun += 1;
        }
        if matches!(header.opcode, OpCode::Text | OpCode::Binary) {
            self.message_number = self.begun;
        }
        let text = !header.opcode.is_control() && self.message.as_ref().is_some_and(|m| m.text);
        let seen = self.trace.then(|| {
            let mut seen = Seen::incoming(header, bytes, text);
            // A compressed message's later frames are DEFLATE too, though
            // only its first has RSV1 set (RFC 7692 §6.1).
            seen.deflated |=
                !header.opcode.is_control() && self.message.as_ref().is_some_and(|m| m.compressed);
            seen
        });
        self.frame = Some(IncomingFrame {
            header,
            received: 0,
            seen,
        });
        Ok(())
    }

    /// §10.4: refuse a message that would grow past the limit as soon as a
    /// header says so, before its bytes arrive, let alone get buffered.
    fn check_size(&self, so_far: usize, more: u64) -> Result<(), Violation> {
        if (so_far as u64).saturating_add(more) > self.max_message_size as u64 {
            return Err(Violation::MessageTooBig {
                limit: self.max_message_size,
            });
        }
        Ok(())
    }

    /// Move the payload bytes now in the inbox into the message (or control
    /// payload) they belong to, unmasked.
    fn take_payload(&mut self, inbox: &mut Inbox) -> Result<(), Violation> {
        let Some(frame) = self.frame.as_mut() else {
            return Ok(());
        };
        let wanted = frame.header.payload_len - frame.received;
        let piece = inbox.take(usize::try_from(wanted).unwrap_or(usize::MAX));
        if let Some(seen) = &mut frame.seen {
            Seen::keep(&mut seen.wire, piece);
        }
        if let Some(mask) = frame.header.mask {
            frame::unmask(piece, mask, frame.received);
        }
        if let Some(seen) = &mut frame.seen {
            seen.keep_plain(piece);
        }
        frame.received += piece.len() as u64;

        if frame.header.opcode.is_control() {
            self.control.extend_from_slice(piece);
        } else if let Some(message) = self.message.as_mut() {
            let rest_of_frame = frame.header.payload_len - frame.received;
            grow(&mut message.data, piece.len(), rest_of_frame);
            message.data.extend_from_slice(piece);
            // §8.1: fail as soon as the text so far cannot be valid UTF-8
            // (compressed text can only be checked once inflated).
            let plain_text = message.text && !message.compressed;
            if plain_text && message.utf8.feed(&message.data).is_err() {
                return Err(Violation::InvalidUtf8);
            }
        }
        Ok(())
    }

    /// If all of the incoming frame's payload has arrived, take the frame
    /// out (the next bytes start a new one) and return its header.
    fn complete_frame(&mut self) -> Option<Header> {
        let incoming = self.frame.as_ref()?;
        if incoming.received < incoming.header.payload_len {
            return None;
        }
        let incoming = self.frame.take()?;
        self.frames_read += 1;
        self.seen.extend(incoming.seen);
        Some(incoming.header)
    }

    /// A whole frame arrived: control frames are events at once; data
    /// frames are, when they finish a message (FIN set).
    fn finish_frame(&mut self, header: Header) -> Result<Option<Incoming>, Violation> {
        match header.opcode {
            OpCode::Ping => Ok(Some(Incoming::Ping(self.take_control()))),
            OpCode::Pong => Ok(Some(Incoming::Pong(self.take_control()))),
            OpCode::Close => {
                let close = close::parse_payload(&self.take_control())?;
                Ok(Some(Incoming::Close(close)))
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation if header.fin => {
                self.finish_message().map(Some)
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => Ok(None),
        }
    }

    /// The payload of the control frame that just ended.
    fn take_control(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.control)
    }

    /// The last frame of a message arrived (FIN set).
    fn finish_message(&mut self) -> Result<Incoming, Violation> {
        // `start_frame` began a message for this frame or an earlier one.
        let Some(mut message) = self.message.take() else {
            return Err(Violation::UnexpectedContinuation);
        };
        if message.compressed {
            let limit = self.max_message_size.min(self.room);
            message.data = extensions::decompress(&message.data, limit).map_err(|e| match e {
                // Stopped by what the server can hold, not by the size limit.
                Violation::MessageTooBig { limit } if limit < self.max_message_size => {
                    Violation::ServerBusy
                }
                other => other,
            })?;
            self.show_inflated(&message.data);
        }
        if !message.text {
            return Ok(Incoming::Message(Message::Binary(message.data)));
        }
        // §8.1: the text must be complete, too: not cut in a character.
        let text = message.utf8.finish(message.data);
        let text = text.map_err(|_| Violation::InvalidUtf8)?;
        Ok(Incoming::Message(Message::Text(text)))
    }

    /// With `--trace`: what a compressed message inflated to, kept with
    /// its last frame, which `complete_frame` has just kept (if tracing
    /// was on when it began), so that the text comes before what it leads
    /// to.
    fn show_inflated(&mut self, data: &[u8]) {
        let last = self.seen.last_mut();
        if let Some(seen) = last.filter(|s| s.deflated && s.header.fin && s.inflated.is_none()) {
            seen.keep_inflated(data);
        }
    }
}

/// Make room in a message's buffer for `more` bytes that have arrived, of
/// a frame with `rest` bytes still to come after them.
///
/// As a `Vec` grows (to twice what it had, so that a big message costs few
/// copies), but never past the end of the frame: a 700 KB message takes
/// 700 KB, not the 1 MiB that doubling would reach, and memory counted
/// against `--max-buffered` is what the message holds. The length the peer
/// declared only ever lowers what is reserved: never more than twice what
/// has arrived.
fn grow(data: &mut Vec<u8>, more: usize, rest: u64) {
    let needed = data.len().saturating_add(more);
    if needed <= data.capacity() {
        return;
    }
    let doubled = data.capacity().saturating_mul(2).max(needed);
    let frame_end = (needed as u64).saturating_add(rest);
    let target = (doubled as u64).min(frame_end) as usize;
    data.reserve_exact(target - data.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::tests::client_frame;

    const LIMIT: usize = 1 << 20;

    /// Feed `input` in pieces of `step` bytes, like reads from a socket, and
    /// collect every event; stop after a close or a failure, as the client
    /// record does.
    fn run(input: &[u8], step: usize) -> Vec<Incoming> {
        let mut reader = MessageReader::new(LIMIT, false);
        let (mut inbox, mut events) = (Inbox::default(), Vec::new());
        for piece in input.chunks(step.max(1)) {
            inbox.extend(piece);
            while let Some(event) = reader.read_event(&mut inbox) {
                let last = matches!(event, Incoming::Close(_) | Incoming::Failed(_));
                events.push(event);
                if last {
                    return events;
                }
            }
        }
        events
    }

    fn text(s: &str) -> Incoming {
        Incoming::Message(Message::Text(s.to_owned()))
    }

    #[test]
    fn rfc_masked_hello_in_any_split() {
        let hello = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        for step in 1..=hello.len() {
            assert_eq!(run(&hello, step), vec![text("Hello")], "step {step}");
        }
    }

    #[test]
    fn fragments_with_a_ping_between() {
        let mut input = client_frame(0x01, b"Hel");
        input.extend(client_frame(0x89, b"are you there?"));
        input.extend(client_frame(0x80, b"lo"));
        for step in [1, 3, 1000] {
            let ping = Incoming::Ping(b"are you there?".to_vec());
            assert_eq!(run(&input, step), vec![ping, text("Hello")]);
        }
    }

    #[test]
    fn several_frames_in_one_read() {
        let mut input = client_frame(0x81, b"one");
        input.extend(client_frame(0x82, b"two"));
        input.extend(client_frame(0x8A, b"unsolicited pong"));
        input.extend(client_frame(0x81, b""));
        let binary = Incoming::Message(Message::Binary(b"two".to_vec()));
        let pong = Incoming::Pong(b"unsolicited pong".to_vec());
        assert_eq!(
            run(&input, input.len()),
            vec![text("one"), binary, pong, text("")]
        );
    }

    #[test]
    fn a_close_is_read_with_its_code_and_reason() {
        let mut input = client_frame(0x88, &close::payload(1001, "gone"));
        input.extend(client_frame(0x81, b"too late"));
        let closed = CloseFrame {
            code: Some(1001),
            reason: "gone".into(),
        };
        assert_eq!(run(&input, 4), vec![Incoming::Close(closed)]);
    }

    #[test]
    fn each_broken_rule_is_its_violation() {
        let cases: Vec<(Vec<u8>, Violation)> = vec![
            (client_frame(0x80, b"x"), Violation::UnexpectedContinuation),
            (
                [client_frame(0x01, b"a"), client_frame(0x81, b"b")].concat(),
                Violation::ExpectedContinuation,
            ),
            (
                client_frame(0x81, &[0xCE, 0xBA, 0xFF]),
                Violation::InvalidUtf8,
            ),
            (client_frame(0x81, &[0xCE]), Violation::InvalidUtf8),
            (client_frame(0x88, &[3]), Violation::CloseTooShort),
            (
                client_frame(0x88, &close::payload(1005, "")),
                Violation::InvalidCloseCode(1005),
            ),
        ];
        for (input, violation) in cases {
            let events = run(&[input.clone(), input].concat(), 1);
            assert_eq!(events, vec![Incoming::Failed(violation)]);
        }
    }

    #[test]
    fn invalid_utf8_fails_before_the_frame_ends() {
        let frame = client_frame(0x81, &[b'a', 0xFF, b'b', b'c', b'd', b'e']);
        let mut reader = MessageReader::new(LIMIT, false);
        let mut inbox = Inbox::default();
        // Header (6 bytes) plus two payload bytes: the 0xFF is already there.
        inbox.extend(&frame[..8]);
        let event = reader.read_event(&mut inbox);
        assert_eq!(event, Some(Incoming::Failed(Violation::InvalidUtf8)));
    }

    #[test]
    fn too_big_fails_on_the_header_alone() {
        let too_big = Some(Incoming::Failed(Violation::MessageTooBig { limit: 10 }));
        let mut reader = MessageReader::new(10, false);
        let mut inbox = Inbox::default();
        // A masked binary header declaring 2^40 bytes: nothing else follows.
        inbox.extend(&[0x82, 0xFF, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(reader.read_event(&mut inbox), too_big);
        // Across fragments too: 6 bytes, then 5 more is over 10.
        let mut reader = MessageReader::new(10, false);
        let mut inbox = Inbox::default();
        inbox.extend(&[client_frame(0x02, &[0; 6]), client_frame(0x80, &[0; 5])].concat());
        assert_eq!(reader.read_event(&mut inbox), too_big);
    }

    #[test]
    fn an_unfinished_header_is_left_in_the_inbox() {
        let frame = client_frame(0x82, &[7; 300]);
        let mut reader = MessageReader::new(LIMIT, false);
        let mut inbox = Inbox::default();
        // 126 and one byte of the 16-bit length: not enough to know the size.
        inbox.extend(&frame[..3]);
        assert_eq!(reader.read_event(&mut inbox), None);
        assert_eq!(inbox.unread(), &frame[..3]);
        inbox.extend(&frame[3..]);
        let event = reader.read_event(&mut inbox);
        assert_eq!(
            event,
            Some(Incoming::Message(Message::Binary(vec![7; 300])))
        );
        assert!(inbox.unread().is_empty());
    }

    /// Would fail if a message's buffer grew by doubling past the end of
    /// its frame (a 700 KB message then held 1 MiB, all of it counted
    /// against `--max-buffered`), or if a declared length made it reserve
    /// more than twice what has arrived.
    #[test]
    fn a_message_takes_the_memory_it_holds() {
        let bytes = client_frame(0x82, &vec![7; 700_000]);
        let mut reader = MessageReader::new(LIMIT, false);
        let mut inbox = Inbox::default();
        let mut message = None;
        for piece in bytes.chunks(65_536) {
            inbox.extend(piece);
            if let Some(Incoming::Message(Message::Binary(data))) = reader.read_event(&mut inbox) {
                message = Some(data);
            }
        }
        assert_eq!(message.expect("the message").capacity(), 700_000);
        // A frame that declares 900 KB, of which 40,000 bytes have come.
        let declared = client_frame(0x82, &vec![7; 900_000]);
        let mut inbox = Inbox::default();
        for piece in declared[..14 + 40_000].chunks(20_007) {
            inbox.extend(piece);
            assert_eq!(reader.read_event(&mut inbox), None);
        }
        assert!(reader.counted() <= 80_000, "{}", reader.counted());
    }
}
