//! Envoy's memory per worker: RSS over `--concurrency` values, on each filter's first Envoy
//! scenario (full) or only the run's first filter's (quick) (see [`crate::envoy`]).

use super::pipeline::{FilterCtx, Measurement};
use super::{Progress, WorkerOutput};

pub struct EnvoyScaling;

impl Measurement for EnvoyScaling {
    fn name(&self) -> &'static str {
        "envoy scaling"
    }
    fn applies(&self, ctx: &FilterCtx) -> bool {
        ctx.plan
            .envoy
            .as_ref()
            .is_some_and(|s| !s.scaling.is_empty())
            && !ctx.envoy_scenarios().is_empty()
            && (ctx.plan.envoy_all || ctx.first_envoy_filter())
    }
    fn steps(&self, _: &FilterCtx) -> u64 {
        1
    }
    fn measure(&self, ctx: &FilterCtx, _: &[String], out: &mut WorkerOutput) {
        let (Some(s), Some(sc)) = (&ctx.plan.envoy, ctx.envoy_scenarios().first().copied()) else {
            return;
        };
        ctx.step(&format!(
            "envoy {} / {}: {}",
            ctx.filter,
            sc.name,
            self.name()
        ));
        crate::envoy::measure_scaling(s, sc, ctx.process, out);
    }
}
