//! Reach: a probe filter (`filters/reach`) tries what a filter should not do — read the
//! environment, open a file, read another stream's headers, read a property outside the
//! exposed set, write outside its memory, open a socket — one request per access, per arm.
//! The harness plants the evidence ([`Canaries`]) and judges from it, never from the probe's
//! own word: an access is allowed only when the planted value came back (or the written
//! bytes, or the connection, arrived).

use std::io::Read as _;
use std::net::TcpListener;
use std::path::PathBuf;

use filterbench_results::merge::{At, Batch};
use filterbench_results::vocab::{Metric, Phase, Stage, reach};

pub mod envoy;
pub mod inproc;

/// The request header that selects the access, and the one a stream carries its secret in.
pub const SELECT: &str = "x-reach";
pub const SECRET: &str = "x-reach-secret";
/// The reply header in which the probe names the access it answers.
pub const ANSWERS: &str = "x-reach-access";

#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error("cannot plant the canaries: {0}")]
    Plant(#[from] std::io::Error),
}

/// What an arm did with one attempted access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Refused,
    /// The attempt could not be made on this arm (with why, in the attempt's words).
    NotAttempted,
    /// The attempt gave no verdict: no answer, the host died, a 5xx or a trap that is not the
    /// sandbox refusing this very access. Recorded absent, never as a refusal.
    NoVerdict,
}

/// One access on one arm: the verdict and what happened, in words.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub access: &'static str,
    pub verdict: Verdict,
    /// "allowed: read FILTERBENCH_CANARY=…", "refused: …", "trapped: …".
    pub said: String,
}

impl Attempt {
    pub fn new(access: &'static str, verdict: Verdict, said: impl Into<String>) -> Attempt {
        Attempt {
            access,
            verdict,
            said: said.into(),
        }
    }
}

/// The evidence the harness plants: values only it knows, so that a value coming back proves
/// the access was made.
pub struct Canaries {
    pub env_name: String,
    pub env_value: String,
    pub file: PathBuf,
    pub file_value: String,
    /// What the probe writes into [`Canaries::write_buf`] (native) and sends on the socket.
    pub write_value: String,
    /// Memory of this process the probe did not allocate: the native arm's write target.
    write_buf: Box<[u8; 64]>,
    listener: TcpListener,
    pub park_secret: String,
    pub own_secret: String,
    pub path: String,
}

impl Canaries {
    /// Writes the canary file and opens the listener. The environment variable is planted
    /// apart ([`Canaries::plant_env`]), as only a single-threaded process may set one.
    pub fn new() -> Result<Canaries, ReachError> {
        let nonce = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        let file = std::env::temp_dir().join(format!("filterbench-reach-{nonce}.txt"));
        let file_value = format!("file-canary-{nonce}");
        std::fs::write(&file, &file_value)?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        Ok(Canaries {
            env_name: "FILTERBENCH_CANARY".into(),
            env_value: format!("env-canary-{nonce}"),
            file,
            file_value,
            write_value: format!("written-{nonce}"),
            write_buf: Box::new([0; 64]),
            listener,
            park_secret: format!("parked-{nonce}"),
            own_secret: format!("own-{nonce}"),
            path: format!("/reach/{nonce}"),
        })
    }

    /// Sets the canary variable in this process's environment (inherited by an Envoy it
    /// starts, read by a native filter it loads).
    ///
    /// # Safety
    /// The process must have one thread: setting a variable races with any other thread
    /// reading the environment.
    pub unsafe fn plant_env(&self) {
        // SAFETY: the caller promises a single-threaded process.
        unsafe { std::env::set_var(&self.env_name, &self.env_value) };
    }

    /// Whether the canary variable is in this process's environment.
    pub fn env_planted(&self) -> bool {
        std::env::var(&self.env_name).is_ok_and(|v| v == self.env_value)
    }

    /// The port of the listener the `socket` access connects to.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    /// The probe's plugin configuration; `write_addr` only for the in-process native arm.
    pub fn config(&self, with_write_addr: bool) -> serde_json::Value {
        let mut c = serde_json::json!({
            "canary_env": self.env_name,
            "canary_file": self.file,
            "write_value": self.write_value,
            "socket_port": self.port(),
        });
        if with_write_addr {
            c["write_addr"] = serde_json::json!(self.write_buf.as_ptr() as usize as u64);
        }
        c
    }

    /// Clears the write target (before each arm's attempt).
    pub fn reset_write(&mut self) {
        self.write_buf.fill(0);
    }

    /// Whether the write target holds exactly what the probe was told to write.
    pub fn written(&self) -> bool {
        // Read through a volatile load: the buffer was written behind the compiler's back.
        let bytes: Vec<u8> = (0..self.write_buf.len())
            // SAFETY: `i` is within the buffer.
            .map(|i| unsafe { std::ptr::read_volatile(self.write_buf.as_ptr().add(i)) })
            .collect();
        bytes.starts_with(self.write_value.as_bytes())
    }

    /// What arrived on the listener since the last call: a connection and the bytes sent.
    pub fn accepted(&self) -> Option<String> {
        let (mut s, _) = self.listener.accept().ok()?;
        let _ = s.set_nonblocking(false);
        let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(500)));
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        Some(got)
    }
}

impl Drop for Canaries {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Judges one access from what the probe answered (`body`) or how its VM failed (`trap`),
/// and the evidence. `wrote`/`connected` are what the harness itself saw.
pub fn judge(
    access: &'static str,
    answer: Result<&str, &str>,
    c: &Canaries,
    wrote: bool,
    connected: Option<&str>,
) -> Attempt {
    let body = match answer {
        Ok(body) => body,
        Err(trap) => return judge_trap(access, trap),
    };
    if body.contains("not attempted") {
        return Attempt::new(access, Verdict::NotAttempted, body);
    }
    let allowed = match access {
        reach::ENV | reach::PROPERTY_OUTSIDE => body.contains(&c.env_value),
        reach::FILE => body.contains(&c.file_value),
        reach::OTHER_STREAM => body.contains(&c.park_secret),
        reach::PROPERTY_ALLOWED => body == format!("request.path={}", c.path),
        // Wasm: a store that did not trap got past the end of memory.
        reach::OOB_WRITE => wrote || body.contains("no trap"),
        reach::SOCKET => connected.is_some(),
        _ => false,
    };
    let verdict = if allowed {
        Verdict::Allowed
    } else {
        Verdict::Refused
    };
    let word = if allowed { "allowed" } else { "refused" };
    let evidence = match (access, connected) {
        (reach::SOCKET, Some(got)) => format!(" (the harness accepted it; received `{got}`)"),
        (reach::OOB_WRITE, _) if wrote => " (the harness read the bytes back)".into(),
        (reach::OTHER_STREAM, _) if allowed => {
            " (the parked stream's secret: the host switched streams within the VM)".into()
        }
        (reach::OTHER_STREAM, _) if body.contains(&c.own_secret) => {
            " (its own stream's secret: the switch did not reach the other stream)".into()
        }
        _ => String::new(),
    };
    Attempt::new(access, verdict, format!("{word}: {body}{evidence}"))
}

/// Whether `trap` is the sandbox refusing `access` itself: only a store past the end of
/// linear memory has a trap of its own (every other access is refused by an answer).
pub fn is_refusal_trap(access: &str, trap: &str) -> bool {
    access == reach::OOB_WRITE && trap.to_lowercase().contains("out of bounds")
}

/// A trap: a refusal only when it is the sandbox's refusal of this access; anything else
/// (a VM that failed to load, a missing import, a bug of the probe) says nothing about it.
pub fn judge_trap(access: &'static str, trap: &str) -> Attempt {
    if is_refusal_trap(access, trap) {
        Attempt::new(access, Verdict::Refused, format!("trapped: {trap}"))
    } else {
        Attempt::new(
            access,
            Verdict::NoVerdict,
            format!("no verdict: a trap that is not the sandbox refusing {access}: {trap}"),
        )
    }
}

/// Why the arm's verdicts are void, if they are: the control (a property every host exposes)
/// was not allowed, so the probe itself is broken there and no refusal means anything.
pub fn control_failed(attempts: &[Attempt]) -> Option<String> {
    match attempts
        .iter()
        .find(|a| a.access == reach::PROPERTY_ALLOWED)
    {
        Some(a) if a.verdict == Verdict::Allowed => None,
        Some(a) => Some(format!(
            "the probe's control was refused: the probe is broken on this arm ({}: {})",
            reach::PROPERTY_ALLOWED,
            a.said
        )),
        None => Some(format!(
            "the probe's control ({}) was not tried: the probe is broken on this arm",
            reach::PROPERTY_ALLOWED
        )),
    }
}

/// Records an arm's attempts: a `reach_refused` row (1 refused, 0 allowed) and the
/// observation per access; an access not attempted or without a verdict is absent with its
/// reason. When the control failed, every access is absent (the verdicts are void) and the
/// arm has a failure at [`Stage::Promise`].
pub fn record(batch: &mut Batch, arm: &str, attempts: &[Attempt]) {
    let void = control_failed(attempts);
    if let Some(why) = &void {
        batch.fail(reach::PROBE_FILTER, "", arm, Stage::Promise, why.clone());
    }
    for a in attempts {
        let at = At::new(reach::PROBE_FILTER, a.access, arm, Phase::Reach, 0);
        match (&void, a.verdict) {
            (Some(why), _) => batch.absent(&at, Metric::ReachRefused, why.clone()),
            (None, Verdict::Allowed) => batch.record(&at, Metric::ReachRefused, 0.0),
            (None, Verdict::Refused) => batch.record(&at, Metric::ReachRefused, 1.0),
            (None, Verdict::NotAttempted | Verdict::NoVerdict) => {
                batch.absent(&at, Metric::ReachRefused, a.said.clone())
            }
        }
        batch.observe(&at, a.said.clone());
    }
}
