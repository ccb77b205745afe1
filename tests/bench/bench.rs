//! `make bench`: our server beside a `tungstenite` server, in one run.
//!
//! Both run as processes of their own on loopback: ours is the release
//! build; the peer (`peer.rs`) is a thread-per-connection server built on
//! `tungstenite` the way its examples build one. The same load generator
//! (`load.rs`) drives both, alternating between them, and every figure is
//! printed beside the peer's and as a ratio to it, the median of several
//! runs: this machine is noisy (the generator shares its two cores with
//! the server), so an absolute figure alone would say little.
//!
//! The cases:
//! - echo, closed loop: 1, 10, 100 and 1,000 clients, each with one
//!   message of 16 B, 1 KiB or 64 KiB in flight;
//! - 16 MiB messages, 8 in a row on one connection;
//! - 10 active clients while 5,000 and then 10,000 idle connections are
//!   held, against the same 10 clients alone; and what an idle connection
//!   costs in memory and CPU;
//! - system calls per echoed message (with `strace -c`, if installed);
//! - chat: one message to a room of 1,000 members;
//! - compression (`compression.rs`): ours with `--deflate` echoing
//!   compressed messages, beside ours echoing them uncompressed; and our
//!   DEFLATE codecs beside miniz_oxide's (`codecs.rs`, on `corpus.rs`'s
//!   data, both shared with `tests/deflate.rs`);
//! - the inspector (`inspect.rs`): ours with `--inspect` and one inspector
//!   connected, beside nobody looking, beside no `--inspect`.
//!
//! `bench --quick` runs each case once, briefly: to check the bench itself.
//! `bench --only echo|large|idle|calls|chat|compression|codecs|inspect`
//! runs one group of cases.
//! The bench always exits 0: it is a measurement, not a test. Each line
//! says whether its target (`docs/performance.md` lists them) is met.

mod codecs;
mod compression;
// Its other kinds of data serve tests/deflate.rs, which shares it.
#[allow(dead_code)]
mod corpus;
mod inspect;
mod load;
mod peer;

use load::{connect, connect_many, measure, median, Sample, Target};
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long and how often: the full run, or `--quick`.
#[derive(Clone, Copy)]
struct Plan {
    repeats: usize,
    window: Duration,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match &args[..] {
        [flag, kind] if flag == "--peer" => return peer::serve(kind),
        [flag, addr, count] if flag == "--hold" => return load::hold(addr, count),
        _ => {}
    }
    let plan = if args.iter().any(|a| a == "--quick") {
        Plan {
            repeats: 1,
            window: Duration::from_millis(300),
        }
    } else {
        Plan {
            repeats: 5,
            window: Duration::from_secs(1),
        }
    };
    // `--only CASE` runs one group of cases: echo, large, idle, calls, chat,
    // compression, codecs, inspect.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    let wanted = |case: &str| only.is_none_or(|o| o == case);
    socket_server::server::poll::raise_descriptor_limit();
    describe_machine();
    if wanted("echo") {
        echo_matrix(plan);
    }
    if wanted("large") {
        large_messages(plan);
    }
    if wanted("idle") {
        idle_connections(plan);
    }
    if wanted("calls") {
        system_calls();
    }
    if wanted("chat") {
        chat_room(plan);
    }
    if wanted("compression") {
        compression::compressed_echo(plan);
    }
    if wanted("codecs") {
        compression::codec_figures(plan);
    }
    if wanted("inspect") {
        inspect::inspector_cost(plan);
    }
    load::remove_logs();
}

fn describe_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']))
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("{cores} cores, {model}; medians of several runs, ours / tungstenite\n");
}

// ---- echo ------------------------------------------------------------------

fn echo_matrix(plan: Plan) {
    let ours = Target::ours(&["--mode", "echo", "--max-clients", "20000"]);
    let peer = Target::peer("echo");
    heading("echo, closed loop", "msg/s", "µs CPU/msg");
    for clients in [1, 10, 100, 1000] {
        let mut streams = [&ours, &peer].map(|t| connect_many(t.addr, clients));
        for size in [16, 1 << 10, 64 << 10] {
            let (a, b) = alternate(plan, &ours, &peer, |side| {
                load::round_trips(&mut streams[side], size, plan.window)
            });
            let cpu_target = matches!((clients, size), (10, 1024) | (100, 16));
            let mut goals = vec![Goal::AtLeast("msg/s", 0.9, ratio(a.rate, b.rate))];
            if cpu_target {
                goals.push(Goal::AtMost("CPU", 0.5, ratio(a.cpu, b.cpu)));
            }
            row(&format!("{clients} × {}", bytes(size)), a, b, &goals);
        }
    }
}

fn large_messages(plan: Plan) {
    let ours = Target::ours(&["--mode", "echo"]);
    let peer = Target::peer("echo");
    let mut streams = [&ours, &peer].map(|t| connect(t.addr));
    heading("large messages", "MiB/s", "ms CPU/MiB");
    let rounds = if plan.repeats == 1 { 2 } else { 8 };
    let (a, b) = alternate(plan, &ours, &peer, |side| {
        load::large(&mut streams[side], 16 << 20, rounds)
    });
    // Per MiB, the CPU reads better in milliseconds.
    let (a, b) = (a.cpu_in_ms(), b.cpu_in_ms());
    row(
        &format!("16 MiB × {rounds}, one frame each"),
        a,
        b,
        &[Goal::AtLeast("MiB/s", 1.2, ratio(a.rate, b.rate))],
    );
}

// ---- idle connections --------------------------------------------------------

fn idle_connections(plan: Plan) {
    heading(
        "10 active clients × 16 B, idle connections held",
        "msg/s",
        "µs CPU/msg",
    );
    // A fourth server, ours again, never gets idle connections: the
    // measure of what the others keep, taken in the same alternation.
    let echo = ["--mode", "echo", "--max-clients", "20000"];
    let ours = Target::ours(&echo);
    let peer = Target::peer("echo");
    let poll = Target::ours(&[&echo[..], &["--poller", "poll"]].concat());
    let control = Target::ours(&echo);
    let targets = [&ours, &peer, &poll, &control];
    let mut active: Vec<Vec<TcpStream>> = targets.map(|t| connect_many(t.addr, 10)).into();
    let mut holders = Vec::new();
    let mut cost = None;
    for held in [0, 5000, 10000] {
        // Another 5,000 idle connections to each server but the control,
        // held by helper processes (a process may have 20,000 descriptors
        // here).
        if held > 0 {
            let rss = [&ours, &peer].map(Target::rss_kib);
            holders.extend([&ours, &peer, &poll].map(|t| load::Holder::start(t.addr, 5000)));
            if held == 10000 {
                cost = Some(idle_cost(&ours, &peer, rss));
            }
        }
        let figures = take_turns(plan, &targets, |i| {
            load::round_trips(&mut active[i], 16, plan.window)
        });
        let [a, b, c, alone] = [figures[0], figures[1], figures[2], figures[3]];
        let mut goals = vec![Goal::AtLeast("msg/s", 0.9, ratio(a.rate, b.rate))];
        if held > 0 {
            goals.push(Goal::AtLeast("ours kept", 0.8, a.rate / alone.rate));
        }
        row(&format!("10 active, {held} idle"), a, b, &goals);
        let kept = c.rate / alone.rate;
        let case = format!("  with --poller poll, {held} idle");
        row(&case, c, b, &[Goal::Report("poll kept", kept)]);
    }
    drop(holders);
    if let Some((a, b)) = cost {
        heading(
            "what an idle connection costs (10,000 held)",
            "KiB each",
            "CPU % idle",
        );
        row(
            "memory, and CPU over 2 s",
            a,
            b,
            &[Goal::Below("KiB each", 16.0, a.rate)],
        );
    }
}

/// Memory per connection since `rss` (10,000 connections ago), and CPU
/// over 2 s with only idle connections open.
fn idle_cost(ours: &Target, peer: &Target, rss: [u64; 2]) -> (Figures, Figures) {
    std::thread::sleep(Duration::from_millis(500));
    let cpu = [ours, peer].map(Target::cpu);
    std::thread::sleep(Duration::from_secs(2));
    let figures = |i: usize, target: &Target| {
        let kib = target.rss_kib().saturating_sub(rss[i]) as f64 / 10_000.0;
        let busy = target.cpu().saturating_sub(cpu[i]).as_secs_f64() / 2.0 * 100.0;
        Figures::new(kib, busy)
    };
    (figures(0, ours), figures(1, peer))
}

// ---- system calls ------------------------------------------------------------

fn system_calls() {
    heading("system calls per echoed message (strace -c)", "calls", "");
    let per_message = |target: &Target| {
        let mut streams = connect_many(target.addr, 10);
        let rounds = 2000;
        let calls = load::count_syscalls(target, || {
            load::round_trips_counted(&mut streams, 16, rounds);
        })?;
        Some(calls as f64 / (rounds * streams.len()) as f64)
    };
    let ours = Target::ours(&["--mode", "echo"]);
    let peer = Target::peer("echo");
    match (per_message(&ours), per_message(&peer)) {
        (Some(a), Some(b)) => row(
            "10 clients × 16 B",
            Figures::new(a, f64::NAN),
            Figures::new(b, f64::NAN),
            &[Goal::Below("calls", 2.3, a)],
        ),
        _ => println!("  (strace is not installed: skipped)"),
    }
}

// ---- chat --------------------------------------------------------------------

/// One member's connection, read a frame at a time.
struct Member {
    reader: BufReader<TcpStream>,
}

impl Member {
    fn join(target: &Target) -> Member {
        Member {
            reader: BufReader::with_capacity(1 << 16, connect(target.addr)),
        }
    }

    /// Read frames until one contains `marker`.
    fn hear(&mut self, marker: &[u8]) {
        let mut payload = Vec::new();
        loop {
            load::read_frame(&mut self.reader, &mut payload);
            if payload.windows(marker.len()).any(|w| w == marker) {
                return;
            }
        }
    }
}

fn chat_room(plan: Plan) {
    let members = 1000;
    let messages = if plan.repeats == 1 { 20 } else { 100 };
    heading(
        &format!("chat: messages to {members} members"),
        "deliveries/s",
        "µs CPU/delivery",
    );
    let ours = Target::ours(&["--mode", "chat", "--max-clients", "20000"]);
    let peer = Target::peer("chat");
    let mut rooms = [&ours, &peer].map(|target| {
        let mut room: Vec<Member> = (0..members).map(|_| Member::join(target)).collect();
        // Past the joins and welcomes: everyone has heard this.
        say(&mut room[0], "bench-ready");
        for member in room.iter_mut() {
            member.hear(b"bench-ready");
        }
        room
    });
    let mut round = 0;
    // A burst: the talker sends them all, then everyone reads.
    let (a, b) = alternate(plan, &ours, &peer, |side| {
        round += 1;
        let room = &mut rooms[side];
        for i in 0..messages {
            say(&mut room[0], &format!("bench-message {i} of round {round}"));
        }
        everyone_hears(
            room,
            &format!("bench-message {} of round {round}", messages - 1),
        );
        (messages * members) as f64
    });
    row(
        &format!("a burst of {messages}"),
        a,
        b,
        &[Goal::Report(
            "no target; deliveries/s",
            ratio(a.rate, b.rate),
        )],
    );
    // One at a time: everyone hears each message before the next is sent.
    let (a, b) = alternate(plan, &ours, &peer, |side| {
        round += 1;
        let room = &mut rooms[side];
        for i in 0..messages {
            let text = format!("bench-message {i} of round {round}");
            say(&mut room[0], &text);
            everyone_hears(room, &text);
        }
        (messages * members) as f64
    });
    row(
        &format!("{messages} one at a time"),
        a,
        b,
        &[Goal::Report(
            "no target; deliveries/s",
            ratio(a.rate, b.rate),
        )],
    );
}

/// Every member reads until it has heard `text` (two reader threads).
fn everyone_hears(room: &mut [Member], text: &str) {
    let per_thread = room.len().div_ceil(2);
    std::thread::scope(|scope| {
        for group in room.chunks_mut(per_thread) {
            let text = text.as_bytes();
            scope.spawn(move || group.iter_mut().for_each(|m| m.hear(text)));
        }
    });
}

fn say(member: &mut Member, text: &str) {
    let mut frame = Vec::new();
    load::client_frame(&mut frame, 0x81, text.as_bytes());
    member.reader.get_mut().write_all(&frame).expect("send");
}

// ---- the table -----------------------------------------------------------------

/// A case's figures for one server: a rate and a CPU cost.
#[derive(Debug, Clone, Copy)]
struct Figures {
    rate: f64,
    cpu: f64,
}

impl Figures {
    fn new(rate: f64, cpu: f64) -> Figures {
        Figures { rate, cpu }
    }

    fn from_samples(samples: &[Sample]) -> Figures {
        Figures {
            rate: median(samples.iter().map(Sample::rate).collect()),
            cpu: median(samples.iter().map(Sample::cpu_per).collect()),
        }
    }

    fn cpu_in_ms(self) -> Figures {
        Figures {
            cpu: self.cpu / 1000.0,
            ..self
        }
    }
}

/// Ours and the peer take turns (`take_turns`); their medians. `work` is
/// told which side it runs for: 0 for ours, 1 for the peer.
fn alternate(
    plan: Plan,
    ours: &Target,
    peer: &Target,
    work: impl FnMut(usize) -> f64,
) -> (Figures, Figures) {
    let figures = take_turns(plan, &[ours, peer], work);
    (figures[0], figures[1])
}

/// Run `work` for each server `plan.repeats` times, the servers taking
/// turns (a different one first each repeat); the medians, in the order of
/// `targets`. `work(i)` runs the load for `targets[i]`.
fn take_turns(plan: Plan, targets: &[&Target], mut work: impl FnMut(usize) -> f64) -> Vec<Figures> {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); targets.len()];
    for repeat in 0..plan.repeats {
        for k in 0..targets.len() {
            let i = (k + repeat) % targets.len();
            samples[i].push(measure(targets[i], || work(i)));
        }
    }
    samples.iter().map(|s| Figures::from_samples(s)).collect()
}

/// What a case must show, and its verdict.
enum Goal {
    /// This ratio (ours / tungstenite) at least this much.
    AtLeast(&'static str, f64, f64),
    /// This ratio at most this much.
    AtMost(&'static str, f64, f64),
    /// This figure of ours at most this much.
    Below(&'static str, f64, f64),
    /// No target: a figure worth seeing.
    Report(&'static str, f64),
    /// So many of so many: met when it is all of them (and some).
    Count(&'static str, u64, u64),
}

impl Goal {
    fn verdict(&self) -> String {
        let (text, met) = match *self {
            Goal::AtLeast(what, goal, got) => (format!("{what} {got:.2}× ≥ {goal}×"), got >= goal),
            Goal::AtMost(what, goal, got) => (format!("{what} {got:.2}× ≤ {goal}×"), got <= goal),
            Goal::Below(what, goal, got) => (format!("{what} {got:.2} ≤ {goal}"), got <= goal),
            Goal::Report(what, got) => return format!("{what} {got:.2}×"),
            Goal::Count(what, got, all) => (
                format!("{what} {} of {}", whole(got), whole(all)),
                got == all && all > 0,
            ),
        };
        format!("{text} {}", if met { "ok" } else { "MISSED" })
    }
}

fn ratio(ours: f64, peer: f64) -> f64 {
    ours / peer
}

fn heading(case: &str, rate: &str, cpu: &str) {
    heading_against(case, (rate, "tungstenite"), (cpu, "tungst."));
}

/// A table's heading where the second server is not tungstenite: each
/// pair is a column's name, ours and then the other's.
fn heading_against(case: &str, rate: (&str, &str), cpu: (&str, &str)) {
    println!("\n{case}");
    println!(
        "  {:<30} {:>12} {:>12} {:>7}   {:>10} {:>10} {:>7}   targets",
        "", rate.0, rate.1, "ratio", cpu.0, cpu.1, "ratio"
    );
}

fn row(case: &str, ours: Figures, peer: Figures, goals: &[Goal]) {
    let verdicts: Vec<String> = goals.iter().map(Goal::verdict).collect();
    println!(
        "  {:<30} {:>12} {:>12} {:>7}   {:>10} {:>10} {:>7}   {}",
        case,
        figure(ours.rate),
        figure(peer.rate),
        times(ours.rate, peer.rate),
        figure(ours.cpu),
        figure(peer.cpu),
        times(ours.cpu, peer.cpu),
        verdicts.join("; ")
    );
}

/// A ratio as "1.23×", or "—" where there is none (nothing to divide by).
fn times(ours: f64, peer: f64) -> String {
    let r = ratio(ours, peer);
    if r.is_finite() {
        format!("{r:.2}×")
    } else {
        "—".into()
    }
}

/// A figure with sensible digits: 123,456 or 12.3 or 0.123.
fn figure(value: f64) -> String {
    if value.is_nan() {
        return "—".into();
    }
    if value >= 1000.0 {
        let whole = value.round() as u64;
        let digits = whole.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// A count as a whole number: 12 or 123,456.
fn whole(count: u64) -> String {
    if count >= 1000 {
        figure(count as f64)
    } else {
        count.to_string()
    }
}

fn bytes(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}
