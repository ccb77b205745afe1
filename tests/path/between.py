# tests/path/between.py: the gdb half of tests/path/between.sh.
#
# Run inside gdb, attached to a running socket_server:
#     gdb -nx -batch -p PID -x tests/path/between.py
# with these variables in the environment:
#     BETWEEN_READY   a file this script creates once it is attached and
#                     about to let the server run: the client sends the
#                     frame only then;
#     BETWEEN_OUT     where it writes what it found (JSON), only on success;
#     BETWEEN_SECONDS how long it may wait for the window (40 by default).
#
# What it records: every function of this crate (its ELF symbol, demangled,
# starts with `socket_server::` or `<socket_server::`) that is ENTERED after
# the read(2)/recvfrom(2) that returned the bytes of the masked "Hello"
# frame on a socket, and before the entry of the first
# write/writev/sendto/sendmsg on that same file descriptor.
#
# How: a breakpoint at the first instruction of each of those functions
# (disabled until the frame is read; its stop() notes the name and returns
# False, so gdb lets the server run on at once), and syscall catchpoints that
# open and close the window. x86_64 Linux only: the registers read are
# orig_rax/rdi/rsi/rax.

import json
import os
import re
import signal
import subprocess
import threading
import time

import gdb

HELLO = bytes([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
READS = ("read", "recvfrom", "readv", "recvmsg")
WRITES = ("write", "writev", "sendto", "sendmsg")
DEADLINE = time.monotonic() + float(os.environ.get("BETWEEN_SECONDS", "40"))


class Failed(Exception):
    pass


def register(name):
    return int(gdb.parse_and_eval("$" + name)) & 0xFFFFFFFFFFFFFFFF


def signed(value):
    return value - (1 << 64) if value & (1 << 63) else value


def memory(address, length):
    return bytes(gdb.selected_inferior().read_memory(address, length))


def word(address):
    return int.from_bytes(memory(address, 8), "little")


class Entry(gdb.Breakpoint):
    """A breakpoint on a function's first instruction that never stops."""

    recording = False
    order = []  # names, in the order first entered
    calls = {}  # name -> times entered in the window
    addresses = {}  # name -> the address(es) entered

    def __init__(self, address, name):
        super().__init__(f"*{address:#x}", internal=True)
        self.enabled = False
        self.address = address
        self.function = name

    def stop(self):
        if Entry.recording:
            name = self.function
            if name not in Entry.calls:
                Entry.order.append(name)
                Entry.calls[name] = 0
            Entry.calls[name] += 1
            Entry.addresses.setdefault(name, set()).add(self.address)
        return False


def crate_functions(pid):
    """(runtime address, demangled name) of each function of the crate."""
    exe = f"/proc/{pid}/exe"
    listed = subprocess.run(
        ["nm", "-C", "--defined-only", exe],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    plain = subprocess.run(
        ["nm", "--defined-only", exe],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    # The load bias of a position-independent binary: where `main` is now,
    # less where the file puts it.
    linked_main = None
    for line in plain.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "main" and parts[1] in "tT":
            linked_main = int(parts[0], 16)
    if linked_main is None:
        raise Failed("no `main` symbol in the binary")
    gdb.execute("set language c")
    loaded_main = int(gdb.parse_and_eval("(unsigned long) &main"))
    gdb.execute("set language auto")
    bias = loaded_main - linked_main
    functions = {}
    for line in listed.splitlines():
        m = re.match(r"^([0-9a-f]+) [tTwW] (.*)$", line)
        if not m:
            continue
        name = m.group(2)
        if name.startswith("socket_server::") or name.startswith("<socket_server::"):
            # Two names at one address (identical code folded): one breakpoint.
            functions.setdefault(int(m.group(1), 16) + bias, name)
    if not functions:
        raise Failed("no function of socket_server in the binary")
    return functions


def source_file(address):
    """The file the debug information gives the function at address."""
    block = gdb.block_for_pc(address)
    while block is not None and block.function is None:
        block = block.superblock
    if block is not None and block.function.symtab is not None:
        return block.function.symtab.fullname()
    sal = gdb.find_pc_line(address)
    if sal.symtab is not None:
        return sal.symtab.fullname()
    return None


# x86_64 system call numbers (asm/unistd_64.h).
SYSCALLS = {0: "read", 1: "write", 19: "readv", 20: "writev", 44: "sendto",
            45: "recvfrom", 46: "sendmsg", 47: "recvmsg"}
ENOSYS = 38


def syscall_stop():
    """('call'|'return', name) if the server is stopped at one of ours.

    At a system call's entry the kernel has put -ENOSYS in rax; at its
    return, rax holds the result (which for these calls is never -ENOSYS).
    gdb's own "call to"/"returned from" message is not in to_string."""
    name = SYSCALLS.get(register("orig_rax"))
    if name is None:
        return None, None
    return ("call" if signed(register("rax")) == -ENOSYS else "return"), name


def bytes_read(name, address, count):
    """What a read-family call that returned count put in memory."""
    if name in ("read", "recvfrom"):
        return memory(address, count)
    if name == "readv":
        iov = address
    else:  # recvmsg: struct msghdr, msg_iov at offset 16
        iov = word(address + 16)
    base, length = word(iov), word(iov + 8)
    return memory(base, min(count, length))


def target(pid, fd):
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return "?"


def is_socket(pid, fd):
    return target(pid, fd).startswith("socket:")


ENTRIES = []


def remove_breakpoints():
    while ENTRIES:
        entry = ENTRIES.pop()
        if entry.is_valid():
            entry.delete()
    gdb.execute("delete")  # the catchpoints


def main():
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute("set print thread-events off")
    try:
        gdb.execute("set debuginfod enabled off")
    except gdb.error:
        pass
    inferior = gdb.selected_inferior()
    pid = inferior.pid
    if pid <= 0:
        raise Failed("gdb is not attached to a process")

    functions = crate_functions(pid)
    entries = ENTRIES
    entries.extend(Entry(address, name) for address, name in functions.items())
    gdb.execute("catch syscall " + " ".join(READS + WRITES), to_string=True)

    # The main source file, to know where the crate's sources are.
    main_file = None
    for address, name in functions.items():
        if name == "socket_server::main":
            main_file = source_file(address)
    root = os.path.dirname(os.path.dirname(main_file)) if main_file else None

    # A watchdog: if the window has not closed in time, a SIGURG (which the
    # server ignores, and gdb is told to stop for and not pass on) ends the
    # `continue` that waits, and the loop below gives up.
    gdb.execute("handle SIGURG stop print nopass", to_string=True)
    watchdog = threading.Timer(max(DEADLINE - time.monotonic(), 0.1),
                               os.kill, (pid, signal.SIGURG))
    watchdog.daemon = True
    watchdog.start()

    with open(os.environ["BETWEEN_READY"], "w") as ready:
        ready.write(f"{len(entries)}\n")

    fd = None  # the client's socket, once its frame's bytes were read
    got = b""  # what the reads on it returned so far
    reads = []  # (syscall, fd, bytes) that made up the frame
    closed_by = None
    other = []  # (syscall, fd, what it is) written in the window, not fd
    entry_args = {}
    while True:
        if time.monotonic() > DEADLINE:
            raise Failed("time is up before the reply's write"
                         + (" (the frame was read)" if fd is not None else
                            " (the frame was never read)"))
        text = gdb.execute("continue", to_string=True)
        if not inferior.is_valid() or not inferior.threads():
            raise Failed(f"the server is gone: {text.strip()}")
        kind, name = syscall_stop()
        if kind is None:
            # A signal, or something else: note it, carry on.
            gdb.write(f"between.py: stopped: {text.strip()}\n", gdb.STDERR)
            continue
        thread = gdb.selected_thread().num
        if kind == "call":
            entry_args[thread] = (register("rdi"), register("rsi"))
            if Entry.recording and name in WRITES:
                if register("rdi") == fd:
                    Entry.recording = False
                    closed_by = name
                    break
                # A write elsewhere (the log, stdout) in the window: noted.
                other.append((name, register("rdi"), target(pid, register("rdi"))))
            continue
        # A return: only the read family matters, before the window opens.
        if Entry.recording or name not in READS:
            continue
        descriptor, buffer = entry_args.get(thread, (register("rdi"), register("rsi")))
        result = signed(register("rax"))
        if result <= 0 or not is_socket(pid, descriptor):
            continue
        if fd is not None and descriptor != fd:
            continue
        data = bytes_read(name, buffer, result)
        if not HELLO.startswith(got + data):
            raise Failed(f"{name} on fd {descriptor} returned {data.hex(' ')},"
                         f" not (the rest of) the Hello frame")
        fd, got = descriptor, got + data
        reads.append((name, descriptor, len(data)))
        if got == HELLO:
            Entry.recording = True
            for entry in entries:
                entry.enabled = True

    # Stopped at the entry of the reply's write: leave the server as it was.
    watchdog.cancel()
    watched = len(entries)
    remove_breakpoints()
    found = []
    for name in Entry.order:
        files = sorted({source_file(a) or "?" for a in Entry.addresses[name]})
        found.append({"name": name, "calls": Entry.calls[name], "files": files})
    result = {
        "root": root,
        "reads": reads,
        "closed_by": closed_by,
        "other_writes": other,
        "fd": fd,
        "breakpoints": watched,
        "functions": found,
    }
    with open(os.environ["BETWEEN_OUT"] + ".part", "w") as out:
        json.dump(result, out, indent=1)
    os.rename(os.environ["BETWEEN_OUT"] + ".part", os.environ["BETWEEN_OUT"])


try:
    main()
except Failed as e:
    gdb.write(f"between.py: {e}\n", gdb.STDERR)
except Exception as e:  # a gdb.error, an OSError...
    gdb.write(f"between.py: {type(e).__name__}: {e}\n", gdb.STDERR)
finally:
    # Whatever happened: no breakpoint may stay in the server.
    try:
        remove_breakpoints()
        gdb.execute("detach")
    except gdb.error:
        pass
