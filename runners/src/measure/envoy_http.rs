//! The HTTP scenarios in live Envoy: every variant proven against the native arm, then timed
//! closed and open loop (see [`crate::envoy`]).

use super::WorkerOutput;
use super::pipeline::{FilterCtx, Measurement};
use super::scenario::{Scenario, Workload};

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
        !http(ctx).is_empty()
    }
    fn steps(&self, ctx: &FilterCtx) -> u64 {
        let Some(s) = &ctx.plan.envoy else { return 0 };
        http(ctx)
            .iter()
            .map(|sc| crate::envoy::http_variants(s, sc))
            .sum()
    }
    fn measure(&self, ctx: &FilterCtx, _: &[String], out: &mut WorkerOutput) {
        let Some(s) = &ctx.plan.envoy else { return };
        // Quick spends its Envoy time on the closed loop, where CPU per request comes from: the
        // wrk cross-check (of our generator, not the filter) and the open-loop latency run on
        // the run's first filter only.
        let mut s = s.clone();
        if !(ctx.plan.envoy_all || ctx.first_envoy_filter()) {
            s.wrk = false;
            s.rate_fractions.clear();
        }
        for sc in http(ctx) {
            crate::envoy::measure_scenario(&s, sc, ctx.process, ctx, out);
        }
    }
}
