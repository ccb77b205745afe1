//! The command line: help, bad flags, a port already taken.

mod common;

use common::{run_to_end_in, Run};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

fn run(args: &[&str]) -> Run {
    run_in(args, &std::env::temp_dir())
}

/// Run the binary, which must exit by itself: these flags never let it
/// serve. If it does start (a flag became valid), it is stopped after 10 s
/// and the test fails, rather than hanging.
fn run_in(args: &[&str], dir: &Path) -> Run {
    let server = env!("CARGO_BIN_EXE_socket_server");
    run_to_end_in(dir, server, args, Duration::from_secs(10))
}

#[test]
fn help_lists_every_flag_and_exits_0() {
    let output = run(&["--help"]);
    assert_eq!(output.status, 0);
    let help = output.stdout;
    for flag in [
        "--address",
        "--port",
        "--log-file",
        "--www",
        "--mode",
        "--allowed-origin",
        "--max-message-size",
        "--max-pending-output",
        "--max-clients",
        "--handshake-timeout",
        "--idle-timeout",
        "--close-timeout",
        "--trace",
        "--allowed-host",
        "--max-buffered",
        "--message-timeout",
        "--max-clients-per-ip",
        "--inspect",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(help.contains("[default: 1222]"));
}

#[test]
fn a_bad_flag_or_value_exits_2_saying_why() {
    for (args, words) in [
        (
            &["--port", "99999"][..],
            "--port: '99999' is not a valid number",
        ),
        (
            &["--mode", "chess"][..],
            "--mode: 'chess' is not tutorial, echo or chat",
        ),
        (&["--bogus"][..], "needs a value"),
        (&["--bogus", "1"][..], "unknown option '--bogus'"),
    ] {
        let output = run(args);
        assert_eq!(output.status, 2, "{args:?}");
        let stderr = output.stderr;
        assert!(stderr.contains(words), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}: nothing may start");
    }
}

#[test]
fn a_port_in_use_is_a_clear_error_not_a_panic() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = std::env::temp_dir().join(format!("socket_server-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = run_in(&["--port", &port], &dir);
    assert_eq!(output.status, 1);
    let stderr = output.stderr;
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
