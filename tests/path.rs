//! The path of one message stays short, and bookkeeping stays off it.
//!
//! `tests/path/between.sh` counts every function of ours entered between
//! the `read` that returns a masked "Hello" (RFC 6455 §5.7) and the
//! `write` of its reply, in tutorial mode (`docs/architecture.md`, "Data
//! flow", says how). A learner stepping through that window in a debugger
//! should land in the protocol or the reply: not in the log (written after
//! the reply, as the PHP writes it: lines 63 and 64), its budget, the
//! escaping of what is logged, the memory count (settled once a turn), or
//! the doors of `--trace` and `--inspect` when they are off. And the window
//! must not quietly grow back: past [`MOST`] functions this fails, and
//! whoever makes it longer says why in `architecture.md` and moves the
//! number.
//!
//! Needs Linux on x86_64, gdb with Python (`.ci/run` installs it), nm and
//! python3; skipped, saying so, where they are missing.

mod common;

use std::process::Command;

/// The count today (60 functions in 10 files; 82 before the log line and
/// the memory count left the window, and 71 before the code was cut into
/// layers: `docs/architecture.md` has the table).
const MOST: usize = 60;

/// Functions that are bookkeeping, not the protocol or the reply: none of
/// them may run between the frame's arrival and the reply's write.
const NOT_ON_THE_PATH: [&str; 10] = [
    "server::console::",     // the log, its budget, escaping
    "Client::log",           // log, log_with, log_heard
    "Client::recount",       // the memory count...
    "::counted",             // ...and what each buffer counts for
    "Total::change",         //
    "counts_for",            //
    "Client::show_seen",     // --trace and --inspect, off
    "Client::keep_if_shown", //
    "Client::is_inspector",  //
    "Client::after_write",   // what follows a write: settled once a turn
];

#[test]
fn bookkeeping_stays_off_the_path_of_one_message() {
    let tools_here = cfg!(all(target_os = "linux", target_arch = "x86_64"))
        && ["gdb", "nm", "python3"].iter().all(|tool| installed(tool));
    if !tools_here {
        let why = "needs Linux on x86_64, gdb, nm and python3 (Debian: apt-get install gdb)";
        return common::skip("bookkeeping_stays_off_the_path_of_one_message", why);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/path/between.sh");
    let output = Command::new("timeout")
        .args(["120", "bash", script, env!("CARGO_BIN_EXE_socket_server")])
        .output()
        .expect("run tests/path/between.sh");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "between.sh failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let count = report
        .lines()
        .find_map(|line| line.strip_suffix(" files")?.split_once(" functions in "))
        .and_then(|(functions, _)| functions.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no \"N functions in M files\" line:\n{report}"));
    let functions: Vec<&str> = report
        .lines()
        .filter(|line| line.starts_with("    "))
        .map(str::trim)
        .collect();
    assert_eq!(functions.len(), count, "{report}");

    // The path itself: the frame read and unmasked, the reply encoded.
    for step in [
        "Connection::receive_data",
        "frame::parse_header",
        "frame::unmask",
        "tutorial::reply",
        "frame::encode",
        "Server::write_to",
    ] {
        assert!(
            report.contains(step),
            "{step} is not on the path:\n{report}"
        );
    }
    let bookkeeping: Vec<&&str> = functions
        .iter()
        .filter(|function| NOT_ON_THE_PATH.iter().any(|name| function.contains(name)))
        .collect();
    assert!(
        bookkeeping.is_empty(),
        "bookkeeping on the path of one message: {bookkeeping:#?}\n{report}"
    );
    assert!(
        count <= MOST,
        "the path of one message grew to {count} functions (at most {MOST}):\n{report}"
    );
}

/// Is `tool` on the PATH?
fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|output| output.status.success())
}
