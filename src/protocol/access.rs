//! Who may talk to this server: the `Host` rule and the `Origin` rule.
//!
//! The PHP read `Host` and `Origin` (lines 141-144) and did nothing with
//! them. A server on your own machine must, because any web page you visit
//! can make your browser send it requests:
//!
//! - **`Origin`** (RFC 6455 §10.2, RFC 6454) names the site of the page that
//!   opened a WebSocket. A page from another site is refused, so that it
//!   cannot use your browser to talk to this server (cross-site WebSocket
//!   hijacking).
//! - **`Host`** names the server the browser thinks it is talking to. The
//!   `Origin` check alone is not enough: a site can point its own name at
//!   127.0.0.1 after its page has loaded ("DNS rebinding"). The browser then
//!   sends `Host: evil.example:1222` and `Origin: http://evil.example:1222`,
//!   which agree with each other, so the page passes for one of ours. So the
//!   `Host` itself must name this server: its listen address, `localhost`,
//!   `127.0.0.1` or `[::1]`, or a name given with `--allowed-host`, always
//!   with our port.
//!
//! A request refused here gets 403 for a WebSocket handshake and 421
//! (Misdirected Request) for a page. (A request whose target is a whole
//! URL names its server there instead, and its `Host` header is ignored:
//! `Request::authority`.)

use super::http::Refusal;

/// What a handshake may agree to: who may connect (the values of the flags
/// the two rules here read) and whether compression may be agreed
/// (`handshake.rs`). A view of the server's flags (`Config::policy`), so
/// that these rules need no more than plain values.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// The address the server listens on (`--address`).
    pub address: &'a str,
    /// The port it listens on.
    pub port: u16,
    /// `--allowed-host`: more names for this server.
    pub allowed_hosts: &'a [String],
    /// `--allowed-origin`: pages from other sites that may connect.
    pub allowed_origins: &'a [String],
    /// `--deflate`: agree to permessage-deflate when a client offers it.
    pub deflate: bool,
}

/// The names that always mean this machine, besides the listen address.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// A page asked of the wrong server (RFC 9110 §15.5.20: "the request was
/// directed at a server that is unable or unwilling to produce an
/// authoritative response").
pub(crate) const WRONG_HOST_PAGE: Refusal =
    Refusal::new(421, "the Host header does not name this server");
/// A WebSocket handshake for the wrong server.
pub(crate) const WRONG_HOST_SOCKET: Refusal =
    Refusal::new(403, "the Host header does not name this server");

/// Does a `Host` header (`name` or `name:port`) name this server?
///
/// The listen address and the loopback names count with our port only. A
/// name given with `--allowed-host` counts with any port, unless it gives
/// one (`chat.lan:8080`): behind a reverse proxy, the `Host` carries the
/// proxy's port, not ours.
pub fn host_allowed(host: &str, policy: &Policy) -> bool {
    let Some((name, port)) = split_host(host) else {
        return false;
    };
    let listen = bracketed(policy.address);
    let built_in = LOOPBACK_NAMES.iter().copied().chain([listen.as_str()]);
    let ours = |n: &str| port == policy.port && n.eq_ignore_ascii_case(name);
    let listed = |entry: &String| match entry.as_str() {
        "*" => true,
        entry if entry.eq_ignore_ascii_case(host) => true,
        entry => !has_port(entry) && entry.eq_ignore_ascii_case(name),
    };
    built_in.into_iter().any(ours) || policy.allowed_hosts.iter().any(listed)
}

/// May a page from these `Origin`s talk to this server, whose `Host` the
/// request named? RFC 6455 §10.2.
///
/// - No `Origin` at all: yes. Browsers always send one; other programs
///   usually do not, and could forge it anyway, so it protects nothing.
/// - More than one: no (RFC 6454 §7.3 gives a request one origin).
/// - `--allowed-origin` lists it (`*`: any; `null`: pages opened as files):
///   yes.
/// - Otherwise, only a page this server served itself: `http://` (this
///   server speaks no TLS, so an `https` page is another origin) with the
///   same host and port as the `Host`, which must name this server.
pub(crate) fn origin_allowed(origins: &[&str], host: &str, policy: &Policy) -> bool {
    let origin = match origins {
        [] => return true,
        [origin] => *origin,
        _ => return false,
    };
    let listed = policy
        .allowed_origins
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin));
    if listed {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // "null": a page opened from a file, or sandboxed
    };
    scheme.eq_ignore_ascii_case("http")
        && same_authority(authority, host)
        && host_allowed(host, policy)
}

/// The same host name (ignoring case) and port, once default ports are
/// filled in.
fn same_authority(a: &str, b: &str) -> bool {
    match (split_host(a), split_host(b)) {
        (Some((a, pa)), Some((b, pb))) => a.eq_ignore_ascii_case(b) && pa == pb,
        _ => false,
    }
}

/// `name:port` -> (`name`, port); `name` alone means port 80, the default
/// for `http` (RFC 9110 §4.2.1). An IPv6 address keeps its brackets. `None`
/// if the port is not a number.
fn split_host(host: &str) -> Option<(&str, u16)> {
    let (name, port) = match host.rfind(':') {
        Some(colon) if has_port(host) => (&host[..colon], Some(&host[colon + 1..])),
        _ => (host, None),
    };
    let port = match port {
        None => 80,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        Some(_) => return None,
    };
    (!name.is_empty()).then_some((name, port))
}

/// Does `host` end in `:port`? (`[::1]` does not: its colons are inside.)
fn has_port(host: &str) -> bool {
    host.rfind(':')
        .is_some_and(|colon| !host[colon..].contains(']'))
}

/// An IPv6 address as it appears in a `Host` header: in brackets.
fn bracketed(address: &str) -> String {
    if address.contains(':') {
        format!("[{address}]")
    } else {
        address.to_owned()
    }
}

/// The default flags' policy: `127.0.0.1:1222`, nobody else allowed.
#[cfg(test)]
pub const LOCAL: Policy<'static> = Policy {
    address: "127.0.0.1",
    port: 1222,
    allowed_hosts: &[],
    allowed_origins: &[],
    deflate: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags a [`Policy`] is a view of.
    struct Flags {
        address: String,
        port: u16,
        allowed_hosts: Vec<String>,
        allowed_origins: Vec<String>,
    }

    impl Flags {
        fn policy(&self) -> Policy<'_> {
            Policy {
                address: &self.address,
                port: self.port,
                allowed_hosts: &self.allowed_hosts,
                allowed_origins: &self.allowed_origins,
                deflate: false,
            }
        }
    }

    fn config(port: u16, hosts: &[&str], origins: &[&str]) -> Flags {
        Flags {
            address: "127.0.0.1".into(),
            port,
            allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            allowed_origins: origins.iter().map(|o| o.to_string()).collect(),
        }
    }

    #[test]
    fn the_host_must_name_this_server_with_our_port() {
        let ours = config(1222, &[], &[]);
        for host in [
            "127.0.0.1:1222",
            "localhost:1222",
            "LOCALHOST:1222",
            "[::1]:1222",
        ] {
            assert!(host_allowed(host, &ours.policy()), "{host}");
        }
        for host in [
            "evil.example:1222",
            "127.0.0.1:9999",
            "127.0.0.1",
            "localhost",
            "127.0.0.1:",
            "127.0.0.1:12a",
            ":1222",
            "",
            "[::1]",
            "127.0.0.1:99999",
            "127.0.0.2:1222",
        ] {
            assert!(!host_allowed(host, &ours.policy()), "{host}");
        }
        // Port 80 is the default: a Host without a port means it.
        assert!(host_allowed("localhost", &config(80, &[], &[]).policy()));
    }

    #[test]
    fn the_listen_address_and_allowed_hosts_count_too() {
        let mut lan = config(1222, &["chat.lan"], &[]);
        lan.address = "192.168.1.5".into();
        assert!(host_allowed("192.168.1.5:1222", &lan.policy()));
        assert!(host_allowed("chat.lan:1222", &lan.policy()));
        // Behind a proxy, the Host carries the proxy's port.
        assert!(host_allowed("chat.lan", &lan.policy()));
        assert!(host_allowed("chat.lan:8080", &lan.policy()));
        assert!(!host_allowed("other.lan:1222", &lan.policy()));
        assert!(!host_allowed("192.168.1.5:80", &lan.policy()));
        // An entry with a port allows that port only.
        let exact = config(1222, &["chat.lan:8080"], &[]);
        assert!(host_allowed("CHAT.lan:8080", &exact.policy()));
        assert!(!host_allowed("chat.lan", &exact.policy()));
        let mut v6 = config(1222, &[], &[]);
        v6.address = "::".into();
        assert!(host_allowed("[::]:1222", &v6.policy()));
        assert!(host_allowed(
            "anything:1",
            &config(1222, &["*"], &[]).policy()
        ));
    }

    #[test]
    fn origin_rules() {
        let ours = config(1222, &[], &[]);
        let host = "127.0.0.1:1222";
        let allowed = |origins: &[&str], host: &str, flags: &Flags| {
            origin_allowed(origins, host, &flags.policy())
        };
        assert!(allowed(&[], host, &ours));
        assert!(allowed(&["http://127.0.0.1:1222"], host, &ours));
        assert!(allowed(&["HTTP://127.0.0.1:1222"], host, &ours));
        assert!(allowed(&["http://localhost:1222"], "localhost:1222", &ours));
        assert!(allowed(&["http://[::1]:1222"], "[::1]:1222", &ours));
        // Another port, another site, a page from a file.
        assert!(!allowed(&["http://127.0.0.1:9999"], host, &ours));
        assert!(!allowed(&["http://evil.example"], host, &ours));
        assert!(!allowed(&["null"], host, &ours));
        // https is another origin: this server speaks plain http.
        assert!(!allowed(&["https://127.0.0.1:1222"], host, &ours));
        // DNS rebinding: Origin and Host agree, but the Host is not ours.
        let rebound = "evil.example:1222";
        assert!(!allowed(&["http://evil.example:1222"], rebound, &ours));
        // Two origins: a request has one.
        assert!(!allowed(
            &["http://127.0.0.1:1222", "http://127.0.0.1:1222"],
            host,
            &ours
        ));
        // --allowed-origin.
        let listed = config(1222, &[], &["http://example.com", "null"]);
        assert!(allowed(&["http://example.com"], host, &listed));
        assert!(allowed(&["null"], host, &listed));
        assert!(!allowed(
            &["http://example.com.evil.example"],
            host,
            &listed
        ));
        assert!(allowed(
            &["http://anything"],
            host,
            &config(1222, &[], &["*"])
        ));
    }
}
