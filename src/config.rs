//! The command line: every flag, its default, and its `--help` line.
//!
//! The PHP had two variables at the top of the file, `$address` and
//! `$port`. Everything else it left unbounded; here the limits that keep one
//! client from hurting the others are gathered in [`Limits`].

use crate::protocol::access::Policy;
use crate::protocol::connection::Rules;
use std::path::PathBuf;
use std::time::Duration;

/// What the server says back to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The tutorial's replies: `You have entered: ...` and the commands.
    Tutorial,
    /// Every message is sent back unchanged (for tests and benchmarks).
    Echo,
    /// A chat room: every message goes to every client (`app/room.rs`).
    Chat,
}

impl Mode {
    /// Its name, as `--mode` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Tutorial => "tutorial",
            Mode::Echo => "echo",
            Mode::Chat => "chat",
        }
    }
}

/// Which way the loop waits: `--poller`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollerKind {
    /// `epoll(7)`: the kernel keeps the list; a wait costs what is ready.
    /// Linux only.
    Epoll,
    /// `poll(2)`: the whole list on every wait, as `socket_select` did.
    Poll,
}

impl PollerKind {
    /// epoll where there is one, else poll.
    pub(crate) fn best() -> PollerKind {
        if cfg!(target_os = "linux") {
            PollerKind::Epoll
        } else {
            PollerKind::Poll
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PollerKind::Epoll => "epoll",
            PollerKind::Poll => "poll",
        }
    }
}

/// Limits on what one client may cost the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest message accepted, in bytes; larger gets close 1009.
    pub max_message_size: usize,
    /// The most outgoing bytes a client may leave unread before it is dropped.
    pub max_pending_output: usize,
    /// The most bytes all clients together may hold: messages still
    /// arriving, output not yet written, and memory kept for a client's
    /// next big message. A message that would pass it fails its own
    /// connection (close 1013, try again later).
    pub max_buffered: usize,
    /// How long a frame or a fragmented message may take to arrive whole
    /// once it has begun; longer fails with close 1008. `None`: no limit.
    pub message_timeout: Option<Duration>,
    /// The most clients at once; more get `503 Service Unavailable`, once
    /// no connection still in its handshake can make room.
    pub max_clients: usize,
    /// The most connections from one address at once; more are closed
    /// unanswered. `None`: no such limit (loopback tests and benchmarks
    /// open thousands from one address).
    pub max_clients_per_ip: Option<usize>,
    /// How long a client has to complete its opening handshake.
    pub handshake_timeout: Duration,
    /// After this long without a sign of life from a client (a byte from
    /// it, or it taking bytes that waited for it), ping it; after as long
    /// again, close with 1011 and drop it. `None`: never. On by default, so
    /// that no open connection can hold a place in the table forever by
    /// saying nothing (browsers answer pings by themselves, so an open page
    /// stays).
    pub idle_timeout: Option<Duration>,
    /// How long we wait for the peer's part of a closing handshake, for it
    /// to take more of our last bytes, and for it to go away after we stop
    /// sending.
    pub close_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_size: 16 << 20,
            max_pending_output: 32 << 20,
            max_buffered: 256 << 20,
            message_timeout: Some(Duration::from_secs(30)),
            max_clients: 1024,
            max_clients_per_ip: None,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(60)),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// Everything the server needs to know to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub address: String,
    pub port: u16,
    pub log_file: PathBuf,
    pub www: PathBuf,
    pub mode: Mode,
    /// `--allowed-origin`: pages from these origins may connect too.
    pub allowed_origins: Vec<String>,
    /// `--allowed-host`: names besides the listen address and the loopback
    /// names that a `Host` header may give for this server (`*`: any).
    pub allowed_hosts: Vec<String>,
    /// `--trace`: log every request, response and frame, dissected.
    pub trace: bool,
    /// `--deflate`: agree to permessage-deflate (RFC 7692) when offered.
    pub deflate: bool,
    /// `--inspect`: serve the inspector, a live view of the client table
    /// and of every frame, at `/inspect` (`server/inspect.rs`).
    pub inspect: bool,
    /// `--poller`: how the loop waits (`server/poll.rs`).
    pub poller: PollerKind,
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            // The tutorial's `$address = "127.0.0.1"; $port = "1222";`
            address: "127.0.0.1".into(),
            port: 1222,
            log_file: "log.txt".into(),
            www: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www"),
            mode: Mode::Tutorial,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            trace: false,
            deflate: false,
            inspect: false,
            poller: PollerKind::best(),
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// Who may connect, as the handshake's rules read it
    /// (`protocol/access.rs`).
    pub fn policy(&self) -> Policy<'_> {
        Policy {
            address: &self.address,
            port: self.port,
            allowed_hosts: &self.allowed_hosts,
            allowed_origins: &self.allowed_origins,
            deflate: self.deflate,
        }
    }

    /// What one connection may take, as the protocol reads it.
    pub fn rules(&self) -> Rules {
        let limits = &self.limits;
        Rules {
            max_message_size: limits.max_message_size,
            max_pending_output: limits.max_pending_output,
            handshake_timeout: limits.handshake_timeout,
            idle_timeout: limits.idle_timeout,
            message_timeout: limits.message_timeout,
            close_timeout: limits.close_timeout,
            trace: self.trace,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Run with this configuration (boxed: it is large, and built once).
    Run(Box<Config>),
    Help,
}

pub const USAGE: &str = "\
Usage: socket_server [OPTIONS]

A WebSocket server: a Rust port of a classic PHP tutorial, correct to RFC 6455.
Open http://ADDRESS:PORT/ in a browser for the chat page. Logs go to the log file.

Options:
  --address IP              address to listen on              [default: 127.0.0.1]
  --port N                  port to listen on (0: any free)   [default: 1222]
  --log-file PATH           log file, appended to             [default: log.txt]
  --www DIR                 folder of pages served over HTTP  [default: www next to the crate]
  --mode tutorial|echo|chat tutorial replies, echo every message back, or
                            a chat room: every message to every client
                                                              [default: tutorial]
  --allowed-origin ORIGIN   also accept browser pages from ORIGIN (repeatable;
                            `*` for any, `null` for pages opened as files);
                            pages from this server itself are always accepted
  --allowed-host NAME       also answer requests whose Host header is NAME,
                            on any port, or NAME:PORT (repeatable; `*` for
                            any). Always answered: the listen address,
                            localhost, 127.0.0.1 and [::1], with our port.
                            Other Hosts get 403 for a WebSocket and 421 for a
                            page (against DNS rebinding)
  --max-message-size BYTES  largest message accepted (close 1009 above)
                                                              [default: 16777216]
  --max-pending-output BYTES
                            unread output after which a client is dropped:
                            its own answers, at the next one queued; a chat
                            room's messages once it has stopped reading
                                                              [default: 33554432]
  --max-buffered BYTES      the most all clients together may hold in
                            messages still arriving, output unread (a chat
                            room's message counted once) and memory kept
                            for their next big message. A message arriving
                            past it gets close 1013 (try again later); for a
                            room's message, clients that do not read make
                            room first, and if it still does not fit, its
                            sender gets 1013
                                                              [default: 268435456]
  --message-timeout SECS    a frame or message begun must arrive whole
                            within SECS, or close 1008 (0: no limit)
                                                              [default: 30]
  --max-clients N           clients at once; when full, the oldest connection
                            still in its handshake makes room, and if none
                            is, a handshake gets 503          [default: 1024]
  --max-clients-per-ip N    connections from one address at once; more are
                            closed unanswered (0: no limit)   [default: 0]
  --handshake-timeout SECS  time allowed for the handshake    [default: 10]
  --idle-timeout SECS       ping a silent client after SECS; close (1011)
                            and drop it after 2 x SECS (0: never)
                                                              [default: 60]
  --close-timeout SECS      wait for a peer's close reply, or for a peer
                            to go on reading our last bytes   [default: 5]
  --trace                   log every byte: each request and response, the
                            accept key worked out, and every frame in and
                            out, dissected as RFC 6455 §5.2 draws it
  --deflate                 agree to compression (permessage-deflate, RFC
                            7692) when a client offers it, as browsers do;
                            off, frames stay plain text in --trace
  --inspect                 serve the inspector at http://ADDRESS:PORT/inspect:
                            the client table and every frame, live, in a
                            browser on this machine (loopback only)
  --poller epoll|poll       how the loop waits: epoll (Linux) is told about
                            each socket once; poll is handed every socket
                            on every wait, as socket_select() was
                                                              [default: epoll on Linux]
  -h, --help                print this help

Ctrl-C or SIGTERM closes every client with 1001 (going away), waits up to
2 s (or the close timeout, if shorter) for them to answer, and exits with 0.
Log level: RUST_LOG=debug (handshake headers), info (default), warn, error.
--trace adds its blocks whatever RUST_LOG says.";

/// Read the command line (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut config = Config::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // Accept both `--port 8080` and `--port=8080`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(Command::Help);
        }
        // The three flags without a value.
        if let Some(switch) = switch(&mut config, &flag) {
            if inline.is_some() {
                return Err(format!("{flag} takes no value"));
            }
            *switch = true;
            continue;
        }
        let value = match inline.or_else(|| args.next()) {
            Some(value) => value,
            None if flag.starts_with('-') => return Err(format!("{flag} needs a value")),
            None => return Err(format!("unexpected argument '{flag}'")),
        };
        set(&mut config, &flag, &value)?;
    }
    Ok(Command::Run(Box::new(config)))
}

/// The flag that a switch without a value turns on, if `flag` is one.
fn switch<'a>(config: &'a mut Config, flag: &str) -> Option<&'a mut bool> {
    match flag {
        "--trace" => Some(&mut config.trace),
        "--deflate" => Some(&mut config.deflate),
        "--inspect" => Some(&mut config.inspect),
        _ => None,
    }
}

fn set(config: &mut Config, flag: &str, value: &str) -> Result<(), String> {
    let limits = &mut config.limits;
    match flag {
        "--address" => {
            value
                .parse::<std::net::IpAddr>()
                .map_err(|_| format!("--address: '{value}' is not an IP address"))?;
            config.address = value.to_owned();
        }
        "--port" => config.port = number(flag, value)?,
        "--log-file" => config.log_file = non_empty(flag, value)?.into(),
        "--www" => config.www = non_empty(flag, value)?.into(),
        "--mode" => {
            config.mode = match value {
                "tutorial" => Mode::Tutorial,
                "echo" => Mode::Echo,
                "chat" => Mode::Chat,
                _ => return Err(format!("--mode: '{value}' is not tutorial, echo or chat")),
            }
        }
        "--allowed-origin" => config
            .allowed_origins
            .push(non_empty(flag, value)?.to_owned()),
        "--allowed-host" => config
            .allowed_hosts
            .push(non_empty(flag, value)?.to_owned()),
        "--max-message-size" => limits.max_message_size = positive(flag, value)?,
        "--max-pending-output" => limits.max_pending_output = positive(flag, value)?,
        "--max-buffered" => limits.max_buffered = positive(flag, value)?,
        "--message-timeout" => limits.message_timeout = optional_seconds(flag, value)?,
        "--max-clients" => limits.max_clients = positive(flag, value)?,
        "--max-clients-per-ip" => {
            limits.max_clients_per_ip = Some(number::<usize>(flag, value)?).filter(|&n| n > 0)
        }
        "--handshake-timeout" => limits.handshake_timeout = seconds(flag, value)?,
        "--close-timeout" => limits.close_timeout = seconds(flag, value)?,
        "--idle-timeout" => limits.idle_timeout = optional_seconds(flag, value)?,
        "--poller" => {
            config.poller = match value {
                "epoll" if cfg!(target_os = "linux") => PollerKind::Epoll,
                "epoll" => return Err("--poller: epoll is Linux only; use poll".into()),
                "poll" => PollerKind::Poll,
                _ => return Err(format!("--poller: '{value}' is not epoll or poll")),
            }
        }
        _ => return Err(format!("unknown option '{flag}'")),
    }
    Ok(())
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: '{value}' is not a valid number"))
}

fn positive(flag: &str, value: &str) -> Result<usize, String> {
    match number(flag, value)? {
        0 => Err(format!("{flag}: must be at least 1")),
        n => Ok(n),
    }
}

/// Seconds as for [`seconds`], or `0` for none.
fn optional_seconds(flag: &str, value: &str) -> Result<Option<Duration>, String> {
    if number::<f64>(flag, value)? == 0.0 {
        return Ok(None);
    }
    seconds(flag, value).map(Some)
}

/// Seconds, fractions allowed (`0.5`), up to a day.
fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
    let secs: f64 = number(flag, value)?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "{flag}: '{value}' must be between 0 and 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn non_empty<'a>(flag: &str, value: &'a str) -> Result<&'a str, String> {
    if value.is_empty() {
        return Err(format!("{flag}: must not be empty"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Command::Run(config) => Ok(*config),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn defaults_are_the_tutorials() {
        let config = run(&[]).unwrap();
        assert_eq!((config.address.as_str(), config.port), ("127.0.0.1", 1222));
        assert_eq!(config.log_file, PathBuf::from("log.txt"));
        assert_eq!(config.mode, Mode::Tutorial);
        assert!(config.www.ends_with("www"));
    }

    #[test]
    fn flags_in_both_spellings() {
        let config = run(&[
            "--port=0",
            "--mode",
            "echo",
            "--allowed-origin",
            "null",
            "--allowed-origin=http://a",
            "--idle-timeout",
            "1.5",
            "--max-message-size",
            "100",
        ])
        .unwrap();
        assert_eq!(config.port, 0);
        assert_eq!(config.mode, Mode::Echo);
        assert_eq!(config.allowed_origins, ["null", "http://a"]);
        let hosts = run(&["--allowed-host", "chat.lan", "--allowed-host=*"]).unwrap();
        assert_eq!(hosts.allowed_hosts, ["chat.lan", "*"]);
        assert_eq!(
            config.limits.idle_timeout,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(config.limits.max_message_size, 100);
        assert!(!config.trace);
        assert!(run(&["--trace", "--port", "0"]).unwrap().trace);
        assert!(run(&["--trace=yes"]).is_err());
        assert!(!config.deflate);
        assert!(run(&["--deflate"]).unwrap().deflate);
        assert!(run(&["--deflate=yes"]).is_err());
        assert!(!config.inspect);
        assert!(run(&["--inspect"]).unwrap().inspect);
        assert!(run(&["--inspect=yes"]).is_err());
        assert_eq!(
            run(&["--idle-timeout", "0"]).unwrap().limits.idle_timeout,
            None
        );
        let default = run(&[]).unwrap().limits.idle_timeout;
        assert_eq!(default, Some(Duration::from_secs(60)));
        let limits = run(&["--max-buffered", "1000", "--message-timeout", "0"])
            .unwrap()
            .limits;
        assert_eq!((limits.max_buffered, limits.message_timeout), (1000, None));
        assert!(run(&["--idle-timeout", "-5"]).is_err());
        assert!(run(&["--idle-timeout", "NaN"]).is_err());
        assert_eq!(run(&["--poller", "poll"]).unwrap().poller, PollerKind::Poll);
        assert_eq!(run(&[]).unwrap().poller, PollerKind::best());
    }

    #[test]
    fn help() {
        assert_eq!(parse(["--help".to_string()]), Ok(Command::Help));
        assert_eq!(parse(["-h".to_string()]), Ok(Command::Help));
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        for (args, words) in [
            (&["--port", "70000"][..], "--port"),
            (&["--port"][..], "needs a value"),
            (&["--mode", "chess"][..], "tutorial, echo or chat"),
            (&["--poller", "select"][..], "not epoll or poll"),
            (&["--address", "localhost:1"][..], "not an IP"),
            (&["--frobnicate", "1"][..], "unknown option"),
            (&["stray"][..], "unexpected argument"),
            (&["--max-clients", "0"][..], "at least 1"),
            (&["--handshake-timeout", "-1"][..], "between"),
            (&["--handshake-timeout", "NaN"][..], "between"),
        ] {
            let error = run(args).unwrap_err();
            assert!(error.contains(words), "{args:?}: {error}");
        }
    }
}
