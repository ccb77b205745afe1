//! JSON written by hand, for the inspector's events (no serde: the server
//! keeps to four crates).
//!
//! Only what the events need: an object with string, number, boolean and
//! null members, arrays of objects, and byte strings shown as text or hex.
//! Every string goes through [`escape_into`], so that nothing a peer sends
//! (a quote, a backslash, a control character, a line separator) can end
//! a string early or make the page read a member it did not send.

use crate::server::json::escape_into;
use std::fmt::Write;

/// One JSON object being written into `out`: `{` at [`Object::open`], a
/// comma between members, `}` at [`Object::close`].
pub(crate) struct Object<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Object<'a> {
    pub(crate) fn open(out: &'a mut String) -> Object<'a> {
        out.push('{');
        Object { out, first: true }
    }

    /// The end of the object.
    pub(crate) fn close(self) {
        self.out.push('}');
    }

    /// `"key":`, after a comma unless it is the first member. Keys are this
    /// server's own words, plain ASCII.
    fn key(&mut self, key: &str) -> &mut String {
        debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
        self.out
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        let out = self.key(key);
        out.push('"');
        escape_into(out, value);
        out.push('"');
        self
    }

    /// A string, or `null`.
    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.str(key, value),
            None => self.null(key),
        }
    }

    /// Bytes a peer sent, as text: each byte sequence that is not UTF-8
    /// becomes U+FFFD, so the page shows what can be shown.
    pub(crate) fn text(&mut self, key: &str, bytes: &[u8]) -> &mut Self {
        self.str(key, &String::from_utf8_lossy(bytes))
    }

    /// Bytes in hex, two digits each, a space between: `81 85 37 fa`.
    pub(crate) fn hex(&mut self, key: &str, bytes: &[u8]) -> &mut Self {
        let out = self.key(key);
        out.push('"');
        for (i, byte) in bytes.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{byte:02x}");
        }
        out.push('"');
        self
    }

    pub(crate) fn num(&mut self, key: &str, value: u64) -> &mut Self {
        let out = self.key(key);
        let _ = write!(out, "{value}");
        self
    }

    /// A number, or `null`.
    pub(crate) fn opt_num(&mut self, key: &str, value: Option<u64>) -> &mut Self {
        match value {
            Some(value) => self.num(key, value),
            None => self.null(key),
        }
    }

    pub(crate) fn int(&mut self, key: &str, value: i64) -> &mut Self {
        let out = self.key(key);
        let _ = write!(out, "{value}");
        self
    }

    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        let out = self.key(key);
        out.push_str(if value { "true" } else { "false" });
        self
    }

    pub(crate) fn null(&mut self, key: &str) -> &mut Self {
        self.key(key).push_str("null");
        self
    }

    /// An array of objects, each written by `each`.
    pub(crate) fn array<T>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Object, T),
    ) -> &mut Self {
        let out = self.key(key);
        out.push('[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let mut object = Object::open(out);
            each(&mut object, item);
            object.close();
        }
        out.push(']');
        self
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One object, written by `write`, as text (for the inspector's tests).
    pub(crate) fn object(write: impl FnOnce(&mut Object)) -> String {
        let mut out = String::new();
        let mut object = Object::open(&mut out);
        write(&mut object);
        object.close();
        out
    }

    #[test]
    fn members_are_separated_and_typed() {
        let text = object(|o| {
            o.str("a", "x")
                .num("b", 7)
                .int("c", -1)
                .bool("d", true)
                .null("e");
            o.opt_str("f", None)
                .opt_num("g", Some(2))
                .hex("h", &[0x81, 0x05]);
        });
        assert_eq!(
            text,
            r#"{"a":"x","b":7,"c":-1,"d":true,"e":null,"f":null,"g":2,"h":"81 05"}"#
        );
        assert_eq!(object(|_| {}), "{}");
    }

    #[test]
    fn arrays_of_objects() {
        let text = object(|o| {
            o.array("rows", [1, 2], |row, n| {
                row.num("n", n);
            });
            o.array("none", Vec::<u8>::new(), |_, _| {});
        });
        assert_eq!(text, r#"{"rows":[{"n":1},{"n":2}],"none":[]}"#);
    }

    /// What a peer sends cannot end a string early or add a member.
    #[test]
    fn strings_are_escaped() {
        let text = object(|o| {
            o.str("s", "a\"b\\c\n\r\t\u{0}\u{1b}\u{7f}\u{2028}é😀");
        });
        assert_eq!(text, r#"{"s":"a\"b\\c\n\r\t\u0000\u001b\u007f\u2028é😀"}"#);
        let forged = object(|o| {
            o.text("t", b"x\",\"admin\":true,\"y\":\"\xff");
        });
        assert_eq!(forged, r#"{"t":"x\",\"admin\":true,\"y\":\"�"}"#);
    }
}
