//! Blast radius: add-header failing on purpose (its failing variant, the test filter
//! `misbehave`, or the same failures written in Lua) under steady load, per arm — in live
//! Envoy (V8 under each failure policy, the native module, Lua) and in process per engine —
//! and what it cost: requests failed and how, whether the host survived, the time until
//! answers were good again.

pub mod envoy;
pub mod inproc;
pub mod load;

use std::collections::BTreeMap;
use std::time::Duration;

use filterbench_results::vocab::{Metric, Phase};
use filterbench_results::{At, Batch};
use serde::{Deserialize, Serialize};

/// The filter whose failing variants are measured, and the test filter that fails like it.
pub const FILTER: &str = "add-header";
pub const FAILING_VARIANT: &str = "misbehave";

/// How the filter fails, from the request after `after` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A panic (a trap in wasm, an abort natively; Lua: `error()`).
    Panic,
    /// Never returns from the request headers.
    Loop,
    /// Keeps 1 MiB more per request, never freed (Lua: a growing table).
    Grow,
    /// Writes through a null pointer (no Lua counterpart).
    NullWrite,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Panic, Mode::Loop, Mode::Grow, Mode::NullWrite];

    /// The name misbehave's configuration and the results' scenario use.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Panic => "panic",
            Mode::Loop => "loop",
            Mode::Grow => "grow",
            Mode::NullWrite => "null-write",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == s)
    }

    /// misbehave's plugin configuration for this mode.
    pub fn config(self, after: u64) -> String {
        serde_json::json!({"mode": self.name(), "after": after}).to_string()
    }
}

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// 200 with the header add-header adds.
    Good,
    /// An answer with another status (a local reply: 500, 503).
    Status(u16),
    /// A 200 without the header: the filter was skipped (fail open) or did not finish.
    Wrong,
    /// In process: the callback trapped or was stopped by a bound; the host fails the request.
    Trapped,
    /// The connection was reset (a refused connect is no request: see `Tally::refused`).
    Reset,
    /// No answer within the request timeout.
    Unanswered,
}

/// The requests of one trial, counted as they were answered (in answer order).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub sent: u64,
    pub good: u64,
    /// Answered, but not well: by status (200 = answered without the header; 0 = failed by the
    /// in-process host, which has no status).
    pub failed: BTreeMap<u16, u64>,
    pub reset: u64,
    pub unanswered: u64,
    /// When the first bad answer (or reset, or timeout) came, since the load began.
    pub first_bad: Option<Duration>,
    /// When the first good answer to a request sent after that came.
    pub recovered: Option<Duration>,
    /// Bad answers after the first recovery (the filter failing again, e.g. a reloaded VM
    /// reaching request `after` again).
    pub bad_after_recovery: u64,
    /// Requests reset or unanswered that were already sent when the first bad answer came:
    /// those in flight when the host broke.
    pub in_flight_lost: u64,
    /// Live Envoy: connects refused or timed out once nothing listened. Not requests (none
    /// was sent), so in no other count.
    #[serde(default)]
    pub refused: u64,
}

impl Tally {
    /// Counts one request sent at `sent` and ended at `done`; calls must come in `done` order.
    pub fn add(&mut self, sent: Duration, done: Duration, outcome: &Outcome) {
        self.sent += 1;
        match outcome {
            Outcome::Good => {
                self.good += 1;
                if self.recovered.is_none() && self.first_bad.is_some_and(|b| sent >= b) {
                    self.recovered = Some(done);
                }
                return;
            }
            Outcome::Status(s) => *self.failed.entry(*s).or_default() += 1,
            Outcome::Trapped => *self.failed.entry(0).or_default() += 1,
            Outcome::Wrong => *self.failed.entry(200).or_default() += 1,
            Outcome::Reset => self.reset += 1,
            Outcome::Unanswered => self.unanswered += 1,
        }
        self.first_bad.get_or_insert(done);
        if self.recovered.is_some() {
            self.bad_after_recovery += 1;
        }
    }

    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    /// The failed answers in words: `120×503, 3×200 without the header`.
    pub fn failed_words(&self) -> String {
        let parts: Vec<String> = self
            .failed
            .iter()
            .map(|(s, n)| match s {
                0 => format!("{n} failed by the host (trap or bound)"),
                200 => format!("{n}×200 without the header"),
                s => format!("{n}×{s}"),
            })
            .collect();
        parts.join(", ")
    }
}

/// Whether the host lived through the trial: Some(yes/no), or None with why it is not known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Survival {
    Survived(bool),
    Unknown(String),
}

/// One trial of one mode on one arm.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trial {
    pub mode: Mode,
    pub arm: String,
    pub window: Duration,
    pub tally: Tally,
    pub survived: Survival,
    /// The host's resident-set growth over the trial (bytes), or why it is not known.
    pub growth: Result<u64, String>,
    /// How it ended, in one line.
    pub how: String,
}

impl Trial {
    /// The trial's figures, one row each, at (filter, mode, arm, fault, `process` = trial).
    pub fn record(&self, batch: &mut Batch, process: u32) {
        let at = At::new(FILTER, self.mode.name(), &self.arm, Phase::Fault, process);
        let t = &self.tally;
        batch.record(&at, Metric::FaultRequests, t.sent as f64);
        batch.record(&at, Metric::FaultRequestsFailed, t.failed_total() as f64);
        batch.record(
            &at,
            Metric::FaultRequestsReset,
            (t.reset + t.unanswered) as f64,
        );
        let died = self.survived == Survival::Survived(false);
        match (t.first_bad, t.recovered) {
            (Some(b), Some(r)) => {
                batch.record(&at, Metric::FaultRecoveryTime, (r - b).as_nanos() as f64)
            }
            (_, None) if died => batch.absent(
                &at,
                Metric::FaultRecoveryTime,
                "the host died: no good answer came after it within the window",
            ),
            (None, _) => batch.absent(
                &at,
                Metric::FaultRecoveryTime,
                "no request failed within the window: nothing to recover from",
            ),
            // A request stuck in the filter: the host lives but does not serve.
            (Some(_), None) if t.unanswered > 0 => batch.absent(
                &at,
                Metric::FaultRecoveryTime,
                format!(
                    "a request never returned, and no good answer came after the first bad one \
                     within the {:.1} s window",
                    self.window.as_secs_f64()
                ),
            ),
            (Some(_), None) => batch.absent(
                &at,
                Metric::FaultRecoveryTime,
                format!(
                    "no good answer after the first bad one within the {:.1} s window",
                    self.window.as_secs_f64()
                ),
            ),
        }
        match &self.survived {
            Survival::Survived(s) => {
                batch.record(&at, Metric::FaultHostSurvived, f64::from(u8::from(*s)))
            }
            Survival::Unknown(why) => batch.absent(&at, Metric::FaultHostSurvived, why.clone()),
        }
        match &self.growth {
            Ok(b) => batch.record(&at, Metric::MemoryGrowth, *b as f64),
            Err(why) => batch.absent(&at, Metric::MemoryGrowth, why.clone()),
        }
        batch.observe(&at, self.how.clone());
    }
}

/// The figures of a fault trial.
pub const METRICS: [Metric; 6] = [
    Metric::FaultRequests,
    Metric::FaultRequestsFailed,
    Metric::FaultRequestsReset,
    Metric::FaultRecoveryTime,
    Metric::FaultHostSurvived,
    Metric::MemoryGrowth,
];

/// A trial that could not run: every figure absent with why, and the why as its observation.
pub fn not_run(batch: &mut Batch, at: &At, why: &str) {
    for m in METRICS {
        batch.absent(at, m, why.to_string());
    }
    batch.observe(at, format!("not run: {why}"));
}

/// What the requests went through, for a trial's observation line.
pub fn consequences(t: &Tally) -> String {
    let mut out = format!("; {} requests, {} good", t.sent, t.good);
    if t.failed_total() > 0 {
        out.push_str(&format!(", {}", t.failed_words()));
    }
    if t.reset + t.unanswered > 0 {
        out.push_str(&format!(
            ", {} reset, {} unanswered ({} of them in flight when it broke)",
            t.reset, t.unanswered, t.in_flight_lost
        ));
    }
    if t.refused > 0 {
        out.push_str(&format!(
            "; {} connects refused once nothing listened (not requests)",
            t.refused
        ));
    }
    if t.bad_after_recovery > 0 {
        out.push_str(&format!(
            "; failed again after recovering ({} more bad)",
            t.bad_after_recovery
        ));
    }
    out
}

/// The host's growth for an observation line, when it is worth saying (≥ 64 MiB).
pub fn grew(growth: &Result<u64, String>) -> String {
    match growth {
        Ok(b) if *b >= 64 << 20 => format!("; resident set +{} MiB", b >> 20),
        _ => String::new(),
    }
}

/// How trials are run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// Requests 1..=after behave (per VM, or per Lua state); the fault starts after.
    pub after: u64,
    /// How long the load runs per trial.
    pub window: Duration,
    /// Closed-loop connections (live Envoy).
    pub connections: u32,
    /// A request not answered within this is unanswered.
    pub timeout: Duration,
    /// Resident-set growth past which filterbench stops the host itself (it would otherwise
    /// grow until the kernel's OOM killer picks a process, maybe not this one).
    pub growth_cap: u64,
}

impl Settings {
    pub fn new(quick: bool) -> Settings {
        Settings {
            after: 200,
            window: Duration::from_secs(if quick { 3 } else { 6 }),
            connections: 4,
            timeout: Duration::from_secs(1),
            growth_cap: 3 << 30,
        }
    }
}

/// The resident set of process `pid` (bytes).
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

/// Tracks a host's resident set over a trial, and stops the host past the growth cap.
pub struct RssWatch {
    pid: u32,
    start: Option<u64>,
    peak: Option<u64>,
    cap: u64,
    pub capped: bool,
}

impl RssWatch {
    pub fn new(pid: u32, cap: u64) -> RssWatch {
        let start = rss_of(pid);
        RssWatch {
            pid,
            start,
            peak: start,
            cap,
            capped: false,
        }
    }

    /// Samples once; SIGKILLs the host (our child) once it grew past the cap.
    pub fn sample(&mut self) {
        let Some(now) = rss_of(self.pid) else {
            return;
        };
        self.peak = self.peak.max(Some(now));
        if let Some(s) = self.start
            && now > s + self.cap
            && !self.capped
        {
            self.capped = true;
            // SAFETY: signalling our own child, which is still alive (we just read its RSS).
            unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        }
    }

    /// Measures growth from `rss` on (the host's own figure once its VM has started, so the
    /// engine's load and compile are not counted as growth); earlier samples are dropped.
    pub fn rebase(&mut self, rss: u64) {
        self.start = Some(rss);
        self.peak = Some(rss);
    }

    /// Peak over start, or why it is not known.
    pub fn growth(&self) -> Result<u64, String> {
        match (self.start, self.peak) {
            (Some(s), Some(p)) => Ok(p - s),
            _ => Err(format!(
                "the resident set of pid {} was not readable",
                self.pid
            )),
        }
    }
}
