//! The architecture, checked: which file may use which.
//!
//! The crate is four layers and a binary on top. Pure protocol code, over
//! bytes and an injected clock, is at the bottom; then the flags; then the
//! server's I/O (sockets, poll, the log); then the app: what the server
//! says; the binary on top. Each layer may use the ones below it, never one
//! above, so each can be read, and tested, without the ones above.
//!
//! | rank | files                       | may import (`crate::`, `super::`) | external crates         |
//! |------|-----------------------------|-----------------------------------|-------------------------|
//! | 0    | `src/protocol/**`           | only `crate::protocol::…`         | `sha1_smol`, `base64`   |
//! | 1    | `src/config.rs`             | protocol                          | none                    |
//! | 2    | `src/server/**`             | protocol, config, server          | `log`, `env_logger`     |
//! | 3    | `src/app/**`                | protocol, config, server, app     | none                    |
//! | 4    | `src/main.rs`, `src/lib.rs` | anything                          | the four runtime crates |
//! | 4    | `src/bin/*.rs`              | the library, as a crate           | the four runtime crates |
//! | 4    | `src/bin/NAME/**`           | the library; NAME's own files     | the four runtime crates |
//!
//! A file's layer is its top module (`src/server.rs` would be server too).
//! The programs in `src/bin/` (the lesson server, the raw client) are each
//! a crate of their own on top: they may use the library by its name, and
//! nothing can use them. A program in a folder (`src/bin/client/main.rs`
//! and its modules) is one crate: `crate::peer` in one of its files means
//! its own `peer.rs`, so a cycle among its files is found as in the library.
//! `std`, `core` and `alloc` are open to every layer, except that protocol
//! code may not reach the network, files, the OS, the process, its standard
//! streams or the clock (`Instant::now`, `SystemTime::now`): it is given
//! bytes and the time. (Its tests, in a `mod tests` or a `tests.rs` file,
//! may read the clock: a test needs one instant to count from, and std
//! makes instants no other way.) Besides: no two files may import each
//! other, even through others, and `unsafe` lives in `src/server/poll.rs`
//! alone.
//!
//! How: every `.rs` file under `src/` is read as text. Comments and string
//! literals are blanked, the rest cut into words, and every path is
//! collected: `use` trees (expanded: `use crate::{a::{b, c}}` is two
//! paths) and paths written inline (`crate::close::NORMAL`). A `crate::`,
//! `self::` or `super::` path leads to the file that defines it: an edge.
//! The checks take `(path, text)` pairs, so the tests at the bottom run them
//! on small trees in memory, including trees that must fail.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;

/// One source file: its path from the crate root (`src/server/poll.rs`) and its text.
type Source = (String, String);

/// A path as words: `crate::close::NORMAL` is `["crate", "close", "NORMAL"]`.
type Path = Vec<String>;

/// Which files each file uses.
type Graph<'a> = BTreeMap<&'a str, Vec<&'a str>>;

/// The layers, bottom first: a name, and the external crates it may use.
const LAYERS: [(&str, &[&str]); 5] = [
    ("protocol", &["sha1_smol", "base64"]),
    ("config", &[]),
    ("server", &["log", "env_logger"]),
    ("app", &[]),
    ("the binary", RUNTIME),
];

/// The four crates the server runs with, and the library itself.
const RUNTIME: &[&str] = &["sha1_smol", "base64", "log", "env_logger", OWN];

/// The library, as `main.rs` names it.
const OWN: &str = env!("CARGO_PKG_NAME");

/// The two files on top: they declare the modules and run them.
const TOP: [&str; 2] = ["src/lib.rs", "src/main.rs"];

/// The one file that may say `unsafe`: it declares the C functions std lacks.
const FFI: &str = "src/server/poll.rs";

/// A program of its own in `src/bin/`, on top of the library: one file
/// (`src/bin/lesson.rs`), or a folder whose files are all one program
/// (`src/bin/client/main.rs` and the modules beside and below it).
fn is_program(file: &str) -> bool {
    program_of(file).is_some()
}

/// The crate a program file belongs to, as the folder its modules are
/// found in and its root file: `src/bin/client/check/mod.rs` is in
/// (`src/bin/client`, `src/bin/client/main.rs`). A one-file program is its
/// own root, and nothing else is in it.
fn program_of(file: &str) -> Option<(String, String)> {
    let rest = file.strip_prefix("src/bin/")?;
    if !rest.ends_with(".rs") {
        return None;
    }
    Some(match rest.split_once('/') {
        Some((name, _)) => (format!("src/bin/{name}"), format!("src/bin/{name}/main.rs")),
        None => (
            format!("src/bin/{}", rest.trim_end_matches(".rs")),
            file.to_string(),
        ),
    })
}

/// The rank of a file in `LAYERS`, or None for a file outside the layers.
fn rank(file: &str) -> Option<usize> {
    if TOP.contains(&file) || is_program(file) {
        return Some(4);
    }
    let top = module_of(file).into_iter().next()?;
    LAYERS[..4].iter().position(|(name, _)| *name == top)
}

// ---------------------------------------------------------------- reading

/// The text with comments, strings and character literals blanked to
/// spaces. Newlines stay, so line numbers still hold.
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        match skipped_until(&c, i) {
            Some(end) => {
                for &ch in &c[i..end] {
                    out.push(if ch == '\n' { '\n' } else { ' ' });
                }
                i = end;
            }
            None => {
                out.push(c[i]);
                i += 1;
            }
        }
    }
    out
}

/// Where the comment or literal that starts at `i` ends, if one starts there.
fn skipped_until(c: &[char], i: usize) -> Option<usize> {
    if c[i..].starts_with(&['/', '/']) {
        return Some((i..c.len()).find(|&k| c[k] == '\n').unwrap_or(c.len()));
    }
    if c[i..].starts_with(&['/', '*']) {
        // Block comments nest: `/* a /* b */ c */` is one comment.
        let (mut depth, mut k) = (0, i);
        while k < c.len() {
            if c[k..].starts_with(&['/', '*']) {
                (depth, k) = (depth + 1, k + 2);
            } else if c[k..].starts_with(&['*', '/']) {
                (depth, k) = (depth - 1, k + 2);
                if depth == 0 {
                    break;
                }
            } else {
                k += 1;
            }
        }
        return Some(k);
    }
    literal_end(c, i)
}

/// The end of a string or character literal starting at `i`: `"…"`,
/// `b"…"`, `r#"…"#`, `'x'`, `b'\n'`. A lifetime (`'a`) is not one.
fn literal_end(c: &[char], i: usize) -> Option<usize> {
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    let mut j = i;
    if at(i).is_alphabetic() {
        if i > 0 && is_word_char(c[i - 1]) {
            return None; // the `r` of `for`
        }
        if matches!(at(j), 'b' | 'c') {
            j += 1;
        }
        if at(j) == 'r' {
            let hashes = c[j + 1..].iter().take_while(|&&ch| ch == '#').count();
            if at(j + 1 + hashes) != '"' {
                return None; // a word, or a raw identifier `r#type`
            }
            let close: Vec<char> = format!("\"{}", "#".repeat(hashes)).chars().collect();
            return Some(end_of(c, j + 2 + hashes, &close));
        }
    }
    match at(j) {
        '"' => {
            let mut k = j + 1;
            while k < c.len() && c[k] != '"' {
                k += if c[k] == '\\' { 2 } else { 1 };
            }
            Some((k + 1).min(c.len()))
        }
        '\'' if at(j + 1) == '\\' => Some(end_of(c, j + 3, &['\''])),
        '\'' if at(j + 2) == '\'' => Some(j + 3),
        _ => None,
    }
}

/// Just past the first `pat` at or after `from`; the end if there is none.
fn end_of(c: &[char], from: usize, pat: &[char]) -> usize {
    let found = (from..c.len()).find(|&k| c[k..].starts_with(pat));
    found.map_or(c.len(), |k| k + pat.len())
}

fn is_word_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

fn is_word(text: &str) -> bool {
    text.starts_with(|ch: char| ch.is_alphabetic() || ch == '_')
}

/// A word (`crate`, `unsafe`, `42`), `::`, or one character of punctuation.
#[derive(Debug)]
struct Token {
    text: String,
    line: usize,
}

fn tokens(code: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let (mut line, mut chars) = (1, code.chars().peekable());
    while let Some(c) = chars.next() {
        let mut text = c.to_string();
        if c == '\n' {
            line += 1;
            continue;
        } else if is_word_char(c) {
            while let Some(d) = chars.next_if(|&d| is_word_char(d)) {
                text.push(d);
            }
        } else if c == ':' && chars.next_if_eq(&':').is_some() {
            text.push(':');
        } else if c.is_whitespace() {
            continue;
        }
        out.push(Token { text, line });
    }
    out
}

/// A path in the code: `crate::close::NORMAL` at a line, written inside
/// the inline modules `within` (`["tests"]` in a `mod tests { … }`).
struct Found {
    path: Path,
    line: usize,
    within: Path,
}

/// A file, read: its tokens and every path in it of two words or more.
struct Scan {
    tokens: Vec<Token>,
    paths: Vec<Found>,
}

fn scan(text: &str) -> Scan {
    let tokens = tokens(&code_only(text));
    let word = |k: usize| tokens.get(k).map_or("", |t| t.text.as_str());
    let mut paths = Vec::new();
    // One entry per open brace: the module's name if it opened `mod name {`.
    let mut braces: Vec<Option<&str>> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let line = tokens[i].line;
        let within: Path = braces.iter().flatten().map(|m| m.to_string()).collect();
        match word(i) {
            "{" => braces.push((i >= 2 && word(i - 2) == "mod").then(|| word(i - 1))),
            "}" => drop(braces.pop()),
            "use" => {
                let mut found = Vec::new();
                i += 1;
                use_tree(&tokens, &mut i, Vec::new(), &mut found);
                for (path, line) in found {
                    paths.push(Found {
                        path,
                        line,
                        within: within.clone(),
                    });
                }
            }
            // A path written in code starts with a word not after a `::`.
            first if is_word(first) && !(i > 0 && word(i - 1) == "::") => {
                let mut path = vec![first.to_string()];
                while word(i + 1) == "::" && is_word(word(i + 2)) {
                    path.push(word(i + 2).to_string());
                    i += 2;
                }
                if path.len() > 1 {
                    paths.push(Found { path, line, within });
                }
            }
            _ => {}
        }
        i += 1;
    }
    Scan { tokens, paths }
}

/// Expands the use tree at `i`, under `prefix`, into whole paths, each with
/// the line of its last word: `a::{b, c::{self, d as e}, f::*}` gives
/// `a::b`, `a::c`, `a::c::d` and `a::f`. Stops after the tree.
fn use_tree(t: &[Token], i: &mut usize, mut path: Path, out: &mut Vec<(Path, usize)>) {
    while let Some(token) = t.get(*i) {
        *i += 1;
        match token.text.as_str() {
            "::" => {}
            "{" => {
                while t.get(*i).is_some_and(|t| t.text != "}") {
                    if t[*i].text == "," {
                        *i += 1;
                    } else {
                        use_tree(t, i, path.clone(), out);
                    }
                }
                *i += 1;
                return;
            }
            "*" => return out.push((path, token.line)),
            word if t.get(*i).is_some_and(|t| t.text == "::") => path.push(word.to_string()),
            word => {
                // The last word; `self` names the module the braces are in.
                if word != "self" || path.is_empty() {
                    path.push(word.to_string());
                }
                if t.get(*i).is_some_and(|t| t.text == "as") {
                    *i += 2;
                }
                return out.push((path, token.line));
            }
        }
    }
}

// ------------------------------------------------------------- resolving

/// The module a file defines in its crate: `src/a/b.rs` is `a::b`,
/// `src/a/mod.rs` is `a`, and `src/lib.rs` and `src/main.rs` are the root.
/// In a program's folder the same, from the folder: `src/bin/client/peer.rs`
/// is `peer`, its `main.rs` the root; a one-file program is all root.
fn module_of(file: &str) -> Path {
    let name = match program_of(file) {
        Some((_, root)) if root == file => return Vec::new(),
        Some((folder, _)) => file[folder.len() + 1..].trim_end_matches(".rs").to_string(),
        None => file
            .trim_start_matches("src/")
            .trim_end_matches(".rs")
            .to_string(),
    };
    let mut parts: Path = name.split('/').map(String::from).collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] || parts == ["main"] {
        parts.pop();
    }
    parts
}

/// The whole path, from the crate root, of a `crate::`, `self::` or
/// `super::` path written in module `here`; None for other paths.
fn absolute(path: &[String], here: &[String]) -> Option<Path> {
    let (mut at, skip) = match path.first()?.as_str() {
        "crate" => (Vec::new(), 1),
        "self" => (here.to_vec(), 1),
        "super" => (here.to_vec(), 0),
        _ => return None,
    };
    let mut rest = path[skip..].iter().peekable();
    while rest.next_if(|word| *word == "super").is_some() {
        at.pop();
    }
    at.extend(rest.cloned());
    Some(at)
}

/// The file that defines `path` in the crate of file `here`: the deepest
/// of `src/a/b.rs`, `src/a/b/mod.rs`, `src/a.rs`, `src/a/mod.rs` that
/// exists; else `lib.rs`. In a program, the same under its folder, else its
/// root file: a program is a crate of its own, and its `crate::` is never
/// the library's.
fn file_of(path: &[String], here: &str, files: &BTreeSet<&str>) -> Option<String> {
    let (folder, root) = program_of(here).unwrap_or(("src".into(), "src/lib.rs".into()));
    for depth in (1..=path.len()).rev() {
        let base = format!("{folder}/{}", path[..depth].join("/"));
        for file in [format!("{base}.rs"), format!("{base}/mod.rs")] {
            if files.contains(file.as_str()) {
                return Some(file);
            }
        }
    }
    files.contains(root.as_str()).then_some(root)
}

/// File `from` uses something in file `to`: at `line`, through `path`.
struct Edge {
    from: String,
    to: String,
    line: usize,
    path: String,
}

/// Every use of one file by another (a file using itself is no edge).
fn edges(files: &[Source]) -> Vec<Edge> {
    let names: BTreeSet<&str> = files.iter().map(|(file, _)| file.as_str()).collect();
    let mut out = Vec::new();
    for (file, text) in files {
        for found in scan(text).paths {
            let here = [module_of(file), found.within].concat();
            let to = absolute(&found.path, &here).and_then(|p| file_of(&p, file, &names));
            let (from, line, path) = (file.clone(), found.line, found.path.join("::"));
            match to {
                Some(to) if to != from => out.push(Edge {
                    from,
                    to,
                    line,
                    path,
                }),
                _ => {}
            }
        }
    }
    out
}

// ---------------------------------------------------------------- checks

/// Each problem is `file:line: what, and the rule it breaks`.
type Problems = Vec<String>;

fn outside_the_layers(files: &[Source]) -> Problems {
    let where_ =
        "src/protocol/, src/config.rs, src/server/, src/app/, src/bin/, src/main.rs or src/lib.rs";
    let outside = files.iter().filter(|(file, _)| rank(file).is_none());
    outside
        .map(|(file, _)| format!("{file}: file outside the layers: move it to {where_}"))
        .collect()
}

fn upward_imports(files: &[Source]) -> Problems {
    let up = |e: &Edge| {
        let (from, to) = (rank(&e.from)?, rank(&e.to)?);
        let (name, above) = (LAYERS[from].0, LAYERS[to].0);
        let rule = format!(
            "points up a layer: {name} (rank {from}) may not import {above} (rank {to}, {})",
            e.to
        );
        (to > from).then(|| format!("{}:{}: `{}` {rule}", e.from, e.line, e.path))
    };
    edges(files).iter().filter_map(up).collect()
}

fn foreign_crates(files: &[Source], crates: &BTreeSet<String>) -> Problems {
    let mut out = Vec::new();
    for (file, text) in files {
        let Some((layer, allowed)) = rank(file).map(|r| LAYERS[r]) else {
            continue;
        };
        let open = [&["std", "core", "alloc"], allowed].concat().join(", ");
        for Found { path, line, .. } in scan(text).paths {
            let name = path[0].as_str();
            if crates.contains(name) && !allowed.contains(&name) {
                let path = path.join("::");
                out.push(format!(
                    "{file}:{line}: `{path}` uses the crate {name}: {layer} may use only {open}"
                ));
            }
        }
    }
    out
}

/// Macros that write to the process's standard streams.
const PRINTS: [&str; 5] = ["print", "println", "eprint", "eprintln", "dbg"];

fn impure_protocol(files: &[Source]) -> Problems {
    let in_protocol = |file: &str| rank(file) == Some(0);
    let mut out = Vec::new();
    for e in edges(files) {
        if in_protocol(&e.from) && !in_protocol(&e.to) {
            let rule = "leaves the protocol, which may import only crate::protocol";
            out.push(format!(
                "{}:{}: `{}` {rule} (it names {})",
                e.from, e.line, e.path, e.to
            ));
        }
    }
    for (file, text) in files.iter().filter(|(file, _)| in_protocol(file)) {
        let Scan { tokens, paths } = scan(text);
        for Found { path, line, within } in paths {
            if let Some(why) = impure(&path, is_test_code(file, &within)) {
                out.push(format!("{file}:{line}: `{}` {why}", path.join("::")));
            }
        }
        for pair in tokens.windows(2) {
            let (word, line) = (&pair[0].text, pair[0].line);
            if PRINTS.contains(&word.as_str()) && pair[1].text == "!" {
                let rule = "writes to a standard stream: protocol code does no I/O";
                out.push(format!("{file}:{line}: `{word}!` {rule}"));
            }
        }
    }
    out
}

/// Is this code a test's: in a `tests.rs` file, or a `mod tests { … }`?
fn is_test_code(file: &str, within: &[String]) -> bool {
    file.ends_with("/tests.rs") || within.iter().any(|m| m == "tests")
}

/// Why protocol code may not use `path`, if it may not. A test may read
/// the clock (for the instant it counts from), and do nothing else impure.
fn impure(path: &[String], test_code: bool) -> Option<&'static str> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let now = |w: &[&str]| matches!(w, ["Instant" | "SystemTime", "now"]);
    if !test_code && p.windows(2).any(now) {
        return Some("reads the clock: protocol code is given the time");
    }
    let io = matches!(p[..], ["std", "net" | "fs" | "os" | "process" | "env", ..]);
    let streams = matches!(p[..], [.., "io", "stdin" | "stdout" | "stderr"]);
    (io || streams).then_some("does I/O: protocol code works on the bytes it is given")
}

fn cycles(files: &[Source]) -> Problems {
    // The first edge between each two files, for the message.
    let mut first: BTreeMap<(String, String), Edge> = BTreeMap::new();
    for e in edges(files) {
        if !TOP.contains(&e.from.as_str()) && !TOP.contains(&e.to.as_str()) {
            first.entry((e.from.clone(), e.to.clone())).or_insert(e);
        }
    }
    let mut next = Graph::new();
    for (from, to) in first.keys() {
        next.entry(from).or_default().push(to);
    }
    let (mut seen, mut out) = (BTreeSet::new(), Vec::new());
    for &start in next.keys() {
        let Some(ring) = shortest_cycle(&next, start) else {
            continue;
        };
        if seen.insert(ring.iter().copied().collect::<BTreeSet<_>>()) {
            let mut steps = String::from("cycle:");
            for (k, a) in ring.iter().enumerate() {
                let b = ring[(k + 1) % ring.len()];
                let e = &first[&(a.to_string(), b.to_string())];
                steps += &format!(" {a}:{} `{}` ->", e.line, e.path);
            }
            out.push(format!("{steps} back to {start}"));
        }
    }
    out
}

/// The shortest chain of files from `start` back to `start`, if there is one.
fn shortest_cycle<'a>(next: &Graph<'a>, start: &'a str) -> Option<Vec<&'a str>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for &to in next.get(at).into_iter().flatten() {
            if to == start {
                let mut ring = vec![at];
                while let Some(&before) = came_from.get(ring[ring.len() - 1]) {
                    ring.push(before);
                }
                ring.reverse();
                return Some(ring);
            }
            if !came_from.contains_key(to) {
                came_from.insert(to, at);
                queue.push_back(to);
            }
        }
    }
    None
}

fn stray_unsafe(files: &[Source]) -> Problems {
    let mut out = Vec::new();
    for (file, text) in files.iter().filter(|(file, _)| file != FFI) {
        for Token { line, .. } in scan(text).tokens.into_iter().filter(|t| t.text == "unsafe") {
            out.push(format!(
                "{file}:{line}: `unsafe` outside {FFI}, the one FFI module"
            ));
        }
    }
    out
}

/// The crates Cargo.toml names, in any `[…dependencies]` table, as code spells them.
fn crates_in(manifest: &str) -> BTreeSet<String> {
    let (mut names, mut in_table) = (BTreeSet::new(), false);
    for line in manifest.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']');
            in_table = header.ends_with("dependencies");
            // `[dependencies.name]` names a crate too.
            match header.rsplit_once('.') {
                Some((table, name)) if table.ends_with("dependencies") => {
                    names.insert(name.replace('-', "_"))
                }
                _ => false,
            };
        } else if let Some((name, _)) = line.split_once('=') {
            if in_table && !line.starts_with('#') {
                names.insert(name.trim().replace('-', "_"));
            }
        }
    }
    names
}

// ------------------------------------------------------- the real crate

/// Every `.rs` file under `src/`, as `(src/…, text)`.
fn crate_sources() -> Vec<Source> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut files, mut folders) = (Vec::new(), vec![root.join("src")]);
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).expect("read a folder of src/") {
            let path = entry.expect("read a folder entry").path();
            let name = path.strip_prefix(root).expect("a path in the crate");
            let name = name.to_string_lossy().replace('\\', "/");
            if path.is_dir() {
                folders.push(path);
            } else if name.ends_with(".rs") {
                files.push((name, fs::read_to_string(&path).expect("read a source file")));
            }
        }
    }
    files.sort();
    files
}

/// The crates this package may name: its dependencies, and itself.
fn crate_names() -> BTreeSet<String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let mut names = crates_in(&fs::read_to_string(manifest).expect("read Cargo.toml"));
    names.insert(OWN.to_string());
    names
}

/// Runs one check on the crate's own `src/`: it must find nothing.
fn must_hold(rule: &str, check: fn(&[Source]) -> Problems) {
    let problems = check(&crate_sources());
    let (count, list) = (problems.len(), problems.join("\n"));
    assert!(problems.is_empty(), "{rule}: {count} problem(s)\n{list}");
}

#[test]
fn every_file_is_in_a_layer() {
    must_hold("every file belongs to a layer", outside_the_layers);
}

#[test]
fn no_import_points_up_a_layer() {
    must_hold("no import points up a layer", upward_imports);
}

#[test]
fn each_layer_uses_only_its_crates() {
    must_hold("each layer uses only its crates", |files| {
        foreign_crates(files, &crate_names())
    });
}

#[test]
fn the_protocol_uses_nothing_outside_itself() {
    must_hold("the protocol is pure code over bytes", impure_protocol);
}

#[test]
fn no_two_files_import_each_other() {
    must_hold("no cycle between files", cycles);
}

#[test]
fn unsafe_lives_in_one_file() {
    must_hold("unsafe lives in one file", stray_unsafe);
}

// --------------------------------------------- the checker, checked

/// The checks on small trees in memory: each rule is shown to fail.
mod the_checker {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Vec<Source> {
        let pair = |(file, text): &(&str, &str)| (file.to_string(), text.to_string());
        files.iter().map(pair).collect()
    }

    /// Each path found in `text`, as `crate::a::b@line`.
    fn paths(text: &str) -> Vec<String> {
        let show = |f: &Found| format!("{}@{}", f.path.join("::"), f.line);
        scan(text).paths.iter().map(show).collect()
    }

    /// The problems found must begin, one for one, as `expected` says.
    fn found(problems: Problems, expected: &[&str]) {
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
        for (problem, start) in problems.iter().zip(expected) {
            assert!(
                problem.starts_with(start),
                "{problem}\nshould start with\n{start}"
            );
        }
    }

    #[test]
    fn use_trees_expand_across_lines() {
        let text = "use crate::{\n    a::{b, c as d},\n    e::*,\n};\npub(crate) use super::f;";
        let expected = ["crate::a::b@2", "crate::a::c@2", "crate::e@3", "super::f@5"];
        assert_eq!(paths(text), expected);
        let text = "use crate::server::{self, Socket};\nuse ::log::info;";
        assert_eq!(
            paths(text),
            ["crate::server@1", "crate::server::Socket@1", "log::info@2"]
        );
    }

    #[test]
    fn paths_in_code_count_too() {
        let text = "fn f() {\n    g(crate::close::NORMAL);\n    super::frame::encode(Vec::<u8>::new());\n}";
        assert_eq!(
            paths(text),
            ["crate::close::NORMAL@2", "super::frame::encode@3"]
        );
    }

    #[test]
    fn comments_and_strings_hide_paths() {
        let text = r###"// crate::a::x
/// crate::b::x
/* crate::c::x /* nested */ crate::d::x */
let s = "crate::e::x \" crate::f::x"; let r = r#"crate::g::x"#;
let q = ('"', '\'', b'"', b"crate::h::x", br##"crate::i::x"##);
fn f<'a>(x: &'a str) -> &'a str { crate::j::x(x) }"###;
        assert_eq!(paths(text), ["crate::j::x@6"]);
    }

    #[test]
    fn paths_lead_to_the_deepest_file() {
        assert_eq!(module_of("src/server/mod.rs"), ["server"]);
        assert_eq!(module_of("src/server/poll.rs"), ["server", "poll"]);
        let files = tree(&[
            ("src/lib.rs", "pub mod config;\npub mod server;"),
            (
                "src/config.rs",
                "#[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::server::x;\n}",
            ),
            (
                "src/server/mod.rs",
                "mod poll;\npub use self::poll::Poller;",
            ),
            (
                "src/server/poll.rs",
                "use super::table::Row;\nuse super::super::config;\nfn f() { self::sys::x(); }",
            ),
            (
                "src/server/table.rs",
                "use crate::server::poll::{self, Socket};\nuse crate::Thing;",
            ),
        ]);
        let expected = [
            "src/config.rs -> src/server/mod.rs",
            "src/server/mod.rs -> src/server/poll.rs",
            "src/server/poll.rs -> src/server/table.rs",
            "src/server/poll.rs -> src/config.rs",
            "src/server/table.rs -> src/server/poll.rs",
            "src/server/table.rs -> src/server/poll.rs",
            "src/server/table.rs -> src/lib.rs",
        ];
        let edges: Vec<String> = edges(&files)
            .iter()
            .map(|e| format!("{} -> {}", e.from, e.to))
            .collect();
        assert_eq!(edges, expected);
    }

    #[test]
    fn an_upward_import_fails() {
        let files = tree(&[
            ("src/protocol/frame.rs", "\nuse crate::config::Limits;"),
            ("src/config.rs", "use crate::protocol::frame;"),
        ]);
        let expected = "src/protocol/frame.rs:2: `crate::config::Limits` points up a layer";
        found(upward_imports(&files), &[expected]);
    }

    #[test]
    fn a_downward_import_passes() {
        let files = tree(&[
            ("src/app/room.rs", "use crate::server::Socket;"),
            ("src/server/mod.rs", "use crate::protocol::frame;"),
            ("src/protocol/frame.rs", "use super::close;"),
            ("src/protocol/close.rs", ""),
        ]);
        found(upward_imports(&files), &[]);
        found(impure_protocol(&files), &[]);
    }

    #[test]
    fn io_and_the_clock_in_the_protocol_fail() {
        let text = "use std::net::TcpStream;\nuse std::io::Read;\n\
                    fn now() -> Instant { std::time::Instant::now() }\n\
                    fn f() { println!(\"hi\"); }\nuse crate::server::poll;";
        let files = tree(&[("src/protocol/mod.rs", text), ("src/server/poll.rs", "")]);
        let expected = [
            "src/protocol/mod.rs:5: `crate::server::poll` leaves the protocol",
            "src/protocol/mod.rs:1: `std::net::TcpStream` does I/O",
            "src/protocol/mod.rs:3: `std::time::Instant::now` reads the clock",
            "src/protocol/mod.rs:4: `println!` writes to a standard stream",
        ];
        found(impure_protocol(&files), &expected);
    }

    #[test]
    fn a_protocol_test_may_read_the_clock_and_nothing_more() {
        let clock = "fn start() -> Instant { Instant::now() }";
        let inline = format!("#[cfg(test)]\nmod tests {{\n    {clock}\n}}\n{clock}");
        let files = tree(&[
            ("src/protocol/frame.rs", &inline),
            ("src/protocol/connection/tests.rs", clock),
            ("src/protocol/reader/tests.rs", "use std::fs::File;"),
        ]);
        let expected = [
            "src/protocol/frame.rs:5: `Instant::now` reads the clock",
            "src/protocol/reader/tests.rs:1: `std::fs::File` does I/O",
        ];
        found(impure_protocol(&files), &expected);
    }

    #[test]
    fn a_crate_outside_the_layer_fails() {
        let manifest = "[dependencies]\nlog = \"0.4\"\nenv-logger = { version = \"0.11\" }\n\
                        # a = 1\n[dev-dependencies.socket2]\nversion = \"0.6\"";
        let crates = crates_in(manifest);
        assert_eq!(
            crates,
            ["env_logger", "log", "socket2"].map(String::from).into()
        );
        let text = "fn f() { log::info!(\"x\"); }";
        let files = tree(&[("src/app/room.rs", text), ("src/server/mod.rs", text)]);
        found(
            foreign_crates(&files, &crates),
            &["src/app/room.rs:1: `log::info` uses the crate log"],
        );
    }

    #[test]
    fn a_cycle_fails() {
        let files = tree(&[
            ("src/lib.rs", "pub mod server;"),
            ("src/server/mod.rs", "pub mod a;\npub mod b;\npub mod c;"),
            ("src/server/a.rs", "use super::b::B;"),
            ("src/server/b.rs", "\nfn f() { crate::server::c::g() }"),
            (
                "src/server/c.rs",
                "#[cfg(test)]\nmod tests {\n    use crate::server::a::A;\n}",
            ),
        ]);
        let expected = "cycle: src/server/a.rs:1 `super::b::B` -> \
                        src/server/b.rs:2 `crate::server::c::g` -> \
                        src/server/c.rs:3 `crate::server::a::A` -> back to src/server/a.rs";
        assert_eq!(cycles(&files), [expected]);
        let chain = tree(&[
            ("src/server/a.rs", "use super::b::B;"),
            ("src/server/b.rs", ""),
        ]);
        found(cycles(&chain), &[]);
    }

    #[test]
    fn unsafe_elsewhere_fails() {
        let other = "// unsafe\n#![deny(unsafe_code)]\nunsafe fn f() {}";
        let files = tree(&[
            ("src/server/poll.rs", "unsafe fn poll() {}"),
            ("src/server/table.rs", other),
        ]);
        found(
            stray_unsafe(&files),
            &["src/server/table.rs:3: `unsafe` outside src/server/poll.rs"],
        );
    }

    #[test]
    fn a_file_outside_the_layers_fails() {
        let files = tree(&[
            ("src/main.rs", ""),
            ("src/config.rs", ""),
            ("src/trace.rs", ""),
            ("src/bin/lesson.rs", ""),
            ("src/bin/tools/main.rs", ""),
            ("src/bin/tools/helper/mod.rs", ""),
            ("src/extra/helper.rs", ""),
        ]);
        found(
            outside_the_layers(&files),
            &[
                "src/trace.rs: file outside the layers",
                "src/extra/helper.rs: file outside the layers",
            ],
        );
        assert_eq!(rank("src/bin/tools/helper/mod.rs"), Some(4));
    }

    /// A program in a folder is a crate of its own: its `crate::` is its
    /// `main.rs`, never the library's `src/lib.rs`, so a cycle between two
    /// of its files is found like one in the library.
    #[test]
    fn a_program_folder_is_its_own_crate() {
        assert_eq!(module_of("src/bin/client/main.rs"), Vec::<String>::new());
        assert_eq!(module_of("src/bin/client/check/mod.rs"), ["check"]);
        assert_eq!(module_of("src/bin/client/check/data.rs"), ["check", "data"]);
        let files = tree(&[
            ("src/lib.rs", "pub mod peer;"),
            ("src/peer.rs", ""),
            ("src/bin/client/main.rs", "mod check;\nmod peer;"),
            (
                "src/bin/client/peer.rs",
                "fn f() { crate::check::Verdict::new(); }",
            ),
            (
                "src/bin/client/check/mod.rs",
                "use crate::peer::Peer;\nuse super::peer;\nuse crate::Options;",
            ),
            (
                "src/bin/client/check/data.rs",
                "use super::Verdict;\nuse socket_server::dissect;",
            ),
            ("src/bin/lesson.rs", "use crate::peer::Peer;"),
        ]);
        // In the tree's order; `crate::Options` is in the program's root.
        let expected = [
            "src/bin/client/peer.rs -> src/bin/client/check/mod.rs",
            "src/bin/client/check/mod.rs -> src/bin/client/peer.rs",
            "src/bin/client/check/mod.rs -> src/bin/client/peer.rs",
            "src/bin/client/check/mod.rs -> src/bin/client/main.rs",
            "src/bin/client/check/data.rs -> src/bin/client/check/mod.rs",
        ];
        let edges: Vec<String> = edges(&files)
            .iter()
            .map(|e| format!("{} -> {}", e.from, e.to))
            .collect();
        assert_eq!(edges, expected);
        let expected = "cycle: src/bin/client/check/mod.rs:1 `crate::peer::Peer` -> \
                        src/bin/client/peer.rs:1 `crate::check::Verdict::new` -> \
                        back to src/bin/client/check/mod.rs";
        assert_eq!(cycles(&files), [expected]);
        found(upward_imports(&files), &[]);
        found(
            outside_the_layers(&files),
            &["src/peer.rs: file outside the layers"],
        );
    }
}
