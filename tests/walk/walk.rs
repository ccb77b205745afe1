//! `make walk` and `make debug`: the server under gdb while a client sends
//! the tutorial's handshake, RFC 6455's masked "Hello" and a close.
//!
//!   make walk    gdb in batch mode runs docs/walk.gdb and prints what it saw
//!   make debug   gdb stops at docs/breakpoints.gdb's breakpoints for you
//!
//! See docs/debugging.md. Both use the debug build of the server.

#[path = "driver.rs"]
mod driver;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let interactive = std::env::args().any(|arg| arg == "--interactive");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // target/debug/examples/walk -> target/debug/socket_server
    let exe = std::env::current_exe().expect("own path");
    let server = exe
        .parent()
        .and_then(Path::parent)
        .expect("the target folder")
        .join("socket_server");
    let Some(gdb) = driver::debugger() else {
        eprintln!("walk: neither rust-gdb nor gdb is installed (Debian: apt-get install gdb)");
        return ExitCode::FAILURE;
    };
    if interactive {
        return match driver::run_interactive(gdb, &server, root) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("debug: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match driver::run_batch(gdb, &server, root) {
        Ok(walk) => {
            print!("{}", walk.report());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("walk: {e}");
            ExitCode::FAILURE
        }
    }
}
