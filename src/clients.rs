//! The client table: the PHP's `$clients` and `$client_list` arrays, keyed
//! by socket, with `fnConnectacceptedSocket()`, `getClientBySocket()` and
//! `uniqid()`.
//!
//! The PHP kept two arrays, one for the record and one for the socket, both
//! keyed by the socket. One map holding a [`Client`] (which owns its
//! socket) does both jobs. A `BTreeMap` keeps the clients in socket order,
//! so a debugger session sees them in the same order every time.

use crate::client::Client;
use crate::config::Limits;
use crate::poll::{socket_of, Socket};
use log::info;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct Clients {
    table: BTreeMap<Socket, Client>,
    /// The last id handed out, in microseconds since 1970 (see `uniqid`).
    last_id: u64,
}

impl Clients {
    /// The PHP's `fnConnectacceptedSocket()`: add a freshly accepted socket
    /// to the table, with a new id and the handshake still to come.
    pub fn connect(&mut self, socket: TcpStream, peer: SocketAddr, limits: &Limits, now: Instant) {
        let id = self.uniqid();
        let over_capacity = self.table.len() >= limits.max_clients;
        info!("[{id}] Accepted client {peer}");
        let key = socket_of(&socket);
        let client = Client::new(id, socket, peer, limits, over_capacity, now);
        self.table.insert(key, client);
    }

    /// The PHP's `getClientBySocket()`.
    pub fn get_mut(&mut self, socket: Socket) -> Option<&mut Client> {
        self.table.get_mut(&socket)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.table.values()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Client> {
        self.table.values_mut()
    }

    /// Remove the clients whose connection is over. Dropping a `TcpStream`
    /// closes its socket: the PHP's `socket_close()`.
    pub fn drop_gone(&mut self) {
        self.table.retain(|_, client| {
            let gone = client.is_gone();
            if gone {
                info!("[{}] disconnected", client.id);
            }
            !gone
        });
    }

    /// PHP's `uniqid()`: 13 hex digits, the seconds and then the
    /// microseconds of the current time. PHP's can repeat within one
    /// microsecond; ours never repeats, because it is always at least one
    /// more than the last.
    fn uniqid(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        self.last_id = now.max(self.last_id + 1);
        format!(
            "{:08x}{:05x}",
            self.last_id / 1_000_000,
            self.last_id % 1_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_php_and_never_repeat() {
        let mut clients = Clients::default();
        let ids: Vec<String> = (0..1000).map(|_| clients.uniqid()).collect();
        assert!(ids
            .iter()
            .all(|id| id.len() == 13 && id.chars().all(|c| c.is_ascii_hexdigit())));
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
