//! The `Origin` check (RFC 6455 §10.2, §4.2.2 item 4).
//!
//! A browser sends `Origin` with every WebSocket handshake: the page's
//! scheme, host and port (RFC 6454). A server that accepted any origin would
//! let a page on any web site talk to it through a visitor's browser, with
//! the visitor's network position (cross-site WebSocket hijacking). The
//! server accepts its own pages, pages from `--allowed-origin`, and clients
//! that send no Origin (non-browser clients, which could forge it anyway);
//! anything else gets 403 (§4.2.2: "the server MUST respond with an
//! appropriate HTTP error code ... such as 403 Forbidden").
//!
//! Each test would fail if the check were removed (a foreign origin would get
//! 101) or if it were too strict (an allowed one would get 403).

use crate::common::*;

/// The status a handshake with `origin` gets. A refused handshake must also
/// end the connection: nothing after a 403 may be read as WebSocket frames.
fn status_with(server: &Server, origin: Option<&str>) -> u16 {
    let extra = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    let mut client = Client::raw(server.connect());
    let head = client.handshake(&handshake_request(server.addr, &extra));
    let status: u16 = head[9..12].parse().expect("a status code");
    if status == 101 {
        // Upgraded: it really is a WebSocket now.
        client.send_text("hello");
        assert_eq!(client.read_text(), "hello");
    } else {
        // The error body follows the head; then the connection ends.
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut client.stream, &mut rest).expect("end of stream");
    }
    status
}

fn own_origin(server: &Server) -> String {
    format!("http://{}", server.addr)
}

#[test]
fn by_default_only_no_origin_and_same_origin_are_accepted() {
    let server = Server::echo(&[]);
    assert_eq!(status_with(&server, None), 101);
    assert_eq!(status_with(&server, Some(&own_origin(&server))), 101);
    assert_eq!(status_with(&server, Some("http://evil.example")), 403);
    // Same host, other port: another origin (RFC 6454 §4), maybe another
    // program on this machine.
    let other_port = format!("http://127.0.0.1:{}", server.addr.port() ^ 1);
    assert_eq!(status_with(&server, Some(&other_port)), 403);
    // "null": a page opened from a file or a sandboxed frame; anyone can
    // make one, so it is refused unless asked for.
    assert_eq!(status_with(&server, Some("null")), 403);
    assert!(server.wait_for_log("handshake refused: 403"));
}

#[test]
fn an_allowed_origin_is_accepted_and_same_origin_still_is() {
    let server = Server::echo(&["--allowed-origin", "http://example.com"]);
    assert_eq!(status_with(&server, Some("http://example.com")), 101);
    assert_eq!(status_with(&server, Some(&own_origin(&server))), 101);
    assert_eq!(status_with(&server, None), 101);
    assert_eq!(status_with(&server, Some("http://other.example")), 403);
    // Allowing one origin is not allowing its look-alikes.
    assert_eq!(
        status_with(&server, Some("http://example.com.evil.example")),
        403
    );
    assert_eq!(status_with(&server, Some("null")), 403);
}

#[test]
fn null_is_accepted_only_when_allowed() {
    let server = Server::echo(&["--allowed-origin", "null"]);
    assert_eq!(status_with(&server, Some("null")), 101);
    assert_eq!(status_with(&server, Some("http://evil.example")), 403);
}

#[test]
fn a_star_accepts_any_origin() {
    let server = Server::echo(&["--allowed-origin", "*"]);
    assert_eq!(status_with(&server, Some("http://evil.example")), 101);
    assert_eq!(status_with(&server, Some("null")), 101);
    assert_eq!(status_with(&server, Some(&own_origin(&server))), 101);
}

/// The status a request with this `Host` (and `Origin`, if any) gets: a
/// WebSocket handshake when `upgrade`, else a plain `GET /`.
fn status_for_host(server: &Server, host: &str, origin: Option<&str>, upgrade: bool) -> u16 {
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    let request = match upgrade {
        true => handshake_request(server.addr, &origin).replace(
            &format!("Host: {}\r\n", server.addr),
            &format!("Host: {host}\r\n"),
        ),
        false => format!("GET / HTTP/1.1\r\nHost: {host}\r\n{origin}\r\n"),
    };
    let mut client = Client::raw(server.connect());
    let head = client.handshake(&request);
    let status: u16 = head[9..12].parse().expect("a status code");
    let mut rest = Vec::new();
    if status != 101 {
        std::io::Read::read_to_end(&mut client.stream, &mut rest).expect("end of stream");
    }
    status
}

/// DNS rebinding: a site points its own name at 127.0.0.1 once its page has
/// loaded, so the browser sends `Host: evil.example:PORT` and an `Origin`
/// that agrees with it. The Host must name this server, or the request is
/// refused: 403 for a WebSocket, 421 (Misdirected Request) for a page.
/// Would fail if only Origin and Host were compared with each other (the
/// rebound page got 101, and the page itself 200).
#[test]
fn a_host_that_does_not_name_this_server_is_refused() {
    let server = Server::echo(&[]);
    let port = server.addr.port();
    let evil = format!("evil.example:{port}");
    let evil_origin = format!("http://{evil}");
    assert_eq!(
        status_for_host(&server, &evil, Some(&evil_origin), true),
        403
    );
    assert_eq!(status_for_host(&server, &evil, None, true), 403);
    assert_eq!(status_for_host(&server, &evil, None, false), 421);
    for ours in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let origin = format!("http://{ours}");
        assert_eq!(status_for_host(&server, &ours, Some(&origin), true), 101);
        assert_eq!(status_for_host(&server, &ours, None, false), 200);
    }
    // Our name, another port: another server. An empty Host: none.
    let other_port = format!("127.0.0.1:{}", port ^ 1);
    assert_eq!(status_for_host(&server, &other_port, None, false), 421);
    assert_eq!(status_for_host(&server, "", None, false), 421);
    assert!(server.wait_for_log("403 the Host header does not name this server"));
}

/// A target in absolute form (`GET http://host:port/ HTTP/1.1`) names the
/// server itself, and the Host header is then ignored (RFC 9112 §3.2.2):
/// it is the target that must name this server. The page it names is
/// served as any other. Would fail if the Host header were checked instead
/// (an absolute target naming another server got 101 and 200), or if its
/// path were looked up whole (404).
#[test]
fn a_target_in_absolute_form_must_name_this_server() {
    let server = Server::echo(&[]);
    let ours = server.addr.to_string();
    let status = |target: &str, upgrade: bool| {
        let request = match upgrade {
            true => {
                handshake_request(server.addr, "").replacen("GET /", &format!("GET {target}"), 1)
            }
            false => format!("GET {target} HTTP/1.1\r\nHost: {ours}\r\n\r\n"),
        };
        let mut client = Client::raw(server.connect());
        let head = client.handshake(&request);
        head[9..12].parse::<u16>().expect("a status code")
    };
    let port = server.addr.port();
    let evil = format!("http://evil.example:{port}/");
    assert_eq!(status(&evil, true), 403);
    assert_eq!(status(&evil, false), 421);
    let own = format!("http://localhost:{port}/");
    assert_eq!(status(&own, true), 101);
    assert_eq!(status(&own, false), 200);
    assert_eq!(status(&format!("{own}socket_client.html"), false), 200);
    // Not a URL this server could answer (RFC 6455 §4.1, RFC 9110 §4.2).
    for target in [
        format!("ws://localhost:{port}/"),
        format!("http://me@localhost:{port}/"),
        "http:///".to_string(),
    ] {
        assert_eq!(status(&target, true), 400, "{target}");
    }
}

/// `--allowed-host` adds a name (on any port: behind a proxy the Host
/// carries the proxy's); `*` answers any Host.
#[test]
fn allowed_hosts_are_answered() {
    let server = Server::echo(&["--allowed-host", "chat.lan"]);
    assert_eq!(status_for_host(&server, "chat.lan", None, false), 200);
    assert_eq!(
        status_for_host(&server, "chat.lan:8080", Some("http://chat.lan:8080"), true),
        101
    );
    assert_eq!(status_for_host(&server, "other.lan", None, false), 421);
    let open = Server::echo(&["--allowed-host", "*"]);
    assert_eq!(status_for_host(&open, "anything.example", None, true), 101);
}

/// RFC 6454: a request has one origin; and an `https` page is another
/// origin than this plain-http server, even on the same host and port.
#[test]
fn two_origins_or_an_https_origin_are_refused() {
    let server = Server::echo(&[]);
    let ours = own_origin(&server);
    let two = format!("{ours}\r\nOrigin: {ours}");
    assert_eq!(status_with(&server, Some(&two)), 403);
    let https = ours.replace("http://", "https://");
    assert_eq!(status_with(&server, Some(&https)), 403);
    assert_eq!(status_with(&server, Some(&ours)), 101);
}
