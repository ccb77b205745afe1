//! RFC 6455 conformance: every framing, fragmentation, UTF-8, closing and
//! size rule the server claims to enforce, proved against the real binary
//! over loopback with a raw client that sends exactly the bytes a test names.
//!
//! One module per area, following the case groups of the Autobahn
//! testsuite: `framing` (groups 1, 3 and 4), `pingpong` (2), `fragmentation`
//! (5), `utf8` (6), `closing` (7) and `limits` (9). `docs/conformance.md`
//! lists each rule with its RFC section, its test and its check in `src/`.
//!
//! Run just this suite with `cargo test --test conformance`.

#[path = "../common/mod.rs"]
mod common;

mod closing;
mod compression;
mod fragmentation;
mod framing;
mod limits;
mod pingpong;
mod utf8;

use common::{masked_frame, Client, Frame, Server, BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// RFC 6455 §7.4.1: the close codes the server answers broken rules with.
pub const NORMAL: u16 = 1000;
pub const PROTOCOL_ERROR: u16 = 1002;
pub const INVALID_DATA: u16 = 1007;
pub const MESSAGE_TOO_BIG: u16 = 1009;

/// How long the server may take to act on bytes it already has. Well under
/// the harness's 10 s and the server's default 5 s close timeout, so that a
/// server which waits for more input, or for a timeout, fails the test.
pub const PROMPTLY: Duration = Duration::from_secs(3);

/// A client frame (always masked, as RFC 6455 §5.3 requires of clients).
///
/// Each call on a thread uses the next masking key of a fixed sequence, so
/// the fragments of one message never share a key, and a server that
/// carried a key (or its position in the key) over from one frame to the
/// next would unmask garbage. The sequence is the same on every run.
pub fn fragment(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    thread_local! {
        static KEY: Cell<u32> = const { Cell::new(0x1F2E_3D4C) };
    }
    let key = KEY.with(|key| {
        let next = key
            .get()
            .wrapping_mul(0x9E37_79B1)
            .wrapping_add(0x7F4A_7C15);
        key.set(next);
        next.to_be_bytes()
    });
    let first = if fin { 0x80 | opcode } else { opcode };
    masked_frame(first, payload, key)
}

/// A final (FIN set) client frame: a whole message, or a control frame.
pub fn whole(opcode: u8, payload: &[u8]) -> Vec<u8> {
    fragment(true, opcode, payload)
}

/// The frames of one message of `opcode`, one per piece: the first frame
/// carries the opcode, the rest are continuations, the last has FIN set
/// (RFC 6455 §5.4).
pub fn fragments(opcode: u8, pieces: &[&[u8]]) -> Vec<u8> {
    message_frames(opcode, pieces, true)
}

/// The same, but the last frame has FIN clear: the message never ends.
pub fn unfinished(opcode: u8, pieces: &[&[u8]]) -> Vec<u8> {
    message_frames(opcode, pieces, false)
}

fn message_frames(opcode: u8, pieces: &[&[u8]], finished: bool) -> Vec<u8> {
    let last = pieces.len().saturating_sub(1);
    let mut bytes = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let kind = if i == 0 { opcode } else { CONTINUATION };
        bytes.extend(fragment(finished && i == last, kind, piece));
    }
    bytes
}

/// A close frame from the client with `code` and `reason` (RFC 6455 §5.5.1).
pub fn close_frame(code: u16, reason: &[u8]) -> Vec<u8> {
    whole(CLOSE, &[&code.to_be_bytes()[..], reason].concat())
}

/// At most the first 48 bytes of `bytes`, in hex, for failure messages.
pub fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(48).map(|b| format!("{b:02X}")).collect();
    let more = if bytes.len() > 48 { " ..." } else { "" };
    format!("[{}{more}] ({} bytes)", shown.join(" "), bytes.len())
}

/// A frame as a short, readable line for failure messages.
pub fn describe(frame: &Frame) -> String {
    let kind = match frame.opcode {
        CONTINUATION => "continuation".to_string(),
        TEXT => "text".to_string(),
        BINARY => "binary".to_string(),
        CLOSE => "close".to_string(),
        PING => "ping".to_string(),
        PONG => "pong".to_string(),
        other => format!("opcode {other:#x}"),
    };
    let fin = if frame.fin { "" } else { " (FIN clear)" };
    format!("{kind} frame{fin} with payload {}", hex(&frame.payload))
}

/// Compare two byte strings without printing megabytes when they differ.
pub fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first_difference = got.iter().zip(want).position(|(a, b)| a != b);
    panic!(
        "{what}: got {} bytes, expected {}; first difference at {:?}\n got: {}\nwant: {}",
        got.len(),
        want.len(),
        first_difference,
        hex(got),
        hex(want)
    );
}

/// Read one whole message from the server: a text or binary frame and, if
/// its FIN is clear, the continuation frames up to the final one (RFC 6455
/// §5.4 lets the server fragment what it sends). Panics on anything else.
pub fn read_message(client: &mut Client) -> (u8, Vec<u8>) {
    let first = client.read_frame();
    assert!(
        first.opcode == TEXT || first.opcode == BINARY,
        "expected a text or binary message, got a {}",
        describe(&first)
    );
    let (opcode, mut payload, mut fin) = (first.opcode, first.payload, first.fin);
    while !fin {
        let next = client.read_frame();
        assert_eq!(
            next.opcode,
            CONTINUATION,
            "expected the next fragment, got a {}",
            describe(&next)
        );
        payload.extend_from_slice(&next.payload);
        fin = next.fin;
    }
    (opcode, payload)
}

/// The next thing from the server must be this exact message.
pub fn expect_echo(client: &mut Client, opcode: u8, payload: &[u8]) {
    let (got_opcode, got) = read_message(client);
    assert_eq!(got_opcode, opcode, "the echo changed the message type");
    assert_same_bytes(&got, payload, "echoed payload");
}

/// The next frame from the server must be a pong with exactly `payload`
/// (RFC 6455 §5.5.3: "identical Application data").
pub fn expect_pong(client: &mut Client, payload: &[u8]) {
    let frame = client.read_frame();
    assert!(
        frame.opcode == PONG && frame.fin,
        "expected a pong, got a {}",
        describe(&frame)
    );
    assert_same_bytes(&frame.payload, payload, "pong payload");
}

/// The next frame must be a close frame; check that its payload is well
/// formed (RFC 6455 §5.5: at most 125 bytes; §5.5.1: a two-byte code, then
/// a UTF-8 reason) and return its code.
pub fn read_close(client: &mut Client) -> Option<u16> {
    let frame = client.read_frame();
    assert!(
        frame.opcode == CLOSE && frame.fin,
        "expected a close frame, got a {}",
        describe(&frame)
    );
    assert!(frame.payload.len() <= 125, "close payload over 125 bytes");
    assert_ne!(frame.payload.len(), 1, "a close payload of one byte");
    if frame.payload.len() > 2 {
        let reason = std::str::from_utf8(&frame.payload[2..]);
        assert!(
            reason.is_ok(),
            "close reason is not UTF-8: {}",
            describe(&frame)
        );
    }
    frame.close_code()
}

/// The server must end the TCP connection now, sending nothing more, and
/// without waiting for us to close our side first (RFC 6455 §7.1.1: the
/// server closes the TCP connection first).
pub fn expect_tcp_closed(client: &mut Client) {
    client.stream.set_read_timeout(Some(PROMPTLY)).unwrap();
    client.expect_eof();
}

/// RFC 6455 §7.1.7, _Fail the WebSocket Connection_: the server's very next
/// frame is a close frame with `code`, and then it closes the TCP
/// connection, without waiting for more input or for our close reply.
pub fn expect_failure(client: &mut Client, code: u16) {
    client.stream.set_read_timeout(Some(PROMPTLY)).unwrap();
    let started = Instant::now();
    assert_eq!(read_close(client), Some(code), "wrong close code");
    assert!(started.elapsed() < PROMPTLY, "the close came late");
    expect_tcp_closed(client);
}

/// Send `bytes` on a new connection and expect the connection to fail
/// with `code` (see [`expect_failure`]). `case` names what is sent; it is
/// printed first, so a failing test's output says which case broke.
pub fn fails_with(server: &Server, case: &str, bytes: &[u8], code: u16) {
    println!(
        "case: {case}: sending {}, expecting close {code}",
        hex(bytes)
    );
    let mut client = server.client();
    client.send(bytes);
    expect_failure(&mut client, code);
}

/// Expect a complete client-initiated closing handshake: the server echoes
/// `code` in its close frame (RFC 6455 §5.5.1) and then closes TCP.
pub fn expect_close_echo(client: &mut Client, code: u16) {
    client.stream.set_read_timeout(Some(PROMPTLY)).unwrap();
    assert_eq!(read_close(client), Some(code), "the close reply's code");
    expect_tcp_closed(client);
}

/// Only the header of a masked client frame, declaring `declared` payload
/// bytes in the 64-bit length form (RFC 6455 §5.2), with its masking key.
/// The payload is never sent: the server must decide on the header alone.
pub fn header_declaring(first: u8, declared: u64) -> Vec<u8> {
    let mut header = vec![first, 0x80 | 127];
    header.extend_from_slice(&declared.to_be_bytes());
    header.extend_from_slice(&[0x0B, 0xAD, 0xF0, 0x0D]);
    header
}

/// Send `bytes` in separate writes, cut at `cuts` (offsets into `bytes`),
/// pausing between writes so that the server reads each piece on its own.
pub fn send_in_pieces(client: &mut Client, bytes: &[u8], cuts: &[usize]) {
    let mut start = 0;
    for end in cuts.iter().copied().chain([bytes.len()]) {
        if end <= start {
            continue;
        }
        if start > 0 {
            std::thread::sleep(PAUSE);
        }
        client.send(&bytes[start..end]);
        start = end;
    }
}

/// Long enough for the server to read what was just sent on its own.
pub const PAUSE: Duration = Duration::from_millis(2);
