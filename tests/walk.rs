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
/// The shortest path's session follows this line, in a ```text block.
const SHORTEST_PATH: &str =
    "<!-- the shortest path; tests/walk.rs checks the line `next 3` stops at against the walk's Stop 2 -->";

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

    // The shortest path steps over the same three lines of `accept_key`
    // with `next 3`: it stops where the walk's third `next` does.
    let stop = stop_after_three_nexts(&report);

    let doc_path = root.join("docs/debugging.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/debugging.md");
    let (before, block, after) = block_after(&doc, MARKER);
    let (_, session, _) = block_after(&doc, SHORTEST_PATH);
    let shown = line_after(session, "(gdb) next 3\n");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let doc = format!("{before}{report}{after}");
        let (before, session, after) = block_after(&doc, SHORTEST_PATH);
        let session = session.replacen(
            &format!("(gdb) next 3\n{shown}\n"),
            &format!("(gdb) next 3\n{stop}\n"),
            1,
        );
        std::fs::write(&doc_path, format!("{before}{session}{after}"))
            .expect("write docs/debugging.md");
        return;
    }
    assert_eq!(
        block, report,
        "docs/debugging.md's walk is out of date: run \
         `UPDATE_DOCS=1 cargo test --test walk` and read the new transcript"
    );
    assert_eq!(
        shown, stop,
        "docs/debugging.md's shortest path stops elsewhere after `next 3`: run \
         `UPDATE_DOCS=1 cargo test --test walk`"
    );
    for value in [
        r#""x3JJHMbDL1EzLkh9GBhXDw==""#,
        r#""HSmrc0sMlYUkAGmm5OPpG2HaGWk=""#,
    ] {
        assert!(session.contains(value), "{value} not in the shortest path");
    }
}

/// The doc split around the ```text block that follows `marker`: what
/// comes before the block's text, the text, and what follows it (from the
/// closing fence on). The block ends at the first line that is exactly
/// ```, and holds no other fence.
fn block_after<'a>(doc: &'a str, marker: &str) -> (&'a str, &'a str, &'a str) {
    let at = doc
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in docs/debugging.md"));
    let fence = "```text\n";
    let start = at + doc[at..].find(fence).expect("a ```text block") + fence.len();
    let rest = &doc[start..];
    let end = match rest.starts_with("```\n") {
        true => start,
        false => start + rest.find("\n```\n").expect("the block's closing ```") + 1,
    };
    let block = &doc[start..end];
    assert!(
        !block.contains("```"),
        "a fence inside the block after {marker}"
    );
    (&doc[..start], block, &doc[end..])
}

/// The line after `line` in `text` (`line` ends with its newline).
fn line_after<'a>(text: &'a str, line: &str) -> &'a str {
    let at = text
        .find(line)
        .unwrap_or_else(|| panic!("{line:?} in the block"))
        + line.len();
    text[at..].lines().next().unwrap_or("")
}

/// The source line gdb shows after the walk's three `next`s in
/// `accept_key`: the third line of source (a line number, a tab, the code)
/// after the walk's "# Stop 2" comment.
fn stop_after_three_nexts(report: &str) -> &str {
    let stop_2 = report.find("# Stop 2").expect("Stop 2 in the walk");
    report[stop_2..]
        .lines()
        .filter(|line| {
            line.split_once('\t')
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        })
        .nth(2)
        .expect("three source lines after Stop 2")
}
