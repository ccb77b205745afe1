//! The page in a real browser: headless Chromium, driven by
//! `tests/browser/page.mjs`, types into the tutorial's page served by the
//! real server and reads the replies off the screen.
//!
//! Needs Debian's `chromium` and `npm ci --prefix tests/browser`; `.ci/run`
//! installs both. Without them the test is skipped with a message, except
//! under CI (`CI=true`), where a missing browser is a failure: CI must never
//! pass by skipping.

mod common;

use common::{skip, Server};
use std::path::Path;
use std::process::Command;

#[test]
fn a_person_chats_through_the_page() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/page.mjs");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = Path::new(&chromium).exists()
        && root
            .join("tests/browser/node_modules/playwright-core")
            .exists();
    if !ready {
        let why = "no chromium or playwright-core (run .ci/run, or see tests/browser.rs)";
        return skip("a_person_chats_through_the_page", why);
    }

    let server = Server::start(&[]);
    let screenshot = root.join("target/browser-page.png");
    let output = Command::new("node")
        .arg(&script)
        .arg(format!("http://{}/", server.addr))
        .arg(&screenshot)
        .output()
        .expect("run node");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains("Received: You have entered: hello world"),
        "{report}"
    );
    // The server saw the same conversation.
    assert!(server.wait_for_log("Data from client (text): hello world"));
    assert!(server.wait_for_log("closed by client: code 1000"));
}
