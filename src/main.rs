//! `socket_server`: the PHP's `php -q socket_server.php`.
//!
//! Read the flags, start the log, open the listening socket, run the loop.

#![deny(unsafe_code)]

use socket_server::config::{self, Command};
use socket_server::{console, poll, server::Server};
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match config::parse(std::env::args().skip(1)) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => {
            println!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("socket_server: {message}\nTry 'socket_server --help'.");
            return ExitCode::from(2);
        }
    };
    console::init(&config.log_file, config.trace);
    // Before the listening line: a script that reads that line and then
    // sends SIGTERM must get a clean stop, never a kill.
    poll::catch_stop_signals();

    let wanted = format!("{}:{}", config.address, config.port);
    let mut server = match Server::bind(config) {
        Ok(server) => server,
        Err(e) => {
            // The PHP logged "socket_bind() failed" and carried on regardless.
            eprintln!("socket_server: cannot listen on {wanted}: {e}");
            log::error!("socket_bind() failed on {wanted}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let address = match server.local_addr() {
        Ok(address) => address,
        Err(e) => {
            eprintln!("socket_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on ws://{address}  (open http://{address}/ in a browser)");

    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("socket_server: {e}");
            log::error!("the server loop failed: {e}");
            ExitCode::FAILURE
        }
    }
}
