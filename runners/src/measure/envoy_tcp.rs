//! The TCP scenarios in live Envoy: no filter and the `.wasm` on V8, each proven on one
//! connection before its round trips are timed (see [`crate::envoy::tcp`]).

use super::WorkerOutput;
use super::pipeline::{FilterCtx, Measurement};
use super::scenario::{Scenario, Workload};
use crate::envoy::tcp::VARIANTS;

pub struct EnvoyTcp;

fn tcp<'a>(ctx: &FilterCtx<'a>) -> Vec<&'a Scenario> {
    ctx.envoy_scenarios()
        .into_iter()
        .filter(|s| matches!(s.workload, Workload::Tcp(_)))
        .filter(|s| s.artifacts.wasm.is_some() && s.file.case_config(&s.case).is_some())
        .collect()
}

impl Measurement for EnvoyTcp {
    fn name(&self) -> &'static str {
        "envoy tcp"
    }
    fn applies(&self, ctx: &FilterCtx) -> bool {
        !tcp(ctx).is_empty()
    }
    fn steps(&self, ctx: &FilterCtx) -> u64 {
        let selected = ctx
            .plan
            .envoy
            .as_ref()
            .map_or(0, |s| VARIANTS.iter().filter(|v| s.selects(v)).count());
        (tcp(ctx).len() * selected) as u64
    }
    fn measure(&self, ctx: &FilterCtx, _: &[String], out: &mut WorkerOutput) {
        let Some(s) = &ctx.plan.envoy else { return };
        for sc in tcp(ctx) {
            crate::envoy::tcp::measure_scenario(s, sc, ctx.process, ctx, out);
        }
    }
}
