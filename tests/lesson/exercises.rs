//! The exercises of `docs/lessons.md` section 4: each fails until the
//! learner has changed `src/bin/lesson.rs` as the exercise asks, and then
//! passes. They are `#[ignore]`d so that `make test` does not run them:
//! `cargo test --test lesson exercise_binary -- --ignored` checks one.

use crate::common::{frame, masked_frame, BINARY, CONTINUATION, PING, PONG, TEXT};
use crate::{entered, Lesson};

#[test]
#[ignore = "exercise 1 of docs/lessons.md: answer binary messages"]
fn exercise_binary() {
    let lesson = Lesson::start("");
    let mut client = lesson.client();
    client.send(&frame(BINARY, &[0, 1, 2, 250, 251]));
    let answer = client.read_frame();
    // §5.6: a binary frame's payload is bytes, not text; the answer is
    // binary too.
    assert_eq!(
        answer.opcode, BINARY,
        "the answer must be binary: {answer:?}"
    );
    assert_eq!(answer.payload, b"You sent 5 bytes");
    // And text still gets the tutorial's reply.
    client.send_text("Hello");
    assert_eq!(client.read_frame().payload, entered(b"Hello"));
}

#[test]
#[ignore = "exercise 2 of docs/lessons.md: refuse a frame that is too big"]
fn exercise_too_big() {
    let lesson = Lesson::start("");
    let mut client = lesson.client();
    // A header that declares 2 MiB, its mask, and no payload: §10.4 lets a
    // server refuse it at once, with 1009 (§7.4.1), before the payload
    // comes. A lesson that waits for the payload fails this test when the
    // client gives up waiting.
    let mut header = vec![0x81, 0x80 | 127];
    header.extend((2u64 << 20).to_be_bytes());
    header.extend([1, 2, 3, 4]);
    client.send(&header);
    assert_eq!(client.expect_close(), Some(1009));
    client.expect_eof();
    // 1 MiB itself is still allowed.
    let mut client = lesson.client();
    client.send(&frame(TEXT, &vec![b'a'; 1 << 20]));
    assert_eq!(client.read_frame().payload.len(), (1 << 20) + 18);
}

#[test]
#[ignore = "exercise 3 of docs/lessons.md: join fragments"]
fn exercise_fragments() {
    let lesson = Lesson::start("");
    let mut client = lesson.client();
    let mask = [5, 6, 7, 8];
    // §5.4: a first frame with FIN clear, a ping between the pieces
    // (§5.5: control frames may be injected), then the last piece.
    client.send(&masked_frame(TEXT, b"Hel", mask));
    client.send(&frame(PING, b"still there?"));
    let pong = client.read_frame();
    assert_eq!(
        (pong.opcode, pong.payload),
        (PONG, b"still there?".to_vec())
    );
    client.send(&masked_frame(CONTINUATION, b"l", mask));
    client.send(&masked_frame(0x80 | CONTINUATION, b"o", mask));
    assert_eq!(client.read_frame().payload, entered(b"Hello"));
    // A continuation with nothing to continue breaks §5.4: 1002.
    client.send(&frame(CONTINUATION, b"?"));
    assert_eq!(client.expect_close(), Some(1002));
}

#[test]
#[ignore = "exercise 4 of docs/lessons.md: check UTF-8"]
fn exercise_utf8() {
    let lesson = Lesson::start("");
    let mut client = lesson.client();
    // "é" is c3 a9 in UTF-8, and is still answered.
    client.send(&frame(TEXT, "café".as_bytes()));
    assert_eq!(client.read_frame().payload, entered("café".as_bytes()));
    // c3 28 is no character at all: §8.1, fail with 1007 (§7.4.1).
    client.send(&frame(TEXT, &[b'a', 0xc3, 0x28]));
    assert_eq!(client.expect_close(), Some(1007));
}
