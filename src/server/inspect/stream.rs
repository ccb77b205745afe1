//! The loop's part in `--inspect`: inspectors coming and going, the table
//! for each new one, and, once a turn, what changed and what happened, as
//! one frame for all of them.
//!
//! Once a turn, before the wait, once the turn's clients are settled (so
//! that what settling did, a half-close or a drop, is told this turn too:
//! `Server::inspect_turn`):
//!
//! 1. the clients this turn settled (`Server::settled`) are looked at: one
//!    whose state changed gets its row at once; the others are marked, and
//!    their rows go out at the next refresh, at most every
//!    [`REFRESH`];
//! 2. at a refresh: those rows, and a `summary` of what was not shown (the
//!    frames of every client, and how many of them were shown);
//! 3. the turn's events, `[{...},{...}]`, encoded once as one text frame,
//!    shared by every inspector's outbox. One that has more than
//!    [`BEHIND`] unread gets nothing: the events are lost to it, counted,
//!    and it gets the whole table again once it reads; one that is behind
//!    and has taken nothing for `client::STALL_AFTER` is dropped.

use super::json::Object;
use super::{describe, row, Feed, Inspectors, Subscriber, BEHIND, REFRESH, TABLE_ROWS};
use crate::config::Config;
use crate::protocol::buffers::Counted;
use crate::protocol::frame::{self, OpCode};
use crate::protocol::reader::Message;
use crate::protocol::seen::KEPT;
use crate::server::app::App;
use crate::server::client::Client;
use crate::server::poll::Socket;
use crate::server::table::{Clients, Entry};
use crate::server::Server;
use std::time::Instant;

impl Server {
    /// An inspector's handshake is done: it gets the table this turn.
    pub(crate) fn inspector_joined(&mut self, socket: Socket) {
        if let Some(inspectors) = &mut self.inspectors {
            inspectors.subscribe(socket);
        }
    }

    /// An inspector is leaving.
    pub(crate) fn inspector_left(&mut self, socket: Socket) {
        if let Some(inspectors) = &mut self.inspectors {
            inspectors.unsubscribe(socket);
        }
    }

    /// Once a turn, before the wait: tell what changed, refresh when due,
    /// and send the turn's events. Nothing at all while nobody looks.
    pub(crate) fn inspect_turn(&mut self, now: Instant) {
        let Some(inspectors) = &mut self.inspectors else {
            return;
        };
        if !inspectors.feed.watching() {
            return;
        }
        // A newcomer's table starts the count from now: a summary tells
        // what happened while someone looked, not before.
        if inspectors.subscribers.values().any(|s| s.needs_table) {
            told_as_they_are(&mut self.clients);
        }
        // Each client once, however often it changed.
        let mut settled = std::mem::take(&mut self.settled);
        settled.sort_unstable();
        settled.dedup();
        let (clients, app, config) = (&mut self.clients, &*self.app, &*self.config);
        tell_changes(inspectors, clients, app, config, &settled, now);
        settled.clear();
        self.settled = settled; // its memory serves the next turn
        if now >= inspectors.next_refresh {
            refresh(inspectors, clients, app, config, now);
        }
        let sockets = send_events(inspectors, clients, app, config, now);
        for socket in sockets {
            self.write_to(socket, now);
        }
    }
}

/// The clients this turn changed: a row at once for one whose state
/// changed; the others are refreshed later. Their frames are counted.
fn tell_changes(
    inspectors: &mut Inspectors,
    clients: &mut Clients,
    app: &dyn App,
    config: &Config,
    changed: &[Socket],
    now: Instant,
) {
    for &socket in changed {
        let Some(Entry { client, .. }) = clients.get_mut(socket) else {
            continue;
        };
        let (state, frames) = (
            describe::state_name(client.state()),
            client.connection.frames(),
        );
        let Some(watch) = client.watch.as_deref_mut().filter(|w| w.is_shown()) else {
            continue;
        };
        let told = std::mem::replace(&mut watch.told_frames, frames);
        inspectors.frames.0 += frames.0.saturating_sub(told.0);
        inspectors.frames.1 += frames.1.saturating_sub(told.1);
        if watch.told_state == Some(state) {
            inspectors.dirty.insert(socket);
            continue;
        }
        watch.told_state = Some(state);
        let name = app.name_of(socket);
        send_row(&inspectors.feed, socket, client, name, config, now);
    }
}

fn send_row(
    feed: &Feed,
    socket: Socket,
    client: &Client,
    name: Option<&str>,
    config: &Config,
    now: Instant,
) {
    feed.table_event(now, "row", |o| {
        row::row(o, socket, client, name, &config.limits, feed)
    });
}

/// The rows changed since the last refresh (or, if some table event was
/// not made, the whole table to everyone), and what was not shown.
fn refresh(
    inspectors: &mut Inspectors,
    clients: &Clients,
    app: &dyn App,
    config: &Config,
    now: Instant,
) {
    let (shown, skipped, stale) = inspectors.feed.take_counts();
    let dirty = std::mem::take(&mut inspectors.dirty);
    if stale {
        inspectors
            .subscribers
            .values_mut()
            .for_each(|s| s.needs_table = true);
    } else {
        for socket in dirty {
            if let Some(entry) = clients.get(socket) {
                let name = app.name_of(socket);
                send_row(&inspectors.feed, socket, &entry.client, name, config, now);
            }
        }
    }
    let (frames_in, frames_out) = std::mem::take(&mut inspectors.frames);
    if frames_in + frames_out + skipped > 0 {
        let since = REFRESH.as_millis() as u64;
        inspectors.feed.always(now, "summary", |o| {
            o.num("ms", since)
                .num("frames_in", frames_in)
                .num("frames_out", frames_out)
                .num("shown", shown)
                .num("skipped", skipped);
        });
    }
    inspectors.next_refresh = now + REFRESH;
}

/// The turn's events to every inspector that reads (and the table first to
/// one that needs it); the sockets to write to.
fn send_events(
    inspectors: &mut Inspectors,
    clients: &mut Clients,
    app: &dyn App,
    config: &Config,
    now: Instant,
) -> Vec<Socket> {
    let batch = inspectors.feed.take_batch();
    let count = batch.as_ref().map_or(0, |(_, count)| *count);
    let frame = batch.and_then(|(events, _)| {
        let bytes = array_frame(&events);
        let total = clients.total();
        (!total.would_pass(bytes.len())).then(|| Counted::new(bytes, total))
    });
    // Events that did not fit under `--max-buffered` are lost to everyone.
    let unsent = if frame.is_none() { count as u64 } else { 0 };
    // The table is made only for an inspector that needs it and reads: one
    // that is behind would not be sent it.
    let reads = |socket: Socket| {
        clients
            .get(socket)
            .is_some_and(|e| e.client.unread() <= BEHIND)
    };
    let wants_table = inspectors
        .subscribers
        .iter()
        .any(|(&socket, s)| (s.needs_table || s.lost + unsent > 0) && reads(socket));
    if wants_table {
        told_as_they_are(clients);
    }
    let table = wants_table.then(|| table(&inspectors.feed, clients, app, config, now));
    let feed = &inspectors.feed;
    let mut sockets = Vec::new();
    for (&socket, subscriber) in &mut inspectors.subscribers {
        let Some(Entry { client, .. }) = clients.get_mut(socket) else {
            continue;
        };
        // Written to each turn, behind or not: a write its socket takes,
        // however little, shows it reads (epoll says "writable" only once
        // a third of a big socket buffer is free).
        sockets.push(socket);
        if client.unread() > BEHIND {
            lose(client, subscriber, count, now);
            continue;
        }
        subscriber.lost += unsent;
        let needs_table = subscriber.needs_table || subscriber.lost > 0;
        if let Some(table) = table.as_ref().filter(|_| needs_table) {
            let lost = std::mem::take(&mut subscriber.lost);
            let message = with_lost(table, lost, feed, now);
            client.send(Message::Text(message), now);
            subscriber.needs_table = false;
        }
        if let Some(frame) = &frame {
            client.send_shared(frame, now);
        }
    }
    sockets
}

/// An inspector is behind: this turn's `count` events are lost to it; if
/// its socket has taken nothing for a while either, it is not reading at
/// all, and goes.
fn lose(client: &mut Client, subscriber: &mut Subscriber, count: usize, now: Instant) {
    subscriber.lost += count as u64;
    if subscriber.lost > 0 && client.is_stalled(now) {
        let lost = subscriber.lost;
        let why = format!("an inspector that does not read ({lost} events lost)");
        client.drop_now(why);
    }
}

/// The table tells every row as it is now: later rows and counts start
/// from here (what a client did while nobody looked is not this second's).
fn told_as_they_are(clients: &mut Clients) {
    for (_, client) in clients.iter_mut() {
        let (state, frames) = (client.state(), client.connection.frames());
        if let Some(watch) = client.watch.as_deref_mut() {
            watch.told_state = Some(describe::state_name(state));
            watch.told_frames = frames;
        }
    }
}

/// `[events]`, as one unmasked text frame.
fn array_frame(events: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(events.len() + 12);
    frame::encode_header(&mut bytes, OpCode::Text, events.len() + 2);
    bytes.push(b'[');
    bytes.extend_from_slice(events.as_bytes());
    bytes.push(b']');
    bytes
}

/// The `hello` and the whole `table`, as the events of one message (the
/// closing `]` is added by [`with_lost`]).
fn table(feed: &Feed, clients: &Clients, app: &dyn App, config: &Config, now: Instant) -> String {
    let mut text = String::from("[");
    let mut hello = Object::open(&mut text);
    let mode = config.mode.name();
    hello
        .str("kind", "hello")
        .num("t", feed.millis(now))
        .str("mode", mode)
        .num("details_per_second", super::DETAILS_PER_SECOND as u64)
        .num("kept", KEPT as u64)
        .num("head_shown", describe::HEAD_SHOWN as u64)
        .num("refresh_ms", REFRESH.as_millis() as u64);
    hello.close();
    text.push(',');
    let shown: Vec<(Socket, &Client)> = clients
        .iter()
        .filter(|(_, client)| client.watch.as_deref().is_some_and(|w| w.is_shown()))
        .collect();
    let mut table = Object::open(&mut text);
    table.str("kind", "table").num("t", feed.millis(now));
    let rows = shown.iter().take(TABLE_ROWS);
    table.array("rows", rows, |o, (socket, client)| {
        row::row(
            o,
            *socket,
            client,
            app.name_of(*socket),
            &config.limits,
            feed,
        )
    });
    table.num("more", shown.len().saturating_sub(TABLE_ROWS) as u64);
    table.close();
    text
}

/// The table's message, with a `lost` event first if events were lost.
fn with_lost(table: &str, lost: u64, feed: &Feed, now: Instant) -> String {
    let mut text = String::with_capacity(table.len() + 64);
    text.push_str(table);
    if lost > 0 {
        text.push(',');
        let mut event = Object::open(&mut text);
        event
            .str("kind", "lost")
            .num("t", feed.millis(now))
            .num("count", lost);
        event.close();
    }
    text.push(']');
    text
}
