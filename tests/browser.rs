//! The page in a real browser: headless Chromium, driven by
//! `tests/browser/page.mjs`, uses `www/socket_client.html` served by the
//! real server, as a person would, and reads the results off the screen.
//! Each test is one of the script's scenarios; the server's log must tell
//! the same story as the page.
//!
//! Needs Debian's `chromium` and `npm ci --prefix tests/browser`; `.ci/run`
//! installs both. Without them the tests are skipped with a message, except
//! under CI (`CI=true`), where a missing browser is a failure: CI must never
//! pass by skipping.
//!
//! Screenshots of tutorial and chat mode, and of a message imitating the
//! room's own line, land in `target/` (the README's `docs/chat.png` is a
//! copy of `target/browser-chat.png`).

mod common;

use common::{skip, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// The longest any scenario may take before it counts as hung.
const HANG: Duration = Duration::from_secs(120);

#[test]
fn a_person_uses_the_tutorial_page() {
    let Some(root) = ready("a_person_uses_the_tutorial_page") else {
        return;
    };
    let server = Server::start(&[]);
    let shot = root.join("target/browser-tutorial.png");
    let report = Page::run(&root, "tutorial", &server, Some(&shot)).finish();
    assert!(
        report.contains("Received: You have entered: hello world"),
        "{report}"
    );
    // The server saw the same conversation, and Quit's clean close.
    assert!(server.wait_for_log("Data from client (text): hello world"));
    assert!(server.wait_for_log("closed by client: code 1000"));
    assert!(shot.exists());
}

#[test]
fn the_tutorial_page_talks_compressed_with_deflate() {
    let Some(root) = ready("the_tutorial_page_talks_compressed_with_deflate") else {
        return;
    };
    // Chromium offers `permessage-deflate; client_max_window_bits` in
    // every handshake (RFC 7692); with `--deflate` the server agrees, and
    // Chromium then sends its messages compressed, RSV1 set.
    let server = Server::start(&["--deflate", "--trace"]);
    let report = Page::run(&root, "tutorial", &server, None).finish();
    assert!(
        report.contains("Received: You have entered: hello world"),
        "{report}"
    );
    assert!(server.wait_for_log("subprotocol chat, permessage-deflate"));
    assert!(server.wait_for_log(
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
         client_no_context_takeover"
    ));
    assert!(
        server.wait_for_log("RSV1 1: compressed"),
        "{}",
        server.log()
    );
    assert!(server.wait_for_log("Data from client (text): hello world"));
}

#[test]
fn two_pages_chat_in_one_room() {
    let Some(root) = ready("two_pages_chat_in_one_room") else {
        return;
    };
    let server = Server::start(&["--mode", "chat"]);
    let shot = root.join("target/browser-chat.png");
    let report = Page::run(&root, "chat", &server, Some(&shot)).finish();
    assert!(report.contains("alice: hello bob"), "{report}");
    assert!(server.wait_for_log("is now called alice"));
    assert!(server.wait_for_log("left the room"));
    assert!(shot.exists());
}

/// Issue 16: a member's message with a newline ("hi\n3:45:12 PM X left")
/// stays one bounded message item, so its second line cannot pass for the
/// room's own timestamped "X left".
#[test]
fn a_message_cannot_pass_for_the_rooms_own_line() {
    let Some(root) = ready("a_message_cannot_pass_for_the_rooms_own_line") else {
        return;
    };
    let server = Server::start(&["--mode", "chat"]);
    let shot = root.join("target/browser-imitation.png");
    let report = Page::run(&root, "imitation", &server, Some(&shot)).finish();
    assert!(report.contains("imitation: one message item"), "{report}");
    assert!(server.wait_for_log("is now called mallory"));
    assert!(shot.exists());
}

#[test]
fn the_page_stays_quick_through_2000_messages() {
    let Some(root) = ready("the_page_stays_quick_through_2000_messages") else {
        return;
    };
    let server = Server::start(&[]);
    let report = Page::run(&root, "flood", &server, None).finish();
    assert!(report.contains("flood: 2000 messages of 1 KB"), "{report}");
    // The server's log budget kept most of the 2,000 lines out, and said so.
    assert!(server.wait_for_log("lines from 127.0.0.1 not logged"));
}

#[test]
fn the_page_reconnects_after_the_server_restarts() {
    let Some(root) = ready("the_page_reconnects_after_the_server_restarts") else {
        return;
    };
    let mut first = Server::start(&[]);
    let port = first.addr.port().to_string();
    let mut page = Page::run(&root, "reconnect", &first, None);

    page.expect_line("stop the server");
    first.signal_and_wait("TERM");
    page.tell("stopped");

    page.expect_line("start the server");
    // The same port: std's listener sets SO_REUSEADDR, so the old
    // connections in TIME_WAIT do not stand in the way.
    let second = Server::start(&["--port", &port]);
    assert_eq!(second.addr, first.addr);
    page.tell("started");

    let report = page.finish();
    assert!(report.contains("You have entered: hello again"), "{report}");
    assert!(second.wait_for_log("Data from client (text): hello again"));
}

/// The repository's root, when Chromium and playwright-core are installed;
/// otherwise the test is skipped (and fails under CI).
fn ready(test: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let found = Path::new(&chromium).exists()
        && root
            .join("tests/browser/node_modules/playwright-core")
            .exists();
    if !found {
        skip(
            test,
            "no chromium or playwright-core (run .ci/run, or see tests/browser.rs)",
        );
        return None;
    }
    Some(root)
}

/// `node page.mjs SCENARIO URL [SCREENSHOT]`, running.
struct Page {
    child: Child,
    stdin: ChildStdin,
    /// The script's stdout, a line at a time.
    lines: Receiver<String>,
    /// Everything the script printed so far (stdout and stderr).
    report: String,
    stderr: Receiver<String>,
    started: Instant,
}

impl Page {
    fn run(root: &Path, scenario: &str, server: &Server, screenshot: Option<&Path>) -> Page {
        let mut command = Command::new("node");
        command
            .arg(root.join("tests/browser/page.mjs"))
            .arg(scenario)
            .arg(format!("http://{}/", server.addr));
        if let Some(shot) = screenshot {
            let _ = std::fs::remove_file(shot);
            command.arg(shot);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run node");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (line_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let (err_tx, stderr_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = err_tx.send(text);
        });
        Page {
            child,
            stdin,
            lines,
            report: String::new(),
            stderr: stderr_rx,
            started: Instant::now(),
        }
    }

    /// Read the script's stdout until `wanted`; fail if it ends or hangs.
    fn expect_line(&mut self, wanted: &str) {
        loop {
            let left = HANG.saturating_sub(self.started.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.report.push_str(&line);
                    self.report.push('\n');
                    if line == wanted {
                        return;
                    }
                }
                Err(_) => {
                    let report = self.finish_anyway();
                    panic!("the page never said {wanted:?}:\n{report}");
                }
            }
        }
    }

    fn tell(&mut self, word: &str) {
        writeln!(self.stdin, "{word}").expect("write to the page script");
    }

    /// Wait for the script to end; what it printed. Panics unless it
    /// succeeded.
    fn finish(mut self) -> String {
        let ok = self.wait();
        let report = self.collect();
        assert!(ok, "{report}");
        report
    }

    fn finish_anyway(&mut self) -> String {
        self.wait();
        self.collect()
    }

    /// Whether the script exited with success; killed when it hangs.
    fn wait(&mut self) -> bool {
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.success();
            }
            if self.started.elapsed() > HANG {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.report
                    .push_str("(the page script hung and was killed)\n");
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn collect(&mut self) -> String {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
            self.report.push_str(&line);
            self.report.push('\n');
        }
        if let Ok(text) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            self.report.push_str(&text);
        }
        self.report.clone()
    }
}

// ---- the inspector (--inspect) ----------------------------------------------

/// The inspector open, the tutorial page in a second tab sends `hello`:
/// within 1 s the inspector shows that client's row, its handshake done,
/// and the frame (opcode 1, masked, its key, `hello`), then draws it. The
/// screenshot is `docs/inspect-tutorial.png`.
#[test]
fn the_inspector_shows_the_tutorial_page_typing() {
    let Some(root) = ready("the_inspector_shows_the_tutorial_page_typing") else {
        return;
    };
    let server = Server::start(&["--inspect"]);
    let shot = root.join("target/inspect-tutorial.png");
    let report = Page::run(&root, "inspect", &server, Some(&shot)).finish();
    assert!(
        report.contains("inspect: the row and the frame within"),
        "{report}"
    );
    assert!(shot.exists());
}

/// The screenshots of `docs/inspect.md`: a chat of two, a refused
/// handshake, a ping timeout.
#[test]
fn the_inspector_beside_a_chat_a_refusal_and_a_timeout() {
    let Some(root) = ready("the_inspector_beside_a_chat_a_refusal_and_a_timeout") else {
        return;
    };
    for (scenario, flags, said) in [
        (
            "inspect-chat",
            &["--mode", "chat"][..],
            "alice and bob in the table",
        ),
        ("inspect-refused", &[][..], "403 shown"),
        (
            "inspect-timeout",
            &["--idle-timeout", "1"][..],
            "ping, close 1011",
        ),
    ] {
        let server = Server::start(&[&["--inspect"][..], flags].concat());
        let shot = root.join(format!("target/{scenario}.png"));
        let report = Page::run(&root, scenario, &server, Some(&shot)).finish();
        assert!(report.contains(said), "{report}");
        assert!(shot.exists(), "{scenario}");
    }
}

/// 1,000 clients, each sending a message a second (2,000 frames a second,
/// in and out): the inspector lists them all, says what it did not show,
/// and its page's thread is never held long.
#[test]
fn the_inspector_stays_smooth_with_1000_clients() {
    let Some(root) = ready("the_inspector_stays_smooth_with_1000_clients") else {
        return;
    };
    let server = Server::start(&["--inspect", "--mode", "echo", "--max-clients", "2000"]);
    let mut page = Page::run(&root, "inspect-load", &server, None);
    page.expect_line("start the load");
    let mut clients: Vec<common::Client> = (0..1000).map(|_| server.client()).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let second = Instant::now();
                for (i, client) in clients.iter_mut().enumerate() {
                    client.send_text(&format!("message from client {i}"));
                    client.read_text();
                    // Spread over the second: a thousand a second, evenly.
                    let due = second + Duration::from_millis(i as u64);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
                std::thread::sleep(
                    (second + Duration::from_secs(1)).saturating_duration_since(Instant::now()),
                );
            }
        })
    };
    page.tell("loaded");
    let report = page.finish();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join().expect("the load");
    assert!(report.contains("inspect-load: 1000 rows"), "{report}");
    // The figures, for `--nocapture` (docs/inspect.md quotes a run).
    let figures = report.lines().find(|l| l.starts_with("inspect-load:"));
    println!("{}", figures.unwrap_or_default());
}
