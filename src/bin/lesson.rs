//! # The lesson server: `socket_server.php`, made right, in its own shape
//!
//! Read this file beside the tutorial's `socket_server.php`. It has the same
//! order and the same names: the address and port, the listening socket, the
//! `while(true)` loop, the client table keyed by socket with its `handshake`
//! flag and `id`, then `unmask`, `encode`, `fnConnectacceptedSocket`,
//! `getClientBySocket`, `handshake` and `console`. Each bug of the PHP is
//! fixed in the smallest way that is right, and a comment names the PHP line
//! and the bug's id in `docs/php-to-rust.md` (B4, B14, ...). Run it with
//! `make lesson`; `docs/lessons.md` is the reading order.
//!
//! It uses std, `sha1_smol` and `base64`, and nothing of this crate's
//! library: its own `handshake`, `unmask` and `encode` are the point, so
//! the duplication with `src/protocol/` is on purpose.
//!
//! ## What it does
//! - listens on 127.0.0.1, port 1222 or `--port N` (0: the system picks one)
//! - serves many clients at once, each keyed by its own socket (B4)
//! - waits for a whole request before it answers it (B8)
//! - answers the opening handshake: 101 with the accept key and the `chat`
//!   subprotocol when offered (B13); 400 without a key or version; 426 with
//!   `Sec-WebSocket-Version: 13` for another version (B11)
//! - answers a plain `GET /` with the tutorial's page, `www/socket_client.html`
//! - reads frames as a stream: a frame in many reads, many frames in one read
//!   (B14), all three length forms in network byte order both ways (B16)
//! - answers each text message with `You have entered: ` and the text
//! - answers a ping with a pong, a close with a close, then closes (B17, B18)
//! - fails a connection with close code 1002 for an unmasked frame, RSV bits,
//!   an unknown opcode, a 64-bit length with its top bit set, a control
//!   frame over 125 bytes, or a continuation with nothing to continue,
//!   as soon as the header says so (RFC 6455 §5.1-§5.5)
//! - notices a client that leaves and forgets it (B20)
//! - keeps replies the socket cannot take yet in an outbox, unbounded (B19)
//! - logs to `log.txt`, one line per event, peer bytes escaped (B21)
//!
//! ## What it leaves out on purpose, and where the full server does it
//! - fragmented messages (§5.4): a first fragment is closed with 1003 (`src/protocol/reader.rs`)
//! - binary messages: closed with 1003 (`src/app/tutorial.rs` answers them)
//! - UTF-8 checks of text (§8.1), and of close payloads and codes (§5.5.1,
//!   §7.4): a close's code is echoed unchecked (`src/protocol/utf8.rs`, `src/protocol/close.rs`)
//! - limits: request, frame and message sizes, clients (`src/config.rs`, `src/protocol/reader.rs`)
//! - timeouts: idle clients, slow handshakes, pings (`src/protocol/connection.rs`)
//! - backpressure: the outbox grows without bound (`src/protocol/buffers.rs`)
//! - the other checks of §4.2.1 (method, Upgrade, Connection, Host, the
//!   key's form) and the
//!   Origin rule of §10.2 (`src/protocol/handshake.rs`, `src/protocol/access.rs`)
//! - a real wait: the loop scans every socket, then sleeps (`src/server/poll.rs`)
//! - pages other than `/` and the HTTP rules of RFC 9112 (`src/server/www.rs`, `src/protocol/http.rs`)
//!
//! ## The PHP's bugs, on demand: `--php-bugs LIST`
//! `LIST` is ids separated by commas, or `all`. Each bug sits beside its fix.
//! - B4: one client only (the listener is never looked at again)
//! - B5: a full core while idle (the loop never sleeps; the PHP's spun once
//!   its first client came)
//! - B6: after the first reply the listener is closed, not the client
//! - B8: one read = one request (a request in pieces is refused)
//! - B14: one read = one frame (frames merge; a ping or close gets text)
//! - B16: the 16-bit length in the machine's order, the 64-bit one in 32 bits
//! - B20: a client that leaves is never noticed

use base64::Engine;
use sha1_smol::Sha1;
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::process::exit;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

/// The bugs of the original that `--php-bugs` can bring back.
const PHP_BUGS: [&str; 7] = ["B4", "B5", "B6", "B8", "B14", "B16", "B20"];

/// The bugs this run brings back; set once, from the flags.
static BUGS: OnceLock<Vec<&'static str>> = OnceLock::new();

/// True when `--php-bugs` asked for the PHP's behaviour `id`.
fn php_bug(id: &str) -> bool {
    BUGS.get().is_some_and(|bugs| bugs.contains(&id))
}

/// How long the loop sleeps when a turn found nothing to do. A scan of every
/// socket costs one `read` system call per client per turn: 100 turns a
/// second, even when all are idle, and up to 10 ms before a message is seen.
/// The full server sleeps in `epoll_wait` until a socket is ready
/// (`src/server/poll.rs`), so 10,000 idle clients cost it nothing.
const TICK: Duration = Duration::from_millis(10);

/// RFC 9110 §15.5.22: a 426 names the protocol to upgrade to; RFC 6455
/// §4.4 adds the version the server speaks.
const UPGRADE_TO_13: &str = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";

/// §1.3: the GUID every server appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The tutorial's page, for a plain `GET /`.
const PAGE: &str = include_str!("../../www/socket_client.html");

/// One row of the client table (PHP lines 115-120): `$clients[$socket]` and
/// `$client_list[$socket]` in one record.
struct Client {
    id: String,
    handshake: bool,
    socket: TcpStream,
    /// Bytes read and not yet used: half a request, half a frame (B8, B14).
    inbox: Vec<u8>,
    /// Bytes to send that the socket has not taken yet (B19).
    outbox: Vec<u8>,
    /// Close once the outbox is empty: after a refusal, a page or a close.
    closing: bool,
    /// The peer left or the socket failed: forget this client (B20).
    gone: bool,
}

/// One frame, read by `unmask` from the front of the client's bytes.
struct Frame {
    fin: bool,
    opcode: u8,
    /// Its header breaks a rule of §5 (`header_is_valid`): fail, read nothing.
    broken: bool,
    /// The payload, unmasked: named after the PHP's `$text` (line 92), it
    /// holds any payload, a close code or ping data too.
    text: Vec<u8>,
    /// How many bytes the frame took, header included.
    size: usize,
}

// §5.2: the opcodes this server answers (0x0 continues a message, 0x2
// is binary; 0x3-0x7 and 0xB-0xF are reserved).
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

fn main() {
    // PHP lines 7-8: where to listen.
    let address = "127.0.0.1";
    let port = read_flags();

    // PHP lines 13-23: create, bind and listen. On failure the PHP logged
    // and went on (B3); here the program stops.
    let master = TcpListener::bind((address, port)).unwrap_or_else(|e| {
        console(&format!("socket_bind() failed: {e}"));
        eprintln!("lesson: cannot listen on {address}:{port}: {e}");
        exit(1)
    });
    // (std's `bind` sets SO_REUSEADDR, PHP line 14, and listens with a
    // backlog of 128 where the PHP asked for 20, line 22.) The PHP's reads
    // passed MSG_DONTWAIT, but its accept (line 39) and writes (63, 157)
    // could block (B19): here no call on a socket ever waits.
    master.set_nonblocking(true).expect("non-blocking");
    let port = master.local_addr().map_or(port, |a| a.port());
    console(&format!("Server started on {address} : {port}"));
    println!("listening on ws://{address}:{port}/  (open http://{address}:{port}/ in a browser)");

    // PHP lines 26-27: the listener, and the client table keyed by socket.
    // `master` is an Option only so that B6 can close it; the PHP's
    // `$master=null` (B4) is `accepting = false`.
    let (mut master, mut accepting) = (Some(master), true);
    let mut clients: BTreeMap<RawFd, Client> = BTreeMap::new();

    // PHP line 29: `while(true)`, one turn per pass over every socket.
    loop {
        let mut busy = false;
        // PHP lines 33-43: the listener's turn.
        // Both at once: the listener is still open, and still asked.
        if let (Some(listener), true) = (&master, accepting) {
            let accepted = accept_clients(listener, &mut clients);
            busy |= accepted;
            // PHP line 43: `$master=null` (B4): the listener's slot became
            // the first client's, and nothing was accepted again.
            accepting = !(accepted && php_bug("B4"));
        }
        // PHP lines 44-67: each client's turn.
        let sockets: Vec<RawFd> = clients.keys().copied().collect();
        for socket in sockets {
            let Some(client) = getClientBySocket(&mut clients, socket) else {
                continue;
            };
            let (moved, replied) = serve(client);
            busy |= moved;
            if replied && php_bug("B6") {
                close_listener(&mut master);
            }
        }
        // PHP line 65 meant to close the client; here a client goes when it
        // is done, and only then (B6, B20).
        clients.retain(|_, client| !client.gone);
        // PHP line 37 waited only in the listener's branch, so after the
        // first client the loop spun (B5). Sleep when there was nothing to do.
        if !busy && !php_bug("B5") {
            std::thread::sleep(TICK);
        }
    }
}

/// One client's turn: read what came, answer what is whole, write what
/// waits. Returns (whether any byte moved, whether a message was answered).
fn serve(client: &mut Client) -> (bool, bool) {
    let read = socket_recv(client);
    if read && !client.handshake && !client.closing {
        // PHP lines 51-58.
        handshake(client);
    }
    // PHP lines 59-66.
    let replied = read && client.handshake && !client.closing && receive_frames(client);
    let wrote = socket_write(client);
    // Once a refusal, the page or a close frame is written, the connection ends.
    client.gone |= client.closing && client.outbox.is_empty();
    (read || wrote, replied)
}

/// PHP line 65 closed the listening socket, not the client (B6). The PHP
/// died on the second message, closing the closed listener again.
fn close_listener(master: &mut Option<TcpListener>) {
    if master.take().is_none() {
        console("socket_close(): the socket is already closed; the PHP died here");
        exit(255);
    }
    console("socket_close() on the listening socket: no new client can connect");
}

/// PHP lines 39-43: take every waiting connection. Returns whether any came.
fn accept_clients(master: &TcpListener, clients: &mut BTreeMap<RawFd, Client>) -> bool {
    let mut accepted = false;
    // B4: the PHP took one client, and never asked the listener again.
    while !(accepted && php_bug("B4")) {
        match master.accept() {
            Ok((client, _)) => fnConnectacceptedSocket(clients, client),
            // No one else waiting: the common end of this loop.
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            // PHP line 40 tested `$client<0`, which is never true (B7).
            Err(e) => {
                console(&format!("socket_accept() failed: {e}"));
                break;
            }
        }
        accepted = true;
    }
    accepted
}

/// PHP lines 52 and 60: read what has arrived, a piece at a time, to the
/// end of the client's inbox. Returns whether anything came.
fn socket_recv(client: &mut Client) -> bool {
    // The PHP read at most 2048 bytes at a time (lines 52, 60).
    let mut data = [0u8; 2048];
    let mut read = false;
    // The loop ends with `break why`: why the client is gone.
    let why = loop {
        match client.socket.read(&mut data) {
            // PHP line 53 took 0 bytes for "nothing yet": it is the peer
            // leaving (B20).
            Ok(0) if php_bug("B20") => return read,
            Ok(0) => break "Client left".to_string(),
            Ok(n) => client.inbox.extend_from_slice(&data[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return read,
            Err(e) => break format!("socket_recv() failed: {e}"),
        }
        read = true;
    };
    note(client, &why);
    client.gone = true;
    read
}

/// PHP lines 63 and 157 wrote and ignored the result. Write what the socket
/// takes; the rest waits in the outbox for the next turn (B19).
fn socket_write(client: &mut Client) -> bool {
    let waiting = client.outbox.len();
    // A client that has gone may still read: after its FIN, the answer to
    // what came before it is still owed.
    while !client.outbox.is_empty() {
        match client.socket.write(&client.outbox) {
            // `drain` hands back what it removes; those bytes are sent.
            Ok(n) => drop(client.outbox.drain(..n)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => {
                note(client, &format!("socket_write() failed: {e}"));
                client.gone = true;
                break;
            }
        }
    }
    client.outbox.len() != waiting
}

/// PHP lines 60-66: answer every whole frame in the inbox. Returns whether
/// a text message was answered.
fn receive_frames(client: &mut Client) -> bool {
    let mut replied = false;
    // PHP line 62 took one read for one whole frame (B14). A frame may
    // come in many reads and many frames in one: take each whole one, and
    // leave a partial one for the next turn.
    while let Some(frame) = unmask(&client.inbox) {
        client.inbox.drain(..frame.size);
        replied |= on_frame(client, frame);
        if client.closing {
            break;
        }
    }
    replied
}

/// One whole frame: reply, pong, close or fail (§5.5). Returns whether a
/// text message was answered.
fn on_frame(client: &mut Client, frame: Frame) -> bool {
    // B14: the PHP took every frame for a whole text message, a ping or a
    // close included.
    if php_bug("B14") {
        return reply(client, &frame.text);
    }
    if frame.broken {
        fail(client, 1002, "a frame that breaks RFC 6455 §5");
        return false;
    }
    match frame.opcode {
        TEXT if frame.fin => return reply(client, &frame.text),
        // §5.5.2: a ping's answer is a pong with the same payload (B17).
        PING => client.outbox.extend(encode(&frame.text, PONG)),
        PONG => {}
        // §5.5.1: a close is answered with a close carrying its code (B18).
        CLOSE => {
            let code = frame.text.get(..2).unwrap_or_default();
            client.outbox.extend(encode(code, CLOSE));
            client.closing = true;
            note(client, "Close from client, answered");
        }
        // §5.4: a continuation with no message begun (none ever is here).
        CONTINUATION => fail(client, 1002, "nothing to continue"),
        // Left out on purpose: fragmented and binary messages.
        _ => fail(client, 1003, "not in the lesson"),
    }
    false
}

/// PHP lines 62-64: the tutorial's reply, and its log line.
fn reply(client: &mut Client, text: &[u8]) -> bool {
    let answer = [b"You have entered: ".as_slice(), text].concat();
    client.outbox.extend(encode(&answer, TEXT));
    note(client, &format!("Data from client: {}", escape(text)));
    true
}

/// The rules of RFC 6455 §5 the PHP skipped, read from the header alone,
/// so that a broken frame fails at once instead of being waited for: a
/// client masks (§5.1); no RSV bit without an extension, known opcodes
/// only, a 64-bit length's top bit clear (§5.2); control frames whole and
/// at most 125 bytes (§5.5).
fn header_is_valid(first: u8, second: u8, length: u64) -> bool {
    let opcode = first & 0x0F;
    let known = matches!(opcode, 0x0..=0x2 | 0x8..=0xA); // §5.2: the rest are reserved
    let whole = opcode < CLOSE || (first & 0x80 != 0 && length <= 125);
    second & 0x80 != 0 && first & 0x70 == 0 && known && whole && length >> 63 == 0
}

/// Fail the connection (§7.1.7): a close frame with `code`, then close.
fn fail(client: &mut Client, code: u16, why: &str) {
    note(client, &format!("Failing with {code}: {why}"));
    client.outbox.extend(encode(&code.to_be_bytes(), CLOSE));
    client.closing = true;
}

/// PHP lines 76-97: the frame at the front of `data`, unmasked, or `None`
/// while it has not all arrived. The frame (§5.2) is: FIN, RSV and opcode;
/// MASK and a 7-bit length; 2 or 8 more length bytes when that says 126 or
/// 127, in network byte order; the 4-byte mask; the payload.
fn unmask(data: &[u8]) -> Option<Frame> {
    let (&first, &second) = (data.first()?, data.get(1)?);
    // PHP line 77 read only the 7-bit length, to find the mask.
    let (masks_at, length) = match second & 127 {
        126 => (4, big_endian(data.get(2..4)?)),
        127 => (10, big_endian(data.get(2..10)?)),
        n => (2, u64::from(n)),
    };
    // §5.2: the 4-byte masking key is there only when MASK is set.
    // (The PHP skipped 4 bytes whatever MASK said: B14.)
    let key = second & 0x80 != 0 || php_bug("B14");
    let start: usize = masks_at + if key { 4 } else { 0 };
    let broken = !php_bug("B14") && !header_is_valid(first, second, length);
    let end = if php_bug("B14") || broken {
        // PHP line 93: to the end of the read, whatever the frame said.
        // (A broken frame is failed at once: what follows is never read.)
        data.len()
    } else {
        // Wait for the whole frame. The length is compared with what has
        // arrived, never used to allocate.
        start.checked_add(usize::try_from(length).ok()?)?
    };
    if data.len() < end {
        return None;
    }
    // Without MASK these 4 bytes are the payload's first, as the PHP took
    // them (B14); `on_frame` then fails the frame, so they are never used.
    let masks = data.get(masks_at..masks_at + 4).unwrap_or(&[0; 4]);
    let payload = data.get(start..end).unwrap_or_default();
    // PHP lines 92-96: byte by byte, as the PHP does (the full server's
    // `src/protocol/frame.rs` does it a word at a time).
    let mut text = Vec::with_capacity(payload.len());
    for i in 0..payload.len() {
        text.push(payload[i] ^ masks[i % 4]);
    }
    Some(Frame {
        fin: first & 0x80 != 0,
        opcode: first & 0x0F,
        broken,
        text,
        size: end,
    })
}

/// A length in network byte order (§5.2): the first byte is the highest,
/// so each next byte shifts what came before up by 8 bits.
fn big_endian(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0, |length, &byte| length << 8 | u64::from(byte))
}

/// PHP lines 99-109: a whole frame (FIN set) of `opcode` around `text`. A
/// server never masks (§5.1). The length goes in network byte order (§5.2).
fn encode(text: &[u8], opcode: u8) -> Vec<u8> {
    // PHP line 102: FIN + the opcode.
    let b1 = 0x80 | (opcode & 0x0F);
    let length = text.len();
    let mut header = vec![b1];
    if length <= 125 {
        header.push(length as u8);
    } else if length < 65536 {
        header.push(126);
        // PHP line 105: `pack('S')` is the machine's byte order (B16).
        if php_bug("B16") {
            header.extend((length as u16).to_ne_bytes());
        } else {
            header.extend((length as u16).to_be_bytes());
        }
    } else {
        header.push(127);
        // PHP line 106: `pack('N')` is 32 bits, where §5.2 wants 64 (B16).
        if php_bug("B16") {
            header.extend((length as u32).to_be_bytes());
        } else {
            header.extend((length as u64).to_be_bytes());
        }
    }
    header.extend_from_slice(text);
    header
}

/// PHP lines 111-121: a new row in the client table, keyed by the client's
/// own socket. The PHP keyed it by the listening socket (B4).
#[allow(non_snake_case)] // the PHP's name
fn fnConnectacceptedSocket(clients: &mut BTreeMap<RawFd, Client>, client: TcpStream) {
    // The PHP made no socket non-blocking (B19): one slow peer froze it.
    if client.set_nonblocking(true).is_err() {
        return;
    }
    let id = uniqid();
    console(&format!("[{id}] Accepted client"));
    let record = Client {
        id,
        handshake: false,
        socket: client,
        inbox: Vec::new(),
        outbox: Vec::new(),
        closing: false,
        gone: false,
    };
    clients.insert(record.socket.as_raw_fd(), record);
}

/// PHP lines 123-126: the row of a socket. `None` for a socket that has gone.
#[allow(non_snake_case)] // the PHP's name
fn getClientBySocket(clients: &mut BTreeMap<RawFd, Client>, socket: RawFd) -> Option<&mut Client> {
    clients.get_mut(&socket)
}

/// PHP lines 128-164: answer the opening handshake once the whole request
/// has arrived (B8): 101, a refusal, or the page.
fn handshake(client: &mut Client) {
    // PHP line 57 handshaked whatever one read held (B8). The request ends
    // at its first empty line (RFC 9112 §2.1); until then, wait.
    let end = match client.inbox.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => at + 4,
        None if php_bug("B8") => client.inbox.len(),
        None => return,
    };
    let head: Vec<u8> = client.inbox.drain(..end).collect();
    // PHP line 56 logged the request raw.
    let shown = escape(&head);
    note(client, &format!("Handshaking headers from client: {shown}"));
    let (response, upgraded) = answer(&String::from_utf8_lossy(&head));
    client.outbox.extend(response.as_bytes());
    client.handshake = upgraded;
    // A refusal or a page ends the connection once it is written.
    client.closing = !upgraded;
}

/// What the request gets, and whether it upgrades: the 101, or a refusal or
/// the page.
fn answer(headers: &str) -> (String, bool) {
    // A request for `/` without `Upgrade` wants the page, not a WebSocket.
    // (Whole: under B8, a first piece lacks lines a later one brings.)
    let whole = headers.ends_with("\r\n\r\n");
    if whole && headers.starts_with("GET / ") && header(headers, "Upgrade").is_none() {
        return (page(), false);
    }
    // PHP line 130: no version meant "not WebSocket", and no answer (B11).
    let Some(version) = header(headers, "Sec-WebSocket-Version") else {
        return refuse("400 Bad Request", "");
    };
    // PHP line 161: a wrong version got no answer; §4.4 says which to use.
    if version != "13" {
        return refuse("426 Upgrade Required", UPGRADE_TO_13);
    }
    // PHP line 145: a missing key left `$key` undefined (B10).
    let Some(key) = header(headers, "Sec-WebSocket-Key") else {
        return refuse("400 Bad Request", "");
    };
    // PHP lines 148-149: the accept key (§4.2.2).
    let sha1 = Sha1::from(key.to_owned() + GUID).digest().bytes();
    let accept_key = base64::engine::general_purpose::STANDARD.encode(sha1);
    // The tutorial's page asks for `chat` and fails without it (B13).
    let protocol = match header(headers, "Sec-WebSocket-Protocol") {
        Some(offer) if offer.split(',').any(|p| p.trim() == "chat") => {
            "Sec-WebSocket-Protocol: chat\r\n"
        }
        _ => "",
    };
    // PHP lines 151-155.
    let upgrade = format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept_key}\r\n\
         {protocol}\r\n"
    );
    (upgrade, true)
}

/// The value of header `name` in `headers`: names in any case (RFC 9110
/// §5.1), the value without the spaces around it. The PHP's regexes were
/// case-sensitive and kept trailing spaces (B9).
fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.split("\r\n").skip(1).find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// An HTTP refusal: the PHP sent nothing and left the client waiting (B11).
fn refuse(status: &str, extra: &str) -> (String, bool) {
    let head = "Content-Length: 0\r\nConnection: close\r\n\r\n";
    (format!("HTTP/1.1 {status}\r\n{extra}{head}"), false)
}

/// The tutorial's page, whole, for a plain `GET /`.
fn page() -> String {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close";
    format!("{head}\r\nContent-Length: {}\r\n\r\n{PAGE}", PAGE.len())
}

/// A log line about one client, with its id first.
fn note(client: &Client, text: &str) {
    console(&format!("[{}] {text}", client.id));
}

/// PHP lines 166-171: append a line to `log.txt`, opening and closing it
/// each time as the PHP does. The PHP wrote no newline and no time.
fn console(text: &str) {
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open("log.txt") {
        let _ = writeln!(file, "{text}");
    }
}

/// The PHP wrote peer bytes to the log raw, so a client could forge lines
/// (B21): newlines and control characters are escaped, and 200 bytes shown.
fn escape(bytes: &[u8]) -> String {
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    format!("{} ({} bytes)", shown.escape_debug(), bytes.len())
}

/// PHP line 115: `uniqid()`, 8 hex digits of seconds, then 5 of
/// microseconds.
fn uniqid() -> String {
    let now = UNIX_EPOCH.elapsed().unwrap_or_default();
    format!("{:08x}{:05x}", now.as_secs(), now.subsec_micros())
}

/// The flags: `--port N`, `--php-bugs LIST`, `--help`. Returns the port
/// and sets `BUGS`.
fn read_flags() -> u16 {
    let (mut port, mut bugs) = (1222, Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--port", Some(n)) => port = n.parse().unwrap_or_else(|_| usage("--port: 0-65535")),
            ("--php-bugs", Some(list)) => bugs = parse_bugs(&list),
            ("--help" | "-h", _) => usage(""),
            _ => usage(&format!("{flag}: not a flag, or no value after it")),
        }
    }
    BUGS.set(bugs).expect("the flags are read once");
    port
}

/// `B4,B16` or `all` into the list of bugs to bring back.
fn parse_bugs(list: &str) -> Vec<&'static str> {
    if list == "all" {
        return PHP_BUGS.to_vec();
    }
    let known = |id: &str| {
        PHP_BUGS
            .into_iter()
            .find(|bug| bug.eq_ignore_ascii_case(id.trim()))
    };
    let unknown = |id: &str| usage(&format!("{id:?} is not one of the bugs listed here"));
    list.split(',')
        .map(|id| known(id).unwrap_or_else(|| unknown(id)))
        .collect()
}

/// `--help`'s text (exit 0), or a problem and the text (exit 2).
fn usage(problem: &str) -> ! {
    if problem.is_empty() {
        println!("{HELP}");
        exit(0);
    }
    eprintln!("lesson: {problem}\n\n{HELP}");
    exit(2);
}

const HELP: &str =
    "lesson: the tutorial's PHP server made right, in one Rust file (docs/lessons.md)

Usage: lesson [--port N] [--php-bugs LIST]

  --port N          listen on 127.0.0.1:N (default 1222; 0 picks a free port)
  --php-bugs LIST   bring back the original's bugs: ids separated by commas,
                    or `all` (docs/php-to-rust.md explains each):
                      B4   one client only
                      B5   a full core while idle
                      B6   closes the listener, not the client, after one reply
                      B8   one read = one request
                      B14  one read = one frame
                      B16  wrong length bytes in replies of 126 bytes or more
                      B20  a client that leaves is never noticed";
