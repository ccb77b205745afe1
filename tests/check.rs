//! The checker, `client --check URL` (`src/bin/client/check/`), run as a
//! learner runs it, against three servers this repository has: ours
//! (`socket_server`, through `tests/common`), the lesson server
//! (`src/bin/lesson.rs`) as it ships, and the lesson with each of the PHP's
//! bugs a client can see. Then against a server made here that never
//! answers, and with nothing listening at all.
//!
//! Its `--json` output is read with a parser written here, so that a
//! result that is not JSON fails the test that reads it. Every run is
//! bounded: by the checker's own deadlines, and by [`LIMIT`], past which
//! the test kills it and fails.

mod common;

use common::lesson::Lesson;
use common::{Run, Server};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

/// The longest a run of the checker may take before the test kills it.
/// The checker's own deadlines end any run far sooner.
const LIMIT: Duration = Duration::from_secs(50);

/// The ids of the PHP's bugs the checker may name (docs/php-to-rust.md).
const BUG_IDS: [&str; 6] = ["B4", "B6", "B8", "B11", "B14", "B16"];

// ------------------------------------------------------------ running it

/// One line of `--json`: a case's result.
#[derive(Debug)]
struct Case {
    name: String,
    section: Option<String>,
    result: String,
    reason: String,
    bug: Option<String>,
}

impl Run {
    /// The results of a `--json` run, each line parsed.
    fn cases(&self) -> Vec<Case> {
        let lines = self.stdout.lines().filter(|line| !line.is_empty());
        lines.map(case_of).collect()
    }
}

/// Run `client ARGS` to its end; kill it and fail past [`LIMIT`].
fn client(args: &[&str]) -> Run {
    common::run_to_end(env!("CARGO_BIN_EXE_client"), args, LIMIT)
}

/// `client --check URL --json EXTRA...`
fn check(addr: SocketAddr, extra: &[&str]) -> Run {
    let url = format!("ws://{addr}/");
    let mut args = vec!["--check", &url, "--json"];
    args.extend_from_slice(extra);
    client(&args)
}

/// The names of the cases whose result is `result`.
fn named(cases: &[Case], result: &str) -> BTreeSet<String> {
    let with = cases.iter().filter(|case| case.result == result);
    with.map(|case| case.name.clone()).collect()
}

/// Every bug id named, in any case.
fn bugs(cases: &[Case]) -> BTreeSet<String> {
    cases.iter().filter_map(|case| case.bug.clone()).collect()
}

/// Expect every case to have one of the three results, a section that is
/// one of RFC 6455's (or none), a reason unless it passed, and a bug only
/// if it failed.
fn well_formed(cases: &[Case]) {
    assert!(cases.len() > 30, "too few cases: {cases:#?}");
    for case in cases {
        let results = ["passed", "failed", "not judged"];
        assert!(results.contains(&case.result.as_str()), "{case:?}");
        if let Some(section) = &case.section {
            assert!(section.starts_with('§'), "{case:?}");
        }
        assert_eq!(case.result == "passed", case.reason.is_empty(), "{case:?}");
        if case.bug.is_some() {
            assert_eq!(case.result, "failed", "{case:?}");
        }
    }
}

// --------------------------------------------------------- a JSON reader

/// One line of `--json`: a flat object whose values are strings or
/// `null`, read by RFC 8259's grammar (and no more of it than that).
fn case_of(line: &str) -> Case {
    let fields = object(line).unwrap_or_else(|why| panic!("not JSON ({why}): {line}"));
    let get = |key: &str| -> Option<String> {
        let found = fields.iter().find(|(name, _)| name == key);
        found
            .unwrap_or_else(|| panic!("no {key:?} in {line}"))
            .1
            .clone()
    };
    Case {
        name: get("name").expect("a name"),
        section: get("section"),
        result: get("result").expect("a result"),
        reason: get("reason").expect("a reason"),
        bug: get("bug"),
    }
}

/// `{"key": "value" or null, ...}`, the whole line.
fn object(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut chars = text.trim().chars().peekable();
    let mut fields = Vec::new();
    expect(&mut chars, '{')?;
    loop {
        let key = string(&mut chars)?;
        expect(&mut chars, ':')?;
        let value = match chars.peek() {
            Some('n') => {
                let word: String = chars.by_ref().take(4).collect();
                (word == "null").then_some(None).ok_or("a bad word")?
            }
            _ => Some(string(&mut chars)?),
        };
        fields.push((key, value));
        match chars.next() {
            Some(',') => continue,
            Some('}') if chars.next().is_none() => return Ok(fields),
            other => return Err(format!("{other:?} after a value")),
        }
    }
}

fn expect(chars: &mut impl Iterator<Item = char>, wanted: char) -> Result<(), String> {
    match chars.next() {
        Some(c) if c == wanted => Ok(()),
        other => Err(format!("{other:?} where {wanted:?} belongs")),
    }
}

/// A string with its escapes undone; a raw control character is an error.
fn string(chars: &mut impl Iterator<Item = char>) -> Result<String, String> {
    expect(chars, '"')?;
    let mut out = String::new();
    loop {
        match chars.next().ok_or("an unended string")? {
            '"' => return Ok(out),
            '\\' => out.push(match chars.next().ok_or("a lone backslash")? {
                '"' => '"',
                '\\' => '\\',
                '/' => '/',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let code = u32::from_str_radix(&hex, 16).map_err(|_| "a bad \\u")?;
                    // A surrogate is written as two escapes; one is enough here.
                    char::from_u32(code).unwrap_or('\u{fffd}')
                }
                other => return Err(format!("a bad escape \\{other}")),
            }),
            c if (c as u32) < 0x20 => return Err(format!("a raw control character {c:?}")),
            c => out.push(c),
        }
    }
}

#[test]
fn the_json_reader_reads_json_and_refuses_the_rest() {
    let case = case_of(
        r#"{"name":"a","section":null,"result":"failed","reason":"q\"\\\n\u00e9","bug":"B4"}"#,
    );
    assert_eq!(case.reason, "q\"\\\né");
    assert_eq!((case.section, case.bug), (None, Some("B4".into())));
    for bad in [
        "{\"name\":\"a\nb\"}",
        "{\"name\":\"a\"",
        "{\"name\":\"\\x\"}",
        "{\"name\":nil}",
    ] {
        assert!(object(bad).is_err(), "{bad:?} was read");
    }
}

// ------------------------------------------------------------ our server

#[test]
fn our_echo_server_passes_every_case() {
    let server = Server::echo(&[]);
    let run = check(server.addr, &[]);
    run.expect(0);
    let cases = run.cases();
    well_formed(&cases);
    let not_passed: Vec<&Case> = cases.iter().filter(|c| c.result != "passed").collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
}

#[test]
fn our_tutorial_server_passes_or_is_not_judged_with_expect_reply() {
    let server = Server::start(&["--mode", "tutorial"]);
    let run = check(server.addr, &["--expect", "reply"]);
    run.expect(0);
    let cases = run.cases();
    well_formed(&cases);
    assert_eq!(named(&cases, "failed"), BTreeSet::new(), "{cases:#?}");
    // It answers a binary message with a count, in words: what it got
    // cannot be told from what it says (tests/tutorial.rs shows it is
    // right), so the checker says it could not judge, and why.
    let unjudged = named(&cases, "not judged");
    assert!(unjudged.contains("binary-65536"), "{unjudged:?}");
    for case in cases.iter().filter(|c| c.result == "not judged") {
        assert!(case.reason.contains("--expect reply"), "{case:?}");
    }
    assert!(bugs(&cases).is_empty());
}

#[test]
fn the_text_report_shows_each_case_and_the_counts() {
    let server = Server::echo(&[]);
    let url = format!("ws://{}/", server.addr);
    let run = client(&["--check", &url]);
    run.expect(0).printed(&[
        "PASS        handshake-accept-key",
        "PASS        text-65536",
        "PASS        close-code-1005",
        " passed, 0 failed, 0 not judged",
    ]);
}

// ------------------------------------------------------ the lesson server

/// The items of a section of `lesson.rs`'s header (`//! ## HEADING`),
/// each item's lines joined.
fn lesson_header_items(heading: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/lesson.rs");
    let code = std::fs::read_to_string(path).expect("lesson.rs");
    let lines: Vec<&str> = code.lines().map_while(|l| l.strip_prefix("//!")).collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with(&format!("## {heading}")))
        .unwrap_or_else(|| panic!("no `## {heading}` in lesson.rs"));
    let mut items: Vec<String> = Vec::new();
    for line in &lines[start + 1..] {
        match line.trim_start() {
            text if text.starts_with("## ") => break,
            text if text.starts_with("- ") => items.push(text.to_string()),
            text if !text.is_empty() => {
                if let Some(item) = items.last_mut() {
                    *item += &format!(" {text}");
                }
            }
            _ => {}
        }
    }
    items
}

/// The lesson's failures, each with the words of the item of its
/// header's "What it leaves out on purpose" that says why.
const LEFT_OUT: [(&str, &str); 18] = [
    ("binary-0", "binary messages"),
    ("binary-125", "binary messages"),
    ("binary-126", "binary messages"),
    ("binary-65535", "binary messages"),
    ("binary-65536", "binary messages"),
    ("binary-1MiB", "binary messages"),
    ("fragmented-message", "fragmented messages (§5.4)"),
    ("ping-between-fragments", "fragmented messages (§5.4)"),
    ("invalid-utf8", "UTF-8 checks of text (§8.1)"),
    ("close-code-0", "close payloads and codes"),
    ("close-code-999", "close payloads and codes"),
    ("close-code-1004", "close payloads and codes"),
    ("close-code-1005", "close payloads and codes"),
    ("close-code-1006", "close payloads and codes"),
    ("close-code-1015", "close payloads and codes"),
    ("close-code-1016", "close payloads and codes"),
    ("close-code-2999", "close payloads and codes"),
    ("close-payload-1-byte", "close payloads and codes"),
];

#[test]
fn the_lesson_fails_exactly_what_it_leaves_out_on_purpose() {
    let lesson = Lesson::start("");
    let run = check(lesson.addr, &["--expect", "reply"]);
    run.expect(1);
    let cases = run.cases();
    well_formed(&cases);
    let expected: BTreeSet<String> = LEFT_OUT.iter().map(|(n, _)| n.to_string()).collect();
    let failed = named(&cases, "failed");
    let unexpected: Vec<&Case> = (cases.iter())
        .filter(|c| failed.contains(&c.name) != expected.contains(&c.name))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    let items = lesson_header_items("What it leaves out on purpose");
    for (name, words) in LEFT_OUT {
        assert!(
            items.iter().any(|item| item.contains(words)),
            "{name}: no item of lesson.rs's header says {words:?}: {items:#?}"
        );
    }
    // Nothing the lesson does is the PHP's: no bug is named.
    assert!(bugs(&cases).is_empty(), "{cases:#?}");
    // What it leaves out is not judged on the reply's words alone: the
    // rest of its answers hold what was sent, and pass.
    assert_eq!(named(&cases, "not judged"), BTreeSet::new());
}

/// For each bug a client can see: the cases that show it, all of them
/// naming it, and no other bug named anywhere.
#[test]
fn each_php_bug_is_found_and_named_and_nothing_else_is() {
    let bugs_and_cases: [(&str, &[&str]); 5] = [
        ("B4", &["server-reachable"]),
        ("B6", &["server-reachable"]),
        ("B8", &["handshake-in-pieces"]),
        (
            "B14",
            &[
                "two-frames-one-write",
                "frame-byte-by-byte",
                "ping-pong",
                "close-handshake",
            ],
        ),
        (
            "B16",
            &[
                "text-125",
                "text-126",
                "text-65535",
                "text-65536",
                "text-1MiB",
            ],
        ),
    ];
    // One lesson and one run per bug, all at once: the runs that wait
    // out their deadlines (B16's) then take no longer together.
    let runs: Vec<_> = bugs_and_cases
        .iter()
        .map(|&(bug, _)| {
            thread::spawn(move || {
                let lesson = Lesson::start(bug);
                check(lesson.addr, &["--expect", "reply"])
            })
        })
        .collect();
    for ((bug, shown_by), run) in bugs_and_cases.iter().zip(runs) {
        let run = run.join().expect("a run");
        run.expect(1);
        let cases = run.cases();
        well_formed(&cases);
        for name in *shown_by {
            let case = cases.iter().find(|c| c.name == *name).expect(name);
            assert_eq!(case.bug.as_deref(), Some(*bug), "{bug}: {case:#?}");
        }
        let named: BTreeSet<String> = BTreeSet::from([bug.to_string()]);
        assert_eq!(bugs(&cases), named, "{bug}: {cases:#?}");
        assert!(BUG_IDS.contains(bug));
    }
}

/// B4 and B6 stop the server answering: the cases after that are not
/// judged, never blamed, and the checker says it lost the server.
#[test]
fn after_the_server_stops_answering_nothing_is_judged() {
    let lesson = Lesson::start("B6");
    let run = check(lesson.addr, &["--expect", "reply"]);
    run.expect(1);
    let cases = run.cases();
    // text-0 got the first answer; then the listener was gone.
    let at = cases
        .iter()
        .position(|c| c.name == "text-0")
        .expect("text-0");
    assert_eq!(cases[at].result, "passed", "{:#?}", cases[at]);
    let last = cases.last().expect("a last line");
    assert_eq!(
        (last.name.as_str(), last.result.as_str()),
        ("server-reachable", "failed")
    );
    assert!(last.reason.contains("refused"), "{last:?}");
    for case in &cases[at + 1..cases.len() - 1] {
        assert_eq!(case.result, "not judged", "{case:?}");
    }
}

#[test]
fn with_all_the_bugs_the_first_one_met_is_named() {
    let lesson = Lesson::start("all");
    let run = check(lesson.addr, &["--expect", "reply"]);
    run.expect(1);
    let cases = run.cases();
    well_formed(&cases);
    // The first case's client is served; no handshake is answered after.
    assert_eq!(cases[0].result, "passed", "{:#?}", cases[0]);
    assert_eq!(
        bugs(&cases),
        BTreeSet::from(["B4".to_string()]),
        "{cases:#?}"
    );
    let judged = cases.iter().filter(|c| c.result != "not judged").count();
    // The first case, and the line that says the server was lost.
    assert_eq!(judged, 2, "{cases:#?}");
}

// --------------------------------------------- servers that do not answer

/// A server that accepts every connection and never says a word: each
/// case is given up on by its deadline, the server is probed once, and
/// then nothing more is tried.
#[test]
fn a_silent_server_is_given_up_on_in_bounded_time() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream); // open, and silent
        }
    });
    let run = check(addr, &[]);
    run.expect(1);
    let cases = run.cases();
    well_formed(&cases);
    for case in &cases[..cases.len() - 1] {
        assert_eq!(case.result, "not judged", "{case:?}");
    }
    let last = cases.last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.result.as_str()),
        ("server-reachable", "failed")
    );
    assert!(bugs(&cases).is_empty());
    assert!(run.took < Duration::from_secs(20), "took {:?}", run.took);
}

/// A server that answers every request with a 101 whose accept key holds
/// terminal escapes, then a frame that declares 2^62 bytes and bytes
/// without end: each case stops at what it reads (or its deadline), and
/// nothing the server wrote reaches the terminal raw.
#[test]
fn a_hostile_server_cannot_hurt_it() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || hostile(stream));
        }
    });
    let run = client(&["--check", &format!("ws://{addr}/")]);
    run.expect(1);
    let raw = |c: char| c.is_control() && c != '\n';
    assert!(
        !run.stdout.contains(raw),
        "raw control characters in:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("FAIL        text-0"), "{}", run.stdout);
    assert!(run.took < Duration::from_secs(45), "took {:?}", run.took);
}

/// One connection of the hostile server: it answers once the request
/// head is in, then writes until the checker goes.
fn hostile(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: \u{1b}[2J\u{1b}]0;owned\u{7}\r\n\r\n";
    let mut out = answer.as_bytes().to_vec();
    out.extend([0x81, 127]);
    out.extend((1u64 << 62).to_be_bytes());
    let escapes = [0x1b; 64 * 1024];
    let _ = stream.write_all(&out);
    while stream.write_all(&escapes).is_ok() {}
}

#[test]
fn nothing_listening_is_exit_2() {
    let port = common::free_port();
    let url = format!("ws://127.0.0.1:{port}/");
    let run = client(&["--check", &url]);
    run.expect(2).said(&["cannot connect"]);
}

#[test]
fn a_usage_error_is_exit_2() {
    let cases: [&[&str]; 6] = [
        &["--check"],
        &["--check", "ws://127.0.0.1:1222/", "hello"],
        &["--check", "ws://127.0.0.1:1222/", "--expect", "maybe"],
        &["--check", "ws://127.0.0.1:1222/", "--ws-version", "12"],
        &["ws://127.0.0.1:1222/", "--json"],
        &["ws://127.0.0.1:1222/", "--expect", "reply"],
    ];
    for args in cases {
        let run = client(args);
        run.expect(2);
        assert!(
            run.stderr.contains("Try 'client --help'."),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(run.stdout, "", "{args:?}: nothing is sent");
    }
}

#[test]
fn help_explains_the_checker() {
    let run = client(&["--help"]);
    run.expect(0)
        .printed(&["--check", "--expect echo|reply", "--json", "not judged"]);
}

// ------------------------------------------------------------- the docs

/// Every example in `docs/check.md` is a run that can be made again: a
/// ```console block whose first line names the server in the other
/// terminal (`# the other terminal: make lesson ARGS="..."`, or `make run`),
/// whose second is the `make client ARGS="--check ..."` line, and whose
/// other lines, between lines that are `...`, must each be found, in
/// order, in what that command prints (the port set aside, and the time
/// a run took). All the examples run at once.
#[test]
fn the_examples_in_docs_check_md_are_what_it_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/check.md")).expect("docs/check.md");
    let examples: Vec<String> = doc
        .split("```console\n")
        .skip(1)
        .map(|rest| rest[..rest.find("```").expect("a closed block")].to_string())
        .filter(|block| block.contains("--check"))
        .collect();
    assert!(examples.len() >= 4, "too few examples in docs/check.md");
    let runs: Vec<_> = examples
        .into_iter()
        .map(|block| thread::spawn(move || (run_example(&block), block)))
        .collect();
    for run in runs {
        let (printed, block) = run.join().expect("an example's run");
        let expected: String = block
            .lines()
            .skip(2)
            .map(|line| format!("{line}\n"))
            .collect();
        let mut rest = normal(&printed);
        for chunk in normal(&expected).split("...\n").filter(|c| !c.is_empty()) {
            let at = rest.find(chunk).unwrap_or_else(|| {
                panic!("docs/check.md shows what its command does not print:\n{chunk}\nIt prints:\n{printed}")
            });
            rest = rest[at + chunk.len()..].to_string();
        }
    }
}

/// Start the server an example's first line names, run its command
/// against it, and return what the command printed, with the port of
/// the docs (1222) for the real one.
fn run_example(block: &str) -> String {
    let mut lines = block.lines();
    let server_line = lines.next().expect("a first line");
    let args_of = |line: &str| {
        let start = line.find("ARGS=\"").map(|at| at + 6).unwrap_or(line.len());
        line[start..].trim_end_matches('"').to_string()
    };
    let server_args = args_of(server_line);
    let client_args = args_of(lines.next().expect("a second line"));
    let (_server, _lesson, addr) = match server_line {
        line if line.contains("make lesson") => {
            let bugs = server_args.trim_start_matches("--php-bugs").trim();
            let lesson = Lesson::start(bugs);
            let addr = lesson.addr;
            (None, Some(lesson), addr)
        }
        line if line.contains("make run") => {
            let server = Server::start(&server_args.split_whitespace().collect::<Vec<_>>());
            let addr = server.addr;
            (Some(server), None, addr)
        }
        line => panic!("an example's first line names no server: {line}"),
    };
    let args = client_args.replace("127.0.0.1:1222", &addr.to_string());
    let run = client(&args.split_whitespace().collect::<Vec<_>>());
    (run.stdout + &run.stderr).replace(&addr.to_string(), "127.0.0.1:1222")
}

/// The time a run took, on its last line, written `in T s` whatever it was.
fn normal(text: &str) -> String {
    let line = |line: &str| match (line.starts_with("== "), line.find(", in ")) {
        (true, Some(at)) => {
            let rest = &line[at + 5..];
            let after = rest.find(" s").map_or("", |end| &rest[end..]);
            format!("{}, in T{after}\n", &line[..at])
        }
        _ => format!("{line}\n"),
    };
    text.lines().map(line).collect()
}
