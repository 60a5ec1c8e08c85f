//! Instructions per request under valgrind's callgrind, the deterministic count for noisy
//! machines: the scenario's request run R times and none at all by a spinning process (the
//! CLI's hidden `__spin`), both under callgrind; the difference over R is per request — the
//! same for the same binary and inputs, whatever else the machine is doing.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum CallgrindError {
    #[error("running valgrind (Debian package valgrind): {0}")]
    Start(std::io::Error),
    #[error("valgrind run failed ({0})")]
    Failed(ExitStatus),
    #[error("reading the callgrind output: {0}")]
    Read(std::io::Error),
    #[error("no instruction total in the callgrind output")]
    NoTotal,
    #[error("at least one request must be counted")]
    NoRequests,
    #[error(
        "{with} instructions with {requests} requests, {without} without: no per-request count"
    )]
    NotMore {
        with: u64,
        without: u64,
        requests: u64,
    },
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
            .stderr(Stdio::null())
            .status()
            .map_err(CallgrindError::Start)?;
        if !status.success() {
            return Err(CallgrindError::Failed(status));
        }
        let text = std::fs::read_to_string(&out).map_err(CallgrindError::Read)?;
        text.lines()
            .find_map(|l| {
                l.strip_prefix("summary:")
                    .or_else(|| l.strip_prefix("totals:"))
            })
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or(CallgrindError::NoTotal)
    }

    /// Instructions per request: a run with `requests` requests minus one with none, over
    /// `requests`. A run with requests that counts fewer than one without is an error, not
    /// zero.
    pub fn per_request(&self, dir: &Path, requests: u64) -> Result<f64, CallgrindError> {
        if requests == 0 {
            return Err(CallgrindError::NoRequests);
        }
        let with = self.instructions(dir, requests)?;
        let without = self.instructions(dir, 0)?;
        if with <= without {
            return Err(CallgrindError::NotMore {
                with,
                without,
                requests,
            });
        }
        Ok((with - without) as f64 / requests as f64)
    }
}
