//! The opening handshake from the client's side (RFC 6455 §4.1): the
//! request a client sends, and what it checks of the server's answer.
//! Text in, text out: sending and reading are `peer.rs`'s, saying what
//! happened is the caller's.

use socket_server::protocol::AcceptKey;

/// The tutorial's `Sec-WebSocket-Key`. §4.1 wants 16 fresh random bytes
/// for every connection; a fixed key makes every run send the same bytes.
pub const KEY: &str = "x3JJHMbDL1EzLkh9GBhXDw==";
/// The subprotocol the tutorial's request offers (§1.9).
pub const SUBPROTOCOL: &str = "chat";

/// A request head, its lines in the order of the tutorial's own request.
/// A line that is `None` is left out: the checker leaves out the key on
/// purpose, and offers no subprotocol unless that is what it checks.
pub struct Request<'a> {
    pub path: &'a str,
    pub host: &'a str,
    pub key: Option<&'a str>,
    pub protocol: Option<&'a str>,
    /// `Sec-WebSocket-Version` (§4.1 item 9): 13, unless on purpose.
    pub version: usize,
    pub origin: Option<&'a str>,
}

impl Request<'_> {
    /// The head's bytes, up to and with its empty line.
    pub fn bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
            self.path, self.host
        );
        if let Some(key) = self.key {
            head += &format!("Sec-WebSocket-Key: {key}\r\n");
        }
        if let Some(protocol) = self.protocol {
            head += &format!("Sec-WebSocket-Protocol: {protocol}\r\n");
        }
        head += &format!("Sec-WebSocket-Version: {}\r\n", self.version);
        if let Some(origin) = self.origin {
            head += &format!("Origin: {origin}\r\n");
        }
        head += "\r\n";
        head.into_bytes()
    }
}

/// The status code of a response head (RFC 9112 §4: `HTTP/1.1 101
/// Switching Protocols`), or `None` if its first line is not a status line.
pub fn status(head: &str) -> Option<u16> {
    let line = head.lines().next()?;
    match line.split(' ').collect::<Vec<_>>()[..] {
        [version, code, ..] if version.starts_with("HTTP/1.") && code.len() == 3 => {
            code.parse().ok()
        }
        _ => None,
    }
}

/// A response's first line, quoted for the terminal.
pub fn status_line(head: &str) -> String {
    crate::shown::quoted(head.lines().next().unwrap_or_default())
}

/// A header's value in a response head, by its name in any case (RFC
/// 9110 §5.1); `""` if it has none.
pub fn header<'a>(head: &'a str, name: &str) -> &'a str {
    let fields = head.lines().skip(1).filter_map(|line| line.split_once(':'));
    let mut found = fields.filter(|(field, _)| field.trim().eq_ignore_ascii_case(name));
    found.next().map_or("", |(_, value)| value.trim())
}

/// §4.1: `Upgrade: websocket`, in any case.
pub fn upgrades(head: &str) -> bool {
    header(head, "Upgrade").eq_ignore_ascii_case("websocket")
}

/// §4.1: a `Connection` header with the token `Upgrade` among its values.
pub fn connection_upgrade(head: &str) -> bool {
    let mut tokens = header(head, "Connection").split(',').map(str::trim);
    tokens.any(|token| token.eq_ignore_ascii_case("Upgrade"))
}

/// What §4.1 says a client checks of a `101`, and the first check it
/// fails, in words (`None`: it passes them all). `offered` is the
/// subprotocol the request offered, if it offered one.
pub fn switch_problem(
    head: &str,
    expected: &AcceptKey,
    offered: Option<&str>,
) -> Option<&'static str> {
    let same = header(head, "Sec-WebSocket-Accept") == expected.accept;
    // We ask for no extension.
    let extensions = header(head, "Sec-WebSocket-Extensions").is_empty();
    let protocol = match header(head, "Sec-WebSocket-Protocol") {
        "" => true,
        named => offered == Some(named),
    };
    let checks = [
        (upgrades(head), "lacks Upgrade: websocket"),
        (connection_upgrade(head), "lacks Connection: Upgrade"),
        (same, "has the wrong Sec-WebSocket-Accept"),
        (extensions, "names an extension we did not ask for"),
        (protocol, "names a subprotocol we did not offer"),
    ];
    checks
        .iter()
        .find(|(passed, _)| !passed)
        .map(|(_, what)| *what)
}
