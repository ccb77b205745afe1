//! Who gets the inspector: `GET /inspect`, the page, and the WebSocket at
//! the same path.
//!
//! The inspector shows every byte of every connection, so it is kept to
//! the one who runs the server:
//!
//! - without `--inspect` there is none: `/inspect` and `/inspect.html`
//!   (which is in `www/`) are a 404, as any missing file, so a page cannot
//!   even tell that the server could inspect;
//! - with it, only a peer on loopback (this machine) is answered; any
//!   other gets 403, whatever `--address` the server listens on;
//! - the WebSocket's handshake keeps the `Host` and `Origin` rules of every
//!   handshake (`protocol/access.rs`: no DNS rebinding, no page from
//!   another site), and must ask for the subprotocol `inspect`, so that no
//!   client meant for the tutorial becomes an inspector by its path alone.
//!   It agrees to no compression: its frames are read by a page, on the
//!   same machine, and compressing them would cost the server.

use crate::protocol::access::{self, Policy};
use crate::protocol::handshake::{self, Accepted};
use crate::protocol::http::{Refusal, Request};
use crate::server::www;
use std::net::IpAddr;

/// Where the inspector is: its page and its WebSocket.
pub(crate) const PATH: &str = "/inspect";
/// The page's file in `www/`, served at [`PATH`] (and by its own name).
const PAGE: &str = "/inspect.html";
/// The inspector's subprotocol (§1.9).
pub(crate) const SUBPROTOCOL: &str = "inspect";

/// `--inspect` is off: the same 404 as any file that is not there.
const OFF: Refusal = www::NOT_FOUND;
/// A peer that is not on this machine.
pub(crate) const NOT_LOOPBACK: Refusal =
    Refusal::new(403, "the inspector answers this machine only (loopback)");
/// A handshake at `/inspect` that does not ask for `inspect`.
const WRONG_SUBPROTOCOL: Refusal =
    Refusal::new(400, "the inspector speaks the subprotocol inspect only");

/// How an inspector's request is answered.
#[derive(Debug)]
pub(crate) enum Gate {
    /// The page: this request, for the file in `www/`.
    Page(Box<Request>),
    /// An inspector: its 101.
    Socket(Box<Accepted>),
    Refused(Refusal),
}

/// Does this request ask for the inspector, page or WebSocket? (Such a
/// request is the inspector's own traffic, never shown.)
pub(crate) fn asks_for_inspector(request: &Request) -> bool {
    matches!(request.path(), PATH | PAGE)
}

/// Answer a request that [`asks_for_inspector`]: `on` is `--inspect`,
/// `peer` who asks, `policy` the handshake's rules.
pub(crate) fn gate(request: &Request, on: bool, peer: IpAddr, policy: &Policy) -> Gate {
    if !on {
        return Gate::Refused(OFF);
    }
    if !peer.to_canonical().is_loopback() {
        return Gate::Refused(NOT_LOOPBACK);
    }
    if !handshake::wants_websocket(request) {
        // The page, asked of this server by name (DNS rebinding), from the
        // file: its path is the file's, wherever the Host came from.
        let named = request.authority();
        if named.is_some_and(|host| !access::host_allowed(host, policy)) {
            return Gate::Refused(access::WRONG_HOST_PAGE);
        }
        let mut page = request.clone();
        page.target = PAGE.into();
        return Gate::Page(Box::new(page));
    }
    let plain = Policy {
        deflate: false,
        ..*policy
    };
    match handshake::handshake_speaking(request, &plain, &[SUBPROTOCOL]) {
        Ok(accepted) if accepted.subprotocol == Some(SUBPROTOCOL) => {
            Gate::Socket(Box::new(accepted))
        }
        Ok(_) => Gate::Refused(WRONG_SUBPROTOCOL),
        Err(refusal) => Gate::Refused(refusal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::access::LOCAL;
    use crate::protocol::http::parse_request;

    fn request(target: &str, extra: &str) -> Request {
        let raw = format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:1222\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        parse_request(raw.as_bytes()).unwrap().unwrap().0
    }

    fn page(target: &str, host: &str) -> Request {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        parse_request(raw.as_bytes()).unwrap().unwrap().0
    }

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const ASKS: &str = "Sec-WebSocket-Protocol: inspect\r\n";

    fn status(gate: Gate) -> u16 {
        match gate {
            Gate::Page(_) => 200,
            Gate::Socket(_) => 101,
            Gate::Refused(refusal) => refusal.status,
        }
    }

    #[test]
    fn only_its_two_paths_ask_for_it() {
        for target in [
            "/inspect",
            "/inspect.html",
            "/inspect?x=1",
            "http://a:1/inspect",
        ] {
            assert!(asks_for_inspector(&page(target, "a")), "{target}");
        }
        for target in ["/", "/inspector", "/inspect/", "/x/inspect", "/Inspect"] {
            assert!(!asks_for_inspector(&page(target, "a")), "{target}");
        }
    }

    #[test]
    fn off_it_is_a_missing_file() {
        for asked in [
            request("/inspect", ASKS),
            page("/inspect.html", "127.0.0.1:1222"),
        ] {
            assert_eq!(status(gate(&asked, false, HOME, &LOCAL)), 404);
        }
    }

    #[test]
    fn only_for_this_machine() {
        let elsewhere: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let ask = request("/inspect", ASKS);
        assert_eq!(status(gate(&ask, true, elsewhere, &LOCAL)), 403);
        assert_eq!(
            status(gate(
                &page("/inspect", "127.0.0.1:1222"),
                true,
                elsewhere,
                &LOCAL
            )),
            403
        );
        assert_eq!(status(gate(&ask, true, mapped, &LOCAL)), 101);
        assert_eq!(
            status(gate(&ask, true, "::1".parse().unwrap(), &LOCAL)),
            101
        );
    }

    #[test]
    fn the_page_is_the_file_asked_of_this_server() {
        let Gate::Page(asked) = gate(&page("/inspect?x", "localhost:1222"), true, HOME, &LOCAL)
        else {
            panic!("not the page");
        };
        assert_eq!(asked.path(), "/inspect.html");
        let rebound = page("/inspect", "evil.example:1222");
        assert_eq!(status(gate(&rebound, true, HOME, &LOCAL)), 421);
    }

    #[test]
    fn the_socket_asks_for_inspect_and_keeps_the_handshakes_rules() {
        let Gate::Socket(accepted) = gate(&request("/inspect", ASKS), true, HOME, &LOCAL) else {
            panic!("not accepted");
        };
        let response = String::from_utf8(accepted.response.clone()).unwrap();
        assert!(response.contains("\r\nSec-WebSocket-Protocol: inspect\r\n"));
        let chat = request("/inspect", "Sec-WebSocket-Protocol: chat\r\n");
        assert_eq!(status(gate(&chat, true, HOME, &LOCAL)), 400);
        assert_eq!(
            status(gate(&request("/inspect", ""), true, HOME, &LOCAL)),
            400
        );
        let foreign = format!("{ASKS}Origin: http://evil.example\r\n");
        assert_eq!(
            status(gate(&request("/inspect", &foreign), true, HOME, &LOCAL)),
            403
        );
        let ours = format!("{ASKS}Origin: http://127.0.0.1:1222\r\n");
        assert_eq!(
            status(gate(&request("/inspect", &ours), true, HOME, &LOCAL)),
            101
        );
        let mut rebound = request("/inspect", ASKS);
        rebound.headers[0].1 = "evil.example:1222".into();
        assert_eq!(status(gate(&rebound, true, HOME, &LOCAL)), 403);
    }

    #[test]
    fn no_compression_for_the_inspector() {
        let deflate = Policy {
            deflate: true,
            ..LOCAL
        };
        let offer = format!("{ASKS}Sec-WebSocket-Extensions: permessage-deflate\r\n");
        let Gate::Socket(accepted) = gate(&request("/inspect", &offer), true, HOME, &deflate)
        else {
            panic!("not accepted");
        };
        assert!(accepted.deflate.is_none());
    }
}
