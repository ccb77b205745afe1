//! The debugger walk of `docs/debugging.md` is real: `make walk`'s output,
//! run again here, must be the transcript the doc shows, stop for stop,
//! line number for line number, value for value. So the doc cannot drift
//! from the code again.
//!
//! Needs rust-gdb (it comes with the Rust toolchain) and gdb (Debian's
//! `gdb`, which `.ci/run` installs). After a change that moves the lines
//! the walk stops at, `UPDATE_DOCS=1 cargo test --test walk` writes the new
//! transcript into the doc; read it over before you commit it.

mod common;
#[path = "walk/driver.rs"]
mod driver;

use std::path::Path;

/// The doc's transcript follows this line, in a ```text block.
const MARKER: &str = "<!-- the transcript of `make walk`, checked by tests/walk.rs -->";

#[test]
fn the_walk_in_the_docs_is_what_gdb_prints() {
    if !driver::installed("rust-gdb") || !driver::installed("gdb") {
        let why = "no rust-gdb or gdb (Debian: apt-get install gdb)";
        return common::skip("the_walk_in_the_docs_is_what_gdb_prints", why);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = Path::new(env!("CARGO_BIN_EXE_socket_server"));
    let walk = driver::run_batch("rust-gdb", server, root).unwrap_or_else(|e| panic!("{e}"));
    let report = walk.report();

    // What the walk is for: gdb saw the key, the accept value and the
    // unmasked payload, and the conversation ended cleanly.
    for seen in [
        r#"key="x3JJHMbDL1EzLkh9GBhXDw==""#,
        r#""HSmrc0sMlYUkAGmm5OPpG2HaGWk=""#,
        "{0x7f, 0x9f, 0x4d, 0x51, 0x58}",
        "{72 'H', 101 'e', 108 'l', 108 'l', 111 'o'}",
        "exited normally",
        "[client] got a frame, opcode 0x8: close 1000",
    ] {
        assert!(report.contains(seen), "{seen} not in the walk:\n{report}");
    }

    let doc_path = root.join("docs/debugging.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/debugging.md");
    let (before, block, after) = transcript_in(&doc);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{before}{report}{after}");
        std::fs::write(&doc_path, updated).expect("write docs/debugging.md");
        return;
    }
    assert_eq!(
        block, report,
        "docs/debugging.md's walk is out of date: run \
         `UPDATE_DOCS=1 cargo test --test walk` and read the new transcript"
    );
}

/// The doc split around its transcript: what comes before the block's
/// text, the text, and what follows it.
fn transcript_in(doc: &str) -> (&str, &str, &str) {
    let marker = doc
        .find(MARKER)
        .expect("the marker line in docs/debugging.md");
    let fence = "```text\n";
    let start = marker + doc[marker..].find(fence).expect("a ```text block") + fence.len();
    let end = start + doc[start..].find("\n```").expect("the block's end") + 1;
    (&doc[..start], &doc[start..end], &doc[end..])
}
