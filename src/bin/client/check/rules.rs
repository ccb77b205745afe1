//! The cases about frames a server must refuse: one unmasked (§5.1), one
//! with a reserved bit set (§5.2), one with a reserved opcode (§5.2), and
//! a text message that is not UTF-8 (§8.1). Each must fail the connection
//! (§7.1.7) with the code §7.4.1 gives it: 1002, or 1007 for the text.

use super::judge::must_close;
use super::{case, Area, Case, Ctx, Outcome};
use crate::frames::{raw_frame, MASK};

pub fn cases() -> Vec<Case> {
    let case =
        |name, section, rule, run: fn(&Ctx) -> Outcome| case(Area::Rules, name, section, rule, run);
    vec![
        case(
            "unmasked-frame",
            "§5.1",
            "a client frame without a mask fails the connection with 1002",
            |ctx| refused(ctx, raw_frame(0x81, b"Hello, server", None), 1002),
        ),
        case(
            "rsv-bits",
            "§5.2",
            "a frame with RSV1 set, no extension agreed, fails the connection with 1002",
            |ctx| {
                refused(
                    ctx,
                    raw_frame(0x80 | 0x40 | 0x1, b"Hello, server", Some(MASK)),
                    1002,
                )
            },
        ),
        case(
            "opcode-0x3",
            "§5.2",
            "a frame with the reserved data opcode 0x3 fails the connection with 1002",
            |ctx| {
                refused(
                    ctx,
                    raw_frame(0x80 | 0x3, b"Hello, server", Some(MASK)),
                    1002,
                )
            },
        ),
        case(
            "opcode-0xb",
            "§5.2",
            "a frame with the reserved control opcode 0xB fails the connection with 1002",
            |ctx| {
                refused(
                    ctx,
                    raw_frame(0x80 | 0xB, b"Hello, server", Some(MASK)),
                    1002,
                )
            },
        ),
        case(
            "invalid-utf8",
            "§8.1",
            "a text message that is not UTF-8 fails the connection with 1007",
            // `c3` begins a two-byte character; `28` cannot continue it.
            |ctx| refused(ctx, raw_frame(0x81, b"Hello, \xc3\x28", Some(MASK)), 1007),
        ),
    ]
}

/// Send `frame`, which breaks a rule: the connection must fail with `code`.
fn refused(ctx: &Ctx, frame: Vec<u8>, code: u16) -> Outcome {
    let mut session = ctx.websocket()?;
    session.send(&frame);
    Ok(must_close(&mut session, ctx, code, None))
}
