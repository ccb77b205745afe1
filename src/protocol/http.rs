//! Just enough HTTP/1.1 (RFC 9112) to read a request head and write a
//! response: the opening handshake is an HTTP request (RFC 6455 §4.1).
//!
//! The PHP tutorial ran a handful of regular expressions over whatever one
//! `socket_recv()` returned. That breaks when the request arrives in two
//! pieces, when a client writes `sec-websocket-key` in lower case (header
//! names are case-insensitive), or when a value has spaces around it. Here
//! the request is parsed once it is complete, from bytes that may have
//! arrived in any number of reads.

use super::calendar::DateTime;
use std::time::SystemTime;

/// The most we read before the blank line that ends a request head.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// A parsed request head: request line and headers, no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target, e.g. `/` or `/chat?room=1`.
    pub target: String,
    /// e.g. `HTTP/1.1`.
    pub version: String,
    /// Header names as sent, values with surrounding white space trimmed.
    pub headers: Vec<(String, String)>,
}

/// An HTTP refusal: every error answer this server gives, in one type, the
/// way `close.rs` holds every close code. The request parser, the handshake,
/// the file server and the full server all answer with one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The status code: 4xx (the client's fault) or 5xx (ours).
    pub status: u16,
    /// One line for people and logs; it is also the body of the response.
    pub reason: &'static str,
    /// Headers the status calls for beyond the usual ones (`Allow` for a
    /// 405, `Upgrade` and `Sec-WebSocket-Version` for a 426).
    pub headers: &'static [(&'static str, &'static str)],
}

impl Refusal {
    /// A refusal with no extra headers.
    pub const fn new(status: u16, reason: &'static str) -> Refusal {
        Refusal {
            status,
            reason,
            headers: &[],
        }
    }

    /// The same refusal, with extra headers.
    pub const fn with_headers(self, headers: &'static [(&'static str, &'static str)]) -> Refusal {
        Refusal { headers, ..self }
    }

    /// The whole response, sent at `date`: status line, headers, and the
    /// reason as a one-line plain-text body.
    pub fn response(&self, date: SystemTime) -> Vec<u8> {
        let mut headers = vec![("Content-Type", "text/plain; charset=utf-8")];
        headers.extend_from_slice(self.headers);
        let body = format!("{} {}\n", self.status, self.reason);
        response(self.status, &headers, body.as_bytes(), date)
    }
}

/// No blank line within [`MAX_REQUEST_HEAD`] bytes.
pub(crate) const HEAD_TOO_LARGE: Refusal = Refusal::new(431, "request head larger than 8 KiB");
/// A well-formed request for an HTTP version other than 1.x.
pub(crate) const VERSION_NOT_SUPPORTED: Refusal = Refusal::new(505, "only HTTP/1.x is served here");

/// The bytes are not an HTTP/1.x request head; `why` says what is wrong.
const fn malformed(why: &'static str) -> Refusal {
    Refusal::new(400, why)
}

impl Request {
    /// The first value of a header, by case-insensitive name (RFC 9110 §5.1).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many times a header appears.
    pub(crate) fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// Does a comma-separated header (such as `Connection: keep-alive,
    /// Upgrade`) contain `token`, ignoring case? Every header line with that
    /// name counts (RFC 9110 §5.3).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The path part of the target, without any `?query`: `/chat` for
    /// `/chat?room=1`, and for `http://localhost:1222/chat` too.
    pub fn path(&self) -> &str {
        let path = match split_absolute(&self.target) {
            Some((_, rest)) if rest.starts_with('/') => rest,
            Some(_) => "/", // `http://host` or `http://host?query`
            None => &self.target,
        };
        path.split('?').next().unwrap_or("")
    }

    /// The server this request is for. RFC 9112 §3.2.2: a target in
    /// absolute form (`http://host:port/path`, which RFC 6455 §4.1 allows
    /// in a handshake too) names it, and the `Host` header is then ignored;
    /// otherwise the `Host` header does (§3.2). `None`: neither does.
    pub(crate) fn authority(&self) -> Option<&str> {
        match split_absolute(&self.target) {
            Some((authority, _)) => Some(authority),
            None => self.header("Host"),
        }
    }
}

/// A target in absolute form, `http://host:port/path?query` (any scheme),
/// split into its authority and the rest (`/path?query`, or nothing). A
/// target in origin form starts with `/`.
fn split_absolute(target: &str) -> Option<(&str, &str)> {
    if target.starts_with('/') {
        return None;
    }
    let (_scheme, rest) = target.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(rest.split_at(end))
}

/// A target in absolute form must be a URL this server could answer: RFC
/// 6455 §4.1 allows an `http` or `https` one in a handshake (a page takes
/// the same), RFC 9110 §4.2.1 rejects one without a host, and §4.2.4 treats
/// one with a user name (`http://user@host/`) as an error.
fn check_absolute(target: &str) -> Result<(), Refusal> {
    let Some((authority, _)) = split_absolute(target) else {
        return Ok(());
    };
    let scheme = target.split("://").next().unwrap_or("");
    let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    if !web || authority.is_empty() || authority.contains('@') {
        return Err(malformed("a target URL must be http(s)://host[:port]/path"));
    }
    Ok(())
}

/// Parse a request head from the start of `bytes`.
///
/// `Ok(None)`: no blank line yet, read more. `Ok(Some((request, len)))`: the
/// head took `len` bytes; anything after it (the client's first frames, say)
/// belongs to whoever reads next. (A connection's bytes arrive a read at a
/// time; [`HeadSearch::parse`] picks up where the last call stopped.)
pub fn parse_request(bytes: &[u8]) -> Result<Option<(Request, usize)>, Refusal> {
    HeadSearch::default().parse(bytes)
}

/// How far the search for the end of a request head has got, so that the
/// next read's bytes are searched and the earlier ones are not searched
/// again: a head trickled in a byte at a time costs each byte once, not
/// once for every byte that follows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadSearch {
    /// Empty lines skipped before the request line, in bytes.
    skipped: usize,
    /// Bytes before this hold no blank line.
    scanned: usize,
    /// Every byte any search has looked at, counted: about one per byte.
    examined: usize,
}

impl HeadSearch {
    /// [`parse_request`], for `bytes` that are the bytes of the last call
    /// (if any) with more after them.
    pub fn parse(&mut self, bytes: &[u8]) -> Result<Option<(Request, usize)>, Refusal> {
        let Some(end) = self.find_end(bytes)? else {
            return if bytes.len() >= MAX_REQUEST_HEAD {
                Err(HEAD_TOO_LARGE)
            } else {
                Ok(None)
            };
        };
        // Every line ends in CR LF (see `find_end`); a bare LF inside is refused.
        let mut lines = bytes[self.skipped..end - 2]
            .split_inclusive(|&b| b == b'\n')
            .map(|line| {
                line.strip_suffix(b"\r\n")
                    .ok_or(malformed("a line ends in LF without CR"))
            });
        let (method, target, version) = parse_request_line(lines.next().unwrap_or(Ok(b""))?)?;
        let headers = lines
            .map(|line| parse_header_line(line?))
            .collect::<Result<Vec<_>, _>>()?;
        let request = Request {
            method: method.to_owned(),
            target: target.to_owned(),
            version: version.to_owned(),
            headers,
        };
        check_host(&request)?;
        Ok(Some((request, end)))
    }

    /// Where the head ends (just after its blank line), if it has.
    fn find_end(&mut self, bytes: &[u8]) -> Result<Option<usize>, Refusal> {
        // RFC 9112 §2.2: a server SHOULD ignore empty lines before the
        // request line (some clients send a stray CRLF after a previous
        // request). The cap counts those empty lines too: endless CR LFs
        // are no way around it.
        let limit = bytes.len().min(MAX_REQUEST_HEAD);
        while bytes[self.skipped..limit].starts_with(b"\r\n") {
            self.skipped += 2;
        }
        // A blank line may straddle the last search's end: step back 3.
        let from = self.skipped.max(self.scanned.saturating_sub(3));
        for at in from..limit {
            self.examined += 1;
            if bytes[at] != b'\n' {
                continue;
            }
            // The head ends at its first blank line. RFC 9112 §2.2 lets a
            // server accept lines ending in a bare LF; this one does not,
            // and says so as soon as a head ends that way (a person typing
            // into netcat), rather than waiting in silence for a CR LF CR
            // LF that will never come.
            let ends_with =
                |tail: &[u8]| at + 1 >= self.skipped + tail.len() && bytes[..=at].ends_with(tail);
            if ends_with(b"\r\n\r\n") {
                return Ok(Some(at + 1));
            }
            if ends_with(b"\n\n") {
                return Err(malformed("lines must end in CR LF"));
            }
        }
        self.scanned = limit;
        Ok(None)
    }

    /// Bytes all searches so far have looked at (a test checks each byte
    /// is searched about once).
    #[cfg(test)]
    pub(crate) fn examined(&self) -> usize {
        self.examined
    }
}

/// `GET /path HTTP/1.1`: three parts separated by single spaces (RFC 9112 §3).
fn parse_request_line(line: &[u8]) -> Result<(&str, &str, &str), Refusal> {
    let refusal = malformed("malformed request line");
    let line = std::str::from_utf8(line).map_err(|_| refusal)?;
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None)
            if is_token(method) && is_target(target) =>
        {
            check_version(version)?;
            check_absolute(target)?;
            Ok((method, target, version))
        }
        _ => Err(refusal),
    }
}

/// RFC 9112 §2.3: `HTTP/` and a one-digit major and minor version. Only
/// major version 1 travels as text like this.
fn check_version(version: &str) -> Result<(), Refusal> {
    match version.as_bytes() {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => Ok(()),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(VERSION_NOT_SUPPORTED)
        }
        _ => Err(malformed("malformed HTTP version")),
    }
}

/// RFC 9112 §3.2: a request target is visible ASCII (no controls, no
/// spaces, nothing above 0x7E; anything else arrives percent-encoded).
fn is_target(target: &str) -> bool {
    !target.is_empty() && target.bytes().all(|b| b.is_ascii_graphic())
}

/// `Name: value` (RFC 9112 §5).
fn parse_header_line(line: &[u8]) -> Result<(String, String), Refusal> {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(malformed("header line without a colon"));
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // RFC 9112 §5.1: no white space between the name and the colon; §5.2:
    // obsolete line folding (a line starting with white space) is rejected.
    // Both are what request smuggling is made of.
    let name = std::str::from_utf8(name)
        .ok()
        .filter(|n| is_token(n))
        .ok_or(malformed("malformed header name"))?;
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7F) {
        return Err(malformed("control character in a header value"));
    }
    // RFC 9110 §5.5: values may hold bytes above 0x7F ("obs-text"); we
    // never act on those, so a lossy conversion to text is enough.
    let value = String::from_utf8_lossy(value);
    Ok((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()))
}

/// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status
/// code to any HTTP/1.1 request message that lacks a Host header field and
/// to any request message that contains more than one Host header field".
fn check_host(request: &Request) -> Result<(), Refusal> {
    match request.header_count("Host") {
        // HTTP/1.0 did not require Host; every 1.x after it does (RFC 9110
        // §2.5: a higher minor version is treated as 1.1).
        0 if request.version != "HTTP/1.0" => Err(malformed("missing Host header")),
        0 | 1 => Ok(()),
        _ => Err(malformed("more than one Host header")),
    }
}

/// RFC 9110 §5.6.2: a token is one or more visible characters other than
/// delimiters. (Also the rule for extension names and values, RFC 6455
/// §9.1: `extensions.rs`.)
pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The standard reason phrase for the statuses this server sends.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        421 => "Misdirected Request",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Write a whole response, sent at `date`: status line, headers, blank
/// line, body.
///
/// Every response but the 101 closes the connection afterwards, so it says
/// so, always carries a `Content-Length`, and (RFC 9110 §6.6.1: a server
/// with a clock MUST) a `Date`. The time is passed in: this module has no
/// clock of its own.
pub(crate) fn response(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    date: SystemTime,
) -> Vec<u8> {
    let mut bytes = response_head(status, headers, body.len() as u64, date);
    bytes.extend_from_slice(body);
    bytes
}

/// A response's head alone, for a body of `length` bytes that follows it
/// (a file, sent as the socket takes it), or none (HEAD).
pub(crate) fn response_head(
    status: u16,
    headers: &[(&str, &str)],
    length: u64,
    date: SystemTime,
) -> Vec<u8> {
    let mut head = status_and_headers(status, headers);
    let date = DateTime::from(date).http_date();
    head.push_str(&format!("Date: {date}\r\nContent-Length: {length}\r\n"));
    // Unless the caller said more (a 426 also lists Upgrade).
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("Connection"))
    {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The 101 (RFC 6455 §4.2.2): byte for byte the PHP's, the status line and
/// these headers alone: the connection stays open, and no body follows.
pub(crate) fn switching_protocols(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut head = status_and_headers(101, headers);
    head.push_str("\r\n");
    head.into_bytes()
}

/// The status line and `headers`, each line ended by CRLF.
fn status_and_headers(status: u16, headers: &[(&str, &str)]) -> String {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    const TUTORIAL_REQUEST: &str = "GET /mychat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
        Sec-WebSocket-Protocol: chat\r\n\
        Sec-WebSocket-Version: 13\r\n\
        Origin: http://example.com\r\n\r\n";

    #[test]
    fn parses_the_tutorial_request() {
        let (request, len) = parse_request(TUTORIAL_REQUEST.as_bytes()).unwrap().unwrap();
        assert_eq!(len, TUTORIAL_REQUEST.len());
        assert_eq!(request.method, "GET");
        assert_eq!(request.path(), "/mychat");
        assert_eq!(request.version, "HTTP/1.1");
        assert_eq!(
            request.header("sec-websocket-key"),
            Some("x3JJHMbDL1EzLkh9GBhXDw==")
        );
        assert_eq!(request.header("ORIGIN"), Some("http://example.com"));
        assert!(request.has_token("connection", "upgrade"));
    }

    #[test]
    fn a_trickled_head_is_searched_once_not_once_per_byte() {
        // 7 KB of head, a byte at a time, then its end.
        let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: ".to_vec();
        head.resize(7000, b'x');
        head.extend_from_slice(b"\r\n\r\n");
        let mut search = HeadSearch::default();
        for end in 1..head.len() {
            assert_eq!(search.parse(&head[..end]), Ok(None), "at {end}");
        }
        let (request, len) = search.parse(&head).unwrap().unwrap();
        assert_eq!((request.method.as_str(), len), ("GET", head.len()));
        // Each byte looked at about once (the search steps back 3 bytes
        // each time, for a blank line across two reads), not once per read
        // after it (about 25 million looks).
        assert!(search.examined() < 5 * head.len(), "{}", search.examined());
    }

    #[test]
    fn a_search_picks_up_where_it_stopped_at_every_cut() {
        let bytes = format!("\r\n\r\n{TUTORIAL_REQUEST}rest").into_bytes();
        let whole = parse_request(&bytes);
        for cut in 0..bytes.len() {
            let mut search = HeadSearch::default();
            let first = search.parse(&bytes[..cut]);
            assert_eq!(first, parse_request(&bytes[..cut]), "cut {cut}");
            assert_eq!(search.parse(&bytes), whole, "cut {cut}");
        }
        let bare = b"GET / HTTP/1.1\r\nHost: a\n\nX";
        for cut in 0..bare.len() {
            let mut search = HeadSearch::default();
            let _ = search.parse(&bare[..cut]);
            assert_eq!(search.parse(bare), parse_request(bare), "cut {cut}");
        }
    }

    #[test]
    fn waits_for_the_whole_head_at_every_cut() {
        let bytes = TUTORIAL_REQUEST.as_bytes();
        for cut in 0..bytes.len() {
            assert_eq!(parse_request(&bytes[..cut]), Ok(None), "cut {cut}");
        }
    }

    #[test]
    fn leaves_what_follows_the_head() {
        let mut bytes = TUTORIAL_REQUEST.as_bytes().to_vec();
        bytes.extend_from_slice(&[0x81, 0x80]);
        let (_, len) = parse_request(&bytes).unwrap().unwrap();
        assert_eq!(&bytes[len..], &[0x81, 0x80]);
    }

    #[test]
    fn trims_values_and_reads_token_lists() {
        let raw = "GET / HTTP/1.1\r\nhost:   a  \r\nConnection: keep-alive, Upgrade\r\n\r\n";
        let (request, _) = parse_request(raw.as_bytes()).unwrap().unwrap();
        assert_eq!(request.header("Host"), Some("a"));
        assert!(request.has_token("Connection", "upgrade"));
        assert!(!request.has_token("Connection", "close"));
        assert_eq!(request.header("Sec-WebSocket-Key"), None);
    }

    #[test]
    fn oversize_heads_are_refused() {
        let mut bytes = b"GET / HTTP/1.1\r\nX: ".to_vec();
        bytes.resize(MAX_REQUEST_HEAD - 1, b'a');
        assert_eq!(parse_request(&bytes), Ok(None));
        bytes.push(b'a');
        assert_eq!(parse_request(&bytes), Err(HEAD_TOO_LARGE));
    }

    #[test]
    fn malformed_heads_are_refused() {
        for raw in [
            "GET /\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "GET / HTTP/1.1\r\n folded: a\r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
            "GET /\x1b[31m HTTP/1.1\r\n\r\n",
            "GET /é HTTP/1.1\r\n\r\n",
        ] {
            let refused = parse_request(raw.as_bytes()).unwrap_err();
            assert_eq!(refused.status, 400, "{raw:?}");
        }
        let bare_lf = b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n";
        assert!(parse_request(bare_lf).is_err());
        let all_bare = b"GET / HTTP/1.1\nHost: a\n\n";
        let error = malformed("lines must end in CR LF");
        assert_eq!(parse_request(all_bare), Err(error));
        let bare_cr = b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n";
        assert!(parse_request(bare_cr).is_err());
    }

    #[test]
    fn obs_text_in_a_value_is_accepted() {
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: caf\xe9\r\n\r\n";
        let (request, _) = parse_request(raw).unwrap().unwrap();
        assert_eq!(request.header("user-agent"), Some("caf\u{FFFD}"));
    }

    #[test]
    fn endless_empty_lines_hit_the_cap() {
        let crlfs = b"\r\n".repeat(MAX_REQUEST_HEAD / 2);
        assert_eq!(parse_request(&crlfs[..crlfs.len() - 2]), Ok(None));
        assert_eq!(parse_request(&crlfs), Err(HEAD_TOO_LARGE));
        // More than the cap in one read (a read can be 64 KiB).
        let many = b"\r\n".repeat(MAX_REQUEST_HEAD);
        assert_eq!(parse_request(&many), Err(HEAD_TOO_LARGE));
    }

    #[test]
    fn leading_empty_lines_are_skipped() {
        let raw = b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        let (request, len) = parse_request(raw).unwrap().unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(&raw[len..], b"rest");
    }

    #[test]
    fn versions() {
        let with = |v: &str| parse_request(format!("GET / {v}\r\nHost: a\r\n\r\n").as_bytes());
        assert!(with("HTTP/1.1").unwrap().is_some());
        assert!(with("HTTP/1.0").unwrap().is_some());
        assert_eq!(with("HTTP/2.0"), Err(VERSION_NOT_SUPPORTED));
        assert_eq!(with("HTTP/9.9"), Err(VERSION_NOT_SUPPORTED));
        for bad in ["HTTP/1", "HTTP/1.x", "HTTP/\x01x", "http/1.1", "HTTP/11.1"] {
            assert_eq!(with(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn host_rules() {
        let missing = b"GET / HTTP/1.1\r\nX: a\r\n\r\n";
        assert_eq!(
            parse_request(missing),
            Err(malformed("missing Host header"))
        );
        let old = b"GET / HTTP/1.0\r\n\r\n";
        assert!(parse_request(old).unwrap().is_some());
        let newer = b"GET / HTTP/1.2\r\n\r\n";
        assert!(parse_request(newer).is_err());
        let two = b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n";
        let error = malformed("more than one Host header");
        assert_eq!(parse_request(two), Err(error));
    }

    /// RFC 9112 §3.2.2: a target in absolute form names the server, and
    /// the Host header is then ignored; its path is the page asked for.
    #[test]
    fn a_target_in_absolute_form_names_the_server() {
        let parse = |head: &str| parse_request(head.as_bytes()).unwrap().unwrap().0;
        let plain = parse("GET /chat?room=1 HTTP/1.1\r\nHost: localhost:1222\r\n\r\n");
        assert_eq!(
            (plain.authority(), plain.path()),
            (Some("localhost:1222"), "/chat")
        );
        let absolute = parse(
            "GET http://evil.example:1222/chat?room=1 HTTP/1.1\r\nHost: localhost:1222\r\n\r\n",
        );
        assert_eq!(
            (absolute.authority(), absolute.path()),
            (Some("evil.example:1222"), "/chat")
        );
        let bare = parse("GET HTTPS://localhost:1222 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            (bare.authority(), bare.path()),
            (Some("localhost:1222"), "/")
        );
        let query = parse("GET http://localhost:1222?a=1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            (query.authority(), query.path()),
            (Some("localhost:1222"), "/")
        );
        let old = parse("GET / HTTP/1.0\r\n\r\n");
        assert_eq!(old.authority(), None);
        // An empty Host names no server, and is not forgotten as none.
        let empty = parse("GET / HTTP/1.1\r\nHost: \r\n\r\n");
        assert_eq!(empty.authority(), Some(""));
        // Not a URL this server could answer: no host, a user name, a
        // scheme that is not the web's (RFC 6455 §4.1: http or https).
        for target in [
            "http:///chat",
            "http://me@localhost:1222/",
            "ws://localhost:1222/",
        ] {
            let head = format!("GET {target} HTTP/1.1\r\nHost: localhost:1222\r\n\r\n");
            assert_eq!(
                parse_request(head.as_bytes()).unwrap_err().status,
                400,
                "{target}"
            );
        }
    }

    #[test]
    fn refusals_carry_length_and_close() {
        let bytes = Refusal::new(404, "no such page").response(std::time::UNIX_EPOCH);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("Content-Length: 17\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.contains("\r\nDate: ") && text.contains(" GMT\r\n"));
        assert!(text.ends_with("\r\n\r\n404 no such page\n"));
    }

    #[test]
    fn refusals_add_their_own_headers() {
        const NOT_HERE: Refusal = Refusal::new(405, "no").with_headers(&[("Allow", "GET")]);
        let text = String::from_utf8(NOT_HERE.response(std::time::UNIX_EPOCH)).unwrap();
        assert!(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(text.contains("\r\nAllow: GET\r\n"));
        assert!(text.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    }
}
