//! Clients that send but do not read.
//!
//! The PHP called a blocking `socket_write()` for every reply: one client
//! that stopped reading froze the whole server once its TCP buffers filled.
//! Here writes are non-blocking; output that does not fit waits in the
//! client's outbox; while too much is waiting (`READ_PAUSE`) the server stops
//! reading that client, so TCP flow control slows the sender down instead
//! of our memory filling up; and past `--max-pending-output` the client is
//! dropped.

use crate::common::*;
use crate::support::*;
use std::io::Write;
use std::time::{Duration, Instant};

/// One 16 KiB binary frame, masked as a client must (RFC 6455 §5.3).
fn flood_frame() -> (Vec<u8>, Vec<u8>) {
    let payload: Vec<u8> = (0..16 * 1024u32).map(|i| (i % 251) as u8).collect();
    let bytes = masked_frame(0x80 | BINARY, &payload, [0xA5, 0x5A, 0x3C, 0xC3]);
    (bytes, payload)
}

/// Would fail with a blocking write (the PHP's): the server would hang in
/// the write to the stuck client and the other client would get nothing.
/// Would also fail without the read pause: the server would keep reading
/// the flood until the stuck client passed `--max-pending-output` and was
/// dropped, so the flood would end in an error rather than a stall, and the
/// stuck client would not get its echoes back.
#[test]
fn a_client_that_does_not_read_does_not_hold_up_the_others() {
    let server = Server::echo(&[]);
    let mut stuck = server.client();
    let (bytes, payload) = flood_frame();
    let flood = flood(&mut stuck.stream, &bytes, 512 << 20);
    assert!(
        flood.blocked,
        "the server never stopped reading a client that reads nothing: {flood:?}"
    );

    // The stuck client's output is going nowhere; another client is served
    // at once, again and again.
    let mut other = server.client();
    other
        .stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    for i in 0..20 {
        let text = format!("message {i} while another client is stuck");
        let sent = Instant::now();
        other.send_text(&text);
        assert_eq!(other.read_text(), text);
        assert!(
            sent.elapsed() < Duration::from_secs(3),
            "reply {i} took {:?}",
            sent.elapsed()
        );
    }

    // Nothing was lost: once the stuck client reads, every frame it sent
    // comes back, and the rest of its last frame goes through.
    let expected = flood.frames + usize::from(flood.partial > 0);
    let mut reader = Client::raw(stuck.stream.try_clone().unwrap());
    let drain = std::thread::spawn(move || {
        for n in 0..expected {
            let frame = reader.read_frame();
            assert_eq!(frame.opcode, BINARY, "frame {n}");
            assert!(frame.payload == payload, "frame {n} came back changed");
        }
        reader
    });
    stuck.send(&bytes[flood.partial..]);
    drain.join().expect("the stuck client gets every echo back");
    stuck.send_close(1000);
    assert_eq!(stuck.expect_close(), Some(1000));
}

/// Would fail without `--max-pending-output`: the server would simply stop
/// reading the client (the read pause) and keep it forever, and the log
/// would never say it was dropped.
#[test]
fn unread_output_past_the_limit_gets_the_client_dropped() {
    let server = Server::echo(&[
        "--max-pending-output",
        "100000",
        "--max-message-size",
        "1000000",
    ]);
    let mut greedy = server.client();
    greedy
        .stream
        .set_write_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    // One 500 KB message may fit in the kernel's socket buffers on its way
    // back; a few more cannot, and then the echo waits in our outbox.
    let message = frame(BINARY, &vec![b'x'; 500_000]);
    for _ in 0..40 {
        if greedy.stream.write_all(&message).is_err()
            || server.log().contains("bytes waiting unread")
        {
            break;
        }
    }
    assert!(
        server.wait_for_log("bytes waiting unread (limit 100000); dropped"),
        "no drop in the log:\n{}",
        server.log()
    );
    read_until_closed(&mut greedy.stream, PATIENCE);
    assert_echo_works(&server);
}

/// A client that stops reading and then half-closes: the server has
/// stopped reading it too (too much output waits for it), and must not
/// spin while it waits for room. Found in review: epoll was told to report
/// the peer's FIN even for a socket we had stopped reading, so every wait
/// returned at once and the server used a whole core until the idle
/// timeout dropped the client (with `--poller poll` it slept).
#[cfg(target_os = "linux")]
#[test]
fn a_paused_client_that_half_closes_does_not_make_the_server_spin() {
    let server = Server::echo(&["--max-message-size", "20000000"]);
    let mut silent = server.client();
    // 16 MB echoed and never read: more than the kernel's buffers hold,
    // and far more than the read pause (256 KiB).
    silent.send(&frame(BINARY, &vec![b'x'; 16_000_000]));
    silent.shutdown_write();
    std::thread::sleep(Duration::from_millis(300));
    let (cpu, elapsed) = cpu_in_a_second(server.pid());
    assert!(
        cpu < elapsed / 4,
        "the server used {cpu:?} of CPU in {elapsed:?} waiting on a paused, half-closed client"
    );
    assert_echo_works(&server);
    drop(silent);
}

/// Memory stays bounded while clients flood the server with messages whose
/// echoes they never read. `--max-pending-output` is set out of reach, so
/// only the read pause stands between the flood and the server's memory:
/// without it the server would read all 2 x 64 MiB and hold the echoes.
#[cfg(target_os = "linux")]
#[test]
fn a_flood_of_unread_echoes_does_not_grow_memory() {
    let server = Server::echo(&["--max-pending-output", "4000000000"]);
    let before_kib = proc_status_kib(server.pid(), "VmHWM");
    let (bytes, _) = flood_frame();
    let mut flooders: Vec<Client> = (0..2).map(|_| server.client()).collect();
    let floods: Vec<Flood> = flooders
        .iter_mut()
        .map(|flooder| flood(&mut flooder.stream, &bytes, 64 << 20))
        .collect();
    // VmHWM is the peak resident size, so a spike that was freed again
    // still counts. The kernel's socket buffers hold a few MiB per flooder,
    // and they are not the server's memory.
    let after_kib = proc_status_kib(server.pid(), "VmHWM");
    let grown_mib = after_kib.saturating_sub(before_kib) / 1024;
    let pushed_mib: u64 = floods.iter().map(|f| f.bytes >> 20).sum();
    assert!(
        grown_mib < 32,
        "peak memory grew by {grown_mib} MiB while {pushed_mib} MiB of unread echoes were sent"
    );
    for flood in &floods {
        assert!(flood.blocked, "the server kept reading: {flood:?}");
    }
    assert_echo_works(&server);
    drop(flooders);
}

/// An idle connection should cost the server little, whatever it sent
/// before. Ten clients each have a 4 MiB message echoed, read it all, and
/// then sit idle: a busy client keeps its buffers for its next message, but
/// once it has been quiet for a moment (`client::TIDY_AFTER`, 1 s) the
/// server has no reason to hold 4 MiB for each of them. Would fail if a
/// client's buffers kept their largest size for as long as the connection
/// lasts (idle clients would keep about 40 MiB between them, and a
/// thousand would keep gigabytes).
#[cfg(target_os = "linux")]
#[test]
fn memory_for_a_big_reply_is_given_back_once_it_is_written() {
    let server = Server::echo(&[]);
    let before_kib = proc_status_kib(server.pid(), "VmRSS");
    let payload: Vec<u8> = (0..4u32 << 20).map(|i| (i % 241) as u8).collect();
    let message = frame(BINARY, &payload);
    let mut idle = Vec::new();
    for _ in 0..10 {
        let mut client = server.client();
        let mut writer = client.stream.try_clone().unwrap();
        let message = message.clone();
        // Send from another thread while this one reads the echo as it
        // comes, so neither side waits for the other.
        let sending = std::thread::spawn(move || writer.write_all(&message).unwrap());
        let echoed = client.read_frame();
        sending.join().unwrap();
        assert!(echoed.payload == payload, "the echo came back changed");
        idle.push(client);
    }
    // Every echo has been read, so nothing is waiting to be written; the
    // clients are quiet from now on.
    let held_mib = || proc_status_kib(server.pid(), "VmRSS").saturating_sub(before_kib) / 1024;
    assert!(
        wait_until(|| held_mib() < 16),
        "10 idle clients hold {} MiB after 4 MiB echoes that were all delivered",
        held_mib()
    );
    drop(idle);
}
