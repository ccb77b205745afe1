#!/usr/bin/env bash
# tests/path/count.sh: the path of one message, counted.
#
# What it counts: every function of this crate (any file under src/) that
# runs while the server, in tutorial mode, handles ONE masked text frame
# "Hello" (the example of RFC 6455 §5.7) and writes its reply. The handshake
# before it and the shutdown after it are not counted.
#
# How:
#   1. Start the debug build under valgrind's callgrind tool with counting
#      switched off (--instr-atstart=no), on a port the kernel picks
#      (--port 0; the port is read from the server's "listening on" line).
#   2. A small Python client (hello.py, beside this file) connects and
#      sends the tutorial's handshake request, and reads the whole 101
#      answer.
#   3. It waits for the server to go back to sleep, switches counting on
#      (callgrind_control -i on), sends the masked "Hello", reads the whole
#      reply frame, waits for the server to go back to sleep again, and
#      switches counting off (callgrind_control -i off). So the window runs
#      from the wait the frame ends to the wait after the reply: one turn of
#      the loop, and everything the server does in it. (callgrind_control
#      wakes the sleeping server to deliver its order: the wait it was in
#      ends early, as if a signal had come, and the loop goes round once
#      with nothing to do before it sleeps again and the frame arrives. That
#      empty turn runs only functions the message's turn runs too, so it
#      adds nothing to the count.)
#   4. SIGTERM stops the server; callgrind writes what it counted.
#   5. callgrind_annotate --inclusive=yes lists every function that ran in
#      that window. We keep those whose source file is under src/, fold
#      closures into the function that holds them, count each generic
#      function once whatever it was instantiated with, and print the number
#      of functions and files, then the functions grouped by file.
#
# Usage: tests/path/count.sh [--message] [BINARY]
#   --message counts only what runs inside `Server::read_from`, the loop's
#   step for a readable client (callgrind's --toggle-collect): the frame's
#   arrival, the reply's write and what follows it in that step (the log
#   line, the write's own bookkeeping), without the turn's own waiting,
#   timers and tidying up around it. tests/path/between.sh counts the
#   narrower window from the frame's arrival to the reply's write alone.
#   BINARY defaults to target/debug/socket_server (build it first:
#   cargo build --bin socket_server). Needs Linux, valgrind and python3.
# Every wait has a time limit; the server and the temporary files are
# cleaned up however the script ends.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
INSIDE=()
if [ "${1:-}" = "--message" ]; then
    INSIDE=("--toggle-collect=socket_server::server::Server::read_from")
    shift
fi
BINARY=${1:-$ROOT/target/debug/socket_server}

die() { echo "count.sh: $*" >&2; exit 1; }

[ -x "$BINARY" ] || die "no server binary at $BINARY (cargo build --bin socket_server)"
for tool in valgrind callgrind_control callgrind_annotate python3; do
    command -v "$tool" >/dev/null || die "$tool is needed and not found"
done

WORK=$(mktemp -d -t count-path.XXXXXX)
SERVER_PID=

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# 1. The server under callgrind, not yet counting. `sh -c ... exec` keeps
# one process id from the shell to valgrind, so the id written is the one
# callgrind_control and kill must be given.
sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "$WORK/pid" \
    valgrind --tool=callgrind --instr-atstart=no ${INSIDE[@]+"${INSIDE[@]}"} \
    --callgrind-out-file="$WORK/callgrind.out" \
    "$BINARY" --port 0 --mode tutorial --log-file "$WORK/log.txt" \
    --allowed-host server.example.com --allowed-origin http://example.com \
    >"$WORK/stdout" 2>"$WORK/stderr" &
for _ in $(seq 50); do [ -s "$WORK/pid" ] && break; sleep 0.1; done
SERVER_PID=$(cat "$WORK/pid" 2>/dev/null) || die "the server did not start"

PORT=
for _ in $(seq 600); do # up to 60 s: valgrind is slow to start
    PORT=$(sed -n 's/^listening on ws:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$WORK/stdout")
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stderr" >&2; die "the server exited"; }
    sleep 0.1
done
[ -n "$PORT" ] || die "no 'listening on' line within 60 s"

# 2 and 3. The client, which also switches counting on and off.
python3 - "$PORT" "$SERVER_PID" "$ROOT/tests/path" <<'PYTHON' || die "the client failed"
import os, subprocess, sys, time

port, pid = int(sys.argv[1]), sys.argv[2]
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, sys.argv[3])
import hello
from hello import fail
hello.WHO = "count.sh"

def sleeping(pid):
    # Every thread blocked in the kernel (state S): the server is waiting.
    tasks = os.listdir(f"/proc/{pid}/task")
    for task in tasks:
        with open(f"/proc/{pid}/task/{task}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state != "S":
            return False
    return True

def settle(pid):
    # Until the server has been asleep a few checks in a row, up to 10 s.
    deadline, quiet = time.monotonic() + 10, 0
    while quiet < 5:
        if time.monotonic() > deadline:
            fail("the server did not go back to waiting")
        quiet = quiet + 1 if sleeping(pid) else 0
        time.sleep(0.05)

def instrumentation(state):
    done = subprocess.run(["callgrind_control", "-i", state, pid],
                          capture_output=True, text=True, timeout=60)
    # callgrind_control exits 0 even when it fails: read what it says.
    if "OK" not in done.stdout:
        fail(f"callgrind_control -i {state}: {done.stdout}{done.stderr}")

sock = hello.connect(port, within=30, timeout=60)
extra = hello.handshake(sock)
settle(pid)
instrumentation("on")
sock.sendall(hello.HELLO)
reply = hello.read_reply(sock, extra)
settle(pid)
instrumentation("off")
print(f"reply: {reply!r}", file=sys.stderr)
sock.close()
PYTHON

# 4. Stop the server; callgrind writes its file(s) as it exits.
kill -TERM "$SERVER_PID"
for _ in $(seq 300); do # up to 60 s
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.2
done
kill -0 "$SERVER_PID" 2>/dev/null && die "the server did not stop within 60 s"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

# 5. Every output file (one, unless callgrind dumped more than once), every
# function in it, kept if its file is under src/. callgrind_annotate runs in
# the temporary folder: it shortens paths under its working folder, and we
# want them whole.
shopt -s nullglob
outputs=("$WORK"/callgrind.out*)
[ ${#outputs[@]} -gt 0 ] || die "callgrind wrote no output"
for out in "${outputs[@]}"; do
    (cd "$WORK" && callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$out")
done >"$WORK/annotated"

python3 - "$ROOT" "$WORK/annotated" <<'PYTHON' || exit 1
import re, sys

root, annotated = sys.argv[1], sys.argv[2]
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, f"{root}/tests/path")
from report import base, show

# A line: "1,234 (12.34%)  /file:function [/object]". A line without the
# [/object] is not a function but the part of one whose instructions the
# debug information puts in another file (code inlined or expanded from a
# macro, or glue with no line of its own, which rustc puts in src/lib.rs):
# those are left out, so each function is counted once, in its own file.
line = re.compile(r"^\s*[\d,]+\s+\([^)]*\)\s+(/[^\s:]*):(.+) \[/[^\]]*\]$")
functions = {}
for text in open(annotated, encoding="utf-8", errors="replace"):
    m = line.match(text.rstrip("\n"))
    if m and m.group(1).startswith(root + "/src/"):
        path = m.group(1)[len(root) + 1:]
        functions.setdefault(path, set()).add(base(m.group(2)))
if not functions:
    sys.exit(f"count.sh: no function under {root}/src/ ran:"
             " was the binary built from this tree?")
show(functions)
PYTHON
