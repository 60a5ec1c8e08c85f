//! Fault trials in live Envoy: misbehave's `.wasm` on V8 under each failure policy Envoy's wasm
//! filter offers, its native build as a dynamic module, and the same failures written in Lua.
//! Each trial starts its own Envoy and always stops it (the process guard's Drop, on every
//! path), and checks that the process is gone.

use std::path::{Path, PathBuf};

use filterbench_results::vocab::{Phase, Stage, arm};
use filterbench_results::{At, Batch};
use serde_json::{Value, json};

use super::{FAILING_VARIANT, FILTER, Mode, RssWatch, Settings, Survival, Trial, load};
use crate::catalog;
use crate::envoy::config::{self, Check, Variant};
use crate::envoy::http::Upstream;
use crate::envoy::process::Envoy;
use crate::host::vm::Message;

/// Where Envoy comes from and where its configs and logs go.
pub struct Live {
    pub bin: PathBuf,
    pub version: String,
    pub dir: PathBuf,
}

/// The live arms `fault` runs: V8 under each failure policy, the native module, Lua.
pub fn arms() -> Vec<String> {
    let mut out: Vec<String> = arm::V8_FAILURE_POLICIES
        .iter()
        .map(|p| arm::envoy_wasm_v8_policy(p))
        .collect();
    out.push(arm::ENVOY_NATIVE_MODULE.to_string());
    out.push(arm::ENVOY_LUA.to_string());
    out
}

/// The http filter of `arm` failing in `mode`; Err: why this arm cannot fail that way.
fn filter(live: &Live, arm_name: &str, mode: Mode, after: u64) -> Result<Value, String> {
    let artifacts = catalog::artifacts_for(FAILING_VARIANT);
    if let Some(policy) = arm::v8_policy_of(arm_name) {
        let wasm = artifacts.wasm.ok_or("misbehave has no .wasm build")?;
        return Ok(json!({"name": "envoy.filters.http.wasm", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": FAILING_VARIANT, "root_id": FAILING_VARIANT,
                // Envoy's own default backoff for FAIL_RELOAD (none given): what a user gets.
                "failure_policy": policy,
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                  "value": mode.config(after)},
                "vm_config": {"vm_id": FAILING_VARIANT, "runtime": "envoy.wasm.runtime.v8",
                              "code": {"local": {"filename": wasm.display().to_string()}}}}}}));
    }
    if arm_name == arm::ENVOY_NATIVE_MODULE {
        let module = config::dynamic_module(&live.version)?;
        let lib = artifacts.native.ok_or("misbehave has no native build")?;
        return Ok(
            json!({"name": "envoy.filters.http.dynamic_modules", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
            "dynamic_module_config": {"module": {"local": {"filename": module.display().to_string()}},
                                      "do_not_close": true},
            "filter_name": FAILING_VARIANT,
            "filter_config": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": format!("{}\n{}", lib.display(), mode.config(after))}}}),
        );
    }
    if arm_name == arm::ENVOY_LUA {
        let code = lua(mode, after)?;
        return Ok(json!({"name": "envoy.filters.http.lua", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {"inline_string": code}}}));
    }
    Err(format!("{arm_name} is not a live arm of `fault`"))
}

/// add-header in Lua (as the envoy-lua arm runs it), failing in `mode` from request `after`+1
/// of the worker's Lua state on.
pub fn lua(mode: Mode, after: u64) -> Result<String, String> {
    let fail = match mode {
        Mode::Panic => r#"error("misbehave: error on request " .. n)"#,
        Mode::Loop => "while true do end",
        // A fresh 1 MiB string each time (long strings are not interned), kept for good.
        Mode::Grow => r#"kept[#kept + 1] = string.rep("x", 1048575) .. n"#,
        Mode::NullWrite => {
            return Err(
                "Lua has no pointers: a null-pointer write cannot be written in Lua".into(),
            );
        }
    };
    // The fault comes in the callback that does the job, before it (an error in
    // envoy_on_request would leave the response's header, the job, untouched).
    Ok(format!(
        r#"local n = 0
kept = {{}}
function envoy_on_response(h)
  n = n + 1
  if n > {after} then {fail} end
  h:headers():add("{}", "{}")
end"#,
        load::HEADER,
        load::VALUE
    ))
}

/// One trial of `mode` on the live arm `arm_name`; Err: the stage and why it did not run.
pub fn trial(
    live: &Live,
    s: &Settings,
    upstream: &Upstream,
    (arm_name, mode, n): (&str, Mode, u32),
) -> Result<Trial, (Stage, String)> {
    let f = filter(live, arm_name, mode, s.after).map_err(|e| (Stage::Load, e))?;
    let variant = Variant {
        name: arm::ENVOY_WASM_V8,
        filters: vec![f],
        check: Check::Exact,
        log_check: None,
    };
    let name = format!("fault-{}-{arm_name}-{n}", mode.name());
    let path = live.dir.join(format!("{name}.json"));
    let body = serde_json::to_string_pretty(&config::bootstrap(&variant, upstream.port))
        .map_err(|e| (Stage::Load, e.to_string()))?;
    std::fs::write(&path, body).map_err(|e| (Stage::Load, e.to_string()))?;
    let mut envoy = Envoy::start(&live.bin, &path, 1, &live.dir, &name)
        .map_err(|e| (Stage::Load, e.to_string()))?;
    if arm_name == arm::ENVOY_NATIVE_MODULE {
        let log = std::fs::read_to_string(&envoy.log).unwrap_or_default();
        config::check_module_abi(&log).map_err(|e| (Stage::Load, e))?;
    }
    let pid = envoy.pid;
    let mut watch = RssWatch::new(pid, s.growth_cap);
    let tally = load::run(envoy.listener, s.connections, s.window, s.timeout, || {
        watch.sample()
    });
    let exited = envoy.check_alive().err();
    let admin = exited.is_none() && envoy.get("/ready").is_ok();
    let log = envoy.log.clone();
    // Stops Envoy (SIGTERM, then SIGKILL after 3 s: a worker stuck in a loop never drains).
    drop(envoy);
    if Path::new(&format!("/proc/{pid}")).exists() {
        return Err((
            Stage::Promise,
            format!("Envoy (pid {pid}) still runs after its trial"),
        ));
    }
    let (survived, mut how) = match (&exited, admin, watch.capped) {
        (_, _, true) => (
            Survival::Unknown(format!(
                "filterbench stopped Envoy when its resident set had grown past {} GiB (it was \
                 still growing)",
                s.growth_cap >> 30
            )),
            format!(
                "Envoy's memory grew without bound; stopped by filterbench at +{} GiB",
                s.growth_cap >> 30
            ),
        ),
        (Some(e), _, _) => (
            Survival::Survived(false),
            format!("Envoy exited ({})", exit_status(e)),
        ),
        (None, true, _) if tally.recovered.is_none() && tally.unanswered > 0 => (
            Survival::Survived(true),
            "Envoy's process and admin API survived, but its worker never answered again"
                .to_string(),
        ),
        (None, true, _) => (Survival::Survived(true), "Envoy survived".to_string()),
        (None, false, _) => (
            Survival::Survived(false),
            "Envoy's process lived but its admin API did not answer".to_string(),
        ),
    };
    how.push_str(&super::consequences(&tally));
    how.push_str(&super::grew(&watch.growth()));
    if let Some(line) = filter_error(&log) {
        how.push_str(&format!("; Envoy logged: {line}"));
    }
    Ok(Trial {
        mode,
        arm: arm_name.to_string(),
        window: s.window,
        tally,
        survived,
        growth: watch.growth(),
        how,
    })
}

/// The exit status in Envoy's error, e.g. `signal: 11 (SIGSEGV)`.
fn exit_status(e: &crate::envoy::EnvoyError) -> String {
    match e {
        crate::envoy::EnvoyError::Died { status, .. } => status.clone(),
        other => other.to_string(),
    }
}

/// The first line of Envoy's log that says what the filter did (wasm, Lua or module), cut
/// short.
fn filter_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().find(|l| {
        (l.contains("[wasm]") || l.contains("[lua]") || l.contains("script log"))
            && (l.contains("error") || l.contains("critical") || l.contains("failed"))
    })?;
    // Past the timestamp and level brackets.
    let msg = line.rsplit_once("] ").map_or(line, |(_, m)| m);
    Some(msg.chars().take(120).collect())
}

/// Runs every (mode, live arm) trial `trials` times, recording into `batch`; `done` reports
/// each finished trial. Ok: how many trials could not run (a not-applicable one, Lua's
/// null-write, is not counted).
pub fn run_all(
    live: &Live,
    s: &Settings,
    cells: &[(Mode, String)],
    trials: u32,
    batch: &mut Batch,
    done: &mut dyn FnMut(&Trial),
) -> Result<u32, String> {
    let response = Message {
        headers: vec![(b":status".to_vec(), b"200".to_vec())],
        body: b"hello".to_vec(),
        ..Default::default()
    };
    let upstream = Upstream::start(&response).map_err(|e| format!("upstream: {e}"))?;
    let mut not_run = 0;
    for n in 0..trials {
        for (mode, arm_name) in cells {
            let at = At::new(FILTER, mode.name(), arm_name, Phase::Fault, n);
            if arm_name == arm::ENVOY_LUA && *mode == Mode::NullWrite {
                let why = lua(*mode, s.after).err().unwrap_or_default();
                super::not_run(batch, &at, &why);
                continue;
            }
            match trial(live, s, &upstream, (arm_name, *mode, n)) {
                Ok(t) => {
                    t.record(batch, n);
                    done(&t);
                }
                // Absent, not a failure: a failure would condemn the arm's other modes too.
                Err((stage, why)) => {
                    not_run += 1;
                    super::not_run(batch, &at, &format!("{}: {why}", stage.name()))
                }
            }
        }
    }
    Ok(not_run)
}
