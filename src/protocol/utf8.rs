//! Checking text that arrives in pieces (RFC 6455 §5.6, §8.1).
//!
//! A text message may be split over many frames, and a frame over many reads,
//! and a piece may end in the middle of a multi-byte character. The RFC lets
//! an endpoint fail at the end of the message, but the strict (and kinder)
//! behaviour is to fail as soon as the bytes so far cannot start any valid
//! UTF-8 text, so that is what we do.
//!
//! std does the hard part: `std::str::from_utf8` reports an error either as
//! "these bytes are wrong" (`error_len() == Some(_)`) or as "the input stops
//! in the middle of a character" (`error_len() == None`). Only the first kind
//! is a failure while more bytes may still come.

/// How far into a message's bytes we know the text is valid.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Utf8Check {
    /// Bytes `..checked` are complete, valid characters.
    checked: usize,
}

/// The bytes cannot be the start of valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Check {
    /// Check what was appended to `text` since the last call. `text` is the
    /// whole message so far, so a character cut in two by a frame or read
    /// boundary is checked again, whole, next time.
    pub(crate) fn feed(&mut self, text: &[u8]) -> Result<(), InvalidUtf8> {
        match std::str::from_utf8(&text[self.checked..]) {
            Ok(_) => {
                self.checked = text.len();
                Ok(())
            }
            // Cut short: the valid part is done; the tail waits for more bytes.
            Err(e) if e.error_len().is_none() => {
                self.checked += e.valid_up_to();
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// The message is complete: turn it into a `String`, using up the
    /// checker (its work is done; it keeps no state worth reusing). A character still
    /// cut short is an error. (`String::from_utf8` checks all of the text
    /// once more: the only way to skip that would be `unsafe`, and the check
    /// runs at gigabytes a second.)
    pub fn finish(self, text: Vec<u8>) -> Result<String, InvalidUtf8> {
        String::from_utf8(text).map_err(|_| InvalidUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `bytes` one byte at a time; return how many bytes were fed when
    /// the check failed, or `None` if every prefix was acceptable.
    fn fails_at(bytes: &[u8]) -> Option<usize> {
        let mut check = Utf8Check::default();
        (1..=bytes.len()).find(|&n| check.feed(&bytes[..n]).is_err())
    }

    #[test]
    fn valid_text_in_any_split() {
        let text = "κόσμε, hello, 𝄞, €".as_bytes();
        assert_eq!(fails_at(text), None);
        for cut in 0..=text.len() {
            let mut check = Utf8Check::default();
            check.feed(&text[..cut]).unwrap();
            check.feed(text).unwrap();
            assert_eq!(check.finish(text.to_vec()).unwrap().as_bytes(), text);
        }
    }

    #[test]
    fn fails_fast_at_the_first_impossible_byte() {
        // "κόσμε" then 0xED 0xA0 0x80 (a UTF-16 surrogate, never valid UTF-8):
        // the 0xA0 after 0xED already rules it out.
        let mut bytes = "κόσμε".as_bytes().to_vec();
        let start = bytes.len();
        bytes.extend_from_slice(&[0xED, 0xA0, 0x80, b'e', b'd', b'i', b't', b'e', b'd']);
        assert_eq!(fails_at(&bytes), Some(start + 2));
        // Above U+10FFFF: 0xF4 0x90 is impossible at the second byte.
        assert_eq!(fails_at(&[b'a', 0xF4, 0x90, 0x80, 0x80]), Some(3));
        // An overlong form: 0xC0 can never start a character.
        assert_eq!(fails_at(&[0xC0, 0xAF]), Some(1));
        // A lone continuation byte.
        assert_eq!(fails_at(&[b'a', 0x80]), Some(2));
    }

    #[test]
    fn a_character_cut_short_at_the_end_fails_on_finish() {
        let bytes = [b'a', 0xE2, 0x82];
        let mut check = Utf8Check::default();
        check.feed(&bytes).unwrap();
        assert_eq!(check.finish(bytes.to_vec()), Err(InvalidUtf8));
    }
}
