#!/usr/bin/env bash
# tests/path/between.sh: the path of one message, from its arrival to its
# reply, counted the way the issue asked.
#
# What it counts: every function of this crate (its symbol, demangled,
# starts with `socket_server::` or `<socket_server::`: a function written in
# src/) that is ENTERED after the read(2)/recvfrom(2) that returned the
# bytes of ONE masked text frame "Hello" (the example of RFC 6455 §5.7) on
# the client's socket, and before the server enters the first
# write/writev/sendto/sendmsg on THAT socket: "every function of ours that
# executes between the frame's arrival and the reply's write". Writes to
# other descriptors (log.txt, stdout) do not end the window. The function
# that made the read and is still running when it returns (Server::read_from
# and those above it) was entered before: it is not counted; nor is what
# runs after the reply's write begins.
#
# tests/path/count.sh counts differently: a whole turn of the loop, or with
# --message all of `Server::read_from`, with the reply's write and what
# follows it (the log line written after the reply, the bookkeeping of the
# write). This script is the narrower window the issue asked for.
#
# How:
#   1. Start the debug build, in tutorial mode, on a port the kernel picks
#      (--port 0; the port is read from its "listening on" line), its log
#      and working folder in a temporary folder.
#   2. A small Python client (hello.py, beside this file) connects, sends
#      the tutorial's handshake request and reads the whole 101 answer;
#      then it waits.
#   3. gdb attaches to the server and runs between.py (beside this file):
#      a breakpoint, disabled, at the first instruction of each function of
#      the crate (addresses from `nm`), whose stop() only notes the name
#      and returns False, so gdb lets the server run on at once; and catchpoints
#      on the read and write system calls. Only then is the client told to
#      send the masked "Hello". When a read on a socket returns the frame's
#      11 bytes (checked byte for byte; several reads adding up to them
#      would do too), the breakpoints are enabled; at the entry of the first
#      write-family call on that descriptor they are removed and gdb
#      detaches. The server carries on and writes the reply, which the
#      client reads and checks.
#   4. SIGTERM stops the server. Each function is put in the file its debug
#      information names (its declaration, as gdb sees it); closures fold
#      into the function that holds them (`::{{closure}}` dropped), and a
#      generic function counts once whatever it was instantiated with (the
#      demangled symbols carry no type arguments; a trailing `<...>` is
#      dropped as count.sh does). It prints the number of functions and
#      files, then the functions grouped by file.
#
# Usage: tests/path/between.sh [--calls] [BINARY]
#   --calls adds, after each function, how many times it was entered in the
#   window (closures and instances added together), and prints the order in
#   which the functions were first entered at the end.
#   BINARY defaults to target/debug/socket_server (build it first:
#   cargo build --bin socket_server). Use an unoptimized build: a function
#   inlined into its caller has no entry of its own and is not seen (in the
#   debug build only the #[inline(always)] helpers of deflate and inflate
#   are, and they are not on this path). Needs Linux on x86_64 (the system call's
#   registers are read by name), gdb with Python, nm (binutils) and python3,
#   and the right to ptrace a child of this shell (root, or
#   kernel.yama.ptrace_scope <= 1).
# Every wait has a time limit (the whole run well under a minute); the
# server, gdb, the client and the temporary files are cleaned up however the
# script ends.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
CALLS=0
if [ "${1:-}" = "--calls" ]; then
    CALLS=1
    shift
fi
BINARY=${1:-$ROOT/target/debug/socket_server}

die() { echo "between.sh: $*" >&2; exit 1; }

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "Linux on x86_64 only"
[ -x "$BINARY" ] || die "no server binary at $BINARY (cargo build --bin socket_server)"
for tool in gdb nm python3 timeout; do
    command -v "$tool" >/dev/null || die "$tool is needed and not found"
done
gdb -nx -batch -ex 'python import gdb' >/dev/null 2>&1 || die "this gdb has no Python"

WORK=$(mktemp -d -t between-path.XXXXXX)
SERVER_PID=
CLIENT_PID=

stop() { # PID: SIGTERM, up to 10 s, then SIGKILL
    kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL "$1" 2>/dev/null || true
}

cleanup() {
    [ -n "$CLIENT_PID" ] && stop "$CLIENT_PID"
    [ -n "$SERVER_PID" ] && stop "$SERVER_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# 1. The server. The subshell execs it: $! is the server's own id.
(cd "$WORK" && exec "$BINARY" --port 0 --mode tutorial --log-file "$WORK/log.txt" \
    --allowed-host server.example.com --allowed-origin http://example.com) \
    </dev/null >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!

PORT=
for _ in $(seq 100); do # up to 10 s
    PORT=$(sed -n 's/^listening on ws:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$WORK/stdout")
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stderr" >&2; die "the server exited"; }
    sleep 0.1
done
[ -n "$PORT" ] || die "no 'listening on' line within 10 s"

# 2. The client: the handshake now, the frame once gdb is attached.
python3 - "$PORT" "$WORK" "$HERE" <<'PYTHON' >"$WORK/client.out" 2>"$WORK/client.err" &
import os, sys, time

port, work = int(sys.argv[1]), sys.argv[2]
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, sys.argv[3])
import hello
from hello import fail
hello.WHO = "between.sh"

sock = hello.connect(port, within=10, timeout=30)
extra = hello.handshake(sock)
open(os.path.join(work, "handshaken"), "w").close()

# Until gdb is attached (it writes the file "ready"), up to 40 s.
deadline = time.monotonic() + 40
while not os.path.exists(os.path.join(work, "ready")):
    if time.monotonic() > deadline:
        fail("gdb never said it was ready")
    time.sleep(0.05)

sock.sendall(hello.HELLO)
print(f"reply: {hello.read_reply(sock, extra)!r}")
sock.close()
PYTHON
CLIENT_PID=$!

for _ in $(seq 300); do # up to 30 s
    [ -e "$WORK/handshaken" ] && break
    kill -0 "$CLIENT_PID" 2>/dev/null || { cat "$WORK/client.err" >&2; die "the client failed"; }
    sleep 0.1
done
[ -e "$WORK/handshaken" ] || die "no handshake within 30 s"

# 3. gdb, attached until the reply's write begins. Its own limit is 40 s;
# `timeout` is the belt to that braces.
BETWEEN_READY="$WORK/ready" BETWEEN_OUT="$WORK/found.json" BETWEEN_SECONDS=40 \
    timeout -k 5 50 gdb -nx -batch -p "$SERVER_PID" -x "$HERE/between.py" \
    </dev/null >"$WORK/gdb.out" 2>"$WORK/gdb.err" || true
if [ ! -s "$WORK/found.json" ]; then
    grep -h 'between.py' "$WORK/gdb.out" "$WORK/gdb.err" >&2 || tail -n 20 "$WORK/gdb.err" >&2
    die "gdb found no window (its output above)"
fi

for _ in $(seq 100); do # up to 10 s for the reply
    kill -0 "$CLIENT_PID" 2>/dev/null || break
    sleep 0.1
done
wait "$CLIENT_PID" 2>/dev/null || { cat "$WORK/client.err" >&2; die "the client failed"; }
CLIENT_PID=
cat "$WORK/client.out" >&2

# 4. Stop the server (cleanup also would), then print what was found.
stop "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

python3 - "$WORK/found.json" "$CALLS" "$HERE" <<'PYTHON' || exit 1
import json, os, sys

found, calls = json.load(open(sys.argv[1])), sys.argv[2] == "1"
root = found["root"]
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, sys.argv[3])
from report import base, show

def relative(path):
    if root and path.startswith(root + "/"):
        return path[len(root) + 1:]
    return path

reads = " + ".join(f"{name}(fd {fd}) = {n}" for name, fd, n in found["reads"])
print(f"window: from {reads} to {found['closed_by']}(fd {found['fd']});"
      f" {found['breakpoints']} functions watched", file=sys.stderr)
for name, fd, what in found.get("other_writes", []):
    print(f"  in the window, not ending it: {name}(fd {fd}) to"
          f" {os.path.basename(what) if what.startswith('/') else what}",
          file=sys.stderr)

functions, entered, order = {}, {}, []
for f in found["functions"]:
    name = base(f["name"])
    # A closure is put in its function's file, the same one in any case.
    for path in f["files"]:
        functions.setdefault(relative(path), set()).add(name)
    entered[name] = entered.get(name, 0) + f["calls"]
    if name not in order:
        order.append(name)
if not functions:
    sys.exit("between.sh: no function of the crate ran in the window")
outside = [p for p in functions if not p.startswith("src/")]
if outside:
    print(f"between.sh: files outside {root}/src: {outside}", file=sys.stderr)

show(functions, lambda name: f"  ({entered[name]})" if calls else "")
if calls:
    print("\nfirst entered, in order:")
    for i, name in enumerate(order, 1):
        print(f"  {i:3}. {name}")
PYTHON
