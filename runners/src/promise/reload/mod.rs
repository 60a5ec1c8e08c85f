//! Live reload: a filter's version swapped in a running Envoy under steady closed-loop load,
//! through extension-config discovery from a watched file (no control plane). One Envoy per
//! arm; its trials alternate in it (version 0 → 1 → 2 …, each a new module file with its own
//! output), so each trial is a swap from the version before. Measured per trial: time from the
//! rename until the new version's first answer and until every answer is the new version's,
//! requests failed or reset meanwhile, Envoy's resident set and Wasm VMs before and after, and
//! for the native module whether the old shim file and the old filter code (the shim's private
//! copies of the filter's library) are still mapped. A failed swap ends the arm: the version
//! Envoy runs is then unknown, so later swaps could not be read.

pub mod load;
pub mod setup;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use filterbench_results::merge::{At, Batch};
use filterbench_results::vocab::{Metric, Phase, Stage, arm};
use serde_json::Value;

use crate::envoy::http::{RequestTemplate, Upstream};
use crate::envoy::process::{Envoy, PinnedHere};
use crate::host::vm::Message;
use load::{Load, Marker};
use setup::{Code, Watched};

/// The scenarios a reload's figures are recorded under: a new module file per version, or
/// the same file with a new configuration.
pub const SCENARIO: &str = "swap-module";
pub const SCENARIO_CONFIG: &str = "swap-config";

/// How a reload run goes.
#[derive(Clone, Debug)]
pub struct ReloadSettings {
    pub bin: PathBuf,
    /// Where Envoy's configs, logs and the versions' files go.
    pub dir: PathBuf,
    pub trials: u32,
    pub connections: u32,
    /// Load before each write (steady state), and from the write until the load stops and the
    /// "after" memory is read.
    pub before: Duration,
    pub after: Duration,
}

/// One arm to reload: its name and how the filter is built into Envoy.
pub struct Target {
    pub arm: &'static str,
    pub scenario: &'static str,
    pub code: Code,
}

/// The arms a filter can be reloaded on: V8 always (a new module file per version, and the
/// same file with a new configuration); the native module when it and the filter's native
/// library are built (else None with why).
pub fn targets(
    wasm: Vec<PathBuf>,
    module: Result<(PathBuf, PathBuf), String>,
) -> (Vec<Target>, Option<String>) {
    let mut t = vec![Target {
        arm: arm::ENVOY_WASM_V8,
        scenario: SCENARIO,
        code: Code::Wasm(wasm.clone()),
    }];
    if let Some(first) = wasm.first() {
        t.push(Target {
            arm: arm::ENVOY_WASM_V8,
            scenario: SCENARIO_CONFIG,
            code: Code::WasmConfig(first.clone()),
        });
    }
    match module {
        Ok((module, library)) => {
            t.push(Target {
                arm: arm::ENVOY_NATIVE_MODULE,
                scenario: SCENARIO,
                code: Code::Module { module, library },
            });
            (t, None)
        }
        Err(why) => (t, Some(why)),
    }
}

/// What one trial saw, beside the figures recorded.
#[derive(Clone, Debug)]
pub struct Trial {
    pub arm: &'static str,
    pub scenario: &'static str,
    pub trial: u32,
    pub swap: load::Swap,
    /// The responses that showed the new version (the proof the reload happened).
    pub new_seen: u64,
    pub line: String,
}

/// What one arm's run left: the trials, and Envoy's pid (gone by the time this returns).
pub struct ArmRun {
    pub trials: Vec<Trial>,
    pub envoy_pid: Option<u32>,
}

/// Reloads `filter` (`config`: its JSON configuration) on `target`, `s.trials` times in one
/// Envoy, recording into `batch`. Envoy is stopped before this returns, whatever happened.
pub fn run_arm(
    s: &ReloadSettings,
    filter: &str,
    config: &str,
    target: &Target,
    batch: &mut Batch,
) -> ArmRun {
    let at0 = At::new(filter, target.scenario, target.arm, Phase::Reload, 0);
    let mut out = ArmRun {
        trials: Vec::new(),
        envoy_pid: None,
    };
    if let Err(e) = arm_trials(s, filter, config, target, batch, &mut out) {
        batch.fail_at(&at0, Stage::Promise, e);
    }
    out
}

fn arm_trials(
    s: &ReloadSettings,
    filter: &str,
    config: &str,
    target: &Target,
    batch: &mut Batch,
    out: &mut ArmRun,
) -> Result<(), String> {
    let marker = marker(config).ok_or_else(|| {
        format!("live reload tells versions apart by add-header's output; {filter} has none")
    })?;
    let e = |e: std::io::Error| e.to_string();
    let root = s.dir.join(format!("{}-{}", target.arm, target.scenario));
    let watched = Watched::new(&root).map_err(e)?;
    // Our side on its own CPUs (Envoy on its own), as in the timed runs.
    let _pinned = PinnedHere::ours();
    let response = Message {
        headers: vec![(b":status".to_vec(), b"200".to_vec())],
        body: b"ok".to_vec(),
        ..Default::default()
    };
    let upstream = Upstream::start(&response).map_err(e)?;
    let version_config = |n: u32| with_value(config, &marker, n);
    let mut module =
        setup::write_version(&target.code, &watched, filter, 0, &version_config(0), || {})
            .map_err(e)?
            .module;
    let boot = root.join("envoy.json");
    let body = setup::bootstrap(&target.code, &watched, upstream.port);
    std::fs::write(&boot, serde_json::to_vec_pretty(&body).expect("json")).map_err(e)?;
    // The guard: Envoy is stopped when `envoy` drops, on every path out of here.
    let mut envoy = Envoy::start(&s.bin, &boot, 1, &root, "envoy").map_err(|e| e.to_string())?;
    out.envoy_pid = Some(envoy.pid);
    let req = RequestTemplate::from_message(&Message::default());
    let first = crate::envoy::http::one_shot(envoy.listener, &req)?;
    let want = marker.value(0);
    if !first
        .headers
        .iter()
        .any(|(k, v)| k.as_slice() == marker.header.as_bytes() && v == want.as_bytes())
    {
        return Err(format!(
            "the first version's output ({}: {want}) is not in Envoy's answer: {:?}",
            marker.header, first.headers
        ));
    }
    // The private copies the previous version's load added (None before the first swap, when
    // every copy mapped is version 0's), so each trial counts that version's alone.
    let mut previous: Option<Option<BTreeSet<String>>> = None;
    for trial in 1..=s.trials {
        let at =
            At::new(filter, target.scenario, target.arm, Phase::Reload, trial).iteration(trial);
        let old_module = module.clone();
        let is_module = matches!(target.code, Code::Module { .. });
        let load = Load::start(envoy.listener, req.clone(), marker.clone(), s.connections);
        std::thread::sleep(s.before);
        let rss_before = envoy.rss_bytes();
        let vms_before = wasm_vms(&envoy);
        let copies_before = is_module.then(|| setup::private_copies(envoy.pid));
        let mut written = None;
        let w = setup::write_version(
            &target.code,
            &watched,
            filter,
            trial,
            &version_config(trial),
            || written = Some(Instant::now()),
        );
        std::thread::sleep(s.after);
        let events = match load.stop() {
            Ok(events) => events,
            Err(why) => {
                for m in METRICS {
                    batch.absent(&at, *m, why.clone());
                }
                return Err(format!("trial {trial}: {why}"));
            }
        };
        envoy.check_alive().map_err(|e| e.to_string())?;
        module = w.map_err(e)?.module;
        let written = written.ok_or("the version was not written")?;
        let swap = load::analyse(&events, written, trial - 1, trial);
        let rss_after = envoy.rss_bytes();
        let vms_after = wasm_vms(&envoy);
        let old_maps = is_module.then(|| setup::mappings(envoy.pid, &old_module));
        let copies_after = is_module.then(|| setup::private_copies(envoy.pid));
        let copies = Copies::read(copies_before, copies_after, &mut previous);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let settled_at = swap.settled;
        let settled = match swap.settled {
            Some(t) => {
                batch.record(&at, Metric::ReloadTime, t.as_nanos() as f64);
                format!("every answer v{trial} after {:.1} ms", ms(t))
            }
            None => {
                let why = match swap.first_new {
                    None => format!(
                        "version {trial}'s output never seen within {} ms of the write",
                        s.after.as_millis()
                    ),
                    Some(_) => format!("version {}'s output was seen last", trial - 1),
                };
                batch.absent(&at, Metric::ReloadTime, why.clone());
                batch.fail_at(
                    &at,
                    Stage::Promise,
                    format!(
                        "trial {trial}: {why}; the arm stops here (the version Envoy runs \
                         is unknown, so later swaps could not be read)"
                    ),
                );
                why
            }
        };
        match swap.first_new {
            Some(t) => batch.record(&at, Metric::ReloadFirstNewTime, t.as_nanos() as f64),
            None => batch.absent(
                &at,
                Metric::ReloadFirstNewTime,
                "the new version never answered",
            ),
        }
        batch.record(&at, Metric::ReloadRequests, swap.requests as f64);
        batch.record(
            &at,
            Metric::ReloadRequestsFailed,
            (swap.failed + swap.reset) as f64,
        );
        batch.record(&at, Metric::ReloadRequestsReset, swap.reset as f64);
        let mut bytes = |m: Metric, r: Result<u64, crate::envoy::EnvoyError>| match r {
            Ok(v) => batch.record(&at, m, v as f64),
            Err(e) => batch.absent(&at, m, e.to_string()),
        };
        bytes(Metric::ReloadRssBeforeBytes, rss_before);
        bytes(Metric::ReloadRssAfterBytes, rss_after);
        for (m, v) in [
            (Metric::ReloadWasmVmsBefore, vms_before),
            (Metric::ReloadWasmVmsAfter, vms_after),
        ] {
            match v {
                Some(v) => batch.record(&at, m, v as f64),
                None => batch.absent(&at, m, "Envoy reports no V8 VM gauge (no Wasm in this arm)"),
            }
        }
        match &old_maps {
            Some(Ok(n)) => batch.record(&at, Metric::ReloadOldModuleMappings, *n as f64),
            Some(Err(e)) => batch.absent(&at, Metric::ReloadOldModuleMappings, e.to_string()),
            None => batch.absent(
                &at,
                Metric::ReloadOldModuleMappings,
                "a .wasm is read into V8, not mapped: its VMs are counted instead",
            ),
        }
        copies.record(batch, &at);
        let line = describe(
            trial,
            &swap,
            &settled,
            (vms_before, vms_after),
            &old_maps,
            &copies,
            s,
        );
        batch.observe(&at, line.clone());
        out.trials.push(Trial {
            arm: target.arm,
            scenario: target.scenario,
            trial,
            new_seen: swap.new_after,
            swap,
            line,
        });
        if settled_at.is_none() {
            break;
        }
    }
    Ok(())
}

/// Every figure a trial records: all absent when the load's responses are lost.
const METRICS: &[Metric] = &[
    Metric::ReloadTime,
    Metric::ReloadFirstNewTime,
    Metric::ReloadRequests,
    Metric::ReloadRequestsFailed,
    Metric::ReloadRequestsReset,
    Metric::ReloadRssBeforeBytes,
    Metric::ReloadRssAfterBytes,
    Metric::ReloadWasmVmsBefore,
    Metric::ReloadWasmVmsAfter,
    Metric::ReloadOldModuleMappings,
    Metric::ReloadFilterCopiesBefore,
    Metric::ReloadFilterCopiesAfter,
    Metric::ReloadOldFilterCopies,
];

/// The native module's private copies of the filter's library mapped before and after a
/// swap (None: not the native module; Err: the maps could not be read).
struct Copies {
    before: Option<Result<u64, String>>,
    after: Option<Result<u64, String>>,
    /// Of the previous version's copies, those still mapped after: its filter code kept.
    kept: Option<Result<u64, String>>,
}

type Set = std::io::Result<BTreeSet<String>>;

impl Copies {
    /// `previous`: the copies the version before this swap's added (None: the first swap, every
    /// copy mapped before it is version 0's; Some(None): unknown), updated for the next swap.
    fn read(
        before: Option<Set>,
        after: Option<Set>,
        previous: &mut Option<Option<BTreeSet<String>>>,
    ) -> Copies {
        let (Some(before), Some(after)) = (before, after) else {
            return Copies {
                before: None,
                after: None,
                kept: None,
            };
        };
        let n = |s: &Set| {
            s.as_ref()
                .map(|s| s.len() as u64)
                .map_err(|e| e.to_string())
        };
        let kept = match (&before, &after, &*previous) {
            (_, Err(e), _) => Err(e.to_string()),
            (_, _, Some(None)) => Err("the previous version's copies are unknown (Envoy's \
                 maps were not read in the trial before)"
                .into()),
            (Ok(b), Ok(a), None) => Ok(b.intersection(a).count() as u64),
            (_, Ok(a), Some(Some(p))) => Ok(p.intersection(a).count() as u64),
            (Err(e), _, None) => Err(e.to_string()),
        };
        *previous = Some(match (&before, &after) {
            (Ok(b), Ok(a)) => Some(a.difference(b).cloned().collect()),
            _ => None,
        });
        Copies {
            before: Some(n(&before)),
            after: Some(n(&after)),
            kept: Some(kept),
        }
    }

    fn record(&self, batch: &mut Batch, at: &At) {
        for (m, v) in [
            (Metric::ReloadFilterCopiesBefore, &self.before),
            (Metric::ReloadFilterCopiesAfter, &self.after),
            (Metric::ReloadOldFilterCopies, &self.kept),
        ] {
            match v {
                Some(Ok(n)) => batch.record(at, m, *n as f64),
                Some(Err(e)) => batch.absent(at, m, format!("Envoy's maps: {e}")),
                None => batch.absent(
                    at,
                    m,
                    "only the native module loads the filter's library (V8 runs the .wasm)",
                ),
            }
        }
    }
}

/// The trial in words.
fn describe(
    trial: u32,
    swap: &load::Swap,
    settled: &str,
    (before, after): (Option<u64>, Option<u64>),
    old_maps: &Option<std::io::Result<u64>>,
    copies: &Copies,
    s: &ReloadSettings,
) -> String {
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let mut line = format!(
        "v{} → v{trial}: first v{trial} answer {} after the rename, last v{} answer {}; {settled}; \
         {} requests in the {} ms after the write, {} failed, {} reset",
        trial - 1,
        swap.first_new.map_or_else(|| "never".into(), ms),
        trial - 1,
        swap.last_old.map_or_else(|| "before the rename".into(), ms),
        swap.requests,
        s.after.as_millis(),
        swap.failed,
        swap.reset
    );
    if let Some(f) = &swap.first_failure {
        line.push_str(&format!(" (first: {f})"));
    }
    if let (Some(b), Some(a)) = (before, after) {
        line.push_str(&format!("; V8 VMs alive {b} before, {a} after"));
    }
    match old_maps {
        Some(Ok(0)) => line.push_str("; the old shim file is no longer mapped"),
        Some(Ok(n)) => line.push_str(&format!(
            "; the old shim file is still mapped ({n} mappings)"
        )),
        _ => {}
    }
    if let (Some(Ok(b)), Some(Ok(a)), Some(Ok(k))) = (&copies.before, &copies.after, &copies.kept) {
        line.push_str(&format!(
            "; filter library copies mapped: {b} before, {a} after, {k} of v{}'s still mapped{}",
            trial - 1,
            if *k == 0 {
                " (old filter code unloaded)"
            } else {
                " (old filter code never unloaded)"
            }
        ));
    }
    line
}

/// The V8 VMs Envoy reports alive.
fn wasm_vms(envoy: &Envoy) -> Option<u64> {
    envoy.stat("wasm.envoy.wasm.runtime.v8.active")
}

/// The header add-header adds and the value prefix versions are told apart by.
fn marker(config: &str) -> Option<Marker> {
    let v: Value = serde_json::from_str(config).ok()?;
    let header = v["name"].as_str()?.to_ascii_lowercase();
    v["value"].as_str()?;
    Some(Marker {
        header,
        prefix: "reload-v".into(),
    })
}

/// The filter's configuration with the version's header value.
fn with_value(config: &str, marker: &Marker, n: u32) -> String {
    let mut v: Value = serde_json::from_str(config).unwrap_or(Value::Null);
    v["value"] = marker.value(n).into();
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> Set {
        Ok(names.iter().map(|n| n.to_string()).collect())
    }

    /// Each swap counts the previous version's copies alone, not every older one still there.
    #[test]
    fn old_copies_are_the_previous_versions_only() {
        let mut prev = None;
        let c = Copies::read(Some(set(&["a"])), Some(set(&["a", "b"])), &mut prev);
        assert_eq!(
            (c.before, c.after, c.kept),
            (Some(Ok(1)), Some(Ok(2)), Some(Ok(1)))
        );
        // v1 added b; v2 adds c: of v1's copies (b), one is still mapped; a (v0's) is not v1's.
        let c = Copies::read(
            Some(set(&["a", "b"])),
            Some(set(&["a", "b", "c"])),
            &mut prev,
        );
        assert_eq!(c.kept, Some(Ok(1)));
        let c = Copies::read(
            Some(set(&["a", "b", "c"])),
            Some(set(&["a", "b", "d"])),
            &mut prev,
        );
        assert_eq!(c.kept, Some(Ok(0)));
        // Maps unread: this trial's and the next one's figure absent, not guessed.
        let c = Copies::read(
            Some(Err(std::io::Error::other("gone"))),
            Some(set(&["d"])),
            &mut prev,
        );
        assert!(matches!(c.before, Some(Err(_))));
        let c = Copies::read(Some(set(&["d"])), Some(set(&["d", "e"])), &mut prev);
        assert!(matches!(c.kept, Some(Err(_))), "{:?}", c.kept);
        let none = Copies::read(None, None, &mut None);
        assert!(none.kept.is_none());
    }
}
