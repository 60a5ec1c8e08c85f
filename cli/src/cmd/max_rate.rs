//! `run --max-rate`: the highest open-loop rate each Envoy variant sustains under a latency
//! bound. Off unless asked: it adds about half a minute per variant per process.

use std::time::Duration;

use anyhow::{Result, bail};
use filterbench_runners::envoy::maxrate::MaxRateSettings;
use filterbench_runners::envoy::process;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Search each Envoy variant's highest open-loop rate whose latency percentile stays
    /// under a bound (each filter's first HTTP scenario; one search per variant per process,
    /// the processes being the trials). Slow: off unless asked.
    #[arg(long)]
    max_rate: bool,
    /// The latency bound of --max-rate, in milliseconds.
    #[arg(long, default_value_t = 2.0, requires = "max_rate")]
    latency_bound_ms: f64,
    /// The latency percentile that must stay under the bound (99: p99).
    #[arg(long, default_value_t = 99.0, requires = "max_rate")]
    percentile: f64,
    /// The lowest rate the search tries (requests/s); a variant that breaks the bound there
    /// has no figure.
    #[arg(long, default_value_t = 1000.0, requires = "max_rate")]
    max_rate_start: f64,
}

impl Args {
    /// The search's settings, or None when not asked; an error when asked without Envoy.
    pub fn settings(&self, envoy: bool) -> Result<Option<MaxRateSettings>> {
        if !self.max_rate {
            return Ok(None);
        }
        if !envoy {
            bail!("--max-rate needs the live-Envoy arms (Envoy was not found or --no-envoy)");
        }
        if !(self.percentile > 0.0 && self.percentile < 100.0) {
            bail!("--percentile must be above 0 and below 100");
        }
        if !(self.latency_bound_ms > 0.0 && self.latency_bound_ms.is_finite()) {
            bail!("--latency-bound-ms must be a positive number");
        }
        if !(self.max_rate_start >= 1.0 && self.max_rate_start.is_finite()) {
            bail!("--max-rate-start must be at least 1 request/s");
        }
        let bound = Duration::from_secs_f64(self.latency_bound_ms / 1e3);
        let mut m = MaxRateSettings::new(bound, self.percentile);
        m.start_rate = self.max_rate_start;
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        eprintln!(
            "note: --max-rate: the rates are of this machine ({cpus} CPUs), our load generator \
             and upstream sharing it with Envoy ({})",
            process::pinning_note()
        );
        Ok(Some(m))
    }
}
