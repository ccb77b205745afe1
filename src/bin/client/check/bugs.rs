//! The PHP tutorial's bugs a client can see (`docs/php-to-rust.md`, B1 to
//! B22), each named only where the evidence shows it: a failure is said
//! to look like one when what came back is what that bug makes, not when
//! it merely could be. Two need the bytes looked at, and are here:
//! lengths in the wrong byte order (B16), and two frames read as one or
//! one frame answered before it was whole (B14).
//! The others are named where a case sees them.

use crate::shown::hex;

/// One of the original's bugs: its id in `docs/php-to-rust.md`, and
/// what it does, in a few words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bug {
    pub id: &'static str,
    pub what: &'static str,
}

/// After its first client, the PHP answered no handshake again.
pub const B4: Bug = Bug {
    id: "B4",
    what: "only ever one client: after the first, no handshake is answered",
};
/// After its first reply, the PHP closed its listening socket.
pub const B6: Bug = Bug {
    id: "B6",
    what: "after its first answer the listening socket is closed, not the client's",
};
/// The PHP took one read for one whole request.
pub const B8: Bug = Bug {
    id: "B8",
    what: "one read taken for one whole request",
};
/// The PHP wrote nothing when it refused a handshake.
pub const B11: Bug = Bug {
    id: "B11",
    what: "a refused handshake gets no answer at all",
};
/// The PHP took one read for one whole frame, and every frame for text.
pub const B14: Bug = Bug {
    id: "B14",
    what: "one read taken for one frame, and every frame for a text message",
};
/// The PHP wrote a 16-bit length in the machine's byte order, and a
/// 64-bit one in 32 bits.
pub const B16: Bug = Bug {
    id: "B16",
    what: "frame lengths in the wrong byte order (16 bits) or too short (32 bits for 64)",
};

/// B16's evidence, in words, if `pending` (bytes that came and make no
/// whole frame) show it: a 16-bit length that, its two bytes swapped, is
/// exactly the bytes that came after it; or 127 followed by a 32-bit
/// length, where §5.2 wants 64 bits, that is exactly the bytes after it.
pub fn swapped_length(pending: &[u8]) -> Option<String> {
    match pending {
        [_, 126, high, low, rest @ ..] => {
            let declared = u16::from_be_bytes([*high, *low]);
            let swapped = usize::from(u16::from_le_bytes([*high, *low]));
            (swapped >= 126 && swapped == rest.len()).then(|| {
                format!(
                    "the header says 126, then {high:02x} {low:02x}: {declared} bytes; \
                     {swapped} came, which is {low:02x} {high:02x}: the length's two bytes \
                     the wrong way round (§5.2: network byte order, the high byte first)"
                )
            })
        }
        [_, 127, a, b, c, d, rest @ ..] => {
            let short = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
            (short > 0xFFFF && short == rest.len()).then(|| {
                format!(
                    "the header says 127, then {}: its first four bytes are {short}, exactly \
                     the bytes that came after them: a 32-bit length where §5.2 wants 64 bits",
                    hex(&pending[2..10])
                )
            })
        }
        _ => None,
    }
}

/// B14's evidence: one answer to two messages sent in one write that
/// begins as the answer to one of them and goes on (the second frame,
/// header and all, taken as more of the first's payload).
pub fn merged(one_answer: &[u8], got: &[u8]) -> bool {
    got.len() > one_answer.len() && got.starts_with(one_answer)
}

/// B14's other face: an answer that is only the start of the answer the
/// same message gets in one piece: the server answered a frame before all
/// of it had come.
pub fn cut_short(whole_answer: &[u8], got: &[u8]) -> bool {
    got.len() < whole_answer.len() && whole_answer.starts_with(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swapped_16_bit_length_is_b16_and_a_short_frame_is_not() {
        // 143 bytes announced as 8f 00 (36,608): the lesson's B16.
        let mut frame = vec![0x81, 126, 0x8f, 0x00];
        frame.extend([b'a'; 143]);
        assert!(swapped_length(&frame)
            .unwrap()
            .contains("8f 00: 36608 bytes; 143 came"));
        // A right length whose frame is merely cut short.
        let mut cut = vec![0x81, 126, 0x00, 0x8f];
        cut.extend([b'a'; 100]);
        assert_eq!(swapped_length(&cut), None);
    }

    #[test]
    fn a_32_bit_length_after_127_is_b16() {
        let mut frame = vec![0x81, 127, 0x00, 0x01, 0x00, 0x11];
        frame.extend([b'a'; 65553]);
        assert!(swapped_length(&frame).unwrap().contains("are 65553"));
        frame.push(b'a');
        assert_eq!(swapped_length(&frame), None);
    }

    #[test]
    fn an_answer_that_goes_on_is_merged() {
        assert!(merged(b"Hello", b"Hello\x81\x85"));
        assert!(!merged(b"Hello", b"Hello"));
        assert!(!merged(b"Hello", b"Help me"));
    }

    #[test]
    fn an_answer_that_stops_early_is_cut_short() {
        assert!(cut_short(b"You have entered: Hello", b"You have entered: "));
        assert!(!cut_short(b"Hello", b"Hello"));
        assert!(!cut_short(b"Hello", b"Jello"));
    }
}
