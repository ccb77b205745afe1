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
//! With `--check URL` it is instead a checker of a server: a list of
//! cases, each on a connection of its own, each passed, failed (and why)
//! or not judged (`check/`, and `docs/check.md`).
//!
//! This file is the command line and the conversation. The steps are
//! functions of their own (`handshake`, `send`, `next_event`,
//! `read_frame`, `closing_handshake`), each over a [`Peer`]. Beside it:
//! `url.rs` reads the URL, `peer.rs` is the connection, `frames.rs` our
//! frames, `handshake.rs` the request and the checks of a 101, and
//! `shown.rs` makes a server's bytes safe to print. The frames are the
//! library's own (`frame::encode`, `frame::parse_header`,
//! `frame::unmask`), and so are the checks of a server's close frame and
//! the blocks printed.

mod check;
mod frames;
mod handshake;
mod peer;
mod shown;
mod url;

use check::Expect;
use frames::{client_frame, masked, seen, MASK, SECOND_MASK};
use handshake::{Request, KEY, SUBPROTOCOL};
use peer::{Peer, Stop};
use shown::quoted;
use socket_server::dissect::{self, Direction};
use socket_server::protocol::close::{self, CloseFrame, Violation};
use socket_server::protocol::frame::{self, Header, OpCode};
use socket_server::protocol::reader::Message;
use socket_server::protocol::{accept_key, AcceptKey};
use std::fmt::Display;
use std::io::{self, Write};
use std::net::Shutdown;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;
use url::{parse_url, Url};

const HELP: &str = "\
Usage: client [OPTIONS] URL [MESSAGE ...]
       client --check URL [--expect echo|reply] [--json] [--timeout SECS]

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
for SECS (why is on stderr); 2 a usage error, or no connection.

Checking a server: client --check URL
  Runs some forty cases against the server at URL, each on a connection
  of its own: the opening handshake, text and binary messages of every
  length form, fragments, pings, closing, and frames a server must refuse.
  Each case prints PASS, FAIL or NOT JUDGED; a failure says why, the rule
  and its RFC 6455 section, what went each way (drawn as --trace draws
  it), and the bug of the PHP tutorial it looks like, if one does
  (docs/check.md).
  --expect echo|reply  echo (the default): each message must come back
                       the same; reply: any well-formed message back will
                       do (\"You have entered: ...\"), and a case the answer
                       cannot show is not judged, saying why
  --json               one JSON object a line: name, section, result
                       (passed, failed, not judged), reason, bug, rule
  --timeout SECS       each case's deadline [default: 1; twice that for
                       messages of 64 KiB and more, and many clients]
  Exit status: 0 every case passed (or was not judged for --expect reply);
  1 a case failed, or the server stopped answering (the cases after it are
  not judged); 2 a usage error, or nothing to connect to.";

/// The largest message we send or take in. Memory grows only with bytes
/// that arrived, and a frame that declares more fails at once (§10.4).
const MAX_MESSAGE: usize = 4 << 20;
/// The most of a refusal's body we read.
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
    if options.check {
        let expect = options.expect.unwrap_or(Expect::Echo);
        let wait = Duration::from_secs_f64(options.timeout.unwrap_or(1.0));
        return check::run(&options.url, expect, options.json, wait);
    }
    let Url { host, port, .. } = &options.url;
    let timeout = Duration::from_secs_f64(options.timeout.unwrap_or(5.0));
    let mut peer = match Peer::connect(host, *port, timeout) {
        Ok((peer, address)) => {
            say!("== connected to {address}");
            peer
        }
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
    version: Option<usize>,
    timeout: Option<f64>,
    messages: Vec<Outgoing>,
    /// `--check`, and how: what a message is answered with, and whether
    /// the results are JSON.
    check: bool,
    expect: Option<Expect>,
    json: bool,
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
    let mut options = Options {
        url: Url::default(),
        tutorial_request: false,
        version: None,
        timeout: None,
        messages: Vec::new(),
        check: false,
        expect: None,
        json: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            _ if only_words || !arg.starts_with("--") && arg != "-h" => match url {
                None => url = Some(parse_url(&arg)?),
                Some(_) => options.messages.push(Outgoing::Text(arg)),
            },
            "--" => only_words = true,
            "-h" | "--help" => return Ok(None),
            "--tutorial-request" => options.tutorial_request = true,
            "--timeout" => options.timeout = Some(number(&value("--timeout")?, 0.001, 3600.0)?),
            "--ws-version" => options.version = Some(number(&value("--ws-version")?, 0, 255)?),
            "--check" => options.check = true,
            "--json" => options.json = true,
            "--expect" => options.expect = Some(expectation(&value("--expect")?)?),
            flag => options.messages.push(message_flag(flag, &mut value)?),
        }
    }
    options.url = url.ok_or("no URL: give one, such as ws://127.0.0.1:1222/")?;
    both_halves_apart(&options)?;
    Ok(Some(options))
}

/// The checker sends its own messages and requests; the conversation
/// has no cases to judge.
fn both_halves_apart(options: &Options) -> Result<(), String> {
    let conversation =
        !options.messages.is_empty() || options.tutorial_request || options.version.is_some();
    let checking = options.expect.is_some() || options.json;
    match (options.check, conversation, checking) {
        (true, true, _) => Err("--check sends its own requests and messages: no MESSAGE, \
             --tutorial-request or --ws-version with it"
            .into()),
        (false, _, true) => Err("--expect and --json go with --check".into()),
        _ => Ok(()),
    }
}

/// `--expect echo` or `--expect reply`.
fn expectation(word: &str) -> Result<Expect, String> {
    match word {
        "echo" => Ok(Expect::Echo),
        "reply" => Ok(Expect::Reply),
        _ => Err(format!("--expect {word:?}: echo or reply")),
    }
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

// ------------------------------------------------------------ failing

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

/// [`Peer::fill`], its stops said in words.
fn fill(peer: &mut Peer) -> Result<bool, Failure> {
    peer.fill().map_err(|stop| stopped(peer, stop))
}

fn stopped(peer: &Peer, stop: Stop) -> Failure {
    match stop {
        Stop::Silent => silence(peer),
        Stop::Full => failure!("the server sent more than this client reads"),
        Stop::Failed(e) => failure!("while waiting for {}: {e}", peer.waiting_for),
    }
}

/// The deadline passed. Bytes that came and make no whole frame are
/// shown: a length the server wrote wrong (the PHP's B16) shows here.
fn silence(peer: &Peer) -> Failure {
    let (what, secs) = (peer.waiting_for, peer.timeout.as_secs_f64());
    let mut why = format!("nothing came within {secs} s while waiting for {what}");
    if !peer.inbox.is_empty() {
        let n = peer.inbox.len();
        let bytes = shown::hex(&peer.inbox);
        why += &format!("; {n} bytes came that are not a whole frame: {bytes}");
    }
    failure!("{why}")
}

/// [`fill`], where the end of the stream is a failure: the server left
/// without a close frame (§7.1.5: code 1006).
fn fill_or_lost(peer: &mut Peer) -> Result<(), Failure> {
    if fill(peer)? {
        return Ok(());
    }
    let when = match peer.inbox.len() {
        0 => format!("while we waited for {}", peer.waiting_for),
        n => format!("in the middle of a frame ({n} bytes of it came)"),
    };
    Err(failure!("the server left {when}: no close frame (1006)"))
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
    let path = &options.url.path;
    let here = options.url.authority();
    let origin = format!("http://{here}");
    let mut names = (path.as_str(), here.as_str(), origin.as_str());
    if options.tutorial_request {
        // Another server's name, and a page from another site.
        names = ("/mychat", "server.example.com", "http://example.com");
    }
    let (path, host, origin) = names;
    let request = Request {
        path,
        host,
        key: Some(KEY),
        protocol: Some(SUBPROTOCOL),
        version: options.version.unwrap_or(13),
        origin: Some(origin),
    };
    request.bytes()
}

/// Send `request`, read the answer, and check it as §4.1 says a client
/// must. Bytes after the response head stay in the inbox: frames.
fn handshake(peer: &mut Peer, request: &[u8]) -> Result<(), Failure> {
    say!("== the opening handshake (RFC 6455 §4.1)");
    show(&dissect::http("", "request head", request));
    let sent = peer.send(request);
    sent.map_err(|e| failure!("cannot send to the server: {e}"))?;
    peer.wait_for("the answer to the handshake");
    let head = match peer.read_head() {
        Ok(Some(head)) => head,
        Ok(None) => {
            let got = quoted(&String::from_utf8_lossy(&peer.inbox));
            return Err(failure!("the server closed without answering: {got}"));
        }
        Err(Stop::Full) => return Err(failure!("the server's response head is over 8 KiB")),
        Err(stop) => return Err(stopped(peer, stop)),
    };
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default();
    match handshake::status(&text) {
        Some(101) => {}
        Some(_) => return Err(refused(peer, &head, status_line)),
        None => return Err(failure!("not an HTTP status line: {}", quoted(status_line))),
    }
    show(&dissect::http("", "response", &head));
    check_switch(&text, &accept_key(KEY))
}

/// A refused handshake: show the response whole, its body too
/// (`Content-Length` bytes, or all until the server closes, at most
/// [`MAX_BODY`]), and fail with its status line and body.
fn refused(peer: &mut Peer, head: &[u8], status_line: &str) -> Failure {
    let text = String::from_utf8_lossy(head);
    let declared = handshake::header(&text, "Content-Length")
        .parse()
        .unwrap_or(MAX_BODY);
    let wanted = declared.min(MAX_BODY);
    // The status says what matters: a body that does not come is no
    // further failure.
    while peer.inbox.len() < wanted && matches!(peer.fill(), Ok(true)) {}
    let body: Vec<u8> = peer.inbox.drain(..peer.inbox.len().min(wanted)).collect();
    show(&dissect::http("", "response", &[head, &body].concat()));
    let body = quoted(String::from_utf8_lossy(&body).trim());
    failure!("the server refused the handshake: {status_line}\n  {body}")
}

/// §4.1: what a client checks of a `101` before it calls the connection
/// open. If any check fails, the connection fails.
fn check_switch(head: &str, expected: &AcceptKey) -> Result<(), Failure> {
    // The arithmetic the server's `--trace` shows, done again: only a
    // server that read our key can answer with its result.
    let accept = handshake::header(head, "Sec-WebSocket-Accept");
    let verdict = match accept == expected.accept {
        true => "the same",
        false => "NOT the same",
    };
    let worked_out = dissect::accept_key("", expected);
    show(&format!("{worked_out}\nthe server: {accept}, {verdict}"));
    match handshake::switch_problem(head, expected, Some(SUBPROTOCOL)) {
        Some(what) => Err(failure!("the server's 101 {what} (RFC 6455 §4.1)")),
        None => Ok(()),
    }
}

// ----------------------------------------------------------------- the frames

/// Send one of our frames, and show it.
fn send(peer: &mut Peer, bytes: &[u8]) -> Result<(), Failure> {
    // Our own frame: its header always parses.
    if let Ok(Some(header)) = frame::parse_header(bytes, false) {
        let text = matches!(header.opcode, OpCode::Text | OpCode::Continuation);
        let seen = seen(Direction::Out, header, bytes, text);
        show(&dissect::frame("", &seen));
    }
    let sent = peer.send(bytes);
    sent.map_err(|e| failure!("cannot send to the server: {e}"))
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
            Ok(None) => fill_or_lost(peer)?,
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
        fill_or_lost(peer)?;
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
    if peer.inbox.is_empty() && !fill(peer)? {
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
    say!("{}", shown::block(block).replace('\n', "\n    "));
}

fn show_message(message: &Message) {
    match message {
        Message::Text(text) => say!("message in: text {}", quoted(text)),
        Message::Binary(data) => say!("message in: binary, {} bytes", data.len()),
    }
}
