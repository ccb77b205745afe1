//! One WebSocket connection's state, with no sockets in sight (RFC 6455 §5-§7).
//!
//! This is the half the PHP tutorial is missing. Its loop called `unmask()`
//! on whatever one `socket_recv()` returned and assumed that was one whole
//! frame holding one whole message. In reality a read can hold half a frame,
//! or three frames; a message can be split over many frames; pings and closes
//! arrive in between and must be answered.
//!
//! [`Connection::receive`] takes the bytes read so far and walks through
//! them: frame header, then payload pieces as they arrive (unmasked and checked
//! at once, so nothing is allocated from a length the peer merely declared).
//! It answers pings and closes itself, by appending frames to the outgoing
//! bytes, and hands complete messages back to the caller as [`Event`]s.
//!
//! Data flows one way: bytes -> frames -> messages (here) -> replies
//! (`replies.rs`) -> frames -> bytes ([`Connection::send`]).

use crate::close::{self, CloseFrame, Violation};
use crate::frame::{self, Header, OpCode};
use crate::utf8::Utf8Check;

/// A complete message from the peer, or one to send to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

/// What the caller must know about after [`Connection::receive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole text or binary message arrived.
    Message(Message),
    /// The closing handshake is complete (§1.4, §5.5.1): the peer's close frame
    /// arrived and ours is queued or was sent before. Once the outgoing bytes
    /// are written, the server closes the TCP connection (§7.1.1).
    Closed(CloseFrame),
    /// The peer broke a rule. A close frame with the matching code is queued
    /// (§7.1.7) and all further input is ignored.
    Failed(Violation),
}

/// The result of one [`Connection::receive`] call.
#[derive(Debug, PartialEq, Eq)]
pub struct Received {
    /// How many input bytes were used up; the caller drops them.
    pub consumed: usize,
    /// Something happened that the caller must act on, if anything.
    pub event: Option<Event>,
}

/// The frame whose payload is arriving.
#[derive(Debug)]
struct IncomingFrame {
    header: Header,
    /// Payload bytes of this frame seen so far.
    received: u64,
}

/// A text or binary message being put together from its frames (§5.4).
#[derive(Debug)]
struct PartialMessage {
    text: bool,
    data: Vec<u8>,
    utf8: Utf8Check,
}

/// The WebSocket state of one client.
#[derive(Debug)]
pub struct Connection {
    /// The largest message we accept, in bytes (§10.4).
    max_message_size: usize,
    frame: Option<IncomingFrame>,
    message: Option<PartialMessage>,
    /// The payload of the control frame now arriving (at most 125 bytes).
    control: Vec<u8>,
    /// We have sent a close frame: nothing may follow it (§5.5.1).
    close_sent: bool,
    /// The closing handshake finished, or the connection failed: any further
    /// input is ignored.
    done: bool,
}

impl Connection {
    pub fn new(max_message_size: usize) -> Connection {
        Connection {
            max_message_size,
            frame: None,
            message: None,
            control: Vec::new(),
            close_sent: false,
            done: false,
        }
    }

    /// Has a close frame been sent (or queued)?
    pub fn is_closing(&self) -> bool {
        self.close_sent
    }

    /// Read frames from `input` until something happens or the bytes run out.
    ///
    /// `input` is unmasked in place. Pongs and close replies are appended to
    /// `out`. Call again with the unconsumed rest while it returns an event.
    pub fn receive(&mut self, input: &mut [u8], out: &mut Vec<u8>) -> Received {
        match self.read_frames(input, out) {
            Ok((consumed, event)) => Received { consumed, event },
            Err(violation) => {
                self.fail(&violation, out);
                Received {
                    consumed: input.len(),
                    event: Some(Event::Failed(violation)),
                }
            }
        }
    }

    /// The steps of `receive`: how many bytes were used, and the event.
    fn read_frames(
        &mut self,
        input: &mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, Option<Event>), Violation> {
        let mut consumed = 0;
        while !self.done {
            // 1. A new frame starts with its header.
            if self.frame.is_none() {
                let Some(header) = frame::parse_header(&input[consumed..], true)? else {
                    return Ok((consumed, None)); // the header is not all here yet
                };
                self.start_frame(header)?;
                consumed += header.header_len;
            }
            // 2. Then its payload, as much of it as has arrived.
            consumed += self.take_payload(&mut input[consumed..])?;
            let Some(header) = self.complete_frame() else {
                return Ok((consumed, None)); // the payload is not all here yet
            };
            // 3. The whole frame is here: act on it.
            if let Some(event) = self.finish_frame(header, out)? {
                return Ok((consumed, Some(event)));
            }
        }
        // §7.1.7 and §5.5.1: after the close, or a failure, input is ignored.
        Ok((input.len(), None))
    }

    /// A frame header arrived: check the rules that depend on what came
    /// before it, then get ready for its payload.
    fn start_frame(&mut self, header: Header) -> Result<(), Violation> {
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
                    text: header.opcode == OpCode::Text,
                    data: Vec::new(),
                    utf8: Utf8Check::default(),
                });
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => self.control.clear(),
        }
        self.frame = Some(IncomingFrame {
            header,
            received: 0,
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

    /// Move the payload bytes now in `input` into the message (or control
    /// payload) they belong to, unmasked. Returns how many bytes it used.
    fn take_payload(&mut self, input: &mut [u8]) -> Result<usize, Violation> {
        let Some(frame) = self.frame.as_mut() else {
            return Ok(0);
        };
        let wanted = frame.header.payload_len - frame.received;
        let n = input
            .len()
            .min(usize::try_from(wanted).unwrap_or(usize::MAX));
        let piece = &mut input[..n];
        if let Some(mask) = frame.header.mask {
            frame::unmask(piece, mask, frame.received);
        }
        frame.received += n as u64;

        if frame.header.opcode.is_control() {
            self.control.extend_from_slice(piece);
        } else if let Some(message) = self.message.as_mut() {
            message.data.extend_from_slice(piece);
            // §8.1: fail as soon as the text so far cannot be valid UTF-8.
            if message.text && message.utf8.feed(&message.data).is_err() {
                return Err(Violation::InvalidUtf8);
            }
        }
        Ok(n)
    }

    /// If all of the incoming frame's payload has arrived, take the frame
    /// out (the next bytes start a new one) and return its header.
    fn complete_frame(&mut self) -> Option<Header> {
        let incoming = self.frame.as_ref()?;
        if incoming.received < incoming.header.payload_len {
            return None;
        }
        self.frame.take().map(|incoming| incoming.header)
    }

    /// A whole frame arrived: answer control frames, finish messages.
    fn finish_frame(
        &mut self,
        header: Header,
        out: &mut Vec<u8>,
    ) -> Result<Option<Event>, Violation> {
        match header.opcode {
            // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a
            // Pong frame in response", with "identical Application data"
            // (§5.5.3), unless it has already sent a close.
            OpCode::Ping => {
                if !self.close_sent {
                    frame::encode(out, OpCode::Pong, &self.control);
                }
                Ok(None)
            }
            // §5.5.3: "A response to an unsolicited Pong frame is not expected."
            OpCode::Pong => Ok(None),
            OpCode::Close => self.on_close(out).map(Some),
            OpCode::Text | OpCode::Binary | OpCode::Continuation if header.fin => {
                self.finish_message()
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => Ok(None),
        }
    }

    /// The last frame of a message arrived (FIN set).
    fn finish_message(&mut self) -> Result<Option<Event>, Violation> {
        let Some(message) = self.message.take() else {
            return Ok(None);
        };
        // §5.5.1: after sending a close we send no more data frames, so no
        // reply could go out. The message is dropped, unlogged.
        if self.close_sent {
            return Ok(None);
        }
        if !message.text {
            return Ok(Some(Event::Message(Message::Binary(message.data))));
        }
        // §8.1: the text must be complete, too: not cut in a character.
        let text = message.utf8.finish(message.data);
        let text = text.map_err(|_| Violation::InvalidUtf8)?;
        Ok(Some(Event::Message(Message::Text(text))))
    }

    /// The peer's close frame arrived (§5.5.1, §7.1.2).
    fn on_close(&mut self, out: &mut Vec<u8>) -> Result<Event, Violation> {
        let frame = close::parse_payload(&self.control)?;
        // §5.5.1: "If an endpoint receives a Close frame and did not
        // previously send a Close frame, the endpoint MUST send a Close frame
        // in response. ... it typically echos the status code it received."
        if !self.close_sent {
            let reply = frame.code.map(|code| code.to_be_bytes().to_vec());
            frame::encode(out, OpCode::Close, &reply.unwrap_or_default());
            self.close_sent = true;
        }
        self.done = true;
        Ok(Event::Closed(frame))
    }

    /// §7.1.7 _Fail the WebSocket Connection_: send a close frame with the
    /// code for what went wrong (unless one was already sent), and stop
    /// reading. The caller then closes the TCP connection.
    fn fail(&mut self, violation: &Violation, out: &mut Vec<u8>) {
        self.close(violation.close_code(), &violation.to_string(), out);
        self.done = true;
        self.frame = None;
        self.message = None;
    }

    /// Send a whole message as one frame; the RFC leaves fragmentation of
    /// what we send to us (§5.4). Does nothing once a close was sent.
    pub fn send(&mut self, message: &Message, out: &mut Vec<u8>) {
        if self.close_sent {
            return;
        }
        match message {
            Message::Text(text) => frame::encode(out, OpCode::Text, text.as_bytes()),
            Message::Binary(data) => frame::encode(out, OpCode::Binary, data),
        }
    }

    /// Start the closing handshake (§7.1.2): send a close frame, then wait
    /// for the peer's. Does nothing if a close was already sent.
    pub fn close(&mut self, code: u16, reason: &str, out: &mut Vec<u8>) {
        if self.close_sent {
            return;
        }
        // §5.5: a control payload is at most 125 bytes: 2 for the code, so
        // the reason is cut at 123 (on a character boundary).
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        frame::encode(out, OpCode::Close, &close::payload(code, &reason[..end]));
        self.close_sent = true;
    }

    /// Ask the peer whether it is still there (§5.5.2); used for idle clients.
    pub fn ping(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        if !self.close_sent {
            frame::encode(out, OpCode::Ping, payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::tests::client_frame;

    const LIMIT: usize = 1 << 20;

    /// Feed `input` in pieces of `step` bytes, like reads from a socket, and
    /// collect every event and everything the connection wants to send.
    fn run(input: &[u8], step: usize) -> (Vec<Event>, Vec<u8>) {
        let mut conn = Connection::new(LIMIT);
        let (mut inbox, mut out, mut events) = (Vec::new(), Vec::new(), Vec::new());
        for piece in input.chunks(step.max(1)) {
            inbox.extend_from_slice(piece);
            loop {
                let received = conn.receive(&mut inbox, &mut out);
                inbox.drain(..received.consumed);
                match received.event {
                    Some(event) => events.push(event),
                    None => break,
                }
            }
        }
        (events, out)
    }

    fn text(s: &str) -> Event {
        Event::Message(Message::Text(s.to_owned()))
    }

    #[test]
    fn rfc_masked_hello_in_any_split() {
        let hello = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        for step in 1..=hello.len() {
            assert_eq!(
                run(&hello, step),
                (vec![text("Hello")], vec![]),
                "step {step}"
            );
        }
    }

    #[test]
    fn fragments_with_a_ping_between() {
        let mut input = client_frame(0x01, b"Hel");
        input.extend(client_frame(0x89, b"are you there?"));
        input.extend(client_frame(0x80, b"lo"));
        for step in [1, 3, 1000] {
            let (events, out) = run(&input, step);
            assert_eq!(events, vec![text("Hello")]);
            let mut pong = Vec::new();
            frame::encode(&mut pong, OpCode::Pong, b"are you there?");
            assert_eq!(out, pong);
        }
    }

    #[test]
    fn several_frames_in_one_read() {
        let mut input = client_frame(0x81, b"one");
        input.extend(client_frame(0x82, b"two"));
        input.extend(client_frame(0x8A, b"unsolicited pong"));
        input.extend(client_frame(0x81, b""));
        let (events, out) = run(&input, input.len());
        let binary = Event::Message(Message::Binary(b"two".to_vec()));
        assert_eq!(events, vec![text("one"), binary, text("")]);
        assert!(out.is_empty());
    }

    #[test]
    fn close_is_echoed_and_later_input_ignored() {
        let mut input = client_frame(0x88, &close::payload(1001, "gone"));
        input.extend(client_frame(0x81, b"too late"));
        let (events, out) = run(&input, 4);
        let closed = CloseFrame {
            code: Some(1001),
            reason: "gone".into(),
        };
        assert_eq!(events, vec![Event::Closed(closed)]);
        assert_eq!(out, [0x88, 0x02, 0x03, 0xE9]);
    }

    #[test]
    fn violations_fail_with_their_code_once() {
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
            let (events, out) = run(&[input.clone(), input].concat(), 1);
            assert_eq!(events, vec![Event::Failed(violation.clone())]);
            let header = frame::parse_header(&out, false).unwrap().unwrap();
            assert_eq!(header.opcode, OpCode::Close);
            assert_eq!(out[2..4], violation.close_code().to_be_bytes());
            assert_eq!(out.len(), header.header_len + header.payload_len as usize);
        }
    }

    #[test]
    fn invalid_utf8_fails_before_the_frame_ends() {
        let frame = client_frame(0x81, &[b'a', 0xFF, b'b', b'c', b'd', b'e']);
        let mut conn = Connection::new(LIMIT);
        let mut out = Vec::new();
        // Header (6 bytes) plus two payload bytes: the 0xFF is already there.
        let received = conn.receive(&mut frame[..8].to_vec(), &mut out);
        assert_eq!(received.event, Some(Event::Failed(Violation::InvalidUtf8)));
    }

    #[test]
    fn too_big_fails_on_the_header_alone() {
        let mut conn = Connection::new(10);
        let mut out = Vec::new();
        // A masked binary header declaring 2^40 bytes: nothing else follows.
        let mut header = vec![0x82, 0xFF, 0, 0, 1, 0, 0, 0, 0, 0];
        header.extend_from_slice(&[1, 2, 3, 4]);
        let received = conn.receive(&mut header, &mut out);
        let violation = Violation::MessageTooBig { limit: 10 };
        assert_eq!(received.event, Some(Event::Failed(violation)));
        // Across fragments too: 6 bytes, then 5 more is over 10.
        let input = [client_frame(0x02, &[0; 6]), client_frame(0x80, &[0; 5])].concat();
        let mut conn = Connection::new(10);
        let received = conn.receive(&mut input.clone(), &mut out);
        assert!(matches!(
            received.event,
            Some(Event::Failed(Violation::MessageTooBig { .. }))
        ));
    }

    #[test]
    fn nothing_is_sent_after_our_close() {
        let mut conn = Connection::new(LIMIT);
        let mut out = Vec::new();
        conn.close(1000, "bye", &mut out);
        let after_close = out.len();
        conn.send(&Message::Text("late".into()), &mut out);
        conn.ping(b"", &mut out);
        let mut ping = client_frame(0x89, b"p");
        assert_eq!(conn.receive(&mut ping, &mut out).event, None);
        assert_eq!(out.len(), after_close);
        // The peer's close completes the handshake without a second close.
        let mut reply = client_frame(0x88, &close::payload(1000, ""));
        let event = conn.receive(&mut reply, &mut out).event;
        assert!(matches!(event, Some(Event::Closed(_))));
        assert_eq!(out.len(), after_close);
    }

    #[test]
    fn close_reason_is_cut_to_fit_a_control_frame() {
        let mut conn = Connection::new(LIMIT);
        let mut out = Vec::new();
        conn.close(1000, &"é".repeat(100), &mut out);
        let header = frame::parse_header(&out, false).unwrap().unwrap();
        assert!(header.payload_len <= 125);
        assert!(close::parse_payload(&out[2..]).is_ok());
    }
}
