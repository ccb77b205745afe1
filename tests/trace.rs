//! `--trace`: every byte of a connection, dissected in the log.
//!
//! The golden test pins, byte for byte, the trace of RFC 6455 §5.7's own
//! example: the tutorial's handshake, a masked "Hello" from the client, and
//! the unmasked "Hello" a server sends back. The other tests check that the
//! trace is off by default, and that nothing a peer sends can break the
//! layout of a block or forge a log line.

mod common;

use common::*;

/// The log's trace blocks, as a learner reads them: each record's
/// `[time TRACE socket_server::trace] ` prefix left out, and each client id
/// written `[ID]`. Other records are left out.
pub fn trace_of(log: &str) -> String {
    let mut out = String::new();
    let mut in_trace = false;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix('[') {
            // A new record: keep it if it is a trace block.
            let prefix_end = rest.find("] ").map_or(0, |at| at + 2);
            in_trace = rest[..prefix_end].contains(" TRACE socket_server::trace]");
            if in_trace {
                out.push_str(&without_id(&rest[prefix_end..]));
                out.push('\n');
            }
        } else if in_trace {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `[6b0639c7b1dc2] rest` -> `[ID] rest`.
fn without_id(line: &str) -> String {
    match line.get(..15) {
        Some(id) if id.starts_with('[') && id.ends_with(']') => format!("[ID]{}", &line[15..]),
        _ => line.to_owned(),
    }
}

const GOLDEN: &str = r#"[ID] request head, 221 bytes:
    GET /mychat HTTP/1.1\r\n
    Host: server.example.com\r\n
    Upgrade: websocket\r\n
    Connection: Upgrade\r\n
    Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n
    Sec-WebSocket-Protocol: chat\r\n
    Sec-WebSocket-Version: 13\r\n
    Origin: http://example.com\r\n
    \r\n
[ID] Sec-WebSocket-Accept, worked out (RFC 6455 §4.2.2):
    key + GUID: x3JJHMbDL1EzLkh9GBhXDw==258EAFA5-E914-47DA-95CA-C5AB0DC85B11
    SHA-1:      1d29ab734b0c9585240069a6e4e3e91b61da1969
    base64:     HSmrc0sMlYUkAGmm5OPpG2HaGWk=
[ID] response, 159 bytes:
    HTTP/1.1 101 Switching Protocols\r\n
    Upgrade: websocket\r\n
    Connection: Upgrade\r\n
    Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n
    Sec-WebSocket-Protocol: chat\r\n
    \r\n
[ID] frame in, 11 bytes: 81 85 37 fa 21 3d 7f 9f 4d 51 58
    +-+-+-+-+-------+-+-------------+
    |F|R|R|R| opcode|M| Payload len |
    |I|S|S|S|  (4)  |A|     (7)     |
    |N|V|V|V|       |S|             |
    | |1|2|3|       |K|             |
    +-+-+-+-+-------+-+-------------+
    |1|0|0|0|  0x1  |1|      5      |
    +-+-+-+-+-------+-+-------------+
    FIN 1: the last frame of its message
    opcode 0x1: text
    MASK 1: masking key 37 fa 21 3d
    payload length 5, in the 7-bit form
    payload as sent: 7f 9f 4d 51 58
    unmasked:        48 65 6c 6c 6f
    text: "Hello"
[ID] frame out, 7 bytes: 81 05 48 65 6c 6c 6f
    +-+-+-+-+-------+-+-------------+
    |F|R|R|R| opcode|M| Payload len |
    |I|S|S|S|  (4)  |A|     (7)     |
    |N|V|V|V|       |S|             |
    | |1|2|3|       |K|             |
    +-+-+-+-+-------+-+-------------+
    |1|0|0|0|  0x1  |0|      5      |
    +-+-+-+-+-------+-+-------------+
    FIN 1: the last frame of its message
    opcode 0x1: text
    MASK 0: not masked (a server never masks, §5.1)
    payload length 5, in the 7-bit form
    payload: 48 65 6c 6c 6f
    text: "Hello"
"#;

/// Would fail on any change to what the trace shows of this exchange: a
/// byte of the request or response, a step of the accept key, a field of
/// either frame, or the layout.
#[test]
fn the_rfc_hello_exchange_is_traced_byte_for_byte() {
    let server = Server::echo(&[
        "--trace",
        "--allowed-host",
        "server.example.com",
        "--allowed-origin",
        "http://example.com",
    ]);
    let mut client = Client::raw(server.connect());
    let head = client.handshake(TUTORIAL_REQUEST);
    assert!(head.contains("HSmrc0sMlYUkAGmm5OPpG2HaGWk="), "{head}");
    client.send(&MASKED_HELLO);
    // §5.7: "A single-frame unmasked text message", what we send back.
    let echo = client.read_frame();
    assert_eq!(
        (echo.opcode, echo.payload.as_slice()),
        (TEXT, &b"Hello"[..])
    );
    assert!(server.wait_for_log("frame out, 7 bytes"));
    assert_eq!(trace_of(&server.log()), GOLDEN);
}

/// The trace and the log tell one story: a frame's block comes before the
/// line about what it did, and the frames that line led to come after it.
/// Would fail if the log lines were written after the frames of the same
/// event (the peer's close in, our echo out, then "closed by client"), or
/// the failure's line after the close frame it sends.
#[test]
fn each_log_line_stands_between_the_frames_it_follows_and_those_it_causes() {
    let server = Server::echo(&["--trace"]);
    let mut client = server.client();
    client.send_close(1000);
    assert_eq!(client.expect_close(), Some(1000));
    client.expect_eof();
    // §5.1: a frame that is not masked.
    let mut rude = server.client();
    rude.send(&[0x81, 0x02, b'h', b'i']);
    assert_eq!(rude.expect_close(), Some(1002));
    assert!(wait_until(|| count(&server.log(), "disconnected") == 2));
    let log = server.log();
    let at = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in {log}"))
    };
    let close_in = at("frame in, 8 bytes");
    let closed = at("closed by client: code 1000");
    let echo_out = at("frame out, 4 bytes");
    assert!(close_in < closed && closed < echo_out, "{log}");
    let fails = at("] the connection fails: a client frame is not masked");
    let failure_block = at("the connection fails: a client frame is not masked (unread:");
    let close_out = log[failure_block..]
        .find("frame out")
        .expect("the close frame")
        + failure_block;
    assert!(fails < failure_block && failure_block < close_out, "{log}");
}

/// Without `--trace`, not a line of it, even with `RUST_LOG=trace`: the
/// blocks are not even formatted. Would fail if tracing were on by default
/// or followed `RUST_LOG`.
#[test]
fn nothing_is_traced_without_the_flag() {
    let server = Server::start_with_env(&["--mode", "echo"], &[("RUST_LOG", "trace")]);
    let mut client = server.client();
    client.send(&MASKED_HELLO);
    assert_eq!(client.read_text(), "Hello");
    client.send_close(1000);
    assert_eq!(client.expect_close(), Some(1000));
    client.expect_eof();
    drop(client);
    assert!(server.wait_for_log("disconnected"));
    let log = server.log();
    assert!(!log.contains("socket_server::trace"), "{log}");
    assert!(!log.contains("frame in"), "{log}");
}

/// A peer's text and close reason appear in the trace, escaped: a newline
/// in them cannot start a line of its own. Every line of the log is a
/// record, or a block's line indented by four spaces. Would fail if the
/// trace showed a peer's bytes raw.
#[test]
fn a_peer_cannot_forge_a_line_in_the_trace() {
    let server = Server::echo(&["--trace"]);
    let mut client = server.client();
    let forged = "ok\n[2000-01-01T00:00:00.000Z INFO  socket_server] forged\n    +-+";
    client.send_text(forged);
    assert_eq!(client.read_text(), forged);
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye\r\n[x] forged");
    client.send(&frame(CLOSE, &close));
    assert_eq!(client.expect_close(), Some(1000));
    client.expect_eof();
    drop(client);
    assert!(server.wait_for_log("disconnected"));
    let log = server.log();
    assert!(
        log.contains(
            r#"text: "ok\n[2000-01-01T00:00:00.000Z INFO  socket_server] forged\n    +-+""#
        ),
        "{log}"
    );
    assert!(log.contains(r#"reason "bye\r\n[x] forged""#), "{log}");
    for line in log.lines() {
        let record = line.starts_with("[20") && line.contains("Z ");
        assert!(record || line.starts_with("    "), "{line:?}");
        assert!(
            !line.contains("] forged") || line.contains("\\n"),
            "{line:?}"
        );
    }
}

/// The traces quoted in `docs/handshake.md`, `docs/framing.md` and
/// `docs/compression.md` are real: the scenarios below produce them, and
/// every ```trace block of those docs must appear, line for line, in what
/// the server logged (ids, and the `Date` of an error response, which
/// change every run, set aside). Would fail if the trace changed and the
/// docs did not, or the other way round.
/// To see the output: `cargo test --test trace docs -- --nocapture`.
#[test]
fn the_docs_quote_real_trace_output() {
    let mut logged = handshake_scenarios();
    logged.push_str(&framing_scenarios());
    logged.push_str(&compression_scenarios());
    let logged = without_dates(&logged);
    println!("{logged}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in [
        "docs/handshake.md",
        "docs/framing.md",
        "docs/compression.md",
    ] {
        let text = std::fs::read_to_string(root.join(doc)).expect(doc);
        let blocks = trace_blocks(&text);
        assert!(!blocks.is_empty(), "{doc} quotes no trace");
        for block in blocks {
            let block =
                without_dates(&block.lines().map(without_id).collect::<Vec<_>>().join("\n"));
            assert!(
                logged.contains(&block),
                "{doc} quotes a trace the server no longer writes:\n{block}\n\n\
                 What it writes now:\n{logged}"
            );
        }
    }
}

/// The ```trace blocks of a Markdown text.
fn trace_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("```trace\n") {
        let body = &rest[start + 9..];
        let end = body.find("\n```").expect("an unclosed ```trace block");
        blocks.push(body[..end + 1].to_owned());
        rest = &body[end..];
    }
    blocks
}

/// `Date: Thu, 03 Dec 2026 13:11:16 GMT\r\n` -> `Date: (the date)\r\n`.
fn without_dates(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("Date: ") {
            Some(at) if line.ends_with(" GMT\\r\\n") => {
                format!("{}Date: (the date)\\r\\n", &line[..at])
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The tutorial's handshake, in tutorial mode; then a client that speaks
/// version 12 of the protocol.
fn handshake_scenarios() -> String {
    let server = Server::start(&[
        "--trace",
        "--allowed-host",
        "server.example.com",
        "--allowed-origin",
        "http://example.com",
    ]);
    let mut client = Client::raw(server.connect());
    client.handshake(TUTORIAL_REQUEST);
    let old = TUTORIAL_REQUEST.replace("Version: 13", "Version: 12");
    let refused = server.http(&old);
    assert_eq!(refused.status, 426);
    client.send_close(1000);
    client.expect_close();
    client.expect_eof();
    drop(client);
    assert!(wait_until(|| count(&server.log(), "disconnected") == 2));
    trace_of(&server.log())
}

/// RFC 6455 §5.7's examples and the rest of `docs/framing.md`, in echo
/// mode: each message the client sends comes back as the server frames it.
fn framing_scenarios() -> String {
    let server = Server::echo(&["--trace"]);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut client = server.client();
    // A single-frame masked text message: "Hello".
    client.send(&MASKED_HELLO);
    assert_eq!(client.read_text(), "Hello");
    // 256 bytes and 64 KiB: the 16-bit and the 64-bit length forms.
    for size in [256, 65536] {
        let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
        client.send(&masked_frame(0x80 | BINARY, &payload, key));
        assert_eq!(client.read_frame().payload.len(), size);
    }
    // A fragmented text message: "Hel", then "lo", each with its own key.
    client.send(&masked_frame(TEXT, b"Hel", key));
    client.send(&masked_frame(
        0x80 | CONTINUATION,
        b"lo",
        [0x7d, 0x24, 0x9e, 0x08],
    ));
    assert_eq!(client.read_text(), "Hello");
    // A ping, and its pong.
    client.send(&masked_frame(0x80 | PING, b"Hello", key));
    assert_eq!(client.read_frame().opcode, PONG);
    // The closing handshake.
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    client.send(&masked_frame(0x80 | CLOSE, &close, key));
    assert_eq!(client.expect_close(), Some(1000));
    client.expect_eof();
    drop(client);
    // A broken rule: a frame that is not masked (§5.1).
    let mut rude = server.client();
    rude.send(&[0x81, 0x02, b'h', b'i']);
    assert_eq!(rude.expect_close(), Some(1002));
    rude.expect_eof();
    drop(rude);
    assert!(wait_until(|| count(&server.log(), "disconnected") == 2));
    trace_of(&server.log())
}

/// `docs/compression.md`'s exchange: a compressed message, echoed
/// compressed.
fn compression_scenarios() -> String {
    let server = Server::echo(&["--deflate", "--trace"]);
    compressed_echo(&server, HELLOS)
}

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|line| line.contains(needle)).count()
}

/// RFC 7692 §7.2.1: the last four bytes of a sync flush, which a sender
/// leaves off every compressed message.
const SYNC_FLUSH_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// `data` compressed as a browser compresses a message (RFC 7692 §7.2.1),
/// by a DEFLATE other than the server's (`miniz_oxide`): raw DEFLATE ended
/// by a sync flush, whose tail `00 00 ff ff` is then cut off.
fn client_compressed(data: &[u8]) -> Vec<u8> {
    use miniz_oxide::deflate::core::{
        compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
    };
    // Window bits 0: raw DEFLATE, no zlib header.
    let mut compressor = CompressorOxide::new(create_comp_flags_from_zip_params(6, 0, 0));
    let mut out = vec![0; data.len() + 64];
    let (status, used, written) = compress(&mut compressor, data, &mut out, TDEFLFlush::Sync);
    assert_eq!((status, used), (TDEFLStatus::Okay, data.len()));
    out.truncate(written);
    assert!(out.ends_with(&SYNC_FLUSH_TAIL), "{out:02x?}");
    out.truncate(written - SYNC_FLUSH_TAIL.len());
    out
}

/// What `docs/compression.md` sends: 112 bytes that compress to 17.
const HELLOS: &str = "Hello, Hello, Hello, Hello! Hello, Hello, Hello, Hello! \
                      Hello, Hello, Hello, Hello! Hello, Hello, Hello, Hello! ";

/// A client that agreed to permessage-deflate sends `text` compressed, in
/// one frame masked with RFC 6455 §5.7's key, and the echo comes back: the
/// trace of both, once the echo is out.
fn compressed_echo(server: &Server, text: &str) -> String {
    let mut client = Client::raw(server.connect());
    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let head = client.handshake(&handshake_request(server.addr, offer));
    assert!(head.contains("permessage-deflate"), "{head}");
    let payload = client_compressed(text.as_bytes());
    // FIN, RSV1 ("Per-Message Compressed", RFC 7692 §6), text.
    client.send(&masked_frame(0xc1, &payload, [0x37, 0xfa, 0x21, 0x3d]));
    assert!(server.wait_for_log("frame out"), "{}", server.log());
    client.send_close(1000);
    assert!(server.wait_for_log("disconnected"), "{}", server.log());
    trace_of(&server.log())
}

/// A compressed message's trace shows, both ways, RSV1, the compressed
/// bytes, the DEFLATE blocks with their first symbols, and the text they
/// inflate to: the incoming one on its last frame, before the echo it
/// caused. (The client's DEFLATE sends a block of dynamic codes; the
/// server's own picks the fixed ones, smaller here.) Would fail if the
/// blocks or the symbols were not shown, if the incoming text were not, or
/// if it came after the echo's frame.
#[test]
fn a_compressed_message_is_traced_block_by_block_both_ways() {
    let server = Server::echo(&["--deflate", "--trace"]);
    let trace = compressed_echo(&server, HELLOS);
    let frame_in = trace.find("frame in, 39 bytes: c1 a1").expect(&trace);
    let frame_out = trace.find("frame out, 18 bytes: c1 10").expect(&trace);
    let close_in = trace.find("frame in, 8 bytes: 88").expect(&trace);
    let inflated = format!("\n    inflated, text: \"{}", &HELLOS[..40]);
    let blocks = [
        (frame_in, frame_out, "BTYPE 10: dynamic Huffman codes"),
        (frame_out, close_in, "BTYPE 01: fixed Huffman codes"),
    ];
    for (from, to, kind) in blocks {
        let block = &trace[from..to];
        assert!(block.contains("\n    RSV1 1: compressed"), "{block}");
        let first = format!("\n    DEFLATE block 1: BFINAL 0, {kind}");
        assert!(block.contains(&first), "{block}");
        assert!(block.contains("\n      literals \"Hello, "), "{block}");
        assert!(block.contains("\n      match    <"), "{block}");
        let flush = "\n    DEFLATE block 2: BFINAL 0, BTYPE 00: stored, empty: the sync flush";
        assert!(block.contains(flush), "{block}");
        assert!(block.contains(&inflated), "{block}");
    }
}
