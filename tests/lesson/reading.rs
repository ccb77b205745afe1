//! The reading order stays true to the code: `docs/lessons.md`'s table of
//! PHP lines against `lesson.rs` lines, the header of `lesson.rs` (the one
//! list of what it does, leaves out and can break on demand), and the
//! promises the issue made about the file: one file, at most 400 lines of
//! code, none of the library.

use std::path::Path;

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One row of the side-by-side table.
struct Row {
    /// The PHP's lines, as the first column writes them.
    php: String,
    /// The `lesson.rs` line ranges of the third column.
    ranges: Vec<(usize, usize)>,
    /// The names of the fourth column.
    names: Vec<String>,
}

/// The rows of the first table in `docs/lessons.md` (section 1).
fn side_by_side_rows(doc: &str) -> Vec<Row> {
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("1."))
        .expect("a section 1 in docs/lessons.md");
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line
            .split(" | ")
            .map(|c| c.trim_matches(['|', ' ']))
            .collect();
        if cells.len() != 4 || cells[0] == "PHP" || cells[0].starts_with("---") {
            continue;
        }
        let ranges = cells[2].split(", ").map(range).collect();
        let (php, names) = (cells[0].to_string(), code_spans(cells[3]));
        rows.push(Row { php, ranges, names });
    }
    rows
}

/// `126–129` (an en dash, as the doc writes ranges) into (126, 129).
fn range(text: &str) -> (usize, usize) {
    let (a, b) = text.split_once('–').unwrap_or((text, text));
    let number = |n: &str| {
        n.parse()
            .unwrap_or_else(|_| panic!("not a line range: {text:?}"))
    };
    (number(a), number(b))
}

/// Every `code span` in `text`, without its backticks.
fn code_spans(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.replace("\\|", "|"))
        .collect()
}

#[test]
fn every_name_in_the_side_by_side_table_is_in_its_lines() {
    let doc = read("docs/lessons.md");
    let code = read("src/bin/lesson.rs");
    let lines: Vec<&str> = code.lines().collect();
    let rows = side_by_side_rows(&doc);
    assert!(rows.len() >= 15, "the table lost rows: {}", rows.len());
    let mut wrong = Vec::new();
    for Row { php, ranges, names } in &rows {
        let text: String = ranges
            .iter()
            .map(|&(a, b)| {
                lines
                    .get(a - 1..b.min(lines.len()))
                    .unwrap_or_default()
                    .join("\n")
            })
            .collect();
        for name in names.iter().filter(|name| !text.contains(name.as_str())) {
            let at: Vec<usize> = (1..=lines.len())
                .filter(|&n| lines[n - 1].contains(name.as_str()))
                .collect();
            wrong.push(format!(
                "PHP {php}: `{name}` is not in {ranges:?} (it is on lines {at:?})"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/lessons.md section 1 drifted from lesson.rs:\n{}",
        wrong.join("\n")
    );
}

/// The lines of the header comment (`//!`) under the heading that starts
/// with `heading`, up to the next heading.
fn header_section(code: &str, heading: &str) -> Vec<String> {
    let header: Vec<&str> = code.lines().take_while(|l| l.starts_with("//!")).collect();
    let start = header
        .iter()
        .position(|l| l.starts_with(&format!("//! ## {heading}")))
        .unwrap_or_else(|| panic!("no `## {heading}` in lesson.rs's header"));
    header[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with("//! ##"))
        .map(|l| l.trim_start_matches("//!").trim().to_string())
        .collect()
}

/// The items (`- ...`, continuation lines joined) of a header section.
fn items(lines: &[String]) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for line in lines.iter().filter(|l| !l.is_empty()) {
        match (line.strip_prefix("- "), items.last_mut()) {
            (Some(start), _) => items.push(start.to_string()),
            (None, Some(item)) => *item = format!("{item} {line}"),
            (None, None) => {}
        }
    }
    items
}

#[test]
fn every_module_the_header_names_for_what_is_left_out_exists() {
    let code = read("src/bin/lesson.rs");
    let left_out = items(&header_section(&code, "What it leaves out"));
    assert!(
        left_out.len() >= 8,
        "the list of what is left out is short: {left_out:?}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for item in &left_out {
        let paths: Vec<String> = code_spans(item)
            .into_iter()
            .filter(|s| s.starts_with("src/"))
            .collect();
        assert!(
            !paths.is_empty(),
            "{item:?} names no module of the full server"
        );
        for path in paths {
            assert!(
                root.join(&path).is_file(),
                "{item:?} names {path}, which does not exist"
            );
        }
    }
}

/// The ids in the header's bug list, in order.
fn header_bug_ids(code: &str) -> Vec<String> {
    items(&header_section(code, "The PHP's bugs, on demand"))
        .iter()
        .map(|l| l.split(':').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_bug_lists_agree_header_flag_table_help_and_docs() {
    let code = read("src/bin/lesson.rs");
    let ids = header_bug_ids(&code);
    assert!(ids.len() >= 7, "the header lists {ids:?}");
    let table = code
        .lines()
        .find(|l| l.starts_with("const PHP_BUGS"))
        .expect("PHP_BUGS in lesson.rs");
    let help = code.split("const HELP").nth(1).expect("HELP in lesson.rs");
    let lessons = read("docs/lessons.md");
    let bugs_doc = read("docs/php-to-rust.md");
    for id in &ids {
        assert!(
            table.contains(&format!("\"{id}\"")),
            "{id} is not in PHP_BUGS"
        );
        assert!(help.contains(&format!(" {id} ")), "{id} is not in --help");
        assert!(
            lessons.contains(&format!("| {id}: ")),
            "{id} has no row in docs/lessons.md section 2"
        );
        assert!(
            bugs_doc.contains(&format!("**{id}. ")),
            "{id} is not explained in docs/php-to-rust.md"
        );
        assert!(
            code.matches(&format!("php_bug(\"{id}\")")).count() >= 1,
            "{id} never switches anything"
        );
    }
    assert_eq!(
        table.matches("\"B").count(),
        ids.len(),
        "PHP_BUGS has ids the header does not list"
    );
}

#[test]
fn lesson_is_one_file_of_at_most_400_lines_of_code_without_the_library() {
    let code = read("src/bin/lesson.rs");
    let lines_of_code = code
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count();
    assert!(
        lines_of_code <= 400,
        "lesson.rs has {lines_of_code} lines of code, over 400"
    );
    assert!(
        !code.contains("socket_server::"),
        "lesson.rs uses the library"
    );
    assert!(!code.contains("\nmod "), "lesson.rs is one file");
}

#[test]
fn the_readme_points_at_the_reading_order_on_its_first_screen() {
    let readme = read("README.md");
    let first_screen: String = readme.lines().take(40).collect::<Vec<_>>().join("\n");
    assert!(
        first_screen.contains("docs/lessons.md"),
        "README's first 40 lines do not name docs/lessons.md"
    );
}
