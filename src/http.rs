//! Just enough HTTP/1.1 (RFC 9112) to read a request head and write a
//! response: the opening handshake is an HTTP request (RFC 6455 §4.1).
//!
//! The PHP tutorial ran a handful of regular expressions over whatever one
//! `socket_recv()` returned. That breaks when the request arrives in two
//! pieces, when a client writes `sec-websocket-key` in lower case (header
//! names are case-insensitive), or when a value has spaces around it. Here
//! the request is parsed once it is complete, from bytes that may have
//! arrived in any number of reads.

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

/// Why a request head could not be read. Each becomes an HTTP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// No blank line within [`MAX_REQUEST_HEAD`] bytes (431).
    TooLarge,
    /// The bytes are not an HTTP/1.x request head (400); the text says why.
    Malformed(&'static str),
}

impl RequestError {
    /// The HTTP status and one-line reason to answer with.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            RequestError::TooLarge => (431, "request head larger than 8 KiB"),
            RequestError::Malformed(why) => (400, why),
        }
    }
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
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// Does a comma-separated header (such as `Connection: keep-alive,
    /// Upgrade`) contain `token`, ignoring case? Every header line with that
    /// name counts (RFC 9110 §5.3).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The path part of the target, without any `?query`.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// Parse a request head from the start of `bytes`.
///
/// `Ok(None)`: no blank line yet, read more. `Ok(Some((request, len)))`: the
/// head took `len` bytes; anything after it (the client's first frames, say)
/// belongs to whoever reads next.
pub fn parse_request(bytes: &[u8]) -> Result<Option<(Request, usize)>, RequestError> {
    let window = &bytes[..bytes.len().min(MAX_REQUEST_HEAD)];
    let Some(end) = find(window, b"\r\n\r\n") else {
        return if bytes.len() >= MAX_REQUEST_HEAD {
            Err(RequestError::TooLarge)
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&bytes[..end])
        .map_err(|_| RequestError::Malformed("request head is not UTF-8 text"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let (method, target, version) = parse_request_line(request_line)?;
    let headers = lines.map(parse_header_line).collect::<Result<_, _>>()?;
    let request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        version: version.to_owned(),
        headers,
    };
    Ok(Some((request, end + 4)))
}

/// `GET /path HTTP/1.1`: three parts separated by single spaces (RFC 9112 §3).
fn parse_request_line(line: &str) -> Result<(&str, &str, &str), RequestError> {
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None)
            if is_token(method) && is_target(target) && version.starts_with("HTTP/") =>
        {
            Ok((method, target, version))
        }
        _ => Err(RequestError::Malformed("malformed request line")),
    }
}

/// RFC 9112 §3.2: a request target is visible ASCII (no controls, no
/// spaces, nothing above 0x7E; anything else arrives percent-encoded).
fn is_target(target: &str) -> bool {
    !target.is_empty() && target.bytes().all(|b| b.is_ascii_graphic())
}

/// `Name: value` (RFC 9112 §5).
fn parse_header_line(line: &str) -> Result<(String, String), RequestError> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(RequestError::Malformed("header line without a colon"));
    };
    // RFC 9112 §5.1: no white space between the name and the colon; §5.2:
    // obsolete line folding (a line starting with white space) is rejected.
    // Both are what request smuggling is made of.
    if !is_token(name) {
        return Err(RequestError::Malformed("malformed header name"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(RequestError::Malformed(
            "control character in a header value",
        ));
    }
    Ok((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()))
}

/// RFC 9110 §5.6.2: a token is one or more visible characters other than
/// delimiters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The standard reason phrase for the statuses this server sends.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Write a whole response: status line, headers, blank line, body.
///
/// Every response but the 101 closes the connection afterwards, so it says
/// so and always carries a `Content-Length`.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if status != 101 {
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// An error response whose body is the one-line reason, for people and logs.
pub fn error_response(status: u16, reason: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut all = vec![("Content-Type", "text/plain; charset=utf-8")];
    all.extend_from_slice(headers);
    response(status, &all, format!("{status} {reason}\n").as_bytes())
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
        assert_eq!(parse_request(&bytes), Err(RequestError::TooLarge));
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
            "\r\n\r\n",
        ] {
            assert!(
                matches!(
                    parse_request(raw.as_bytes()),
                    Err(RequestError::Malformed(_))
                ),
                "{raw:?}"
            );
        }
        let not_text = b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n";
        assert!(parse_request(not_text).is_err());
    }

    #[test]
    fn responses_carry_length_and_close() {
        let bytes = error_response(404, "no such page", &[]);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("Content-Length: 17\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n404 no such page\n"));
    }
}
