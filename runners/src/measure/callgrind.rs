//! Instructions per request under valgrind's callgrind, the deterministic count for noisy
//! machines: a spinning process (the CLI's hidden `__spin`) proves the scenario, runs one
//! request, then R more, each through [`counted_request`] and its outcome checked outside it;
//! callgrind collects only inside that function, so the total over R is per request — the same
//! for the same binary and inputs, whatever else the machine is doing. Start-up, compilation
//! (whose count varies from run to run with hash seeds) and the checks are left out.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use crate::fixtures::Step;
use crate::host::{Vm, VmError};
use crate::measure::scenario::Scenario;

/// The only code callgrind counts in a spin: one request of the scenario, written over the
/// previous one's outcome as the timed loops do.
#[inline(never)]
pub fn counted_request(sc: &Scenario, vm: &mut Vm, step: &mut Step) -> Result<(), VmError> {
    sc.run_into(vm, step)
}

/// callgrind's name pattern for [`counted_request`].
const COUNTED: &str = "*callgrind::counted_request*";

#[derive(Debug, thiserror::Error)]
pub enum CallgrindError {
    #[error("running valgrind (Debian package valgrind): {0}")]
    Start(std::io::Error),
    #[error("valgrind run failed ({0}): {1}")]
    Failed(ExitStatus, String),
    #[error("reading the callgrind output: {0}")]
    Read(std::io::Error),
    #[error("no instruction total in the callgrind output")]
    NoTotal,
    #[error("at least one request must be counted")]
    NoRequests,
    #[error("callgrind counted no instruction in the requests")]
    NothingCounted,
}

/// What is counted: `exe __spin --filter F --scenario S --arm A --requests R`.
pub struct Spin<'a> {
    pub exe: &'a Path,
    pub filter: &'a str,
    pub scenario: &'a str,
    pub arm: &'a str,
}

impl Spin<'_> {
    /// Total instructions (Ir) of one callgrind run with `requests` requests; its output is
    /// kept in `dir`.
    fn instructions(&self, dir: &Path, requests: u64) -> Result<u64, CallgrindError> {
        let out = dir.join(format!(
            "{}.{}.{}.{requests}.callgrind",
            self.filter, self.scenario, self.arm
        ));
        let status = Command::new("valgrind")
            .args(["--tool=callgrind", "--smc-check=all", "-q"])
            .args([
                "--collect-atstart=no",
                &format!("--toggle-collect={COUNTED}"),
            ])
            // Collection is on for every thread while the request runs: an engine's timer
            // thread (wasmtime's epoch ticker) would be counted by wall time. Only the
            // request's own thread (valgrind's thread 1, file suffix -01) is read.
            .arg("--separate-threads=yes")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(self.exe)
            .args([
                "__spin",
                "--filter",
                self.filter,
                "--scenario",
                self.scenario,
            ])
            .args(["--arm", self.arm, "--requests", &requests.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(CallgrindError::Start)?;
        if !status.status.success() {
            let err = String::from_utf8_lossy(&status.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(CallgrindError::Failed(status.status, last.to_string()));
        }
        let main_thread = format!("{}-01", out.display());
        let text = std::fs::read_to_string(main_thread).map_err(CallgrindError::Read)?;
        text.lines()
            .find_map(|l| {
                l.strip_prefix("summary:")
                    .or_else(|| l.strip_prefix("totals:"))
            })
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or(CallgrindError::NoTotal)
    }

    /// Instructions per request: the count inside [`counted_request`] over `requests`.
    pub fn per_request(&self, dir: &Path, requests: u64) -> Result<f64, CallgrindError> {
        if requests == 0 {
            return Err(CallgrindError::NoRequests);
        }
        match self.instructions(dir, requests)? {
            0 => Err(CallgrindError::NothingCounted),
            n => Ok(n as f64 / requests as f64),
        }
    }
}
