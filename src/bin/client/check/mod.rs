//! `client --check URL`: is a learner's server right, and if not, why not.
//!
//! A run is a list of cases (`opening.rs`, `data.rs`, `fragments.rs`,
//! `control.rs`, `rules.rs`), each small and on a connection of its own,
//! each bounded by a short deadline, run one after the other. This file
//! runs them and turns what each found into a result: passed, failed (with
//! what went each way, the rule and its RFC 6455 section, and the PHP's bug
//! it looks like, if one does), or not judged, with the reason.
//!
//! A server that can no longer be reached (connections refused, or a
//! handshake unanswered on a fresh connection too, the probe) ends the
//! run: the cases left are not judged, never blamed, and one more result,
//! `server-reachable`, says when it was lost. The order of the cases is
//! what lets that name B4 (no handshake answered after the first client's)
//! and B6 (no connection accepted after the first answer).

mod bugs;
mod control;
mod data;
mod fragments;
mod judge;
mod opening;
mod report;
mod rules;
mod session;

use crate::handshake::{self, Request, KEY};
use crate::peer::Peer;
use crate::url::Url;
use bugs::Bug;
use report::Record;
use session::{Entry, Session, Tally};
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What a case may read in all, on one connection: an echo of its largest
/// message (1 MiB) and a reply around it, with room to spare.
const CAP: usize = 3 << 20;
/// The most a whole run may take, in cases' deadlines: once it is spent,
/// the cases left are not judged. A run against a server that answers
/// takes a few seconds; one that waits out every deadline, well under a
/// minute.
const BUDGET: u32 = 40;

/// What the server is expected to answer a message with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The same message back: its bytes are compared.
    Echo,
    /// Some well-formed message: the tutorial's `You have entered: ...`.
    Reply,
}

/// Which part of RFC 6455 a case is about, for the report's headings.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Handshake,
    Data,
    Fragments,
    Control,
    Rules,
    /// The run itself: whether the server could still be reached.
    Server,
}

/// One case: its name, the section of RFC 6455 whose rule it checks, the
/// rule in words, and the check.
pub struct Case {
    pub name: String,
    pub section: Option<&'static str>,
    pub rule: String,
    pub area: Area,
    /// A large message: twice the deadline.
    pub long: bool,
    pub run: Box<dyn Fn(&Ctx) -> Outcome>,
}

/// A case of `area`; [`Case::long`] is off.
pub fn case(
    area: Area,
    name: impl Into<String>,
    section: &'static str,
    rule: impl Into<String>,
    run: impl Fn(&Ctx) -> Outcome + 'static,
) -> Case {
    Case {
        name: name.into(),
        section: Some(section),
        rule: rule.into(),
        area,
        long: false,
        run: Box::new(run),
    }
}

/// What a case found. A case returns it either way (`Ok` or `Err`), so
/// that `?` can end a case early with the verdict a step already made.
pub type Outcome = Result<Verdict, Verdict>;

pub enum Verdict {
    Passed,
    Failed(Failure),
    /// Not judged, and why. `excused`: the reason is `--expect reply`
    /// (the answer's words do not say), which is no failure of the server.
    NotJudged {
        reason: String,
        excused: bool,
    },
    /// Not tried, and why: the server was lost before, or the run's time
    /// was spent. Not judged, as far as a script can tell.
    Skipped(String),
    /// The server can no longer be reached: the run ends here.
    Lost(Lost),
}

/// A failure: why, the PHP's bug it looks like, and what went each way.
pub struct Failure {
    pub reason: String,
    pub bug: Option<Bug>,
    pub transcript: Vec<Entry>,
}

/// How the server was lost.
pub enum Lost {
    /// A connection could not be made: refused, or unreachable.
    NoConnection(String),
    /// A handshake, and then the probe's, went unanswered.
    Unanswered,
}

/// What a case is given: where the server is, what it is expected to
/// answer, how long the case may take, and what the run saw before it.
pub struct Ctx<'a> {
    pub url: &'a Url,
    pub expect: Expect,
    pub wait: Duration,
    pub tally: &'a Tally,
    /// Where this case is in the run.
    pub index: usize,
}

impl Ctx<'_> {
    /// The deadline in words: `1 s`.
    pub fn seconds(&self) -> String {
        format!("{} s", self.wait.as_secs_f64())
    }

    /// A request head for this server: the key, a subprotocol and the
    /// version as given (§4.1), the rest as every client sends them.
    pub fn request(&self, key: Option<&str>, protocol: Option<&str>, version: usize) -> Vec<u8> {
        let host = self.url.authority();
        let request = Request {
            path: &self.url.path,
            host: &host,
            key,
            protocol,
            version,
            origin: None,
        };
        request.bytes()
    }

    /// The usual request: our key, no subprotocol, version 13.
    pub fn usual_request(&self) -> Vec<u8> {
        self.request(Some(KEY), None, 13)
    }

    /// A new connection, its deadline the case's, reading at most [`CAP`].
    pub fn connect(&self) -> Result<Session<'_>, Verdict> {
        self.connect_capped(CAP)
    }

    /// The same, reading at most `cap`.
    pub fn connect_capped(&self, cap: usize) -> Result<Session<'_>, Verdict> {
        let Url { host, port, .. } = self.url;
        match Peer::connect(host, *port, self.wait) {
            Ok((mut peer, _)) => {
                peer.cap(cap);
                peer.deadline = Instant::now() + self.wait;
                Ok(Session::new(peer, self))
            }
            Err(e) => Err(Verdict::Lost(Lost::NoConnection(e.to_string()))),
        }
    }

    /// A connection past its 101, for a case about frames. A handshake
    /// refused or unanswered leaves the case not judged: its rule is
    /// another (the handshake's cases judge the handshake).
    pub fn websocket(&self) -> Result<Session<'_>, Verdict> {
        let mut session = self.connect()?;
        session.send_head(&self.usual_request());
        let reason = match session.read_head() {
            Ok(head) if handshake::status(&head) == Some(101) => return Ok(session),
            Ok(head) => {
                let line = handshake::status_line(&head);
                format!("the opening handshake was refused ({line}), so nothing else was tried")
            }
            Err(why) => {
                self.still_there()?;
                format!("the opening handshake went unanswered ({why}), though the probe's was")
            }
        };
        Err(Verdict::NotJudged {
            reason,
            excused: false,
        })
    }

    /// The probe: before a case is blamed for a handshake nobody answered,
    /// a fresh connection asks once more. If that is refused or unanswered
    /// too, the server is lost, and no case is to blame.
    pub fn still_there(&self) -> Result<(), Verdict> {
        let mut probe = self.connect()?;
        probe.probe = true;
        probe.send_head(&self.usual_request());
        match probe.read_head() {
            Ok(_) => Ok(()),
            Err(_) => Err(Verdict::Lost(Lost::Unanswered)),
        }
    }
}

/// Every case, in the order they run: the handshake first, then one
/// message at a time, so that a server that stops answering shows when.
fn all(expect: Expect) -> Vec<Case> {
    let mut cases = opening::cases();
    cases.extend(data::cases(expect));
    cases.extend(fragments::cases());
    cases.extend(control::cases());
    cases.extend(rules::cases());
    cases
}

/// Run every case against the server at `url`, print each result as it
/// comes (text, or one JSON object a line), and say how it went: 0 when
/// every case passed (or was not judged for `--expect reply`), 1 when one
/// failed or the server was lost, 2 when it could not be reached at all.
pub fn run(url: &Url, expect: Expect, json: bool, wait: Duration) -> ExitCode {
    let cases = all(expect);
    let (tally, started) = (Tally::default(), Instant::now());
    if !json {
        out(&report::header(url, expect, cases.len(), wait));
    }
    let mut records = Vec::new();
    let mut lost: Option<(usize, Lost)> = None;
    for (index, case) in cases.iter().enumerate() {
        let verdict = match &lost {
            Some((at, _)) => Verdict::Skipped(format!(
                "not tried: the server was lost at {}",
                cases[*at].name
            )),
            None if started.elapsed() > wait * BUDGET => Verdict::Skipped(format!(
                "not tried: the run's {} s were spent",
                (wait * BUDGET).as_secs()
            )),
            None => judged(case, index, url, expect, wait, &tally),
        };
        let verdict = match verdict {
            Verdict::Lost(Lost::NoConnection(why)) if index == 0 => {
                let _ = writeln!(
                    io::stderr(),
                    "client: cannot connect to {}: {why}",
                    url.authority()
                );
                return ExitCode::from(2);
            }
            Verdict::Lost(why) => {
                let reason = match why {
                    Lost::NoConnection(_) => "its connection was refused",
                    Lost::Unanswered => "its handshake went unanswered, and the probe's too",
                };
                lost = Some((index, why));
                not_judged(&format!("{reason}: see server-reachable, below"))
            }
            verdict => verdict,
        };
        records.push(Record::of(case, verdict));
        out(&report::shown(records.last().expect("just pushed"), json));
    }
    if let Some((at, why)) = lost {
        records.push(lost_record(&cases, at, why, &tally, wait));
        out(&report::shown(records.last().expect("just pushed"), json));
    }
    if !json {
        out(&report::summary(&records, started.elapsed()));
    }
    exit_status(&records)
}

/// One case, run.
fn judged(
    case: &Case,
    index: usize,
    url: &Url,
    expect: Expect,
    wait: Duration,
    tally: &Tally,
) -> Verdict {
    let wait = if case.long { wait * 2 } else { wait };
    let ctx = Ctx {
        url,
        expect,
        wait,
        tally,
        index,
    };
    match (case.run)(&ctx) {
        Ok(verdict) | Err(verdict) => verdict,
    }
}

fn not_judged(reason: &str) -> Verdict {
    Verdict::NotJudged {
        reason: reason.to_string(),
        excused: false,
    }
}

/// The result that says the server was lost at case `at`, and which of
/// the PHP's bugs that looks like, if the order of things shows one.
fn lost_record(cases: &[Case], at: usize, why: Lost, tally: &Tally, wait: Duration) -> Record {
    let name = &cases[at].name;
    let (reason, bug) = match why {
        Lost::NoConnection(e) => {
            // B6: refused right after the case that got the first answer.
            let first = tally.first_answer.get();
            let bug = (at > 0 && first == Some(at - 1)).then_some(bugs::B6);
            let mut reason = format!("from {name} on, connections were refused ({e})");
            if bug.is_some() {
                let before = &cases[at - 1].name;
                reason +=
                    &format!(", right after the server answered its first message (in {before})");
            }
            (reason, bug)
        }
        Lost::Unanswered if tally.switched.get() == 0 => {
            let secs = wait.as_secs_f64();
            (format!("the server accepts connections but answered no opening handshake within {secs} s, nor the probe's"), None)
        }
        Lost::Unanswered => {
            // B4: no handshake answered after the first client's.
            let bug = (tally.switched.get() == 1).then_some(bugs::B4);
            let mut reason = format!("from {name} on, no opening handshake was answered, nor the probe's on a fresh connection");
            if bug.is_some() {
                reason += ": one client was served, and no other since";
            }
            (reason, bug)
        }
    };
    let failure = Failure {
        reason,
        bug,
        transcript: Vec::new(),
    };
    Record {
        name: "server-reachable".into(),
        section: None,
        rule: "the server answers every client, not only the first".into(),
        area: Area::Server,
        verdict: Verdict::Failed(failure),
    }
}

fn exit_status(records: &[Record]) -> ExitCode {
    let bad = |record: &Record| match &record.verdict {
        Verdict::Passed => false,
        Verdict::NotJudged { excused, .. } => !excused,
        Verdict::Failed(_) | Verdict::Skipped(_) | Verdict::Lost(_) => true,
    };
    match records.iter().any(bad) {
        true => ExitCode::FAILURE,
        false => ExitCode::SUCCESS,
    }
}

/// Print a block of the report; a stdout that is gone is no reason to stop.
fn out(text: &str) {
    let _ = writeln!(io::stdout().lock(), "{text}");
}
