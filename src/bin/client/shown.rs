//! Bytes from the network, made safe and short for a terminal: text quoted
//! with its control characters escaped, other bytes in hex. A server's
//! bytes never reach the terminal raw, so none can move the cursor or
//! forge a line.

/// Text from the network, quoted and escaped (`{:?}`), so that no
/// control character reaches the terminal; cut after 200 characters.
pub fn quoted(text: &str) -> String {
    match text.char_indices().nth(200) {
        None => format!("{text:?}"),
        Some((at, _)) => format!("{:?}... ({} bytes)", &text[..at], text.len()),
    }
}

/// One of `--trace`'s blocks, made with an empty client id (`[] `), which
/// is left out.
pub fn block(block: &str) -> &str {
    block.strip_prefix("[] ").unwrap_or(block)
}

/// The first 16 of `bytes` in hex, then how many more there are: as
/// `--trace` shows them.
pub fn hex(bytes: &[u8]) -> String {
    socket_server::dissect::hex(bytes, bytes.len())
}
