# The debugger walk that `make walk` runs in gdb's batch mode, while a
# client sends the tutorial's handshake, RFC 6455's masked "Hello" and a
# close. docs/debugging.md shows what it prints, and tests/walk.rs checks
# that it still prints exactly that.
source docs/breakpoints.gdb
run
# Stop 1: handshake(). The request is parsed; these are its target and
# headers, as the PHP's regular expressions tried to find them.
print request.target
print request.headers
continue
# Stop 2: accept_key(). Step over its three lines and print each value.
print key
next
next
next
print key_and_guid
print/x sha1
print accept
continue
# Stop 3: unmask(), with the masked payload, the key and where it starts.
print/x data
print/x mask
print offset
# Back in the caller, the same bytes, unmasked in place.
finish
print/c piece
# The rest of the conversation: the reply goes out, the client closes.
delete
break socket_server::client::Client::on_close_frame
continue
print close
# Stop the server as Ctrl-C would. (Breakpoints first: a signal sent at a
# breakpoint returns to it, and gdb would stop there again.)
delete
signal SIGTERM
