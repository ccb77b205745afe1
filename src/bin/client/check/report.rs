//! What a run prints: for people, a line for each case and, for a
//! failure, why, the rule, the PHP's bug it looks like, and what went each
//! way, each frame drawn as `--trace` draws it; for scripts (`--json`), one
//! JSON object a line, written here by hand (RFC 8259's escapes).

use super::session::Entry;
use super::{Area, Case, Expect, Verdict};
use crate::frames::seen;
use crate::shown::{self, hex};
use crate::url::Url;
use socket_server::dissect::{self, Direction};
use socket_server::json::quote;
use socket_server::protocol::frame;
use std::time::Duration;

/// Where a result's details begin: under its name.
const INDENT: &str = "            ";
/// The most of a failure's record shown: its last entries.
const SHOWN: usize = 12;

/// One result: the case, and what it found.
pub struct Record {
    pub name: String,
    pub section: Option<&'static str>,
    pub rule: String,
    pub area: Area,
    pub verdict: Verdict,
}

impl Record {
    pub fn of(case: &Case, verdict: Verdict) -> Record {
        Record {
            name: case.name.clone(),
            section: case.section,
            rule: case.rule.clone(),
            area: case.area,
            verdict,
        }
    }
}

/// The first lines of a report for people: what is checked, and how.
pub fn header(url: &Url, expect: Expect, cases: usize, wait: Duration) -> String {
    let secs = wait.as_secs_f64();
    let expect = match expect {
        Expect::Echo => "echo: each message must come back the same",
        Expect::Reply => "reply: each message must get a well-formed message back",
    };
    format!(
        "checking ws://{}{} against RFC 6455: {cases} cases, each on a connection of its own\n\
         each to be answered within {secs} s ({} s for messages of 64 KiB and more, and for many clients)\n\
         --expect {expect}\n",
        url.authority(),
        url.path,
        secs * 2.0,
    )
}

/// One result, for people or (`json`) for scripts.
pub fn shown(record: &Record, json: bool) -> String {
    match json {
        true => as_json(record),
        false => as_text(record),
    }
}

fn as_text(record: &Record) -> String {
    let section = record.section.unwrap_or("-");
    let rule = format!("rule: {}", record.rule);
    let (label, details) = match &record.verdict {
        Verdict::Passed => ("PASS", Vec::new()),
        Verdict::NotJudged { reason, .. } => ("NOT JUDGED", vec![rule, format!("why:  {reason}")]),
        Verdict::Skipped(reason) => {
            return format!("NOT JUDGED  {:<24}  {section:<6}  ({reason})", record.name);
        }
        Verdict::Lost(_) => ("NOT JUDGED", vec![rule]),
        Verdict::Failed(failure) => {
            let mut lines = vec![rule, format!("why:  {}", failure.reason)];
            if let Some(bug) = failure.bug {
                let (id, what) = (bug.id, bug.what);
                lines.push(format!(
                    "looks like {id} of the PHP (docs/php-to-rust.md): {what}"
                ));
            }
            lines.extend(transcript(
                &failure.transcript,
                record.area == Area::Handshake,
            ));
            ("FAIL", lines)
        }
    };
    // The labels as wide as the widest, so that the names line up.
    let mut text = format!("{label:<10}  {:<24}  {section}", record.name);
    for line in details {
        text += &format!("\n{INDENT}{}", line.replace('\n', &format!("\n{INDENT}")));
    }
    text
}

/// What went each way, as `--trace` shows it: the heads whole in a case
/// about the handshake, else by their first line; each frame drawn.
fn transcript(entries: &[Entry], heads_whole: bool) -> Vec<String> {
    if entries.is_empty() {
        return Vec::new();
    }
    let skipped = entries.len().saturating_sub(SHOWN);
    let mut lines = vec![match skipped {
        0 => "what went each way:".to_string(),
        n => format!("what went each way (its last {SHOWN}; {n} before them left out):"),
    }];
    for entry in &entries[skipped..] {
        let block = match entry {
            Entry::Head { out, bytes } => head(*out, bytes, heads_whole),
            Entry::Frame {
                out,
                kept,
                total,
                text,
            } => frame_block(*out, kept, *total, *text),
            Entry::Note(note) => note.clone(),
            Entry::Block(block) => shown::block(block).to_string(),
        };
        lines.push(format!("  {}", block.replace('\n', "\n      ")));
    }
    lines
}

fn way(out: bool) -> &'static str {
    if out {
        "sent:"
    } else {
        "came back:"
    }
}

fn head(out: bool, bytes: &[u8], whole: bool) -> String {
    let what = if out { "request head" } else { "response" };
    let block = dissect::http("", what, bytes);
    let block = shown::block(&block);
    match whole {
        true => format!("{} {block}", way(out)),
        false => {
            let mut lines = block.lines();
            let first = lines.next().unwrap_or_default();
            format!("{} {first} {}", way(out), lines.next().unwrap_or_default())
        }
    }
}

/// A frame drawn as `--trace` draws it; a frame the library cannot read
/// (ours, broken on purpose, or the server's) in hex, with why.
fn frame_block(out: bool, kept: &[u8], total: usize, text: bool) -> String {
    let direction = if out { Direction::Out } else { Direction::In };
    match frame::parse_header(kept, false) {
        Ok(Some(header)) => {
            let block = dissect::frame("", &seen(direction, header, kept, text));
            format!("{} {}", way(out), shown::block(&block))
        }
        Ok(None) => format!(
            "{} {total} bytes, not a whole frame header: {}",
            way(out),
            hex(kept)
        ),
        Err(rule) => format!("{} frame, {total} bytes: {}\n({rule})", way(out), hex(kept)),
    }
}

/// The counts, and how long the run took.
pub fn summary(records: &[Record], took: Duration) -> String {
    let count = |f: fn(&Verdict) -> bool| records.iter().filter(|r| f(&r.verdict)).count();
    let passed = count(|v| matches!(v, Verdict::Passed));
    let failed = count(|v| matches!(v, Verdict::Failed(_)));
    let unjudged = count(|v| matches!(v, Verdict::NotJudged { .. } | Verdict::Skipped(_)));
    let excused = count(|v| matches!(v, Verdict::NotJudged { excused: true, .. }));
    let mut text = format!(
        "\n== {passed} passed, {failed} failed, {unjudged} not judged, in {:.1} s",
        took.as_secs_f64()
    );
    if excused > 0 {
        text += &format!(
            " ({excused} not judged for --expect reply: their answers do not show what was sent)"
        );
    }
    text
}

fn as_json(record: &Record) -> String {
    let (result, reason, bug) = match &record.verdict {
        Verdict::Passed => ("passed", "", None),
        Verdict::Failed(failure) => ("failed", failure.reason.as_str(), failure.bug),
        Verdict::NotJudged { reason, .. } | Verdict::Skipped(reason) => {
            ("not judged", reason.as_str(), None)
        }
        Verdict::Lost(_) => ("not judged", "the server was lost", None),
    };
    let or_null = |value: Option<&str>| value.map_or("null".to_string(), quote);
    format!(
        "{{\"name\":{},\"section\":{},\"result\":{},\"reason\":{},\"bug\":{},\"rule\":{}}}",
        quote(&record.name),
        or_null(record.section),
        quote(result),
        quote(reason),
        or_null(bug.map(|bug| bug.id)),
        quote(&record.rule)
    )
}
