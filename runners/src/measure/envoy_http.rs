//! The HTTP scenarios in live Envoy: every variant over every protocol asked for proven
//! against the native arm, then timed closed and open loop (see [`crate::envoy`]).

use filterbench_results::vocab::{Metric, Phase};

use super::WorkerOutput;
use super::pipeline::{FilterCtx, Measurement};
use super::scenario::{Scenario, Workload};
use crate::envoy::protocol::Protocol;

pub struct EnvoyHttp;

fn http<'a>(ctx: &FilterCtx<'a>) -> Vec<&'a Scenario> {
    ctx.envoy_scenarios()
        .into_iter()
        .filter(|s| matches!(s.workload, Workload::Http(_)))
        .collect()
}

impl Measurement for EnvoyHttp {
    fn name(&self) -> &'static str {
        "envoy http"
    }
    fn applies(&self, ctx: &FilterCtx) -> bool {
        !http(ctx).is_empty() || !ticks(ctx).is_empty()
    }
    fn steps(&self, ctx: &FilterCtx) -> u64 {
        let Some(s) = &ctx.plan.envoy else { return 0 };
        http(ctx)
            .iter()
            .map(|sc| crate::envoy::http_variants(s, sc))
            .sum::<u64>()
            * protocols(ctx).len() as u64
    }
    fn measure(&self, ctx: &FilterCtx, _: &[String], out: &mut WorkerOutput) {
        let Some(s) = &ctx.plan.envoy else { return };
        // Quick spends its Envoy time on the closed loop, where CPU per request comes from: the
        // wrk cross-check (of our generator, not the filter) and the open-loop latency run on
        // the run's first filter only.
        let mut s = s.clone();
        let skipped = if ctx.plan.envoy_all || ctx.first_envoy_filter() {
            Vec::new()
        } else {
            s.wrk = false;
            std::mem::take(&mut s.rate_fractions)
        };
        for sc in http(ctx) {
            let protocols = protocols(ctx);
            crate::envoy::measure_scenario_over(&s, &protocols, sc, ctx.process, ctx, out);
            for p in protocols {
                open_loop_absent(sc, &p.scenario(&sc.name), &skipped, ctx.process, out);
            }
        }
        for sc in ticks(ctx) {
            let at = crate::envoy::at(
                sc,
                &sc.name,
                crate::envoy::EVERY_VARIANT,
                Phase::Request,
                ctx.process,
            );
            out.absent(
                &at,
                Metric::CpuPerRequest,
                crate::envoy::byo::TICK_NOT_PER_REQUEST.to_string(),
            );
        }
    }
}

/// The protocols the run asked for.
fn protocols(ctx: &FilterCtx) -> Vec<Protocol> {
    Protocol::or_default(&ctx.plan.envoy_protocols)
}

/// The timer scenarios of a brought module that Envoy would have run: said absent, with why.
fn ticks<'a>(ctx: &FilterCtx<'a>) -> Vec<&'a Scenario> {
    ctx.envoy_scenarios()
        .into_iter()
        .filter(|s| matches!(s.workload, Workload::Tick))
        .collect()
}

/// The open-loop percentiles quick leaves out, absent with why, for every variant that ran
/// the closed loop of `name` (the scenario over one protocol).
fn open_loop_absent(
    sc: &Scenario,
    name: &str,
    fractions: &[f64],
    process: u32,
    out: &mut WorkerOutput,
) {
    let mut ran: Vec<String> = out
        .rows
        .iter()
        .filter(|r| r.filter == sc.filter && r.scenario == name && r.metric == Metric::Throughput)
        .filter(|r| crate::envoy::config::ENVOY_ARMS.contains(&r.arm.as_str()))
        .map(|r| r.arm.clone())
        .collect();
    ran.dedup();
    for &f in fractions {
        let scenario = crate::envoy::open_loop_scenario(name, f);
        for arm in &ran {
            let at = crate::envoy::at(sc, &scenario, arm, Phase::Request, process);
            for m in [
                Metric::LatencyP50,
                Metric::LatencyP90,
                Metric::LatencyP99,
                Metric::LatencyP999,
            ] {
                out.absent(&at, m, OPEN_LOOP_SKIPPED.to_string());
            }
        }
    }
}

const OPEN_LOOP_SKIPPED: &str =
    "quick runs the open loop on the run's first filter only (--full: every filter)";
