//! The highest rate each Envoy variant sustains under a latency bound, on each filter's first
//! HTTP scenario, over each protocol the run asked for (see [`crate::envoy::maxrate`]).
//! Opt-in (`run --max-rate`): it is slow.

use super::WorkerOutput;
use super::pipeline::{FilterCtx, Measurement};
use super::scenario::{Scenario, Workload};
use crate::envoy::protocol::Protocol;

pub struct EnvoyMaxRate;

fn first_http<'a>(ctx: &FilterCtx<'a>) -> Option<&'a Scenario> {
    ctx.envoy_scenarios()
        .into_iter()
        .find(|s| matches!(s.workload, Workload::Http(_)))
}

impl Measurement for EnvoyMaxRate {
    fn name(&self) -> &'static str {
        "envoy max rate"
    }
    fn applies(&self, ctx: &FilterCtx) -> bool {
        ctx.plan.max_rate.is_some() && first_http(ctx).is_some()
    }
    fn steps(&self, ctx: &FilterCtx) -> u64 {
        match (&ctx.plan.envoy, first_http(ctx)) {
            (Some(s), Some(sc)) => {
                let protocols = Protocol::or_default(&ctx.plan.envoy_protocols);
                crate::envoy::http_variants(s, sc) * protocols.len() as u64
            }
            _ => 0,
        }
    }
    fn measure(&self, ctx: &FilterCtx, _: &[String], out: &mut WorkerOutput) {
        let (Some(s), Some(m), Some(sc)) = (&ctx.plan.envoy, &ctx.plan.max_rate, first_http(ctx))
        else {
            return;
        };
        let protocols = &ctx.plan.envoy_protocols;
        crate::envoy::maxrate::measure_scenario_over(s, m, protocols, sc, ctx.process, ctx, out);
    }
}
