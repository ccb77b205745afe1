//! The opening handshake (RFC 6455 §4.2): the PHP's `handshake()`.
//!
//! The client asks, in HTTP, to switch the connection to WebSocket; the
//! server checks the request (§4.2.1) and either answers `101 Switching
//! Protocols` with a `Sec-WebSocket-Accept` proving it read the client's key
//! (§4.2.2), or answers an HTTP error saying what is wrong.
//!
//! Where the PHP and the RFC disagree:
//! - The PHP checked only `Sec-WebSocket-Version`, and on any other problem
//!   logged a line and left the client waiting for an answer forever. Here
//!   every check has its HTTP status and a one-line reason.
//! - The PHP read `Host` and `Origin` and did nothing with them. §10.2 says
//!   a server SHOULD use `Origin` to refuse pages it does not trust, and a
//!   `Host` that does not name this server is a page that reached us by
//!   DNS rebinding; `access.rs` holds both rules.

use super::access::{self, Policy};
use super::extensions::{self, Deflate};
use super::http::{self, Refusal, Request};
use base64::Engine;

/// RFC 6455 §1.3: the fixed GUID appended to the client's key.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The subprotocols this server speaks (§1.9). The tutorial's example
/// request offers `chat`, so we accept it; the server's behaviour is the
/// same either way.
pub const SUBPROTOCOLS: &[&str] = &["chat"];

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`, step by step
/// (§4.2.2 step 5.4; the PHP's lines 148-149). Each step is kept, so that
/// `--trace` and a debugger can show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptKey {
    /// The key as sent (not base64-decoded), then the GUID: what is hashed.
    pub key_and_guid: String,
    /// The SHA-1 of that: 20 raw bytes (PHP's `sha1($acceptKey, true)`).
    pub sha1: [u8; 20],
    /// The base64 of those 20 bytes: the value of `Sec-WebSocket-Accept`.
    pub accept: String,
}

/// Work out `Sec-WebSocket-Accept`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> AcceptKey {
    // PHP line 148: `$acceptKey = $key.'258EAFA5-E914-47DA-95CA-C5AB0DC85B11';`
    let key_and_guid = format!("{key}{GUID}");
    // Line 149: `base64_encode(sha1($acceptKey, true))`. The raw digest is
    // encoded, not its 40-character hex form.
    let sha1 = sha1_smol::Sha1::from(&key_and_guid).digest().bytes();
    let accept = base64::engine::general_purpose::STANDARD.encode(sha1);
    AcceptKey {
        key_and_guid,
        sha1,
        accept,
    }
}

/// Does this request ask for a WebSocket at all? A plain GET does not, and
/// is answered with a page from `www/` instead. A request with any of the
/// WebSocket headers is treated as a (possibly broken) handshake, so that a
/// client that forgot `Upgrade` hears what is missing instead of a 404.
pub fn wants_websocket(request: &Request) -> bool {
    request.has_token("Upgrade", "websocket")
        || request.header("Sec-WebSocket-Key").is_some()
        || request.header("Sec-WebSocket-Version").is_some()
}

/// A successful handshake: the 101 response, the subprotocol chosen, and
/// how the accept key was worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub response: Vec<u8>,
    pub subprotocol: Option<&'static str>,
    /// permessage-deflate, when `--deflate` is on and the client offered
    /// it in a form we honour (RFC 7692 §5).
    pub deflate: Option<Deflate>,
    pub accept_key: AcceptKey,
}

/// §4.4: a server that does not speak the client's version answers with
/// the versions it does speak; RFC 9110 §15.5.22: a 426 names the protocol
/// to upgrade to, and §7.8: whoever sends Upgrade lists it in Connection too.
const WRONG_VERSION: Refusal = Refusal::new(426, "only WebSocket version 13 is supported")
    .with_headers(&[
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade, close"),
        ("Sec-WebSocket-Version", "13"),
    ]);

/// §4.2.1 item 1 asks for a GET; RFC 9110 §15.5.6: a 405 lists what is allowed.
const NOT_GET: Refusal = Refusal::new(405, "a WebSocket handshake must be a GET request")
    .with_headers(&[("Allow", "GET")]);

fn refuse<T>(status: u16, reason: &'static str) -> Result<T, Refusal> {
    Err(Refusal::new(status, reason))
}

/// Check a WebSocket request (§4.2.1) and build the answer (§4.2.2).
///
/// `policy` says who may connect: see `access.rs`.
pub fn handshake(request: &Request, policy: &Policy) -> Result<Accepted, Refusal> {
    handshake_speaking(request, policy, SUBPROTOCOLS)
}

/// [`handshake`], choosing among these `subprotocols` (§1.9): the
/// server's inspector (`--inspect`) speaks its own, `inspect`, alone.
pub fn handshake_speaking(
    request: &Request,
    policy: &Policy,
    subprotocols: &[&'static str],
) -> Result<Accepted, Refusal> {
    check_upgrade(request)?;
    let key = check_version_and_key(request)?;
    // The Host must name this server (DNS rebinding), and a browser's page
    // must come from this server or an allowed origin (§10.2). (A target
    // in absolute form names the server instead of the Host header:
    // `Request::authority`.)
    let host = request.authority().unwrap_or_default();
    if !access::host_allowed(host, policy) {
        return Err(access::WRONG_HOST_SOCKET);
    }
    let origins: Vec<&str> = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Origin"))
        .map(|(_, value)| value.as_str())
        .collect();
    if !access::origin_allowed(&origins, host, policy) {
        return refuse(403, "Origin not allowed");
    }
    let subprotocol = choose_subprotocol(request, subprotocols);
    let deflate = policy.deflate.then(|| choose_deflate(request)).flatten();
    let accept_key = accept_key(key);
    Ok(Accepted {
        response: switching_protocols(&accept_key.accept, subprotocol, deflate.as_ref()),
        subprotocol,
        deflate,
        accept_key,
    })
}

/// §4.2.1 items 1 to 4: a GET, over HTTP/1.1, naming a host, asking to
/// upgrade to `websocket`; each header once, and no body.
fn check_upgrade(request: &Request) -> Result<(), Refusal> {
    // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
    if request.method != "GET" {
        return Err(NOT_GET);
    }
    // (HTTP/2 and 3 carry WebSockets differently, RFC 8441 and RFC 9220;
    // on a plain TCP connection HTTP/1.1 is the only version that can.)
    if request.version != "HTTP/1.1" {
        return refuse(400, "a WebSocket handshake needs HTTP/1.1");
    }
    // Item 2: "A |Host| header field containing the server's authority."
    // (A target in absolute form names the server instead, and then the
    // Host header, still required, is ignored: `Request::authority`.)
    if request.header("Host").is_none_or(str::is_empty) {
        return refuse(400, "missing Host header");
    }
    // Items 3 and 4: `Upgrade: websocket` and `Connection: Upgrade`, both
    // case-insensitive, the second possibly in a list (`keep-alive, Upgrade`).
    if !request.has_token("Upgrade", "websocket") {
        return refuse(400, "missing Upgrade: websocket");
    }
    if !request.has_token("Connection", "Upgrade") {
        return refuse(400, "missing Connection: Upgrade");
    }
    // §11.3.1 and §11.3.5: the key and the version appear once. Two keys
    // would leave us guessing which one the client will check.
    if request.header_count("Sec-WebSocket-Key") > 1
        || request.header_count("Sec-WebSocket-Version") > 1
    {
        return refuse(400, "repeated Sec-WebSocket-Key or Sec-WebSocket-Version");
    }
    // §4.1: the handshake is a GET without a body: the bytes after it are
    // frames. A request announcing a body would have its body read as frames.
    let has_body = request.header("Transfer-Encoding").is_some()
        || request.header_count("Content-Length") > 1
        || request
            .header("Content-Length")
            .is_some_and(|len| len != "0");
    if has_body {
        return refuse(400, "a WebSocket handshake has no body");
    }
    Ok(())
}

/// §4.2.1 items 5 and 6: version 13, and a key that is 16 random bytes in
/// base64; the key, once both hold.
fn check_version_and_key(request: &Request) -> Result<&str, Refusal> {
    // Item 6: "A |Sec-WebSocket-Version| header field, with a value of 13."
    // §4.4: any other version gets 426 and the version we do speak.
    match request.header("Sec-WebSocket-Version") {
        None => return refuse(400, "missing Sec-WebSocket-Version header"),
        Some("13") => {}
        Some(_) => return Err(WRONG_VERSION),
    }
    // Item 5: a key that is 16 random bytes, base64-encoded (§11.3.1).
    let Some(key) = request.header("Sec-WebSocket-Key") else {
        return refuse(400, "missing Sec-WebSocket-Key header");
    };
    if !is_valid_key(key) {
        return refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64");
    }
    Ok(key)
}

fn is_valid_key(key: &str) -> bool {
    let decoded = base64::engine::general_purpose::STANDARD.decode(key);
    decoded.is_ok_and(|bytes| bytes.len() == 16)
}

/// §4.2.2 /subprotocol/: the first protocol the client offers that we speak
/// (`ours`), or none (and then no `Sec-WebSocket-Protocol` in the answer).
fn choose_subprotocol(request: &Request, ours: &[&'static str]) -> Option<&'static str> {
    let offered = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Sec-WebSocket-Protocol"))
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim);
    for protocol in offered {
        if let Some(spoken) = ours.iter().find(|p| **p == protocol) {
            return Some(spoken);
        }
    }
    None
}

/// §4.2.2 /extensions/, RFC 7692 §5: the permessage-deflate we agree to,
/// from every `Sec-WebSocket-Extensions` line, or none.
fn choose_deflate(request: &Request) -> Option<Deflate> {
    let offers = request.headers.iter();
    let offers = offers.filter(|(name, _)| name.eq_ignore_ascii_case("Sec-WebSocket-Extensions"));
    extensions::negotiate(offers.map(|(_, value)| value.as_str()))
}

/// The 101 answer (§4.2.2 step 5). Byte for byte what the PHP sent, plus
/// the subprotocol line when one was chosen, and the extension's when one
/// was agreed.
fn switching_protocols(
    accept: &str,
    subprotocol: Option<&str>,
    deflate: Option<&Deflate>,
) -> Vec<u8> {
    let extension = deflate.map(extensions::answer);
    let mut headers = vec![
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept),
    ];
    if let Some(protocol) = subprotocol {
        headers.push(("Sec-WebSocket-Protocol", protocol));
    }
    if let Some(extension) = &extension {
        headers.push(("Sec-WebSocket-Extensions", extension));
    }
    http::switching_protocols(&headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::access::LOCAL;
    use crate::protocol::http::parse_request;

    fn request(extra: &str) -> Request {
        let raw = format!(
            "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:1222\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        parse_request(raw.as_bytes()).unwrap().unwrap().0
    }

    fn without(request: &Request, name: &str) -> Request {
        let mut request = request.clone();
        request
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        request
    }

    fn with(request: &Request, name: &str, value: &str) -> Request {
        let mut request = without(request, name);
        request.headers.push((name.into(), value.into()));
        request
    }

    fn status(request: &Request) -> u16 {
        match handshake(request, &LOCAL) {
            Ok(_) => 101,
            Err(refusal) => refusal.status,
        }
    }

    #[test]
    fn accept_key_of_the_rfc_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ==").accept,
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn accept_key_of_the_tutorial_example() {
        let steps = accept_key("x3JJHMbDL1EzLkh9GBhXDw==");
        assert_eq!(
            steps.key_and_guid,
            "x3JJHMbDL1EzLkh9GBhXDw==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        );
        let hex: String = steps.sha1.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "1d29ab734b0c9585240069a6e4e3e91b61da1969");
        assert_eq!(steps.accept, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    }

    #[test]
    fn the_101_response_byte_for_byte() {
        let accepted = handshake(&request(""), &LOCAL).unwrap();
        let expected = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(String::from_utf8(accepted.response).unwrap(), expected);
        assert_eq!(accepted.subprotocol, None);
    }

    #[test]
    fn chat_is_chosen_when_offered() {
        let config = LOCAL;
        let accepted = handshake(
            &request("Sec-WebSocket-Protocol: superchat, chat\r\n"),
            &config,
        );
        let accepted = accepted.unwrap();
        assert_eq!(accepted.subprotocol, Some("chat"));
        let text = String::from_utf8(accepted.response).unwrap();
        assert!(text.contains("\r\nSec-WebSocket-Protocol: chat\r\n"));
        let other = handshake(&request("Sec-WebSocket-Protocol: superchat\r\n"), &config);
        assert_eq!(other.unwrap().subprotocol, None);
    }

    #[test]
    fn each_rule_has_its_status() {
        let good = request("");
        assert_eq!(status(&good), 101);
        let mut post = good.clone();
        post.method = "POST".into();
        assert_eq!(status(&post), 405);
        let mut old = good.clone();
        old.version = "HTTP/1.0".into();
        assert_eq!(status(&old), 400);
        assert_eq!(status(&without(&good, "Host")), 400);
        assert_eq!(status(&without(&good, "Upgrade")), 400);
        assert_eq!(status(&without(&good, "Connection")), 400);
        assert_eq!(status(&without(&good, "Sec-WebSocket-Key")), 400);
        assert_eq!(status(&with(&good, "Sec-WebSocket-Key", "c2hvcnQ=")), 400);
        assert_eq!(
            status(&with(&good, "Sec-WebSocket-Key", "not base64!")),
            400
        );
        assert_eq!(status(&without(&good, "Sec-WebSocket-Version")), 400);
        assert_eq!(status(&with(&good, "Sec-WebSocket-Version", "12")), 426);
        assert_eq!(status(&with(&good, "Origin", "http://evil.example")), 403);
        assert_eq!(
            status(&with(&good, "Connection", "keep-alive, Upgrade")),
            101
        );
        assert_eq!(status(&with(&good, "upgrade", "WebSocket")), 101);
        let mut two_keys = good.clone();
        two_keys.headers.push((
            "Sec-WebSocket-Key".into(),
            "AAAAAAAAAAAAAAAAAAAAAA==".into(),
        ));
        assert_eq!(status(&two_keys), 400);
        let mut two_versions = good.clone();
        two_versions
            .headers
            .push(("sec-websocket-version".into(), "13".into()));
        assert_eq!(status(&two_versions), 400);
        assert_eq!(status(&with(&good, "Transfer-Encoding", "chunked")), 400);
        assert_eq!(status(&with(&good, "Content-Length", "5")), 400);
        assert_eq!(status(&with(&good, "Content-Length", "0")), 101);
        let mut two_lengths = with(&good, "Content-Length", "0");
        two_lengths
            .headers
            .push(("Content-Length".into(), "5".into()));
        assert_eq!(status(&two_lengths), 400);
        let mut http2 = good.clone();
        http2.version = "HTTP/2".into();
        assert_eq!(status(&http2), 400);
    }

    #[test]
    fn any_websocket_header_makes_it_a_handshake() {
        let plain = parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap()
            .unwrap()
            .0;
        assert!(!wants_websocket(&plain));
        assert!(wants_websocket(&request("")));
        assert!(wants_websocket(&without(&request(""), "Upgrade")));
        assert_eq!(status(&without(&request(""), "Upgrade")), 400);
    }

    #[test]
    fn version_426_names_the_version_we_speak() {
        let refusal = handshake(&with(&request(""), "Sec-WebSocket-Version", "8"), &LOCAL);
        let text = String::from_utf8(refusal.unwrap_err().response(std::time::UNIX_EPOCH)).unwrap();
        assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        assert!(text.contains("\r\nUpgrade: websocket\r\n"));
        assert!(text.contains("\r\nConnection: Upgrade, close\r\n"));
        assert_eq!(text.matches("Connection:").count(), 1);
    }

    #[test]
    fn the_host_and_the_origin_are_checked() {
        let good = request("");
        // DNS rebinding: a Host that is not this server's, with an Origin
        // that agrees with it.
        let rebound = with(
            &with(&good, "Host", "evil.example:1222"),
            "Origin",
            "http://evil.example:1222",
        );
        assert_eq!(status(&rebound), 403);
        assert_eq!(status(&with(&good, "Origin", "http://127.0.0.1:1222")), 101);
        assert_eq!(
            status(&with(&good, "Origin", "https://127.0.0.1:1222")),
            403
        );
        let mut two = with(&good, "Origin", "http://127.0.0.1:1222");
        two.headers
            .push(("Origin".into(), "http://127.0.0.1:1222".into()));
        assert_eq!(status(&two), 403);
        // A target in absolute form names the server, and the Host header
        // is ignored (RFC 9112 §3.2.2): it is the target that must be ours.
        let mut absolute = good.clone();
        absolute.target = "http://evil.example:1222/mychat".into();
        assert_eq!(status(&absolute), 403);
        absolute.target = "http://localhost:1222/mychat".into();
        assert_eq!(status(&absolute), 101);
    }
}
