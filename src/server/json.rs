//! JSON strings (RFC 8259 §7), written by hand: the one escaper for the
//! chat room's messages, the inspector's events and the checker's
//! `--json` lines. Whatever a peer sent may end up inside one, so every
//! character that could end the string or the line is escaped.

use std::fmt::Write;

/// `text` inside a JSON string: the quote, the backslash and every control
/// character escaped; DEL, and U+2028 and U+2029 too, which JSON allows raw
/// but older JavaScript read as line ends.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' | '\u{7f}' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `text` as a JSON string, quotes included.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    escape_into(&mut out, text);
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn what_could_end_the_string_or_the_line_is_escaped() {
        assert_eq!(quote("plain §5.2"), "\"plain §5.2\"");
        assert_eq!(quote("a \"b\" \\ c"), r#""a \"b\" \\ c""#);
        assert_eq!(quote("1\n2\r3\t4"), r#""1\n2\r3\t4""#);
        assert_eq!(quote("\u{1b}[2J\u{7f}"), r#""\u001b[2J\u007f""#);
        assert_eq!(quote("a\u{2028}b\u{2029}"), r#""a\u2028b\u2029""#);
    }
}
