//! How the loop waits: the PHP's `socket_select()`, as `epoll(7)` on Linux
//! or `poll(2)` anywhere; and the few other things only a C call can do:
//! signals, and the process's limit on file descriptors.
//!
//! std has non-blocking sockets but no way to wait for "any of these
//! sockets is ready", so we declare the C library's functions by hand.
//! Next to them are the signals the server answers (Ctrl-C and SIGTERM end
//! it; SIGHUP asks it to open its log file again), because catching them
//! also needs a C call, and because their job is to interrupt the wait.
//! This is the only module with `unsafe` code.
//!
//! ## Why two ways to wait (the C10K problem)
//!
//! `socket_select()` and `poll(2)` take the whole list of sockets on every
//! call: the kernel checks each one, and the caller then looks through the
//! list for the few that are ready. Each call costs time in proportion to
//! every connection, busy or idle: about 0.9 ms over 5,000 idle sockets on
//! our machine, on every turn of the loop. With thousands of mostly idle
//! connections (the "C10K problem" of the late 1990s) that scan is the
//! server's whole cost.
//!
//! `epoll(7)` keeps the list in the kernel instead. We say once that we
//! want to hear about a socket (`epoll_ctl`), again only when what we want
//! changes (to write: there is output waiting), and each wait returns just
//! the ready sockets: its cost follows the busy connections, not all of
//! them. The [`Poller`] offers both behind one interface; `--poller poll`
//! picks `poll(2)`, the `socket_select`-shaped loop, so that a learner can
//! see and measure the difference. On systems without epoll (macOS, the
//! BSDs), `poll(2)` is all there is.
//!
//! On systems without `poll(2)` a portable fallback says "maybe ready" for
//! every socket after a short sleep; the non-blocking socket calls then sort
//! out what really is ready.

use crate::config::PollerKind;
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A file descriptor, as C knows it.
#[cfg(unix)]
type Fd = std::os::fd::RawFd;
#[cfg(windows)]
type Fd = std::os::windows::io::RawSocket;

/// A socket, as the client table, the poller and the app know it: the
/// PHP's `$socket`, the key of `$clients[$socket]`. Inside, its file
/// descriptor; only the server makes one ([`socket_of`]) or looks inside,
/// so the app can say to whom, and can do nothing else with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Socket(Fd);

/// The socket of a listener or stream.
#[cfg(unix)]
pub(crate) fn socket_of(s: &impl std::os::fd::AsRawFd) -> Socket {
    Socket(s.as_raw_fd())
}
#[cfg(windows)]
pub(crate) fn socket_of(s: &impl std::os::windows::io::AsRawSocket) -> Socket {
    Socket(s.as_raw_socket())
}

impl Socket {
    /// Its number, as the PHP printed `$socket` (`Resource id #5`): for
    /// people to read (`--inspect`'s table), never to call with.
    pub(crate) fn number(self) -> i64 {
        self.0 as i64
    }
}

#[cfg(test)]
impl Socket {
    /// A socket number for a test that needs no real one.
    pub(crate) fn numbered(n: i32) -> Socket {
        Socket(n as Fd)
    }
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
pub(crate) struct PollFd {
    fd: Fd,
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
            fd: socket.0,
            events,
            revents: 0,
        }
    }

    pub fn socket(&self) -> Socket {
        Socket(self.fd)
    }

    /// Data (or an end of stream, or an error) is waiting to be read. An
    /// error or hang-up counts: reading is how we find out which.
    pub fn readable(&self) -> bool {
        self.revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL) != 0
    }

    /// There is room to write (or an error that a write will report).
    pub(crate) fn writable(&self) -> bool {
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

    /// `epoll_create1`'s flag: close the epoll descriptor on `exec`.
    #[cfg(target_os = "linux")]
    pub const EPOLL_CLOEXEC: c_int = 0o2000000;
    /// `epoll_ctl`'s operations.
    #[cfg(target_os = "linux")]
    pub const EPOLL_CTL_ADD: c_int = 1;
    #[cfg(target_os = "linux")]
    pub const EPOLL_CTL_DEL: c_int = 2;
    #[cfg(target_os = "linux")]
    pub const EPOLL_CTL_MOD: c_int = 3;
    /// `struct epoll_event`'s event bits.
    #[cfg(target_os = "linux")]
    pub const EPOLLIN: u32 = 0x001;
    #[cfg(target_os = "linux")]
    pub const EPOLLOUT: u32 = 0x004;
    #[cfg(target_os = "linux")]
    pub const EPOLLERR: u32 = 0x008;
    #[cfg(target_os = "linux")]
    pub const EPOLLHUP: u32 = 0x010;
    #[cfg(target_os = "linux")]
    pub const EPOLLRDHUP: u32 = 0x2000;

    /// C's `struct epoll_event`, field for field: what to watch for (or
    /// what happened) and a number of our choosing, the socket. On x86-64
    /// the C struct is packed (12 bytes, no padding before `data`).
    #[cfg(target_os = "linux")]
    #[cfg_attr(target_arch = "x86_64", repr(C, packed))]
    #[cfg_attr(not(target_arch = "x86_64"), repr(C))]
    #[derive(Debug, Clone, Copy)]
    pub struct EpollEvent {
        pub events: u32,
        pub data: u64,
    }

    #[cfg(target_os = "linux")]
    extern "C" {
        /// epoll_create1(2): `int epoll_create1(int flags);`
        pub fn epoll_create1(flags: c_int) -> c_int;
        /// epoll_ctl(2): `int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);`
        pub fn epoll_ctl(epfd: c_int, op: c_int, fd: c_int, event: *mut EpollEvent) -> c_int;
        /// epoll_wait(2): `int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);`
        pub fn epoll_wait(
            epfd: c_int,
            events: *mut EpollEvent,
            maxevents: c_int,
            timeout: c_int,
        ) -> c_int;
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
pub(crate) fn wait(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    let millis = millis(timeout);
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

/// A wait's timeout as C wants it: whole milliseconds, -1 for none.
/// Rounded up, so that we never wake just before a deadline and spin until
/// it passes.
fn millis(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
    }
}

/// Can stderr take a line now without blocking? Asked before a log line
/// goes there (the log file having failed): if stderr is a pipe that
/// nobody reads, a blocking write would stop the whole server, so such a
/// line is dropped instead.
#[cfg(unix)]
pub(crate) fn stderr_has_room() -> bool {
    let mut stderr = [PollFd::new(Socket(2), false, true)];
    matches!(wait(&mut stderr, Some(Duration::ZERO)), Ok(1)) && stderr[0].writable()
}

#[cfg(not(unix))]
pub(crate) fn stderr_has_room() -> bool {
    true
}

/// The portable fallback: nap briefly, then call everything "ready".
#[cfg(not(unix))]
pub(crate) fn wait(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    let nap = Duration::from_millis(5);
    std::thread::sleep(timeout.map_or(nap, |t| t.min(nap)));
    for fd in fds.iter_mut() {
        fd.revents = fd.events;
    }
    Ok(fds.len())
}

/// What the loop wants to hear about one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Interest {
    /// Tell us when there is something to read (or an end, or an error).
    pub read: bool,
    /// Tell us when there is room to write.
    pub write: bool,
}

/// A socket the wait found ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ready {
    pub socket: Socket,
    /// Data, an end of stream or an error waits: reading tells which.
    pub readable: bool,
    /// There is room to write, or an error that a write will report.
    pub writable: bool,
}

/// The sockets the loop waits on, each with its [`Interest`], and the wait.
/// The loop tells it when a socket comes, when what it wants changes, and
/// when it goes; nothing is rebuilt between waits.
pub(crate) struct Poller {
    backend: Backend,
}

/// Which system call waits, and what it keeps between waits.
enum Backend {
    /// `poll(2)`: our own list, handed over whole on every wait.
    Poll(PollList),
    /// `epoll(7)`: the kernel keeps the list.
    #[cfg(target_os = "linux")]
    Epoll(Epoll),
}

impl Poller {
    /// A poller of `kind`. (`--poller epoll` is refused on a system without
    /// epoll before it gets here.)
    pub fn new(kind: PollerKind) -> io::Result<Poller> {
        let backend = match kind {
            #[cfg(target_os = "linux")]
            PollerKind::Epoll => Backend::Epoll(Epoll::new()?),
            #[cfg(not(target_os = "linux"))]
            PollerKind::Epoll => return Err(io::Error::from(io::ErrorKind::Unsupported)),
            PollerKind::Poll => Backend::Poll(PollList::default()),
        };
        Ok(Poller { backend })
    }

    pub fn kind(&self) -> PollerKind {
        match self.backend {
            Backend::Poll(_) => PollerKind::Poll,
            #[cfg(target_os = "linux")]
            Backend::Epoll(_) => PollerKind::Epoll,
        }
    }

    /// Start watching `socket`.
    pub fn add(&mut self, socket: Socket, interest: Interest) -> io::Result<()> {
        match &mut self.backend {
            Backend::Poll(list) => list.add(socket, interest),
            #[cfg(target_os = "linux")]
            Backend::Epoll(epoll) => epoll.control(sys::EPOLL_CTL_ADD, socket, interest),
        }
    }

    /// What we want to hear about `socket` has changed.
    pub fn change(&mut self, socket: Socket, interest: Interest) -> io::Result<()> {
        match &mut self.backend {
            Backend::Poll(list) => list.change(socket, interest),
            #[cfg(target_os = "linux")]
            Backend::Epoll(epoll) => epoll.control(sys::EPOLL_CTL_MOD, socket, interest),
        }
    }

    /// Stop watching `socket`; call it before the socket is closed (its
    /// number may be reused at once).
    pub(crate) fn remove(&mut self, socket: Socket) {
        match &mut self.backend {
            Backend::Poll(list) => list.remove(socket),
            // Closing the socket would take it off the kernel's list as
            // well; saying so keeps the list right even if it stays open.
            #[cfg(target_os = "linux")]
            Backend::Epoll(epoll) => {
                let _ = epoll.control(sys::EPOLL_CTL_DEL, socket, Interest::default());
            }
        }
    }

    /// Wait until a socket is ready or `timeout` passes; put the ready ones
    /// in `ready` (emptied first). A signal ends the wait early, with none.
    pub fn wait(&mut self, ready: &mut Vec<Ready>, timeout: Option<Duration>) -> io::Result<()> {
        ready.clear();
        match &mut self.backend {
            Backend::Poll(list) => list.wait(ready, timeout),
            #[cfg(target_os = "linux")]
            Backend::Epoll(epoll) => epoll.wait(ready, timeout),
        }
    }
}

/// For `poll(2)`: the list of `struct pollfd`, and where each socket is in
/// it (so that one can change or leave without a search).
#[derive(Default)]
struct PollList {
    list: Vec<PollFd>,
    place: HashMap<Socket, usize>,
}

impl PollList {
    fn add(&mut self, socket: Socket, interest: Interest) -> io::Result<()> {
        self.place.insert(socket, self.list.len());
        self.list
            .push(PollFd::new(socket, interest.read, interest.write));
        Ok(())
    }

    fn change(&mut self, socket: Socket, interest: Interest) -> io::Result<()> {
        if let Some(&i) = self.place.get(&socket) {
            self.list[i] = PollFd::new(socket, interest.read, interest.write);
        }
        Ok(())
    }

    /// The last socket in the list moves into the place of the one leaving.
    fn remove(&mut self, socket: Socket) {
        if let Some(i) = self.place.remove(&socket) {
            self.list.swap_remove(i);
            if let Some(moved) = self.list.get(i) {
                self.place.insert(moved.socket(), i);
            }
        }
    }

    fn wait(&mut self, ready: &mut Vec<Ready>, timeout: Option<Duration>) -> io::Result<()> {
        if wait(&mut self.list, timeout)? == 0 {
            return Ok(());
        }
        // poll(2) marked the ready ones in place: look through them all.
        let marked = self.list.iter().filter(|fd| fd.revents != 0);
        ready.extend(marked.map(|fd| Ready {
            socket: fd.socket(),
            readable: fd.readable(),
            writable: fd.writable(),
        }));
        Ok(())
    }
}

/// An epoll instance and the buffer its waits fill.
#[cfg(target_os = "linux")]
struct Epoll {
    fd: std::os::fd::OwnedFd,
    events: Vec<sys::EpollEvent>,
}

/// At most this many ready sockets per wait; any more are still ready at
/// the next wait (epoll reports a socket for as long as it is ready).
#[cfg(target_os = "linux")]
const EVENTS_PER_WAIT: usize = 1024;

#[cfg(target_os = "linux")]
impl Epoll {
    fn new() -> io::Result<Epoll> {
        use std::os::fd::FromRawFd;
        // SAFETY: epoll_create1(2) takes a flag and returns a new descriptor
        // or -1; no memory is shared.
        let fd = unsafe { sys::epoll_create1(sys::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by epoll_create1 and belongs to
        // nothing else: the `OwnedFd` is its only owner and closes it.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let empty = sys::EpollEvent { events: 0, data: 0 };
        Ok(Epoll {
            fd,
            events: vec![empty; EVENTS_PER_WAIT],
        })
    }

    /// epoll_ctl: add, change or remove one socket.
    fn control(
        &self,
        op: std::os::raw::c_int,
        socket: Socket,
        interest: Interest,
    ) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // The peer's FIN (EPOLLRDHUP) only while we read: a socket we have
        // stopped reading would otherwise be reported ready by every wait
        // once the peer half-closed, and the loop would spin. (Errors and
        // hang-ups are always reported: a write then finds them.)
        let mut events = 0;
        if interest.read {
            events |= sys::EPOLLIN | sys::EPOLLRDHUP;
        }
        if interest.write {
            events |= sys::EPOLLOUT;
        }
        let mut event = sys::EpollEvent {
            events,
            data: socket.0 as u64,
        };
        // SAFETY: `event` is a valid `struct epoll_event` (`#[repr(C)]`,
        // packed as C packs it), which epoll_ctl(2) only reads; both
        // descriptors are plain integers the kernel checks.
        let result = unsafe { sys::epoll_ctl(self.fd.as_raw_fd(), op, socket.0, &mut event) };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn wait(&mut self, ready: &mut Vec<Ready>, timeout: Option<Duration>) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let capacity = self.events.len() as std::os::raw::c_int;
        // SAFETY: `events` is a valid, exclusively borrowed buffer of
        // `capacity` `struct epoll_event`s, and epoll_wait(2) writes at most
        // `capacity` of them.
        let count = unsafe {
            sys::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                capacity,
                millis(timeout),
            )
        };
        if count < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                return Ok(()); // a signal: the caller checks `stop_requested()`
            }
            return Err(error);
        }
        for event in &self.events[..count as usize] {
            // Copied out: a field of a packed struct cannot be borrowed.
            let (bits, data) = (event.events, event.data);
            ready.push(Ready {
                socket: Socket(data as Fd),
                readable: bits & (sys::EPOLLIN | sys::EPOLLRDHUP | sys::EPOLLERR | sys::EPOLLHUP)
                    != 0,
                writable: bits & (sys::EPOLLOUT | sys::EPOLLERR | sys::EPOLLHUP) != 0,
            });
        }
        Ok(())
    }
}

/// Did a call fail because no file descriptor is left, for this process
/// (EMFILE) or for the whole system (ENFILE)? The same numbers on Linux,
/// macOS and the BSDs.
pub(crate) fn out_of_descriptors(e: &io::Error) -> bool {
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
pub(crate) fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Has SIGHUP arrived since the last call?
pub(crate) fn hangup_requested() -> bool {
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

    /// Both pollers, where the system has them.
    fn kinds() -> Vec<PollerKind> {
        let mut kinds = vec![PollerKind::Poll];
        if cfg!(target_os = "linux") {
            kinds.push(PollerKind::Epoll);
        }
        kinds
    }

    fn only(socket: Socket, read: bool, write: bool) -> Vec<Ready> {
        vec![Ready {
            socket,
            readable: read,
            writable: write,
        }]
    }

    #[test]
    fn a_poller_reports_what_was_asked_for_and_forgets_what_was_removed() {
        for kind in kinds() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            let socket = socket_of(&server);
            let mut poller = Poller::new(kind).unwrap();
            let mut ready = Vec::new();
            let wait = Some(Duration::from_millis(20));
            let read = Interest {
                read: true,
                write: false,
            };
            poller.add(socket, read).unwrap();
            // Nothing to read yet, and writing was not asked for.
            poller.wait(&mut ready, wait).unwrap();
            assert_eq!(ready, [], "{kind:?}");
            client.write_all(b"x").unwrap();
            poller
                .wait(&mut ready, Some(Duration::from_secs(5)))
                .unwrap();
            assert_eq!(ready, only(socket, true, false), "{kind:?}");
            // Asked to write too: there is room.
            let both = Interest {
                read: true,
                write: true,
            };
            poller.change(socket, both).unwrap();
            poller.wait(&mut ready, wait).unwrap();
            assert_eq!(ready, only(socket, true, true), "{kind:?}");
            poller.remove(socket);
            poller.wait(&mut ready, wait).unwrap();
            assert_eq!(ready, [], "{kind:?}");
        }
    }

    #[test]
    fn a_poll_list_stays_right_when_a_socket_in_the_middle_goes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut poller = Poller::new(PollerKind::Poll).unwrap();
        let read = Interest {
            read: true,
            write: false,
        };
        let mut pairs = Vec::new();
        for _ in 0..3 {
            let client = TcpStream::connect(addr).unwrap();
            let (server, _) = listener.accept().unwrap();
            poller.add(socket_of(&server), read).unwrap();
            pairs.push((client, server));
        }
        // The first goes; the last moves into its place.
        poller.remove(socket_of(&pairs[0].1));
        pairs[2].0.write_all(b"x").unwrap();
        let mut ready = Vec::new();
        poller
            .wait(&mut ready, Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(ready, only(socket_of(&pairs[2].1), true, false));
        poller
            .change(socket_of(&pairs[2].1), Interest::default())
            .unwrap();
        poller
            .wait(&mut ready, Some(Duration::from_millis(20)))
            .unwrap();
        assert_eq!(ready, []);
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
