//! Close codes (RFC 6455 §7.4) and the one table that says which broken rule
//! earns which code.
//!
//! The PHP tutorial never closes a connection properly: it just calls
//! `socket_close()`. A WebSocket endpoint is expected to say *why* it closes,
//! with a two-byte code at the start of a close frame. Every rule the server
//! enforces is a [`Violation`], and [`Violation::close_code`] is the single
//! place where a violation becomes a code, so the rules and their answers are
//! never scattered through the code.

use crate::protocol::inflate::InflateError;
use std::fmt;

/// RFC 6455 §7.4.1: 1000 means the purpose of the connection was fulfilled.
pub(crate) const NORMAL: u16 = 1000;
/// RFC 6455 §7.4.1: 1001 means the endpoint is going away (server shutdown).
pub(crate) const GOING_AWAY: u16 = 1001;
/// RFC 6455 §7.4.1: 1002 means the peer broke the protocol.
pub(crate) const PROTOCOL_ERROR: u16 = 1002;
/// RFC 6455 §7.4.1: 1007 means a message's data did not match its type
/// (for us: a text message that is not UTF-8).
pub(crate) const INVALID_DATA: u16 = 1007;
/// RFC 6455 §7.4.1: 1008 means a message broke the endpoint's policy: for
/// us, a message that took longer than `--message-timeout` to arrive.
pub(crate) const POLICY_VIOLATION: u16 = 1008;
/// RFC 6455 §7.4.1: 1009 means a message is too big to process.
pub(crate) const MESSAGE_TOO_BIG: u16 = 1009;
/// RFC 6455 §7.4.1: 1011 means the server met "an unexpected condition that
/// prevented it from fulfilling the request". We send it to a peer that
/// stopped answering pings: it is not the peer's protocol error (1002) nor a
/// policy (1008), and the connection cannot go on.
pub(crate) const INTERNAL_ERROR: u16 = 1011;
/// The IANA registry (RFC 6455 §11.7) adds 1013, "Try Again Later": the
/// server is overloaded. We send it to a client whose message would pass
/// `--max-buffered`, the memory all clients' messages may hold together.
pub(crate) const TRY_AGAIN_LATER: u16 = 1013;

/// What a close code means, in the words of RFC 6455 §7.4.1 and the IANA
/// registry it created (§11.7): for the log and `--trace`, and for the raw
/// client's report of how a server closed (`src/bin/client/`).
pub fn meaning(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status received",
        1006 => "abnormal closure",
        1007 => "invalid frame payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        1015 => "TLS handshake",
        3000..=3999 => "registered for libraries and frameworks",
        4000..=4999 => "private use",
        _ => "not a valid code",
    }
}

/// May this code appear in a close frame on the wire?
///
/// RFC 6455 §7.4.1 and §7.4.2: 0-999 are never used; 1004 is reserved;
/// 1005, 1006 and 1015 are only for reporting inside an endpoint and MUST NOT
/// be sent; 1016-2999 are reserved for future RFCs (the IANA registry has
/// since added 1012-1014, so those are accepted); 3000-4999 belong to
/// libraries and applications; 5000 and up are not defined.
pub fn is_valid_on_wire(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Every reason the server fails a connection after the handshake, one
/// variant per rule.
///
/// Most are rules of RFC 6455 a peer broke; each names the sentence it
/// enforces, and the check lives next to that sentence (in `frame.rs` or
/// `reader.rs`). The last two are this server's limits (`--message-timeout`
/// in `connection.rs`, `--max-buffered` in `server/client.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// §5.2: RSV1-3 MUST be 0 unless an extension defines them. Only
    /// permessage-deflate is ever agreed (with `--deflate`), and it gives
    /// RSV1 alone a meaning, on a message's first frame (RFC 7692 §6.1).
    ReservedBits,
    /// A compressed message (RFC 7692 §6) whose data is not DEFLATE, or
    /// holds more after its end: it cannot be read, so the connection
    /// fails (§7.1.7). RFC 7692 names no code for it; 1007 says the
    /// payload was "not consistent with the type of the message" (§7.4.1),
    /// which a compressed message that cannot be inflated is, as invalid
    /// UTF-8 is to a text message.
    BadCompression(InflateError),
    /// §5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved.
    ReservedOpcode(u8),
    /// §5.1: a client MUST mask every frame it sends.
    UnmaskedFrame,
    /// §5.2: the most significant bit of a 64-bit length MUST be 0.
    LengthTooLarge,
    /// §5.2: the minimal number of bytes MUST be used to encode the length.
    NonMinimalLength,
    /// §5.5: control frames MUST NOT be fragmented.
    FragmentedControl,
    /// §5.5: control frames have a payload of 125 bytes or less.
    ControlTooLong,
    /// §5.4: a continuation frame arrived with no message in progress.
    UnexpectedContinuation,
    /// §5.4: a new text or binary frame arrived while a message was in progress.
    ExpectedContinuation,
    /// §5.6, §8.1: a text message (or close reason) is not valid UTF-8.
    InvalidUtf8,
    /// §10.4: the message is larger than this server accepts.
    MessageTooBig { limit: usize },
    /// §5.5.1: a close payload of exactly one byte cannot hold a code.
    CloseTooShort,
    /// §7.4: the close code may not be sent on the wire.
    InvalidCloseCode(u16),
    /// A frame or message took longer than `--message-timeout` to arrive
    /// whole (a client must not hold a half-sent message for ever).
    MessageTimeout,
    /// The message would take the memory all clients hold together past
    /// `--max-buffered`.
    ServerBusy,
}

impl Violation {
    /// The close code the server sends when it fails the connection for this
    /// reason (RFC 6455 §7.1.7). This match is the whole mapping.
    pub fn close_code(&self) -> u16 {
        match self {
            Violation::InvalidUtf8 | Violation::BadCompression(_) => INVALID_DATA,
            Violation::MessageTooBig { .. } => MESSAGE_TOO_BIG,
            Violation::MessageTimeout => POLICY_VIOLATION,
            Violation::ServerBusy => TRY_AGAIN_LATER,
            Violation::ReservedBits
            | Violation::ReservedOpcode(_)
            | Violation::UnmaskedFrame
            | Violation::LengthTooLarge
            | Violation::NonMinimalLength
            | Violation::FragmentedControl
            | Violation::ControlTooLong
            | Violation::UnexpectedContinuation
            | Violation::ExpectedContinuation
            | Violation::CloseTooShort
            | Violation::InvalidCloseCode(_) => PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::ReservedBits => write!(f, "a reserved bit (RSV1-3) is set"),
            Violation::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Violation::UnmaskedFrame => write!(f, "a client frame is not masked"),
            Violation::LengthTooLarge => write!(f, "64-bit length has its top bit set"),
            Violation::NonMinimalLength => write!(f, "length not in its shortest form"),
            Violation::FragmentedControl => write!(f, "a control frame is fragmented"),
            Violation::ControlTooLong => write!(f, "a control frame is over 125 bytes"),
            Violation::UnexpectedContinuation => {
                write!(f, "a continuation frame with no message to continue")
            }
            Violation::ExpectedContinuation => {
                write!(f, "a new message started before the last one ended")
            }
            Violation::InvalidUtf8 => write!(f, "text is not valid UTF-8"),
            Violation::BadCompression(why) => {
                write!(f, "a compressed message that is not DEFLATE: {why}")
            }
            Violation::MessageTooBig { limit } => {
                write!(f, "message larger than the {limit}-byte limit")
            }
            Violation::CloseTooShort => write!(f, "a close payload of one byte"),
            Violation::InvalidCloseCode(code) => write!(f, "close code {code} is not allowed"),
            Violation::MessageTimeout => write!(f, "a message took too long to arrive"),
            Violation::ServerBusy => write!(f, "the server holds too much already; try later"),
        }
    }
}

/// The payload of a close frame: a code in network byte order, then an
/// optional UTF-8 reason (RFC 6455 §5.5.1). An empty payload means "no code".
///
/// §5.5: a control frame carries at most 125 bytes, 2 of them the code, so
/// a longer reason is cut at 123 bytes, on a character boundary (the reason
/// must stay valid UTF-8).
pub fn payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut bytes = Vec::with_capacity(2 + end);
    bytes.extend_from_slice(&code.to_be_bytes());
    bytes.extend_from_slice(&reason.as_bytes()[..end]);
    bytes
}

/// What a close frame from the peer said, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// `None` when the payload was empty (RFC 6455 §7.1.5: code 1005, "no status").
    pub code: Option<u16>,
    pub reason: String,
}

/// Read and check a peer's close payload (RFC 6455 §5.5.1, §7.4, §8.1).
/// Public for the raw client, which checks a server's close by the same
/// rules (`src/bin/client/`).
pub fn parse_payload(payload: &[u8]) -> Result<CloseFrame, Violation> {
    match payload {
        [] => Ok(CloseFrame {
            code: None,
            reason: String::new(),
        }),
        [_] => Err(Violation::CloseTooShort),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !is_valid_on_wire(code) {
                return Err(Violation::InvalidCloseCode(code));
            }
            // §5.5.1: the reason "is not guaranteed to be human readable" but
            // MUST be UTF-8; §8.1 makes invalid UTF-8 a 1007.
            let reason = std::str::from_utf8(reason).map_err(|_| Violation::InvalidUtf8)?;
            Ok(CloseFrame {
                code: Some(code),
                reason: reason.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_allowed_on_the_wire() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1014,
        ] {
            assert!(is_valid_on_wire(code), "{code}");
        }
        for code in [3000, 3999, 4000, 4999] {
            assert!(is_valid_on_wire(code), "{code}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_on_wire(code), "{code}");
        }
    }

    #[test]
    fn every_violation_maps_to_a_code_that_may_be_sent() {
        let all = [
            Violation::ReservedBits,
            Violation::ReservedOpcode(3),
            Violation::UnmaskedFrame,
            Violation::LengthTooLarge,
            Violation::NonMinimalLength,
            Violation::FragmentedControl,
            Violation::ControlTooLong,
            Violation::UnexpectedContinuation,
            Violation::ExpectedContinuation,
            Violation::InvalidUtf8,
            Violation::BadCompression(InflateError::ReservedBlockType),
            Violation::MessageTooBig { limit: 1 },
            Violation::CloseTooShort,
            Violation::InvalidCloseCode(5),
            Violation::MessageTimeout,
            Violation::ServerBusy,
        ];
        for violation in all {
            assert!(is_valid_on_wire(violation.close_code()), "{violation}");
        }
        assert_eq!(Violation::InvalidUtf8.close_code(), 1007);
        assert_eq!(Violation::MessageTooBig { limit: 1 }.close_code(), 1009);
        assert_eq!(Violation::ReservedBits.close_code(), 1002);
        assert_eq!(Violation::MessageTimeout.close_code(), 1008);
        assert_eq!(Violation::ServerBusy.close_code(), 1013);
    }

    #[test]
    fn close_payloads() {
        assert_eq!(parse_payload(&[]).unwrap().code, None);
        assert_eq!(parse_payload(&[3]), Err(Violation::CloseTooShort));
        let frame = parse_payload(&payload(1000, "bye")).unwrap();
        assert_eq!(frame.code, Some(1000));
        assert_eq!(frame.reason, "bye");
        assert_eq!(
            parse_payload(&payload(1005, "")),
            Err(Violation::InvalidCloseCode(1005))
        );
        assert_eq!(
            parse_payload(&[0x03, 0xe8, 0xff]),
            Err(Violation::InvalidUtf8)
        );
    }

    #[test]
    fn a_long_reason_is_cut_to_fit_a_control_frame() {
        let long = payload(NORMAL, &"é".repeat(100));
        assert!(long.len() <= 125);
        assert_eq!(parse_payload(&long).unwrap().reason, "é".repeat(61));
    }
}
