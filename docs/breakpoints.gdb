# The breakpoints of the debugger walk (docs/debugging.md). `make debug`
# loads this file and waits for you; `make walk` loads it from walk.gdb.
set pagination off
set confirm off
# `finish` out of some functions (handshake(), which returns a
# Result<Accepted, Refusal>) crashes gdb 13 when it prints the returned
# value (an internal error in gdbtypes.h); not printing it avoids that.
set print finish off
# 1. The handshake: the PHP's handshake() (socket_server.php line 128).
break socket_server::protocol::handshake::handshake
# 2. The accept key: the PHP's lines 148-149.
break socket_server::protocol::handshake::accept_key
# 3. Unmasking a frame's payload: the PHP's unmask() (line 76).
break socket_server::protocol::frame::unmask
