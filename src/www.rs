//! Plain HTTP GETs: the client page and its files, from the `www/` folder.
//!
//! The tutorial had you open `socket_client.html` straight from disk. Here
//! the same port that speaks WebSocket also serves the page, so opening
//! `http://127.0.0.1:1222/` just works and the page's origin is the server's
//! own (which the Origin check in `handshake.rs` relies on).

use crate::http::{self, Refusal, Request};
use std::path::{Path, PathBuf};

/// The page served for `/`: the tutorial's client, rewritten.
pub const INDEX: &str = "socket_client.html";

/// RFC 9110 §15.5.6: a 405 lists the methods that are allowed.
const NOT_GET: Refusal =
    Refusal::new(405, "only GET is served here").with_headers(&[("Allow", "GET, HEAD")]);
const NOT_FOUND: Refusal = Refusal::new(404, "no such file");

/// Answer a plain (non-WebSocket) request: a `200 OK` response with the
/// file, or the refusal.
pub fn serve(root: &Path, request: &Request) -> Result<Vec<u8>, Refusal> {
    let head_only = request.method == "HEAD";
    if request.method != "GET" && !head_only {
        return Err(NOT_GET);
    }
    let file = resolve(root, request.path()).ok_or(NOT_FOUND)?;
    let body = std::fs::read(&file).map_err(|_| NOT_FOUND)?;
    let headers = [
        ("Content-Type", content_type(&file)),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
    ];
    let mut response = http::response(200, &headers, &body);
    if head_only {
        response.truncate(response.len() - body.len());
    }
    Ok(response)
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

    #[test]
    fn serves_the_page_for_slash() {
        let response = serve(&www(), &get("/")).unwrap();
        let text = String::from_utf8(response).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Content-Type: text/html; charset=utf-8\r\n"));
        assert!(text.contains("id=\"log\""));
        assert!(serve(&www(), &get("/socket_client.html?x=1")).is_ok());
    }

    #[test]
    fn head_has_no_body() {
        let mut request = get("/");
        request.method = "HEAD".into();
        let response = serve(&www(), &request).unwrap();
        assert!(response.ends_with(b"\r\n\r\n"));
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
            assert_eq!(serve(&www(), &get(path)), Err(NOT_FOUND), "{path}");
        }
    }

    #[test]
    fn only_get_and_head() {
        let mut request = get("/");
        request.method = "POST".into();
        assert_eq!(serve(&www(), &request).unwrap_err().status, 405);
    }
}
