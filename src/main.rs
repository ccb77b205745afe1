//! `socket_server`: the PHP's `php -q socket_server.php`.
//!
//! Read the flags, start the log, open the listening socket, run the loop.
//! Nothing here prints with `println!`: a failed write to stdout or stderr
//! must not end the server (`console::to_stdout`).

#![deny(unsafe_code)]

use socket_server::config::{self, Command};
use socket_server::server::{console, poll, Server};
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match config::parse(std::env::args().skip(1)) {
        Ok(Command::Run(config)) => *config,
        Ok(Command::Help) => {
            console::to_stdout(config::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            console::to_stderr(&format!(
                "socket_server: {message}\nTry 'socket_server --help'."
            ));
            return ExitCode::from(2);
        }
    };
    console::init(&config.log_file, config.trace);
    // Before the listening line: a script that reads that line and then
    // sends SIGTERM must get a clean stop, never a kill.
    poll::catch_signals();

    let wanted = format!("{}:{}", config.address, config.port);
    let inspect = config.inspect;
    // What the server says: the tutorial's replies, the echo, or the room.
    let app = socket_server::app::for_mode(config.mode, std::time::Instant::now());
    let mut server = match Server::bind(config, app) {
        Ok(server) => server,
        Err(e) => {
            // The PHP logged "socket_bind() failed" and carried on regardless.
            console::to_stderr(&format!("socket_server: cannot listen on {wanted}: {e}"));
            log::error!("socket_bind() failed on {wanted}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let address = match server.local_addr() {
        Ok(address) => address,
        Err(e) => {
            console::to_stderr(&format!("socket_server: {e}"));
            return ExitCode::FAILURE;
        }
    };
    // With --inspect, the same line says where the inspector is.
    let inspector = match inspect {
        true => format!("; the inspector is on: http://{address}/inspect"),
        false => String::new(),
    };
    console::to_stdout(&format!(
        "listening on ws://{address}  (open http://{address}/ in a browser{inspector})"
    ));

    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            console::to_stderr(&format!("socket_server: {e}"));
            log::error!("the server loop failed: {e}");
            ExitCode::FAILURE
        }
    }
}
