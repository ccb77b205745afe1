//! `client`: the other half of the tutorial, a raw WebSocket client that
//! shows every byte it sends and receives.
//!
//! It speaks RFC 6455 from the client's side: the opening handshake
//! (§4.1), masked frames (§5.3), the server's messages, pings and
//! fragments (§5.4, §5.5), and the closing handshake (§7). Everything is
//! printed in the blocks the server's `--trace` writes to its log, so the
//! two ends of one conversation can be read side by side: what the
//! server logs as `frame in`, the client prints as `frame out`.
//!
//! The steps are functions of their own (`handshake`, `send`,
//! `next_event`, `read_frame`, `closing_handshake`), each over a
//! [`Peer`], so that a later tool can drive them in another order. The
//! frames are the library's own (`frame::encode`, `frame::parse_header`,
//! `frame::unmask`), and so are the checks of a server's close frame and
//! the blocks printed.

use socket_server::dissect::{self, Direction, Seen};
use socket_server::protocol::close::{self, CloseFrame, Violation};
use socket_server::protocol::frame::{self, Header, OpCode};
use socket_server::protocol::reader::Message;
use socket_server::protocol::{accept_key, AcceptKey};
use std::fmt::Display;
use std::io::ErrorKind::{self, Interrupted, TimedOut, WouldBlock};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

const HELP: &str = "\
Usage: client [OPTIONS] URL [MESSAGE ...]

The raw WebSocket client of the tutorial (RFC 6455): it connects to URL,
ws://HOST[:PORT][/PATH] (port 80 if none), does the opening handshake,
sends each MESSAGE and waits for the answer, then closes (code 1000,
reason \"bye\"). Every byte both ways is printed as the server's --trace
logs it. Each MESSAGE is masked with 37 fa 21 3d (RFC 6455 §5.7's key):
  WORD             a text message (after --, even one that starts with --)
  --binary N       a binary message of N bytes: 00 01 02 ... ff 00 01 ...
  --split N WORD   WORD in two frames, cut after N bytes (the second one
                   masked with 7d 24 9e 08)
  --ping DATA      a ping of at most 125 bytes; the pong is awaited
  --unmasked WORD  a text frame with no mask, breaking §5.1 on purpose

Options:
  --tutorial-request  send the tutorial's request byte for byte (GET /mychat,
                      Host: server.example.com, Origin: http://example.com):
                      the server lets it in only with --allowed-host
                      server.example.com --allowed-origin http://example.com
  --ws-version N      ask for protocol version N instead of 13
  --timeout SECS      wait at most SECS for each answer [default: 5]
  -h, --help          this text
Otherwise the request names the server, Host: HOST:PORT and Origin:
http://HOST:PORT. The key is the tutorial's, x3JJHMbDL1EzLkh9GBhXDw==,
so Sec-WebSocket-Accept must be HSmrc0sMlYUkAGmm5OPpG2HaGWk=.

Exit status: 0 the handshake succeeded and the server closed with 1000;
1 the server refused, broke the protocol, closed otherwise, or was silent
for SECS (why is on stderr); 2 a usage error, or no connection.";

/// The tutorial's `Sec-WebSocket-Key`. §4.1 wants 16 fresh random bytes
/// for every connection; a fixed key makes every run print the same bytes.
const KEY: &str = "x3JJHMbDL1EzLkh9GBhXDw==";
/// The subprotocol the tutorial's request offers (§1.9).
const SUBPROTOCOL: &str = "chat";
/// The masking key of our frames: RFC 6455 §5.7's. A real client picks a
/// new random key for each frame (§5.3), so that a page's script cannot
/// choose the bytes on the wire (§10.3).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// The key of a split message's second frame: each frame has its own.
const SECOND_MASK: [u8; 4] = [0x7d, 0x24, 0x9e, 0x08];
/// The largest message we send or take in. Memory grows only with bytes
/// that arrived, and a frame that declares more fails at once (§10.4).
const MAX_MESSAGE: usize = 4 << 20;
/// The largest response head, and the most of a refusal's body we read.
const MAX_HEAD: usize = 8 * 1024;
const MAX_BODY: usize = 64 * 1024;
/// Said when the server refuses the tutorial's request with 403.
const TUTORIAL_HINT: &str = "\n  (the tutorial's request names server.example.com and comes \
    from http://example.com: start the server with --allowed-host server.example.com \
    --allowed-origin http://example.com to let it in)";

/// `println!`, but a stdout that is gone (a closed pipe) is no reason to
/// stop talking to the server, so a failed write is not a panic.
macro_rules! say {
    ($($arg:tt)*) => {{ let _ = writeln!(io::stdout().lock(), $($arg)*); }};
}

/// A [`Failure`] with no close frame to send, its text as `format!` makes it.
macro_rules! failure {
    ($($arg:tt)*) => { Failure(format!($($arg)*), None) };
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            say!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            complain(&format!("{why}\nTry 'client --help'."));
            return ExitCode::from(2);
        }
    };
    let Url { host, port, .. } = &options.url;
    let mut peer = match Peer::connect(host, *port, options.timeout) {
        Ok(peer) => peer,
        Err(why) => {
            complain(&format!("cannot connect to {host}:{port}: {why}"));
            return ExitCode::from(2);
        }
    };
    match run(&mut peer, &options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            fail(&mut peer, &failure);
            ExitCode::FAILURE
        }
    }
}

/// The whole conversation: the handshake, each message and its answer,
/// the closing handshake.
fn run(peer: &mut Peer, options: &Options) -> Result<(), Failure> {
    if let Err(mut failure) = handshake(peer, &request(options)) {
        if options.tutorial_request && failure.0.contains(" 403 ") {
            failure.0.push_str(TUTORIAL_HINT);
        }
        return Err(failure);
    }
    let count = options.messages.len();
    for (n, message) in options.messages.iter().enumerate() {
        say!("== message {} of {count}", n + 1);
        send_message(peer, message)?;
        if let Some(close) = await_answer(peer, message)? {
            say!("== the server closes first (RFC 6455 §7.1.2); we answer");
            return answer_close(peer, close);
        }
    }
    say!("== closing (RFC 6455 §7.1.2): code 1000, reason \"bye\"");
    closing_handshake(peer)
}

// ------------------------------------------------------------ the command line

/// What the command line asks for.
struct Options {
    url: Url,
    tutorial_request: bool,
    /// `Sec-WebSocket-Version` (§4.1 item 9): 13 unless `--ws-version`.
    version: usize,
    timeout: Duration,
    messages: Vec<Outgoing>,
}

/// One MESSAGE of the command line.
enum Outgoing {
    Text(String),
    Binary(usize),
    Split(usize, String),
    Ping(String),
    Unmasked(String),
}

/// The options, or `None` for `--help`, or what is wrong.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let (mut url, mut only_words) = (None, false);
    let (mut tutorial_request, mut version) = (false, 13);
    let (mut timeout, mut messages) = (5.0, Vec::new());
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            _ if only_words || !arg.starts_with("--") && arg != "-h" => match url {
                None => url = Some(parse_url(&arg)?),
                Some(_) => messages.push(Outgoing::Text(arg)),
            },
            "--" => only_words = true,
            "-h" | "--help" => return Ok(None),
            "--tutorial-request" => tutorial_request = true,
            "--timeout" => timeout = number(&value("--timeout")?, 0.001, 3600.0)?,
            "--ws-version" => version = number(&value("--ws-version")?, 0, 255)?,
            flag => messages.push(message_flag(flag, &mut value)?),
        }
    }
    let url = url.ok_or("no URL: give one, such as ws://127.0.0.1:1222/")?;
    let timeout = Duration::from_secs_f64(timeout);
    let options = Options {
        url,
        tutorial_request,
        version,
        timeout,
        messages,
    };
    Ok(Some(options))
}

/// A MESSAGE given by a flag, such as `--binary 256`; `value` takes the
/// flag's next argument.
fn message_flag(
    flag: &str,
    value: &mut impl FnMut(&str) -> Result<String, String>,
) -> Result<Outgoing, String> {
    match flag {
        "--binary" => Ok(Outgoing::Binary(number(&value(flag)?, 0, MAX_MESSAGE)?)),
        "--split" => match (number(&value(flag)?, 0, MAX_MESSAGE)?, value(flag)?) {
            (at, word) if at <= word.len() => Ok(Outgoing::Split(at, word)),
            (at, word) => Err(format!("--split {at}: {word:?} is shorter")),
        },
        // §5.5: a control frame carries at most 125 bytes.
        "--ping" => match value(flag)? {
            data if data.len() > 125 => Err("--ping: at most 125 bytes (§5.5)".into()),
            data => Ok(Outgoing::Ping(data)),
        },
        "--unmasked" => Ok(Outgoing::Unmasked(value(flag)?)),
        _ => Err(format!("unknown option {flag}")),
    }
}

/// A number from `low` to `high`: a size, a version, seconds.
fn number<T: FromStr + PartialOrd + Display>(text: &str, low: T, high: T) -> Result<T, String> {
    match text.parse::<T>() {
        Ok(n) if low <= n && n <= high => Ok(n),
        _ => Err(format!("{text:?} is not a number from {low} to {high}")),
    }
}

/// Where to connect, from a `ws://` URL (RFC 6455 §3).
struct Url {
    /// As written, with the brackets of an IPv6 address: `[::1]`.
    host: String,
    port: u16,
    /// The resource name: the path and the query, `/` if there is none.
    path: String,
}

/// Read `ws://HOST[:PORT][/PATH]`. `wss://` would need TLS, which this
/// client, like the server, does not speak.
fn parse_url(text: &str) -> Result<Url, String> {
    let bad = |why: &str| Err(format!("{text:?}: {why}"));
    let rest = match text.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ws") => rest,
        _ => return bad("not ws://HOST:PORT/PATH (wss:// would need TLS, not spoken here)"),
    };
    // §3: "Fragment identifiers are meaningless in the context of
    // WebSocket URIs and MUST NOT be used on these URIs."
    if rest.contains('#') {
        return bad("a WebSocket URL has no #fragment (RFC 6455 §3)");
    }
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    // The port follows the last colon, unless that colon is inside the
    // brackets of an IPv6 address.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.is_empty() || host.contains('@') || host.contains([':', '[', ']']) && !bracketed {
        return bad("expected ws://HOST:PORT/PATH, an IPv6 HOST in [ ], no user name");
    }
    let port = match port.map(str::parse::<u16>) {
        None => 80,
        Some(Ok(port)) if port > 0 => port,
        Some(_) => return bad("the port is not a number from 1 to 65535"),
    };
    let path = format!("/{}", path.trim_start_matches('/'));
    let host = host.to_string();
    Ok(Url { host, port, path })
}

// ------------------------------------------------------------- the connection

/// The TCP connection to the server, and what was read from it but not
/// yet used.
struct Peer {
    stream: TcpStream,
    inbox: Vec<u8>,
    timeout: Duration,
    /// What we wait for now, and until when: each step has its own
    /// `--timeout`, however many reads it takes.
    waiting_for: &'static str,
    deadline: Instant,
}

/// Why the conversation failed (exit status 1); and if the server broke
/// a rule of RFC 6455, the code we fail the connection with (§7.1.7), as
/// the server would.
struct Failure(String, Option<u16>);

/// A rule the server broke; the library's `Violation` names its code.
fn broken(violation: Violation) -> Failure {
    broke(violation.close_code(), violation)
}

fn broke(code: u16, rule: impl Display) -> Failure {
    Failure(format!("the server broke RFC 6455: {rule}"), Some(code))
}

impl Peer {
    /// Connect to the first address of `host` that answers within
    /// `timeout`.
    fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<Peer> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let mut why = io::Error::new(ErrorKind::NotFound, "the host has no address");
        for address in (bare, port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&address, timeout) {
                Ok(stream) => {
                    stream.set_write_timeout(Some(timeout))?;
                    say!("== connected to {address}");
                    let (inbox, deadline) = (Vec::new(), Instant::now());
                    return Ok(Peer {
                        stream,
                        inbox,
                        timeout,
                        waiting_for: "",
                        deadline,
                    });
                }
                Err(e) => why = e,
            }
        }
        Err(why)
    }

    /// From now, wait at most the timeout for `what`.
    fn wait_for(&mut self, what: &'static str) {
        self.waiting_for = what;
        self.deadline = Instant::now() + self.timeout;
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let sent = self.stream.write_all(bytes);
        sent.map_err(|e| failure!("cannot send to the server: {e}"))
    }

    /// Read what has arrived onto the inbox: false at the end of the
    /// stream. Fails once the deadline of [`Peer::wait_for`] has passed.
    fn fill(&mut self) -> Result<bool, Failure> {
        let what = self.waiting_for;
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.silence());
        }
        let _ = self.stream.set_read_timeout(Some(left));
        let mut chunk = [0; 64 * 1024];
        loop {
            return match self.stream.read(&mut chunk) {
                Ok(0) => Ok(false),
                Ok(n) => {
                    self.inbox.extend_from_slice(&chunk[..n]);
                    Ok(true)
                }
                Err(e) if matches!(e.kind(), WouldBlock | TimedOut) => Err(self.silence()),
                // A signal came before any byte: read again.
                Err(e) if e.kind() == Interrupted => continue,
                Err(e) => Err(failure!("while waiting for {what}: {e}")),
            };
        }
    }

    /// The deadline passed. Bytes that came and make no whole frame are
    /// shown: a length the server wrote wrong (the PHP's B16) shows here.
    fn silence(&self) -> Failure {
        let (what, secs) = (self.waiting_for, self.timeout.as_secs_f64());
        let mut why = format!("nothing came within {secs} s while waiting for {what}");
        if !self.inbox.is_empty() {
            let start = &self.inbox[..self.inbox.len().min(16)];
            let hex: Vec<String> = start.iter().map(|b| format!("{b:02x}")).collect();
            let n = self.inbox.len();
            why += &format!(
                "; {n} bytes came that are not a whole frame: {} ...",
                hex.join(" ")
            );
        }
        failure!("{why}")
    }

    /// [`Peer::fill`], where the end of the stream is a failure: the
    /// server left without a close frame (§7.1.5: code 1006).
    fn fill_or_lost(&mut self) -> Result<(), Failure> {
        if self.fill()? {
            return Ok(());
        }
        let when = match self.inbox.len() {
            0 => format!("while we waited for {}", self.waiting_for),
            n => format!("in the middle of a frame ({n} bytes of it came)"),
        };
        Err(failure!("the server left {when}: no close frame (1006)"))
    }
}

/// The conversation failed: if the server broke a rule, fail the
/// WebSocket connection with a close frame first (§7.1.7); say why.
fn fail(peer: &mut Peer, failure: &Failure) {
    if let Failure(why, Some(code)) = failure {
        let reason = why.trim_start_matches("the server broke RFC 6455: ");
        say!("== failing the connection with {code} (RFC 6455 §7.1.7)");
        let _ = send(peer, &masked(OpCode::Close, &close::payload(*code, reason)));
    }
    let _ = peer.stream.shutdown(Shutdown::Both);
    complain(&failure.0);
}

// -------------------------------------------------------------- the handshake

/// The opening handshake: our request as §4.1 spells it, in the order of
/// the tutorial's own request, so that `--tutorial-request` only changes
/// whom it names.
fn request(options: &Options) -> Vec<u8> {
    let Url { host, port, path } = &options.url;
    let here = format!("{host}:{port}");
    let origin = format!("http://{here}");
    let mut names = (path.as_str(), here.as_str(), origin.as_str());
    if options.tutorial_request {
        // Another server's name, and a page from another site.
        names = ("/mychat", "server.example.com", "http://example.com");
    }
    let (path, host, origin) = names;
    let version = options.version;
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\
         Sec-WebSocket-Version: {version}\r\nOrigin: {origin}\r\n\r\n"
    )
    .into_bytes()
}

/// Send `request`, read the answer, and check it as §4.1 says a client
/// must. Bytes after the response head stay in the inbox: frames.
fn handshake(peer: &mut Peer, request: &[u8]) -> Result<(), Failure> {
    say!("== the opening handshake (RFC 6455 §4.1)");
    show(&dissect::http("", "request head", request));
    peer.send(request)?;
    peer.wait_for("the answer to the handshake");
    let head = read_head(peer)?;
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default();
    // RFC 9112 §4: `HTTP/1.1 101 Switching Protocols`.
    match status_line.split(' ').collect::<Vec<_>>()[..] {
        [version, "101", ..] if version.starts_with("HTTP/1.") => {}
        [version, _, ..] if version.starts_with("HTTP/1.") => {
            return Err(refused(peer, &head, status_line));
        }
        _ => return Err(failure!("not an HTTP status line: {}", quoted(status_line))),
    }
    show(&dissect::http("", "response", &head));
    check_switch(&text, &accept_key(KEY))
}

/// The response head, up to and with its empty line.
fn read_head(peer: &mut Peer) -> Result<Vec<u8>, Failure> {
    loop {
        if let Some(at) = peer.inbox.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(peer.inbox.drain(..at + 4).collect());
        }
        if peer.inbox.len() > MAX_HEAD {
            return Err(failure!("the server's response head is over 8 KiB"));
        }
        if !peer.fill()? {
            let got = quoted(&String::from_utf8_lossy(&peer.inbox));
            return Err(failure!("the server closed without answering: {got}"));
        }
    }
}

/// A refused handshake: show the response whole, its body too
/// (`Content-Length` bytes, or all until the server closes, at most
/// [`MAX_BODY`]), and fail with its status line and body.
fn refused(peer: &mut Peer, head: &[u8], status_line: &str) -> Failure {
    let text = String::from_utf8_lossy(head);
    let declared = header(&text, "Content-Length").parse().unwrap_or(MAX_BODY);
    let wanted = declared.min(MAX_BODY);
    // The status says what matters: a body that does not come is no
    // further failure.
    while peer.inbox.len() < wanted && matches!(peer.fill(), Ok(true)) {}
    let body: Vec<u8> = peer.inbox.drain(..peer.inbox.len().min(wanted)).collect();
    show(&dissect::http("", "response", &[head, &body].concat()));
    let body = quoted(String::from_utf8_lossy(&body).trim());
    failure!("the server refused the handshake: {status_line}\n  {body}")
}

/// A header's value in a response head, by its name in any case (RFC
/// 9110 §5.1); `""` if it has none.
fn header<'a>(head: &'a str, name: &str) -> &'a str {
    let fields = head.lines().skip(1).filter_map(|line| line.split_once(':'));
    let mut found = fields.filter(|(field, _)| field.trim().eq_ignore_ascii_case(name));
    found.next().map_or("", |(_, value)| value.trim())
}

/// §4.1: what a client checks of a `101` before it calls the connection
/// open. If any check fails, the connection fails.
fn check_switch(head: &str, expected: &AcceptKey) -> Result<(), Failure> {
    // The arithmetic the server's `--trace` shows, done again: only a
    // server that read our key can answer with its result.
    let accept = header(head, "Sec-WebSocket-Accept");
    let same = accept == expected.accept;
    let verdict = if same { "the same" } else { "NOT the same" };
    let worked_out = dissect::accept_key("", expected);
    show(&format!("{worked_out}\nthe server: {accept}, {verdict}"));
    let upgrade = header(head, "Upgrade").eq_ignore_ascii_case("websocket");
    let mut tokens = header(head, "Connection").split(',').map(str::trim);
    let connection = tokens.any(|token| token.eq_ignore_ascii_case("Upgrade"));
    // We asked for no extension, and offered one subprotocol.
    let extensions = header(head, "Sec-WebSocket-Extensions").is_empty();
    let protocol = matches!(header(head, "Sec-WebSocket-Protocol"), "" | SUBPROTOCOL);
    let checks = [
        (upgrade, "lacks Upgrade: websocket"),
        (connection, "lacks Connection: Upgrade"),
        (same, "has the wrong Sec-WebSocket-Accept"),
        (extensions, "names an extension we did not ask for"),
        (protocol, "names a subprotocol we did not offer"),
    ];
    match checks.iter().find(|(passed, _)| !passed) {
        Some((_, what)) => Err(failure!("the server's 101 {what} (RFC 6455 §4.1)")),
        None => Ok(()),
    }
}

// ----------------------------------------------------------------- the frames

/// A client's frame (§5.2): the library writes a whole, unmasked frame;
/// a client's differs in two bits and four bytes. `mask` is `None` only
/// for `--unmasked`: a client MUST mask every frame (§5.1).
fn client_frame(opcode: OpCode, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(14 + payload.len());
    frame::encode(&mut bytes, opcode, payload);
    let at = bytes.len() - payload.len();
    if !fin {
        bytes[0] &= 0x7F; // FIN 0: more frames of this message follow (§5.4)
    }
    if let Some(key) = mask {
        bytes[1] |= 0x80; // MASK 1, and the key after the length (§5.2)
        frame::unmask(&mut bytes[at..], key, 0); // XOR masks as it unmasks
        bytes.splice(at..at, key);
    }
    bytes
}

/// A message's one frame (FIN 1), masked with [`MASK`].
fn masked(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    client_frame(opcode, true, payload, Some(MASK))
}

/// Send one of our frames, and show it.
fn send(peer: &mut Peer, bytes: &[u8]) -> Result<(), Failure> {
    // Our own frame: its header always parses.
    if let Ok(Some(header)) = frame::parse_header(bytes, false) {
        let text = matches!(header.opcode, OpCode::Text | OpCode::Continuation);
        let seen = seen(Direction::Out, header, bytes, text);
        show(&dissect::frame("", &seen));
    }
    peer.send(bytes)
}

/// What `--trace` formats of one whole frame: `bytes` is its header, then
/// its payload as it went on the wire.
fn seen(direction: Direction, header: Header, bytes: &[u8], text: bool) -> Seen {
    let (header_bytes, payload) = bytes.split_at(header.header_len);
    // The library's record of a frame read, turned round if it is ours.
    let mut seen = Seen::incoming(header, header_bytes, text);
    seen.direction = direction;
    Seen::keep(&mut seen.wire, payload);
    seen.plain = seen.wire.clone();
    if let Some(key) = header.mask {
        frame::unmask(&mut seen.plain, key, 0);
    }
    seen
}

/// Read the server's next frame, however many reads it takes. Nothing is
/// reserved from the length a header declares (§10.4): a data frame of
/// more than `room` bytes fails at once, and the bytes of the others are
/// kept only as they arrive.
/// It comes whole: its header, and its bytes as they came.
fn read_frame(peer: &mut Peer, room: usize) -> Result<(Header, Vec<u8>), Failure> {
    let header = loop {
        // The library's rules of §5.2 and §5.5: reserved bits and
        // opcodes, control frames, the shortest length.
        match frame::parse_header(&peer.inbox, false) {
            Ok(Some(header)) => break header,
            Ok(None) => peer.fill_or_lost()?,
            Err(violation) => return Err(broken(violation)),
        }
    };
    // §5.1: "A client MUST close a connection if it detects a masked frame."
    if header.mask.is_some() {
        return Err(broke(1002, "a server frame is masked (§5.1)")); // protocol error
    }
    if !header.opcode.is_control() && header.payload_len > room as u64 {
        return Err(broken(Violation::MessageTooBig { limit: MAX_MESSAGE }));
    }
    // At most `room` (4 MiB) past the header: no overflow.
    let end = header.header_len + header.payload_len as usize;
    while peer.inbox.len() < end {
        peer.fill_or_lost()?;
    }
    Ok((header, peer.inbox.drain(..end).collect()))
}

/// What the server sent, once a whole one has come.
enum Event {
    Message(Message),
    Pong,
    Close(CloseFrame),
}

/// A message whose first frames have come: is it text, and its bytes so far.
type Partial = Option<(bool, Vec<u8>)>;

/// Read frames until a whole message, a pong or a close has come. A ping
/// is answered at once, even between the fragments of a message (§5.5.2).
fn next_event(peer: &mut Peer) -> Result<Event, Failure> {
    let mut partial: Partial = None;
    loop {
        let so_far = partial.as_ref().map_or(0, |(_, data)| data.len());
        let (header, bytes) = read_frame(peer, MAX_MESSAGE - so_far)?;
        let payload = &bytes[header.header_len..];
        let text = match header.opcode {
            OpCode::Text => true,
            OpCode::Continuation => partial.as_ref().is_some_and(|(text, _)| *text),
            _ => false,
        };
        let seen = seen(Direction::In, header, &bytes, text);
        show(&dissect::frame("", &seen));
        match header.opcode {
            // §5.5.3: a pong carries the ping's data.
            OpCode::Ping => send(peer, &masked(OpCode::Pong, payload))?,
            OpCode::Pong if partial.is_none() => return Ok(Event::Pong),
            OpCode::Pong => {}
            OpCode::Close => {
                let checked = close::parse_payload(payload);
                return checked.map(Event::Close).map_err(broken);
            }
            _ => {
                if let Some(message) = add_fragment(&mut partial, header, payload)? {
                    return Ok(Event::Message(message));
                }
            }
        }
    }
}

/// Add a data frame to the message being read (§5.4): the whole message
/// once its last frame is in.
fn add_fragment(
    partial: &mut Partial,
    header: Header,
    payload: &[u8],
) -> Result<Option<Message>, Failure> {
    let (text, mut data) = match (header.opcode, partial.take()) {
        (OpCode::Continuation, Some(message)) => message,
        (OpCode::Continuation, None) => return Err(broken(Violation::UnexpectedContinuation)),
        (_, Some(_)) => return Err(broken(Violation::ExpectedContinuation)),
        (opcode, None) => (opcode == OpCode::Text, Vec::new()),
    };
    data.extend_from_slice(payload);
    if !header.fin {
        *partial = Some((text, data));
        return Ok(None);
    }
    match text {
        // §8.1: text that is not UTF-8 fails the connection (1007).
        true => String::from_utf8(data)
            .map(|text| Some(Message::Text(text)))
            .map_err(|_| broken(Violation::InvalidUtf8)),
        false => Ok(Some(Message::Binary(data))),
    }
}

// ---------------------------------------------------------- messages, closing

/// Send one MESSAGE of the command line.
fn send_message(peer: &mut Peer, message: &Outgoing) -> Result<(), Failure> {
    match message {
        Outgoing::Text(word) => send(peer, &masked(OpCode::Text, word.as_bytes())),
        Outgoing::Binary(size) => {
            let data: Vec<u8> = (0..*size).map(|i| i as u8).collect();
            send(peer, &masked(OpCode::Binary, &data))
        }
        Outgoing::Split(at, word) => {
            let (first, rest) = word.as_bytes().split_at(*at);
            send(peer, &client_frame(OpCode::Text, false, first, Some(MASK)))?;
            send(
                peer,
                &client_frame(OpCode::Continuation, true, rest, Some(SECOND_MASK)),
            )
        }
        Outgoing::Ping(data) => send(peer, &masked(OpCode::Ping, data.as_bytes())),
        Outgoing::Unmasked(word) => send(
            peer,
            &client_frame(OpCode::Text, true, word.as_bytes(), None),
        ),
    }
}

/// Wait for the server's answer: a message (a pong, after a ping). Its
/// close frame instead, if it closes first.
fn await_answer(peer: &mut Peer, sent: &Outgoing) -> Result<Option<CloseFrame>, Failure> {
    let ping = matches!(sent, Outgoing::Ping(_));
    peer.wait_for(if ping { "a pong" } else { "an answer" });
    loop {
        match next_event(peer)? {
            Event::Close(close) => return Ok(Some(close)),
            Event::Pong if ping => return Ok(None),
            // §5.5.3: a pong nobody asked for needs no answer.
            Event::Pong => {}
            Event::Message(message) => {
                show_message(&message);
                if !ping {
                    return Ok(None);
                }
            }
        }
    }
}

/// Start the closing handshake (§7.1.2): our close frame, then the
/// server's (messages it sent before may still come), then the end.
fn closing_handshake(peer: &mut Peer) -> Result<(), Failure> {
    send(peer, &masked(OpCode::Close, &close::payload(1000, "bye")))?;
    peer.wait_for("the server's close frame");
    let answer = loop {
        match next_event(peer)? {
            Event::Close(answer) => break answer,
            Event::Message(message) => show_message(&message),
            Event::Pong => {}
        }
    };
    let ended = end_of_stream(peer);
    judge(&answer).and(ended)
}

/// The server closed first: answer with its code, as §5.5.1 suggests,
/// then wait for the end as [`closing_handshake`] does.
fn answer_close(peer: &mut Peer, close: CloseFrame) -> Result<(), Failure> {
    let payload = match close.code {
        Some(code) => close::payload(code, ""),
        None => Vec::new(),
    };
    let sent = send(peer, &masked(OpCode::Close, &payload));
    let ended = sent.and_then(|()| end_of_stream(peer));
    // How the server closed is the news; a failure after it, a footnote.
    judge(&close).and(ended)
}

/// After both close frames, the server closes TCP first (§7.1.1): wait
/// for it, and for nothing else.
fn end_of_stream(peer: &mut Peer) -> Result<(), Failure> {
    peer.wait_for("the server to close the TCP connection (§7.1.1)");
    if peer.inbox.is_empty() && !peer.fill()? {
        say!("== the server closed the TCP connection: the closing handshake is complete");
        return Ok(());
    }
    let extra = peer.inbox.len();
    Err(failure!(
        "{extra} bytes came after the close frame (§5.5.1)"
    ))
}

/// Clean is a close with code 1000 (§7.4.1, normal closure).
fn judge(close: &CloseFrame) -> Result<(), Failure> {
    let (code, reason) = (close.code.unwrap_or(1005), quoted(&close.reason));
    let meaning = close::meaning(code);
    match close.code {
        Some(1000) => Ok(()),
        Some(_) => Err(failure!(
            "the server closed with {code} ({meaning}), reason {reason}"
        )),
        None => Err(failure!("the server closed with no code (1005, {meaning})")),
    }
}

// --------------------------------------------------------------------- output

/// What went wrong, on stderr.
fn complain(why: &str) {
    let _ = writeln!(io::stderr().lock(), "client: {why}");
}

/// One of `--trace`'s blocks (made with an empty client id, `[] `, left
/// out here), its lines after the first indented as the server's log
/// indents them.
fn show(block: &str) {
    let block = block.strip_prefix("[] ").unwrap_or(block);
    say!("{}", block.replace('\n', "\n    "));
}

fn show_message(message: &Message) {
    match message {
        Message::Text(text) => say!("message in: text {}", quoted(text)),
        Message::Binary(data) => say!("message in: binary, {} bytes", data.len()),
    }
}

/// Text from the network, quoted and escaped (`{:?}`), so that no
/// control character reaches the terminal; cut after 200 characters.
fn quoted(text: &str) -> String {
    match text.char_indices().nth(200) {
        None => format!("{text:?}"),
        Some((at, _)) => format!("{:?}... ({} bytes)", &text[..at], text.len()),
    }
}
