//! Plain HTTP GETs: the client page and its files, from the `www/` folder.
//!
//! The tutorial had you open `socket_client.html` straight from disk. Here
//! the same port that speaks WebSocket also serves the page, so opening
//! `http://127.0.0.1:1222/` just works and the page's origin is the server's
//! own (which the Origin check in `protocol/access.rs` relies on).
//!
//! A file is never read whole: [`serve`] opens it and answers with the
//! response's head and a [`Body`], which the client record reads a
//! [`CHUNK`] at a time, as the socket takes the bytes. So a file of any
//! size costs one chunk of memory, and a `HEAD` reads none of it.

use crate::protocol::http::{self, Refusal, Request};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The page served for `/`: the tutorial's client, rewritten.
pub(crate) const INDEX: &str = "socket_client.html";

/// How much of a file is read at a time: all a file being sent holds in
/// memory.
pub const CHUNK: usize = 64 * 1024;

/// RFC 9110 §15.5.6: a 405 lists the methods that are allowed.
const NOT_GET: Refusal =
    Refusal::new(405, "only GET is served here").with_headers(&[("Allow", "GET, HEAD")]);
pub(crate) const NOT_FOUND: Refusal = Refusal::new(404, "no such file");
/// The file is there, but the process has no file descriptor left to open
/// it: our trouble, for now (RFC 9110 §15.6.4), not a missing page.
const NO_DESCRIPTORS: Refusal = Refusal::new(503, "out of file descriptors, try again later");

/// A page to send: the response's head, then the file, if it has one to
/// send (a `HEAD` has none).
#[derive(Debug)]
pub struct Page {
    pub head: Vec<u8>,
    pub body: Option<Body>,
}

/// The part of a file still to be sent.
#[derive(Debug)]
pub struct Body {
    file: File,
    left: u64,
}

impl Body {
    /// Append the file's next piece, at most [`CHUNK`] bytes, to `out`.
    /// A file that ends sooner than it said (it shrank while being sent)
    /// is an error: its `Content-Length` was already sent.
    pub fn read_into(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let want = self.left.min(CHUNK as u64) as usize;
        let start = out.len();
        out.resize(start + want, 0);
        let got = read_some(&mut self.file, &mut out[start..]);
        out.truncate(start + got.as_ref().map_or(0, |n| *n));
        match got? {
            0 if want > 0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ended early: it shrank while being sent",
            )),
            n => {
                self.left -= n as u64;
                Ok(())
            }
        }
    }

    /// Has all of it been read?
    pub fn is_done(&self) -> bool {
        self.left == 0
    }
}

/// One `read`, tried again if a signal interrupts it.
fn read_some(file: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buffer) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Answer a plain (non-WebSocket) request: a `200 OK` head and the file to
/// send after it, or the refusal.
pub fn serve(root: &Path, request: &Request) -> Result<Page, Refusal> {
    let head_only = request.method == "HEAD";
    if request.method != "GET" && !head_only {
        return Err(NOT_GET);
    }
    let path = resolve(root, request.path()).ok_or(NOT_FOUND)?;
    let file =
        File::open(&path).map_err(|e| match crate::server::poll::out_of_descriptors(&e) {
            true => NO_DESCRIPTORS,
            false => NOT_FOUND,
        })?;
    let length = file.metadata().map_err(|_| NOT_FOUND)?.len();
    let headers = [
        ("Content-Type", content_type(&path)),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
    ];
    let head = http::response_head(200, &headers, length, SystemTime::now());
    let body = (!head_only && length > 0).then_some(Body { file, left: length });
    Ok(Page { head, body })
}

/// Map a URL path to a file under `root`, or `None` if it is not one we
/// serve. Only plain names are allowed (letters, digits, `-`, `_`, `.`, and
/// `/` between them), no segment may start with a dot (so no `..` and no
/// hidden files), and the file found must really be inside `root` even
/// after following symbolic links.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let relative = match url_path.strip_prefix('/')? {
        "" => INDEX,
        rest => rest,
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
    let safe_segments = relative
        .split('/')
        .all(|segment| !segment.is_empty() && !segment.starts_with('.'));
    if !relative.chars().all(plain) || !safe_segments {
        return None;
    }
    let root = root.canonicalize().ok()?;
    let file = root.join(relative).canonicalize().ok()?;
    (file.starts_with(&root) && file.is_file()).then_some(file)
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Request {
        Request {
            method: "GET".into(),
            target: path.into(),
            version: "HTTP/1.1".into(),
            headers: vec![],
        }
    }

    fn www() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("www")
    }

    /// The whole response: the head, then the body read chunk by chunk.
    fn response(page: Page) -> Vec<u8> {
        let mut bytes = page.head;
        if let Some(mut body) = page.body {
            while !body.is_done() {
                body.read_into(&mut bytes).unwrap();
            }
        }
        bytes
    }

    #[test]
    fn serves_the_page_for_slash() {
        let response = response(serve(&www(), &get("/")).unwrap());
        let text = String::from_utf8(response).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        let page = std::fs::read_to_string(www().join(INDEX)).unwrap();
        assert!(text.ends_with(&page));
        assert!(text.contains(&format!("\r\nContent-Length: {}\r\n", page.len())));
        assert!(text.contains("Content-Type: text/html; charset=utf-8\r\n"));
        assert!(text.contains("id=\"log\""));
        assert!(serve(&www(), &get("/socket_client.html?x=1")).is_ok());
    }

    #[test]
    fn head_has_no_body() {
        let mut request = get("/");
        request.method = "HEAD".into();
        let page = serve(&www(), &request).unwrap();
        assert!(page.body.is_none());
        assert!(page.head.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn refuses_what_is_not_a_file_inside_www() {
        for path in [
            "/nope.html",
            "/../Cargo.toml",
            "/..%2fCargo.toml",
            "/%2e%2e/Cargo.toml",
            "/.hidden",
            "//etc/passwd",
            "/a/../../Cargo.toml",
            "/socket_client.html\0",
            "relative",
        ] {
            assert_eq!(serve(&www(), &get(path)).unwrap_err(), NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn a_file_is_read_a_chunk_at_a_time() {
        let dir = std::env::temp_dir().join(format!("www-chunks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let content: Vec<u8> = (0..CHUNK * 2 + 5).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("data.bin"), &content).unwrap();
        let mut body = serve(&dir, &get("/data.bin")).unwrap().body.unwrap();
        let mut sent = Vec::new();
        for expected in [CHUNK, CHUNK * 2, CHUNK * 2 + 5] {
            body.read_into(&mut sent).unwrap();
            assert_eq!(sent.len(), expected);
        }
        assert!(body.is_done() && sent == content);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn only_get_and_head() {
        let mut request = get("/");
        request.method = "POST".into();
        assert_eq!(serve(&www(), &request).unwrap_err().status, 405);
    }
}
