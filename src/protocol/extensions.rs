//! `Sec-WebSocket-Extensions`: the one extension this server speaks,
//! permessage-deflate (RFC 7692), offered by every browser in every
//! handshake and agreed here only with `--deflate`.
//!
//! The header is a list of offers (RFC 6455 §9.1), best first, possibly
//! over several header lines:
//!
//! ```text
//! Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits,
//!                           permessage-deflate
//! ```
//!
//! Each offer is a name and parameters, a parameter a token with or without
//! a value, and a value a token or a quoted string. We take the first
//! permessage-deflate offer we can honour (§5), and answer with what then
//! holds. An offer we cannot honour is declined, never refused: the
//! connection then goes on without compression, and the answer names no
//! extension (a client fails the connection if it names one it did not
//! offer: RFC 6455 §4.1).
//!
//! The server keeps no compression state between messages in either
//! direction: it always answers `server_no_context_takeover` and
//! `client_no_context_takeover` (§7.1.1.1, §7.1.1.2 allow a server to ask
//! both). So an idle connection keeps no window, and each message is
//! inflated and deflated on its own.

use crate::protocol::close::Violation;
use crate::protocol::deflate::deflate;
use crate::protocol::http;
use crate::protocol::inflate::{self, End, InflateError};

/// What was agreed for permessage-deflate (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deflate {
    /// `server_max_window_bits` (§7.1.2.1): our back-references reach at
    /// most 2^bits bytes back. 15 (32 KiB) unless the client asked less.
    pub server_window_bits: u8,
    /// Whether the answer names `server_max_window_bits`: when the client's
    /// offer did. (§7.1.2.1 lets a server name it unasked too; our window
    /// is then the default 15, and naming it would add nothing.)
    pub answer_window_bits: bool,
}

/// The extension's name (RFC 7692 §7).
const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// One offer: the extension's name and its parameters, values unquoted.
#[derive(Debug, PartialEq, Eq)]
struct Offer {
    name: String,
    params: Vec<(String, Option<String>)>,
}

/// The permessage-deflate we agree to for the offers in `values` (every
/// `Sec-WebSocket-Extensions` line, in order), or `None`: no offer was one
/// we can honour, or there was none.
pub fn negotiate<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Deflate> {
    let offers = values.into_iter().flat_map(parse_offers);
    offers
        .filter(|offer| offer.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|offer| accept(&offer.params))
}

/// The answer's header value for what was agreed (§7.1): both context
/// takeovers off, and the server's window when the client named one.
pub fn answer(deflate: &Deflate) -> String {
    let mut value =
        format!("{PERMESSAGE_DEFLATE}; server_no_context_takeover; client_no_context_takeover");
    if deflate.answer_window_bits {
        value += &format!("; server_max_window_bits={}", deflate.server_window_bits);
    }
    value
}

/// RFC 7692 §7.2.1 leaves the tail of a sync flush off every compressed
/// message; §7.2.2 has the receiver put it back.
const SYNC_FLUSH_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Below this many bytes a message goes out as it is (RSV1 clear, which
/// §6 allows for any message). DEFLATE's fixed codes spend 8 or 9 bits on
/// most bytes, and a back-reference needs a repeat of 3 bytes or more: a
/// short message seldom has enough repeats to win back the block's
/// 10 bits of header and end, and trying costs a hash table's setup.
pub(crate) const COMPRESS_FROM: usize = 64;

/// A message's payload compressed (§7.2.1): DEFLATE within the window the
/// client allowed, its sync flush tail removed. `None` when it would not be
/// smaller: then it is sent as it is.
pub(crate) fn compress(payload: &[u8], agreed: &Deflate) -> Option<Vec<u8>> {
    if payload.len() < COMPRESS_FROM {
        return None;
    }
    let mut out = Vec::new();
    deflate(payload, agreed.server_window_bits, &mut out);
    // The encoder ends with an empty stored block, not final: the tail.
    debug_assert!(out.ends_with(&SYNC_FLUSH_TAIL));
    out.truncate(out.len() - SYNC_FLUSH_TAIL.len());
    (out.len() < payload.len()).then_some(out)
}

/// A compressed message, whole, inflated (§7.2.2): "Append 4 octets of
/// 0x00 0x00 0xff 0xff to the tail end of the payload", then inflate, to
/// at most `limit` bytes: a small message that would inflate to gigabytes
/// stops there, and fails with 1009 (RFC 6455 §10.4).
pub(crate) fn decompress(compressed: &[u8], limit: usize) -> Result<Vec<u8>, Violation> {
    // An empty payload with RSV1 set: zlib-based peers send it for an
    // empty message (it is the tail alone), and read it so.
    if compressed.is_empty() {
        return Ok(Vec::new());
    }
    let mut input = Vec::with_capacity(compressed.len() + SYNC_FLUSH_TAIL.len());
    input.extend_from_slice(compressed);
    input.extend_from_slice(&SYNC_FLUSH_TAIL);
    let mut out = Vec::new();
    let inflated = inflate::inflate(&input, &mut out, limit).map_err(|e| match e {
        InflateError::TooBig { limit } => Violation::MessageTooBig { limit },
        other => Violation::BadCompression(other),
    })?;
    // §7.2.3.4 lets a sender end with a final block instead, which leaves
    // the tail unread: its example ends `07 00 00`, the final block done
    // in the `07 00`, then one `00` begun of an empty stored block. More
    // than that after a final block is not this message's DEFLATE.
    let after = compressed.get(inflated.used..).unwrap_or_default();
    if inflated.end == End::Final && !matches!(after, [] | [0x00]) {
        return Err(Violation::BadCompression(InflateError::Truncated));
    }
    Ok(out)
}

/// One offer's parameters judged (§7): `None` declines it. §7: "A
/// server MUST decline an extension negotiation offer for this extension
/// if ... the negotiation offer contains an extension parameter not
/// defined for use in an offer ... with an invalid value ... multiple
/// extension parameters with the same name".
fn accept(params: &[(String, Option<String>)]) -> Option<Deflate> {
    let mut deflate = Deflate {
        server_window_bits: 15,
        answer_window_bits: false,
    };
    for (i, (name, value)) in params.iter().enumerate() {
        if params[..i].iter().any(|(other, _)| other == name) {
            return None;
        }
        match (name.as_str(), value.as_deref()) {
            // §7.1.1.1 and §7.1.1.2: hints without a value. We answer both
            // whether or not they were offered.
            ("server_no_context_takeover" | "client_no_context_takeover", None) => {}
            // §7.1.2.1: in an offer, it always has a value, 8 to 15.
            ("server_max_window_bits", Some(bits)) => {
                deflate.server_window_bits = window_bits(bits)?;
                deflate.answer_window_bits = true;
            }
            // §7.1.2.2: in an offer, a value is optional. We inflate with
            // the largest window whatever it says, so any valid one is fine.
            ("client_max_window_bits", None) => {}
            ("client_max_window_bits", Some(bits)) => {
                window_bits(bits)?;
            }
            _ => return None,
        }
    }
    Some(deflate)
}

/// §7.1.2.1: a decimal integer from 8 to 15, with no leading zero
/// (`1*DIGIT`).
fn window_bits(text: &str) -> Option<u8> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let bits: u8 = text
        .parse()
        .ok()
        .filter(|_| digits && !text.starts_with('0'))?;
    (8..=15).contains(&bits).then_some(bits)
}

/// RFC 6455 §9.1's grammar over one header value:
///
/// ```text
/// extension-list  = 1#extension
/// extension       = extension-token *( ";" extension-param )
/// extension-param = token [ "=" (token | quoted-string) ]
/// ```
///
/// An offer that breaks it is left out; a value whose quotes do not close
/// cannot be cut into offers at all, and gives none.
fn parse_offers(value: &str) -> Vec<Offer> {
    let parts = split_outside_quotes(value, ',').unwrap_or_default();
    // RFC 9110 §5.6.1: a recipient accepts empty list elements (`a, , b`).
    let parts = parts.into_iter().filter(|part| !part.trim().is_empty());
    parts.filter_map(parse_offer).collect()
}

/// `name; param; param=value`, or `None` if it breaks the grammar.
fn parse_offer(text: &str) -> Option<Offer> {
    let mut pieces = split_outside_quotes(text, ';')?.into_iter();
    let name = token(pieces.next()?.trim())?.to_string();
    let params = pieces.map(param).collect::<Option<Vec<_>>>()?;
    Some(Offer { name, params })
}

/// `name` or `name=value` or `name="value"`, the value unquoted.
fn param(text: &str) -> Option<(String, Option<String>)> {
    let (name, value) = match text.split_once('=') {
        Some((name, value)) => (name.trim(), Some(value.trim())),
        None => (text.trim(), None),
    };
    let value = match value {
        None => None,
        Some(quoted) if quoted.starts_with('"') => Some(unquote(quoted)?),
        Some(plain) => Some(token(plain)?.to_string()),
    };
    Some((token(name)?.to_string(), value))
}

/// `text`, if it is a token (RFC 9110 §5.6.2, as HTTP reads one).
fn token(text: &str) -> Option<&str> {
    http::is_token(text).then_some(text)
}

/// RFC 9110 §5.6.4: `"..."` with `\` escaping the next character. RFC
/// 6455 §9.1 adds that the unquoted value must itself be a token.
fn unquote(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    token(&out)?;
    Some(out)
}

/// `text` cut at each `separator` that is not inside a quoted string;
/// `None` if a quote is left open.
fn split_outside_quotes(text: &str, separator: char) -> Option<Vec<&str>> {
    let (mut pieces, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                pieces.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return None;
    }
    pieces.push(&text[start..]);
    Some(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreed(values: &[&str]) -> Option<Deflate> {
        negotiate(values.iter().copied())
    }

    const PLAIN: Deflate = Deflate {
        server_window_bits: 15,
        answer_window_bits: false,
    };

    #[test]
    fn the_rfc_examples_of_a_compressed_hello_inflate() {
        // RFC 7692 §7.2.3.1 (one stored-free block, sync flush tail cut)
        // and §7.2.3.4 (a final block, then one more byte).
        for payload in [
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00][..],
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        ] {
            assert_eq!(
                decompress(payload, 100),
                Ok(b"Hello".to_vec()),
                "{payload:02x?}"
            );
        }
        // An empty payload is an empty message, as zlib's peers read it.
        assert_eq!(decompress(&[], 100), Ok(Vec::new()));
        // After a final block, anything more is not this message's.
        let extra = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x01];
        assert!(decompress(&extra, 100).is_err());
        // And ours makes what §7.2.3.1 shows.
        let agreed = Deflate {
            server_window_bits: 15,
            answer_window_bits: false,
        };
        let long = b"Hello".repeat(20);
        assert_eq!(
            decompress(&compress(&long, &agreed).unwrap(), 1000),
            Ok(long)
        );
    }

    #[test]
    fn what_the_browsers_offer_is_agreed() {
        // Chromium and Firefox, as they send it.
        assert_eq!(
            agreed(&["permessage-deflate; client_max_window_bits"]),
            Some(PLAIN)
        );
        assert_eq!(agreed(&["permessage-deflate"]), Some(PLAIN));
        assert_eq!(
            answer(&PLAIN),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
    }

    #[test]
    fn the_servers_window_is_honoured_and_named_in_the_answer() {
        // §7.1.2.1: the client asks our back-references to stay within 2^10.
        let deflate = agreed(&["permessage-deflate; server_max_window_bits=10"]).unwrap();
        assert_eq!(deflate.server_window_bits, 10);
        assert!(answer(&deflate).ends_with("; server_max_window_bits=10"));
        // A quoted value is the same value (RFC 6455 §9.1).
        let quoted = agreed(&["permessage-deflate; server_max_window_bits=\"10\""]);
        assert_eq!(quoted, Some(deflate));
    }

    #[test]
    fn every_parameter_and_window_size_of_an_offer_is_accepted() {
        for bits in 8..=15 {
            let offer = format!(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits={bits}; client_max_window_bits={bits}"
            );
            let deflate = agreed(&[&offer]).unwrap_or_else(|| panic!("{offer}"));
            assert_eq!(deflate.server_window_bits, bits);
        }
    }

    #[test]
    fn an_offer_that_breaks_a_rule_is_declined_and_the_next_one_taken() {
        // §7.1: each of these declines its offer, and only its offer.
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; unknown_parameter",
        ] {
            assert_eq!(agreed(&[bad]), None, "{bad}");
            let then_plain = format!("{bad}, permessage-deflate");
            assert_eq!(agreed(&[&then_plain]), Some(PLAIN), "{then_plain}");
        }
    }

    #[test]
    fn offers_over_several_lines_are_one_list_in_order() {
        let lines = [
            "x-webkit-deflate-frame",
            "permessage-deflate; server_max_window_bits=9",
        ];
        assert_eq!(agreed(&lines).map(|d| d.server_window_bits), Some(9));
        assert_eq!(agreed(&["x-unknown; a=1"]), None);
        assert_eq!(agreed(&[]), None);
    }

    #[test]
    fn a_separator_inside_quotes_cuts_nothing() {
        // §9.1: a quoted value, once unquoted, must be a token: `a,b;c` is
        // not, so that offer is left out; the comma in it did not cut the
        // list, so the next offer is still whole.
        let value = "foo; bar=\"a,b;c\", permessage-deflate; client_max_window_bits";
        let offers = parse_offers(value);
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].name, "permessage-deflate");
        let escaped = parse_offers("x; y=\"1\\5\"");
        assert_eq!(
            escaped[0].params,
            [("y".to_string(), Some("15".to_string()))]
        );
        // A quote that never closes: nothing can be cut, nothing is offered.
        assert!(parse_offers("permessage-deflate, x; y=\"open").is_empty());
    }

    #[test]
    fn an_offer_that_breaks_the_grammar_is_left_out() {
        for broken in [
            "permessage-deflate; =1",
            "permessage-deflate; a b",
            "; permessage-deflate",
        ] {
            assert_eq!(agreed(&[broken]), None, "{broken}");
        }
        // A broken offer does not spoil the next one, on its line or another.
        assert_eq!(agreed(&["a b c, permessage-deflate"]), Some(PLAIN));
        assert_eq!(agreed(&["a b c", "permessage-deflate"]), Some(PLAIN));
    }
}
