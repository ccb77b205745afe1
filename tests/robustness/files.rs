//! Files served over plain HTTP: streamed as the socket takes them, never
//! read whole.
//!
//! The server used to read a whole file into memory before answering: a
//! 40 MiB file cost 80 MiB of memory, a HEAD of a 200 MiB file read all
//! 200 MiB (stalling every other client meanwhile), and a file larger than
//! `--max-pending-output` was cut off partway while the log said 200.
//! These files are sparse (`set_len`): big, but free to make.

use crate::common::*;
use crate::support::*;
use std::io::{Read, Write};
use std::path::PathBuf;

/// A folder of pages with one file of `size` bytes, `big.bin`.
fn www_with_big_file(size: u64) -> PathBuf {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("socket_server-www-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::File::create(dir.join("big.bin")).unwrap();
    file.set_len(size).unwrap();
    dir
}

fn request(server: &Server, method: &str) -> String {
    format!(
        "{method} /big.bin HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.addr
    )
}

/// Would fail if files were read whole: memory would grow by the file's
/// size, or twice it.
#[cfg(target_os = "linux")]
#[test]
fn a_big_file_is_streamed_in_little_memory() {
    let size = 40 << 20;
    let www = www_with_big_file(size);
    let server = Server::start(&["--www", www.to_str().unwrap()]);
    let before = proc_status_kib(server.pid(), "VmHWM");
    let response = server.http(&request(&server, "GET"));
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len() as u64, size);
    assert!(response.body.iter().all(|&b| b == 0));
    let grown_mib = proc_status_kib(server.pid(), "VmHWM").saturating_sub(before) / 1024;
    assert!(grown_mib < 8, "serving a 40 MiB file took {grown_mib} MiB");
    let _ = std::fs::remove_dir_all(www);
}

/// HEAD says how long the file is and reads none of it. Would fail if the
/// file were read for a HEAD (200 MiB each time, in memory at once).
#[cfg(target_os = "linux")]
#[test]
fn head_reads_no_body() {
    let size: u64 = 200 << 20;
    let www = www_with_big_file(size);
    let server = Server::start(&["--www", www.to_str().unwrap()]);
    let before = proc_status_kib(server.pid(), "VmHWM");
    for _ in 0..5 {
        let response = server.http(&request(&server, "HEAD"));
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Content-Length"), Some(&*size.to_string()));
        assert!(response.body.is_empty());
    }
    let grown_mib = proc_status_kib(server.pid(), "VmHWM").saturating_sub(before) / 1024;
    assert!(
        grown_mib < 8,
        "five HEADs of a 200 MiB file took {grown_mib} MiB"
    );
    let _ = std::fs::remove_dir_all(www);
}

/// A file larger than `--max-pending-output` arrives whole: the cap is for
/// clients that leave output unread, and a streamed file holds one chunk at
/// a time. Would fail if the file were queued whole: what the kernel's
/// buffers (a few MB) did not take at once would pass the cap, and the
/// client would be dropped partway, while the log said 200.
#[test]
fn a_file_larger_than_the_pending_output_cap_arrives_whole() {
    let size = 16 << 20;
    let www = www_with_big_file(size);
    let server = Server::start(&[
        "--www",
        www.to_str().unwrap(),
        "--max-pending-output",
        "100000",
    ]);
    let mut stream = server.connect();
    stream
        .write_all(request(&server, "GET").as_bytes())
        .unwrap();
    // Read slowly at first, so that the server has to wait for room.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let response = Response::parse(&raw);
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len() as u64, size);
    assert!(!server.log().contains("bytes waiting unread"));
    let _ = std::fs::remove_dir_all(www);
}

/// Out of file descriptors, a page that exists cannot be opened: that is
/// the server's trouble, for now (503), not a missing page (404). The
/// process may have 32 descriptors. WebSocket clients take them all (they
/// are past their handshake, so none is closed to make room), until a
/// connection waits unaccepted; it sends its request. Then one WebSocket
/// client leaves: the waiting connection is accepted with the descriptor
/// that frees, and the page's file finds none left. Would fail while every
/// failure to open a file answered 404.
#[cfg(target_os = "linux")]
#[test]
fn out_of_descriptors_a_page_gets_503() {
    let server = Server::launch(
        &[],
        Launch {
            fd_limit: Some(32),
            ..Launch::default()
        },
    );
    let mut open: Vec<Client> = Vec::new();
    let accepted = || count_lines(&server.log(), "Accepted client");
    let mut waiting = loop {
        assert!(open.len() < 40, "never ran out of descriptors");
        let before = accepted();
        // From an address of its own, so that each is logged (within its
        // own budget).
        let stream = server.connect_from(peer_address(open.len() as u32));
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
        while accepted() == before && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if accepted() == before {
            break stream; // not accepted: no descriptor is left for it
        }
        let mut client = Client::raw(stream);
        let head = client.handshake(&handshake_request(server.addr, ""));
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        open.push(client);
    };
    assert!(server.wait_for_log("socket_accept() failed"));
    let get = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    waiting.write_all(get.as_bytes()).unwrap();
    drop(open.pop());
    let mut raw = Vec::new();
    waiting.read_to_end(&mut raw).unwrap();
    let response = Response::parse(&raw);
    assert_eq!(response.status, 503, "{}", response.head);
    drop(open);
    assert!(wait_until(|| server.http(&get).status == 200));
}
