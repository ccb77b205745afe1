//! The command line: help, bad flags, a port already taken.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> Output {
    run_in(args, &std::env::temp_dir())
}

/// Run the binary, which must exit by itself: these flags never let it
/// serve. If it does start (a flag became valid), it is stopped after 10 s
/// and the test fails, rather than hanging.
fn run_in(args: &[&str], dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_socket_server"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the server binary");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("socket_server {args:?} did not exit: it should not have started");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("its output")
}

#[test]
fn help_lists_every_flag_and_exits_0() {
    let output = run(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
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
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
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
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
