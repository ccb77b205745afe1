//! The peer `make bench` measures us against: servers built on `tungstenite`
//! the way its own examples build them, a thread per connection with
//! blocking sockets. The bench binary runs them in a process of their own
//! (`bench --peer echo|chat`), so that their CPU time and memory can be
//! read from `/proc` exactly as ours are.
//!
//! Like our server they print `listening on ws://ADDRESS` as their first
//! line, then serve until killed.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

/// A thread's stack: enough for tungstenite, small enough for 10,000 threads.
const STACK: usize = 256 << 10;

/// Run the peer server named `kind` ("echo" or "chat") until killed.
pub fn serve(kind: &str) {
    socket_server::server::poll::raise_descriptor_limit();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    println!("listening on ws://{addr}");
    std::io::stdout().flush().expect("stdout");
    let room: Arc<Mutex<Vec<WebSocket<TcpStream>>>> = Arc::default();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let room = Arc::clone(&room);
        let thread = std::thread::Builder::new().stack_size(STACK);
        let spawned = match kind {
            "echo" => thread.spawn(move || echo(stream)),
            _ => thread.spawn(move || chat(stream, &room)),
        };
        if let Err(e) = spawned {
            eprintln!("peer: no thread for a connection: {e}");
        }
    }
}

/// Large enough for the bench's 16 MiB messages, in one frame or many.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_frame_size(Some(64 << 20))
        .max_message_size(Some(64 << 20))
}

/// tungstenite's `server.rs` example: read a message, send it back.
fn echo(stream: TcpStream) {
    let Ok(mut socket) = tungstenite::accept_with_config(stream, Some(config())) else {
        return;
    };
    while let Ok(message) = socket.read() {
        if (message.is_text() || message.is_binary()) && socket.send(message).is_err() {
            return;
        }
    }
}

/// A room as a tungstenite user writes one: each member's thread reads,
/// and sends what it reads to every member (itself too) through a second
/// `WebSocket` on a clone of each member's socket, under one lock.
fn chat(stream: TcpStream, room: &Mutex<Vec<WebSocket<TcpStream>>>) {
    let Ok(mut socket) = tungstenite::accept_with_config(stream, Some(config())) else {
        return;
    };
    let Ok(writer) = socket.get_ref().try_clone() else {
        return;
    };
    let writer = WebSocket::from_raw_socket(writer, Role::Server, Some(config()));
    room.lock().expect("room").push(writer);
    while let Ok(message) = socket.read() {
        if message.is_text() {
            let mut members = room.lock().expect("room");
            // A member that fails (it left) is dropped from the room.
            members.retain_mut(|member| member.send(Message::clone(&message)).is_ok());
        }
    }
}
