//! The user's own module (`run --wasm`): what to run it on, decided by asking the module.
//!
//! Without fixtures, the only proof is that it configures, completes a generic request the
//! same way on every arm — and, for a module that sets a timer, that every arm's tick does
//! the same. A background service (a root context with a timer and no HTTP context, like the
//! proxy-wasm Rust SDK's `hello_world`) traps when asked for an HTTP context: it is measured
//! on its timer, and its HTTP scenario is said to be left out, with the module's own reason.

use serde_json::json;

use super::{Scenario, Workload};
use crate::engines::{self, Artifacts};
use crate::fixtures::{self, FixtureFile, Step};
use crate::host::Callback;
use crate::measure::{ByoFilter, Plan};

/// The benchmark scenario names a brought module can have.
pub const GET: &str = "get";
pub const TICK: &str = "tick";

/// The engine the probe runs on: an interpreter, so probing costs no compilation.
const PROBE_ARM: &str = filterbench_results::vocab::arm::WASMI;
/// Fuel per callback while probing: tens of milliseconds of wasmi.
const PROBE_FUEL: u64 = 50_000_000;

/// What the probe found out about a module.
#[derive(Debug, Default)]
struct Roles {
    /// The generic request's failure, if it failed.
    http_failure: Option<String>,
    /// The tick period it set while starting and configuring (0: none).
    tick_ms: u32,
    /// The generic request made HTTP calls out.
    calls_out: bool,
}

/// The generic request. Its bodies are delivered as Envoy's HTTP/1.1 codec delivers them (the
/// data, then an empty end-of-stream chunk): Envoy's outcome is proven against this one, over
/// HTTP/1.1, and a module is not known to be indifferent to the shape.
fn file(name: &str, config: Option<String>) -> Result<FixtureFile, String> {
    serde_json::from_value(json!({
        "filter": name,
        "kind": "http",
        "config": config.unwrap_or_default(),
        "cases": [{
            "name": "generic GET",
            "bench": GET,
            "requests": [{
                "request": {"headers": [[":method", "GET"], [":path", "/"], [":authority", "example.com"],
                                        ["user-agent", "filterbench"], ["accept", "*/*"]],
                            "body_end": "empty_chunk"},
                "response": {"headers": [[":status", "200"], ["content-type", "text/plain"]], "body": "ok",
                             "body_end": "empty_chunk"}
            }]
        }, {
            "name": "timer tick",
            "bench": TICK,
            "ticks": 1
        }]
    }))
    .map_err(|e| e.to_string())
}

/// Starts the module on [`PROBE_ARM`] and tries the generic request; `None` when the module
/// cannot even start there (the proof then says why, on every arm).
fn probe(plan: &Plan, get: &Scenario) -> Option<Roles> {
    // A small budget: every process probes, and a module that loops must cost each of them
    // little (it is refused, with the real bound, by the proof).
    let limits = engines::Limits {
        cpu: engines::CpuBound::Fuel,
        fuel_per_call: PROBE_FUEL,
        ..plan.limits.clone()
    };
    let engine = engines::engine(PROBE_ARM, &limits).ok()?;
    let module = engine.load(&get.artifacts).ok()?;
    let mut vm = get.start_vm(module.as_ref()).ok()?;
    let tick_ms = vm.host().tick_period_ms;
    let (http_failure, calls_out) = match get.run_once(&mut vm) {
        Ok(Step::Failed(e)) => (Some(e), false),
        Ok(Step::Http(o)) => (None, !o.calls.is_empty()),
        Ok(_) => (None, false),
        Err(e) => (Some(fixtures::failure(&e)), false),
    };
    Some(Roles {
        http_failure,
        tick_ms,
        calls_out,
    })
}

/// The brought module's scenarios, and why its HTTP scenario was left out if it was.
pub fn scenarios(plan: &Plan, byo: &ByoFilter) -> Result<(Vec<Scenario>, Option<String>), String> {
    let config = match &byo.config {
        Some(p) => Some(
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
        ),
        None => None,
    };
    // Prefixed: a module named like a catalogue filter must not pass for it (its language,
    // Envoy's built-in equivalent).
    let name = byo.wasm.file_stem().map_or("byo-filter".to_string(), |s| {
        format!("byo-{}", s.to_string_lossy())
    });
    let artifacts = Artifacts {
        wasm: Some(byo.wasm.clone()),
        native: byo.native.clone(),
    };
    let wanted = |s: &str| plan.scenarios.is_empty() || plan.scenarios.iter().any(|n| n == s);
    if let Some(path) = &byo.fixtures {
        // The user's own fixtures: the full differential proof on their bench cases.
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut file: FixtureFile = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a fixtures file: {e}", path.display()))?;
        file.filter.clone_from(&name);
        if let Some(c) = file.cases.iter().find(|c| c.ticks > fixtures::MAX_TICKS) {
            return Err(format!(
                "{}: case {:?} asks for {} ticks, more than the {} a case may have",
                path.display(),
                c.name,
                c.ticks,
                fixtures::MAX_TICKS
            ));
        }
        if let Some(c) = config {
            file.config = serde_json::Value::String(c);
        }
        let mut out: Vec<Scenario> = file
            .cases
            .iter()
            .filter(|c| c.bench.as_deref().is_some_and(wanted))
            .filter_map(|c| Scenario::new(&name, &file, c, artifacts.clone(), true))
            .collect();
        for sc in out
            .iter_mut()
            .filter(|s| matches!(s.workload, Workload::Http(_)))
        {
            sc.calls_out = probe(plan, sc).is_some_and(|r| r.calls_out);
        }
        if out.is_empty() {
            return Err(format!(
                "{}: no case names a selected benchmark scenario (\"bench\")",
                path.display()
            ));
        }
        return Ok((out, None));
    }
    let file = file(&name, config)?;
    let [get, tick] =
        [0, 1].map(|i| Scenario::new(&name, &file, &file.cases[i], artifacts.clone(), true));
    let (mut get, tick) = (get.expect("a request case"), tick.expect("a tick case"));
    let Some(roles) = probe(plan, &get) else {
        return Ok((vec![get], None));
    };
    get.calls_out = roles.calls_out;
    let mut out = Vec::new();
    let mut note = None;
    // Only a module that refuses to create the HTTP context is a service; any other failure
    // of the request is a broken filter, which its proof then shows.
    let no_http_context = format!("trap in {}", Callback::OnContextCreate.spec().name);
    match (&roles.http_failure, roles.tick_ms) {
        (Some(why), ms) if ms > 0 && why.starts_with(&no_http_context) => {
            note = Some(format!(
                "not run as an HTTP filter: a generic request fails ({why}); the module sets a \
                 {ms} ms timer, so it is measured on its ticks"
            ));
        }
        _ => out.push(get),
    }
    if roles.tick_ms > 0 {
        out.push(tick);
    }
    out.retain(|s| wanted(&s.name));
    Ok((out, note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::delivery_tests::body_calls;

    #[test]
    fn the_generic_request_delivers_its_response_body_as_envoy_over_http1() {
        let file = file("byo-x", None).unwrap();
        let ex = file.cases[0].requests[0].exchange();
        // Envoy 1.40 over HTTP/1.1 calls the filter with the upstream's 2 B, then an empty
        // end-of-stream chunk; one (2, true) call would let a module that rewrites every chunk
        // forward one body in process and another in Envoy.
        assert_eq!(
            body_calls(&ex, Callback::OnResponseBody),
            [(2, false), (0, true)]
        );
        // A GET: no body, its end of stream on the headers.
        assert_eq!(body_calls(&ex, Callback::OnRequestBody), []);
    }

    /// The generic request of `filter` (a catalogue filter brought as a module, configured
    /// with its fixtures' configuration).
    fn brought_get(filter: &str) -> Scenario {
        let f = crate::catalog::find(filter).expect("the catalogue's filters are built");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        std::fs::write(&config, fixtures::config_bytes(&f.fixtures.config)).unwrap();
        let byo = ByoFilter {
            wasm: f.artifacts.wasm.expect("a wasm build"),
            native: f.artifacts.native,
            config: Some(config),
            fixtures: None,
            language: None,
        };
        let (out, _) = scenarios(&Plan::quick(), &byo).unwrap();
        out.into_iter()
            .find(|s| s.name == GET)
            .expect("a request scenario")
    }

    #[test]
    fn the_progress_count_leaves_out_the_native_module_for_a_module_that_calls_out() {
        // `callout` asks its `auth` cluster on every request: the native module's host
        // answers no calls, so that variant is never started, nor counted as a step.
        let module = crate::envoy::config::NATIVE_MODULE;
        let calling = brought_get("callout");
        assert!(calling.calls_out);
        assert!(!crate::envoy::byo::expected_to_run(&calling, module));
        let quiet = brought_get("add-header");
        assert!(!quiet.calls_out);
        assert!(crate::envoy::byo::expected_to_run(&quiet, module));
    }
}
