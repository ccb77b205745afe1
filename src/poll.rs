//! How the loop waits: the PHP's `socket_select()`, as `poll(2)`; and the
//! few other things only a C call can do: signals, and the process's
//! limit on file descriptors.
//!
//! std has non-blocking sockets but no way to wait for "any of these sockets
//! is ready", so we declare the C library's `poll` by hand. Next to it are
//! the signals the server answers (Ctrl-C and SIGTERM end it; SIGHUP asks
//! it to open its log file again), because
//! catching them also needs a C call, and because their job is to interrupt
//! the wait. This is the only module with `unsafe` code.
//!
//! On systems without `poll(2)` a portable fallback says "maybe ready" for
//! every socket after a short sleep; the non-blocking socket calls then sort
//! out what really is ready.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The key of a socket in the client table: its file descriptor, as the PHP
/// keyed `$clients[$socket]`.
#[cfg(unix)]
pub type Socket = std::os::fd::RawFd;
#[cfg(windows)]
pub type Socket = std::os::windows::io::RawSocket;

/// The table key of a listener or stream.
#[cfg(unix)]
pub fn socket_of(s: &impl std::os::fd::AsRawFd) -> Socket {
    s.as_raw_fd()
}
#[cfg(windows)]
pub fn socket_of(s: &impl std::os::windows::io::AsRawSocket) -> Socket {
    s.as_raw_socket()
}

// The event bits of `struct pollfd`; the same numbers on Linux, the BSDs
// and macOS.
const POLLIN: i16 = 0x001;
const POLLOUT: i16 = 0x004;
const POLLERR: i16 = 0x008;
const POLLHUP: i16 = 0x010;
const POLLNVAL: i16 = 0x020;

/// One socket to wait on: C's `struct pollfd`, field for field.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PollFd {
    fd: Socket,
    events: i16,
    revents: i16,
}

impl PollFd {
    /// Wait for `socket` to be readable, and writable if `write` is set.
    pub fn new(socket: Socket, read: bool, write: bool) -> PollFd {
        let mut events = 0;
        if read {
            events |= POLLIN;
        }
        if write {
            events |= POLLOUT;
        }
        PollFd {
            fd: socket,
            events,
            revents: 0,
        }
    }

    pub fn socket(&self) -> Socket {
        self.fd
    }

    /// Data (or an end of stream, or an error) is waiting to be read. An
    /// error or hang-up counts: reading is how we find out which.
    pub fn readable(&self) -> bool {
        self.revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL) != 0
    }

    /// There is room to write (or an error that a write will report).
    pub fn writable(&self) -> bool {
        self.revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL) != 0
    }
}

#[cfg(unix)]
mod sys {
    use super::PollFd;
    use std::os::raw::c_int;

    /// C's `nfds_t`.
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    pub type NFds = std::os::raw::c_uint;
    #[cfg(not(any(target_os = "macos", target_os = "ios")))]
    pub type NFds = std::os::raw::c_ulong;

    pub const SIGHUP: c_int = 1;
    pub const SIGINT: c_int = 2;
    pub const SIGTERM: c_int = 15;

    /// C's `rlim_t`.
    #[cfg(target_os = "linux")]
    pub type RLim = std::os::raw::c_ulong;
    #[cfg(not(target_os = "linux"))]
    pub type RLim = u64;

    /// `RLIMIT_NOFILE`: how many file descriptors the process may have.
    #[cfg(target_os = "linux")]
    pub const RLIMIT_NOFILE: c_int = 7;
    #[cfg(not(target_os = "linux"))]
    pub const RLIMIT_NOFILE: c_int = 8;

    /// C's `struct rlimit`, field for field.
    #[repr(C)]
    pub struct RLimit {
        /// The soft limit: what applies now.
        pub current: RLim,
        /// The hard limit: as far as the soft one may be raised.
        pub maximum: RLim,
    }

    extern "C" {
        /// poll(2): `int poll(struct pollfd *fds, nfds_t nfds, int timeout);`
        pub fn poll(fds: *mut PollFd, nfds: NFds, timeout: c_int) -> c_int;
        /// signal(2): `sighandler_t signal(int signum, sighandler_t handler);`
        pub fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
        /// getrlimit(2): `int getrlimit(int resource, struct rlimit *rlim);`
        pub fn getrlimit(resource: c_int, rlim: *mut RLimit) -> c_int;
        /// setrlimit(2): `int setrlimit(int resource, const struct rlimit *rlim);`
        pub fn setrlimit(resource: c_int, rlim: *const RLimit) -> c_int;
    }
}

/// Let the process have as many file descriptors as it is allowed: raise
/// the soft limit (often 1024) to the hard one. Every client costs one,
/// and so does a file being sent; a server that runs out cannot even
/// accept a connection to refuse it. Returns the limit now in force.
#[cfg(unix)]
pub fn raise_descriptor_limit() -> Option<u64> {
    let mut limit = sys::RLimit {
        current: 0,
        maximum: 0,
    };
    // SAFETY: `limit` is a valid, writable `struct rlimit` (`#[repr(C)]`,
    // field for field), which getrlimit(2) fills in.
    if unsafe { sys::getrlimit(sys::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.current < limit.maximum {
        let raised = sys::RLimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        // SAFETY: `raised` is a valid `struct rlimit`, only read by
        // setrlimit(2). Raising the soft limit up to the hard one needs no
        // privilege; if the system refuses (macOS caps it lower), the old
        // limit stays.
        if unsafe { sys::setrlimit(sys::RLIMIT_NOFILE, &raised) } == 0 {
            limit.current = limit.maximum;
        }
    }
    // `rlim_t` is 64 bits wide on 64-bit systems, 32 on 32-bit Linux.
    #[allow(clippy::useless_conversion)]
    Some(limit.current.into())
}

#[cfg(not(unix))]
pub fn raise_descriptor_limit() -> Option<u64> {
    None
}

/// Wait until a socket in `fds` is ready or `timeout` passes (`None`: no
/// limit). Returns how many are ready; 0 means the time ran out or a signal
/// arrived.
#[cfg(unix)]
pub fn wait(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    // poll wants whole milliseconds; round up so we never wake just before a
    // deadline and spin until it passes.
    let millis = match timeout {
        None => -1,
        Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
    };
    // SAFETY: `fds` is a valid, exclusively borrowed slice of `PollFd`, which
    // is `#[repr(C)]` with the layout of `struct pollfd`; we pass its true
    // length, and poll(2) writes only the `revents` fields within it.
    let ready = unsafe { sys::poll(fds.as_mut_ptr(), fds.len() as sys::NFds, millis) };
    if ready >= 0 {
        return Ok(ready as usize);
    }
    let error = io::Error::last_os_error();
    if error.kind() == io::ErrorKind::Interrupted {
        return Ok(0); // a signal: the caller checks `stop_requested()`
    }
    Err(error)
}

/// Can stderr take a line now without blocking? Asked before a log line
/// goes there (the log file having failed): if stderr is a pipe that
/// nobody reads, a blocking write would stop the whole server, so such a
/// line is dropped instead.
#[cfg(unix)]
pub fn stderr_has_room() -> bool {
    let mut stderr = [PollFd::new(2, false, true)];
    matches!(wait(&mut stderr, Some(Duration::ZERO)), Ok(1)) && stderr[0].writable()
}

#[cfg(not(unix))]
pub fn stderr_has_room() -> bool {
    true
}

/// The portable fallback: nap briefly, then call everything "ready".
#[cfg(not(unix))]
pub fn wait(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    let nap = Duration::from_millis(5);
    std::thread::sleep(timeout.map_or(nap, |t| t.min(nap)));
    for fd in fds.iter_mut() {
        fd.revents = fd.events;
    }
    Ok(fds.len())
}

/// Did a call fail because no file descriptor is left, for this process
/// (EMFILE) or for the whole system (ENFILE)? The same numbers on Linux,
/// macOS and the BSDs.
pub fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24 | 23))
}

/// Set by the stop signals' handler; read by the loop.
static STOP: AtomicBool = AtomicBool::new(false);
/// Set by SIGHUP's handler; taken by the loop.
static HANGUP: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_stop_signal(_signum: std::os::raw::c_int) {
    // Only an atomic store: almost nothing else is safe inside a handler.
    STOP.store(true, Ordering::SeqCst);
}

#[cfg(unix)]
extern "C" fn on_hangup(_signum: std::os::raw::c_int) {
    HANGUP.store(true, Ordering::SeqCst);
}

/// Turn Ctrl-C (SIGINT) and SIGTERM into a polite shutdown, and SIGHUP
/// into "open the log file again" (what logrotate sends after moving it;
/// by default SIGHUP would end the process). Each signal interrupts
/// `wait()`, and the loop sees [`stop_requested`] or [`hangup_requested`].
///
/// (SIGPIPE, which kills a C program writing to a closed socket, needs no
/// care: the Rust runtime ignores it, so such a write returns an error.)
#[cfg(unix)]
pub fn catch_signals() {
    let handlers: [(std::os::raw::c_int, extern "C" fn(std::os::raw::c_int)); 3] = [
        (sys::SIGINT, on_stop_signal),
        (sys::SIGTERM, on_stop_signal),
        (sys::SIGHUP, on_hangup),
    ];
    for (signum, handler) in handlers {
        // SAFETY: `handler` is an `extern "C" fn(c_int)`, the handler type
        // signal(2) expects, and it only performs an atomic store, which is
        // async-signal-safe.
        unsafe {
            sys::signal(signum, handler);
        }
    }
}

#[cfg(not(unix))]
pub fn catch_signals() {}

/// Has a stop signal arrived?
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Has SIGHUP arrived since the last call?
pub fn hangup_requested() -> bool {
    HANGUP.swap(false, Ordering::SeqCst)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    #[test]
    fn the_descriptor_limit_is_raised_as_far_as_allowed() {
        let limit = raise_descriptor_limit().expect("getrlimit works");
        // Now the soft limit is the hard one: asking again changes nothing.
        assert_eq!(raise_descriptor_limit(), Some(limit));
        assert!(limit >= 64, "{limit}");
    }

    #[test]
    fn times_out_when_nothing_is_ready() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut fds = [PollFd::new(socket_of(&listener), true, false)];
        let start = Instant::now();
        assert_eq!(wait(&mut fds, Some(Duration::from_millis(30))).unwrap(), 0);
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(!fds[0].readable());
    }

    #[test]
    fn reports_readable_and_writable() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut fds = [PollFd::new(socket_of(&server), true, true)];
        assert_eq!(wait(&mut fds, Some(Duration::from_secs(5))).unwrap(), 1);
        assert!(fds[0].writable() && !fds[0].readable());
        client.write_all(b"x").unwrap();
        let mut fds = [PollFd::new(socket_of(&server), true, false)];
        assert_eq!(wait(&mut fds, Some(Duration::from_secs(5))).unwrap(), 1);
        assert!(fds[0].readable());
    }
}
