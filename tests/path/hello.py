"""The client both path counters drive (count.sh and between.sh): the
tutorial's handshake request, then one masked text frame "Hello" (RFC 6455
§5.7), then its reply read whole. Each counter does its own thing between
the handshake and the frame (switching callgrind on, waiting for gdb)."""

import socket
import sys
import time

REQUEST = (b"GET /mychat HTTP/1.1\r\n"
           b"Host: server.example.com\r\n"
           b"Upgrade: websocket\r\n"
           b"Connection: Upgrade\r\n"
           b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
           b"Sec-WebSocket-Protocol: chat\r\n"
           b"Sec-WebSocket-Version: 13\r\n"
           b"Origin: http://example.com\r\n"
           b"\r\n")
# RFC 6455 §5.7: a single-frame masked text message, "Hello".
HELLO = bytes([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])

# Whose client this is, for its error messages ("count.sh", "between.sh").
WHO = "hello.py"


def fail(message):
    sys.exit(f"{WHO}: client: {message}")


def read_exactly(sock, n, have=b""):
    while len(have) < n:
        chunk = sock.recv(n - len(have))
        if not chunk:
            fail(f"the server closed the connection ({have!r})")
        have += chunk
    return have


def connect(port, within, timeout):
    """A connection to the server, trying for up to `within` seconds; each
    read then waits at most `timeout` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                fail(f"port {port} does not accept connections")
            time.sleep(0.2)
    sock.settimeout(timeout)
    return sock


def handshake(sock):
    """Send the request and read the whole 101; returns what came after it."""
    sock.sendall(REQUEST)
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            fail(f"no complete handshake response: {response!r}")
        response += chunk
    if not response.startswith(b"HTTP/1.1 101"):
        fail(f"the handshake was refused: {response!r}")
    return response.split(b"\r\n\r\n", 1)[1]


def read_reply(sock, extra):
    """Read one whole text frame (after `extra`, bytes already read); its text."""
    frame = read_exactly(sock, 2, extra)
    length, at = frame[1] & 0x7f, 2
    if length == 126:
        frame = read_exactly(sock, 4, frame)
        length, at = int.from_bytes(frame[2:4], "big"), 4
    elif length == 127:
        frame = read_exactly(sock, 10, frame)
        length, at = int.from_bytes(frame[2:10], "big"), 10
    frame = read_exactly(sock, at + length, frame)
    if frame[0] != 0x81:
        fail(f"the reply is not one text frame: {frame!r}")
    return frame[at:].decode("utf-8")
