# The debugger walk that `make walk` runs in gdb's batch mode, while a
# client sends the tutorial's handshake, RFC 6455's masked "Hello" and a
# close. docs/debugging.md shows what it prints, and tests/walk.rs checks
# that it still prints exactly that.
source docs/breakpoints.gdb
run
echo \n# Stop 1, handshake(): the request, parsed. The PHP's regular\n
echo # expressions tried to find these in the raw text (lines 130-146).\n
print request.target
print request.headers
continue
echo \n# Stop 2, accept_key(): the key as sent. Step over its three lines\n
echo # (PHP lines 148-149) and print each value.\n
print key
next
next
next
print key_and_guid
print/x sha1
print accept
continue
echo \n# Stop 3, unmask(): the masked payload of RFC 6455's "Hello", the\n
echo # masking key, and where in the payload these bytes start.\n
print/x data
print/x mask
print offset
echo \n# Back in the caller: the same five bytes, unmasked in place.\n
finish
print/c piece
continue
echo \n# Stop 4, unmask() again, after the reply went out: the client's close\n
echo # frame. Its payload is masked too, with the same key: two bytes.\n
print/x data
print/x mask
echo \n# Unmasked: 03 e8, the status code 0x03e8 = 1000, "normal closure",\n
echo # in network byte order (RFC 6455 §5.5.1, §7.4.1).\n
finish
print/x piece
delete
break socket_server::protocol::connection::Connection::on_close_frame
continue
echo \n# Stop 5, on_close_frame(): the code, read from those two bytes. The\n
echo # server answers with a close frame that carries the same code.\n
print close
echo \n# Stop the server as Ctrl-C would. (Breakpoints go first: a signal\n
echo # sent at a breakpoint comes back to it, and gdb would stop again.)\n
delete
signal SIGTERM
