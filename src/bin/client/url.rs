//! Where to connect: a `ws://` URL (RFC 6455 §3), read into its host, port
//! and resource name, for the conversation and the checker alike.

/// Where to connect, from a `ws://` URL (RFC 6455 §3).
#[derive(Default)]
pub struct Url {
    /// As written, with the brackets of an IPv6 address: `[::1]`.
    pub host: String,
    pub port: u16,
    /// The resource name: the path and the query, `/` if there is none.
    pub path: String,
}

/// Read `ws://HOST[:PORT][/PATH]`. `wss://` would need TLS, which this
/// client, like the server, does not speak.
pub fn parse_url(text: &str) -> Result<Url, String> {
    let bad = |why: &str| Err(format!("{text:?}: {why}"));
    let rest = match text.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ws") => rest,
        _ => return bad("not ws://HOST:PORT/PATH (wss:// would need TLS, not spoken here)"),
    };
    // §3: "Fragment identifiers are meaningless in the context of
    // WebSocket URIs and MUST NOT be used on these URIs."
    if rest.contains('#') {
        return bad("a WebSocket URL has no #fragment (RFC 6455 §3)");
    }
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    // The port follows the last colon, unless that colon is inside the
    // brackets of an IPv6 address.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.is_empty() || host.contains('@') || host.contains([':', '[', ']']) && !bracketed {
        return bad("expected ws://HOST:PORT/PATH, an IPv6 HOST in [ ], no user name");
    }
    let port = match port.map(str::parse::<u16>) {
        None => 80,
        Some(Ok(port)) if port > 0 => port,
        Some(_) => return bad("the port is not a number from 1 to 65535"),
    };
    let path = format!("/{}", path.trim_start_matches('/'));
    let host = host.to_string();
    Ok(Url { host, port, path })
}

impl Url {
    /// `HOST:PORT`, as a request's `Host` names the server (RFC 6455
    /// §4.1 item 4).
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}
