//! The answer, per filter: what running it as wasm costs against the same filter run natively,
//! in process and inside Envoy — the first thing the terminal and the report show. Built once
//! here ([`answers`]) and rendered as a report section and as ≤ 100-column terminal text, so the
//! two never disagree.
//!
//! In process: per wasm engine, the CPU per request it adds over native (paired per process,
//! so the harness cancels) and its net cost as a multiple of native's ([`Analysis::net_ratio`]).
//! In Envoy: the CPU per request V8 adds over the same filter built natively (an Envoy dynamic
//! module; else Envoy's built-in filter for the job) and over Envoy with no filter, V8's
//! throughput as a share of the native build's, and the resident memory it adds.

use filterbench_results::stats::{Estimate, estimate};
use filterbench_results::summary::Key;
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};

pub(crate) use super::figures::{Unit, added, estimate_times, opt, ratio_text, share};
pub use super::verdict::{Basis, Verdict};
use crate::doc::{Cell, Section, Table, Tone};
use crate::model::{Analysis, HOSTCALL_FILTER};
use crate::net::{self, Claim, NetRatio};

/// One wasm engine's cost on one filter, in process.
pub struct EngineCost {
    pub arm: String,
    /// CPU per request over native's, paired per process (ns).
    pub added: Option<Estimate>,
    /// Net CPU per request ÷ native's net.
    pub ratio: Option<NetRatio>,
}

/// V8's cost on one filter inside Envoy.
pub struct EnvoyCost {
    /// The arm V8 is set against: the native build as a module, else Envoy's built-in filter;
    /// None when the filter has neither (then only "over no filter" is known).
    pub reference: Option<String>,
    /// The filter whose reference arm that is, when not this filter's own (a language without
    /// native builds: the same job's Rust filter built as a module).
    pub reference_of: Option<String>,
    /// The filter's own cost inside Envoy as a multiple of the reference's: (V8 − none) ÷
    /// (reference − none), per process — the basis of the verdict.
    pub own_ratio: Option<NetRatio>,
    /// CPU per request over the reference's, paired per process (ns).
    pub over_reference: Option<Estimate>,
    /// Throughput ÷ the reference's, per process.
    pub throughput: Option<Estimate>,
    /// Envoy's whole CPU per request with V8 ÷ with the reference, per process ("whole
    /// Envoy": the filter diluted by Envoy's own work).
    pub cpu_ratio: Option<Estimate>,
    /// Envoy's resident memory after load minus the reference's (bytes).
    pub rss: Option<Estimate>,
}

pub struct FilterAnswer {
    pub filter: String,
    /// The scenario the answer is about: the filter's first (Envoy runs only that one).
    pub scenario: String,
    /// The filter whose native build is the in-process reference, when it is not this
    /// filter's own (a language without native builds: the same job's, e.g. the Rust one).
    pub native_of: Option<String>,
    pub engines: Vec<EngineCost>,
    pub envoy: Option<EnvoyCost>,
    /// From the run's [`Basis`]; None where its ratio was not measured.
    pub verdict: Option<Verdict>,
}

/// The job a filter does (its own name when it has none).
fn job_of(a: &Analysis, name: &str) -> Option<String> {
    a.results.filters.iter().find(|f| f.name == name).map(|f| {
        if f.job.is_empty() {
            f.name.clone()
        } else {
            f.job.clone()
        }
    })
}

/// Another filter of `filter`'s job that has `key`'s figure (the filter named after the job —
/// the Rust one — first, as the per-language table has it).
fn sibling_with(a: &Analysis, filter: &str, key: impl Fn(&str) -> Key) -> Option<String> {
    let own = job_of(a, filter)?;
    a.results
        .filters
        .iter()
        .filter(|f| f.name != filter && job_of(a, &f.name).as_deref() == Some(own.as_str()))
        .filter(|f| a.table.contains_key(&key(&f.name)))
        .min_by_key(|f| f.name != own)
        .map(|f| f.name.clone())
}

/// The filter whose native build `filter` is compared with in process: None for its own;
/// else another filter of the same job measured natively on `scenario`.
fn native_build(a: &Analysis, filter: &str, scenario: &str) -> Option<String> {
    if a.table
        .contains_key(&net::cpu_key(filter, scenario, arm::NATIVE))
    {
        return None;
    }
    sibling_with(a, filter, |f| net::cpu_key(f, scenario, arm::NATIVE))
}

/// `key` minus `other`, process by process.
pub(crate) fn difference(a: &Analysis, key: &Key, other: &Key) -> Option<Estimate> {
    let x = a.table.get(key)?;
    let y = a.table.get(other)?;
    let d: Vec<f64> = x
        .iter()
        .filter_map(|(p, v)| y.get(p).map(|w| v - w))
        .collect();
    estimate(&d)
}

/// The native reference of `filter`'s V8 figure `cpu` in Envoy: its own native module, else
/// its job's native module (a language without native builds), else Envoy's built-in filter.
fn envoy_reference(a: &Analysis, filter: &str, cpu: &Key) -> Option<(Key, Option<String>)> {
    let own = |arm: &str| {
        let k = cpu.with_arm(arm);
        a.table.contains_key(&k).then_some((k, None))
    };
    own(arm::ENVOY_NATIVE_MODULE)
        .or_else(|| {
            let of = sibling_with(a, filter, |f| {
                net::cpu_key(f, &cpu.scenario, arm::ENVOY_NATIVE_MODULE)
            })?;
            Some((
                net::cpu_key(&of, &cpu.scenario, arm::ENVOY_NATIVE_MODULE),
                Some(of),
            ))
        })
        .or_else(|| own(arm::ENVOY_BUILTIN))
}

/// `key` over `reference` (any filter's figure), process by process.
fn ratio_of(a: &Analysis, key: &Key, reference: &Key) -> Option<Estimate> {
    let x = a.table.get(key)?;
    let y = a.table.get(reference)?;
    let r: Vec<f64> = x
        .iter()
        .filter_map(|(p, v)| y.get(p).filter(|w| **w > 0.0).map(|w| v / w))
        .collect();
    estimate(&r)
}

fn envoy_cost(a: &Analysis, filter: &str, scenario: &str) -> Option<EnvoyCost> {
    let cpu = net::cpu_key(filter, scenario, arm::ENVOY_WASM_V8);
    if !a.table.contains_key(&cpu) {
        return None;
    }
    let reference = envoy_reference(a, filter, &cpu);
    let thr = Key::new(
        filter,
        scenario,
        arm::ENVOY_WASM_V8,
        Phase::Request,
        Metric::Throughput,
        1,
    );
    // Envoy records its memory at the run's --concurrency, whatever it was.
    let rss = |f: &str| {
        a.table
            .keys()
            .find(|k| {
                k.filter == f
                    && k.arm == arm::ENVOY_WASM_V8
                    && k.phase == Phase::Memory
                    && k.metric == Metric::EnvoyRssAfterLoadBytes
            })
            .cloned()
    };
    let with_ref = |k: &Key, r: &Key| Key {
        filter: r.filter.clone(),
        arm: r.arm.clone(),
        ..k.clone()
    };
    Some(EnvoyCost {
        reference: reference.as_ref().map(|(k, _)| k.arm.clone()),
        reference_of: reference.as_ref().and_then(|(_, of)| of.clone()),
        own_ratio: reference
            .as_ref()
            .and_then(|(r, _)| a.net_ratio_of(&cpu, r)),
        over_reference: reference.as_ref().and_then(|(r, _)| difference(a, &cpu, r)),
        throughput: reference
            .as_ref()
            .and_then(|(r, _)| ratio_of(a, &thr, &with_ref(&thr, r))),
        cpu_ratio: reference.as_ref().and_then(|(r, _)| ratio_of(a, &cpu, r)),
        rss: reference.as_ref().zip(rss(filter)).and_then(|((r, _), k)| {
            let of = rss(&r.filter)?;
            difference(a, &k, &of.with_arm(&r.arm))
        }),
    })
}

/// The run's verdict basis: Envoy's own-cost ratio when any filter has one, else the first
/// wasm engine's net ratio in process.
pub fn basis(a: &Analysis, answers: &[FilterAnswer]) -> Option<Basis> {
    if answers
        .iter()
        .any(|x| x.envoy.as_ref().is_some_and(|e| e.own_ratio.is_some()))
    {
        return Some(Basis::EnvoyOwn);
    }
    a.arms
        .iter()
        .find(|x| x.kind == ArmKind::Wasm)
        .map(|x| Basis::InProcess(x.name.clone()))
}

/// Per filter (the `hostcalls` micro-benchmark left out), its answer, in listing order.
pub fn answers(a: &Analysis) -> Vec<FilterAnswer> {
    let wasm: Vec<&str> = a
        .arms
        .iter()
        .filter(|x| x.kind == ArmKind::Wasm)
        .map(|x| x.name.as_str())
        .collect();
    let mut out = Vec::new();
    for filter in a.filters() {
        if filter == HOSTCALL_FILTER {
            continue;
        }
        let Some((_, scenario)) = a.scenarios().into_iter().find(|(f, _)| *f == filter) else {
            continue;
        };
        let native_of = native_build(a, &filter, &scenario);
        let native = net::cpu_key(
            native_of.as_deref().unwrap_or(&filter),
            &scenario,
            arm::NATIVE,
        );
        let engines: Vec<EngineCost> = wasm
            .iter()
            .map(|w| {
                let k = net::cpu_key(&filter, &scenario, w);
                EngineCost {
                    arm: w.to_string(),
                    added: difference(a, &k, &native),
                    ratio: a.net_ratio_of(&k, &native),
                }
            })
            .filter(|e| e.added.is_some() || e.ratio.is_some())
            .collect();
        let envoy = envoy_cost(a, &filter, &scenario);
        if engines.is_empty() && envoy.is_none() {
            continue;
        }
        out.push(FilterAnswer {
            filter,
            scenario,
            native_of,
            engines,
            envoy,
            verdict: None,
        });
    }
    let basis = basis(a, &out);
    for x in &mut out {
        x.verdict = match &basis {
            Some(Basis::EnvoyOwn) => {
                Verdict::of_ratio(x.envoy.as_ref().and_then(|e| e.own_ratio.as_ref()))
            }
            Some(Basis::InProcess(engine)) => Verdict::of_ratio(
                x.engines
                    .iter()
                    .find(|e| e.arm == *engine)
                    .and_then(|e| e.ratio.as_ref()),
            ),
            None => None,
        };
    }
    out
}

/// Sentences on the filters whose reference is not their own native build.
pub(crate) fn reference_notes(answers: &[FilterAnswer]) -> Vec<String> {
    answers
        .iter()
        .filter_map(|x| {
            let envoy = match x.envoy.as_ref() {
                Some(EnvoyCost {
                    reference_of: Some(of),
                    ..
                }) => Some(format!("in Envoy, {of}'s native module")),
                Some(EnvoyCost {
                    reference: Some(r), ..
                }) if r == arm::ENVOY_BUILTIN => Some("in Envoy, Envoy's built-in filter".into()),
                Some(EnvoyCost {
                    reference: None, ..
                }) => Some("in Envoy, only its cost over no filter is known".into()),
                _ => None,
            };
            let own = x.native_of.as_ref().map(|n| format!("in process, {n}'s"));
            let parts: Vec<String> = own.into_iter().chain(envoy).collect();
            (!parts.is_empty())
                .then(|| format!("{} is set against: {}.", x.filter, parts.join("; ")))
        })
        .collect()
}

/// The processes set aside from the answer's in-process figures, with their own intervals
/// ([`Analysis::disturbed`]), in one sentence; None when every process counted.
pub(crate) fn disturbed_note(a: &Analysis, answers: &[FilterAnswer]) -> Option<String> {
    let mut said = Vec::new();
    for x in answers {
        let arms = x
            .engines
            .iter()
            .map(|e| e.arm.as_str())
            .chain([arm::NATIVE]);
        for name in arms {
            let key = net::cpu_key(&x.filter, &x.scenario, name);
            for (p, ci) in a.disturbed(&key) {
                said.push(format!(
                    "{} {name} process {p} (±{:.0}%)",
                    x.filter,
                    ci * 100.0
                ));
            }
        }
    }
    (!said.is_empty()).then(|| {
        format!(
            "Set aside as disturbed (a process's own interval of the net wider than ±{:.0}%): {}.",
            net::DISTURBED_CI * 100.0,
            said.join(", ")
        )
    })
}

/// The processes behind the answer's figures: "3", or "3–6" where undecided verdicts were
/// given more (CPU per request is what every ratio of the answer rests on).
pub(crate) fn processes(a: &Analysis) -> String {
    let ns = a
        .est
        .iter()
        .filter(|(k, _)| k.metric == Metric::CpuPerRequest && k.phase == Phase::Request)
        .map(|(_, e)| e.n);
    let (lo, hi) = ns.fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
    match (lo, hi) {
        (_, 0) => "0".into(),
        (lo, hi) if lo == hi => hi.to_string(),
        (lo, hi) => format!("{lo}–{hi}"),
    }
}

/// The answer as the report's first section: one line per filter, so every filter fits the
/// first screen — the first engine with the CPU it adds and its multiple, the other engines'
/// multiples, then V8 in Envoy. Every engine's added CPU is in the section after it.
pub fn section(a: &Analysis) -> Option<Section> {
    let answers = answers(a);
    if answers.is_empty() {
        return None;
    }
    let mut s = Section::new("answer", "What wasm costs, per filter");
    s.summary = true;
    let mut engines: Vec<String> = Vec::new();
    for e in answers.iter().flat_map(|x| &x.engines) {
        if !engines.contains(&e.arm) {
            engines.push(e.arm.clone());
        }
    }
    let has_envoy = answers.iter().any(|x| x.envoy.is_some());
    s.para(format!(
        "Per request, each filter's first scenario; ± is the 95% CI over {} worker processes. \
         In process: the CPU wasm adds over the native build and its net CPU as a multiple of \
         native's (net of the harness; green: the 70% claim holds, red: it fails, grey: cannot \
         tell).{}",
        processes(a),
        if has_envoy {
            " In Envoy: V8's own CPU per request (over no filter) as a multiple of the same \
             filter built natively (a dynamic module) over no filter; then the whole request: \
             Envoy's CPU with V8 ÷ with the native build, V8's throughput as a share of \
             native's, the memory it adds (the CPU V8 adds in µs is in the Envoy tables)."
        } else {
            ""
        }
    ));
    let mut header = vec!["filter".to_string()];
    let mut groups = vec![(String::new(), 1)];
    if let Some(first) = engines.first() {
        header.push("CPU added".into());
        header.extend(engines.iter().cloned());
        groups.push((
            format!("in process: CPU {first} adds, net CPU × native's"),
            engines.len() + 1,
        ));
    }
    if has_envoy {
        header.extend(["own ×", "whole Envoy", "throughput", "RSS added"].map(String::from));
        groups.push((
            "in Envoy, V8: own cost × native's, then whole Envoy".into(),
            4,
        ));
    }
    let basis = basis(a, &answers);
    header.push(
        basis
            .as_ref()
            .map_or_else(|| "verdict".into(), Basis::header),
    );
    groups.push((String::new(), 1));
    let mut rows = Vec::new();
    for x in &answers {
        let mut row = vec![Cell::label(x.filter.as_str())];
        if !engines.is_empty() {
            let first = x.engines.iter().find(|e| e.arm == engines[0]);
            row.push(match first.and_then(|e| e.added.as_ref()) {
                Some(d) => Cell::num(added(d, Unit::Ns)),
                None => Cell::none(),
            });
        }
        for name in &engines {
            row.push(match x.engines.iter().find(|e| e.arm == *name) {
                Some(e) => {
                    let claim = e.ratio.as_ref().map_or(Claim::CannotTell, Claim::of_ratio);
                    Cell::num(ratio_text(e.ratio.as_ref())).tone(claim.tone())
                }
                None => Cell::none(),
            });
        }
        if has_envoy {
            let env = x.envoy.as_ref();
            let own = env.and_then(|e| e.own_ratio.as_ref());
            row.push(match own {
                Some(r) => Cell::num(ratio_text(Some(r)))
                    .tone(Verdict::of_ratio(Some(r)).map_or(Tone::Muted, Verdict::tone)),
                None => Cell::none(),
            });
            row.push(match env.and_then(|e| e.cpu_ratio.as_ref()) {
                Some(r) => Cell::num(estimate_times(r)),
                None => Cell::none(),
            });
            row.push(match env.and_then(|e| e.throughput.as_ref()) {
                Some(t) => Cell::num(share(t)).tone(Verdict::of(t, true).tone()),
                None => Cell::none(),
            });
            row.push(match env.and_then(|e| e.rss.as_ref()) {
                Some(d) => Cell::num(added(d, Unit::Bytes)),
                None => Cell::none(),
            });
        }
        row.push(match x.verdict {
            Some(v) => Cell::label(v.word()).tone(v.tone()),
            None => Cell::none(),
        });
        rows.push(row);
    }
    s.blocks.push(crate::doc::Block::Table(Table {
        caption: String::new(),
        groups,
        header,
        rows,
        collapsed: false,
    }));
    let mut notes = vec![format!(
        "Scenarios: {}.",
        answers
            .iter()
            .map(|x| format!("{} {}", x.filter, x.scenario))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    notes.extend(reference_notes(&answers));
    notes.extend(disturbed_note(a, &answers));
    if let Some(b) = &basis {
        notes.push(b.sentence());
    }
    if has_envoy {
        notes.push(
            "Own × native: V8's CPU per request over no filter ÷ the native build's (as an Envoy \
             dynamic module) over no filter, per process. Whole Envoy: Envoy's CPU per request \
             with V8 ÷ with the native build, Envoy's own work included."
                .into(),
        );
    }
    s.para(notes.join(" "));
    Some(s)
}

/// The filters whose verdict was measured but is not decided yet (its interval spans two
/// bands), with the filters whose native module they are set against (its figures must come
/// from the same processes), in listing order: where `run` spends more processes.
pub fn undecided(results: &filterbench_results::Results) -> Vec<String> {
    let a = Analysis::new(results);
    let answers = answers(&a);
    let open: Vec<&FilterAnswer> = answers
        .iter()
        .filter(|x| x.verdict == Some(Verdict::Unclear))
        .collect();
    answers
        .iter()
        .filter(|x| {
            open.iter().any(|o| {
                o.filter == x.filter
                    || o.envoy.as_ref().and_then(|e| e.reference_of.as_deref())
                        == Some(x.filter.as_str())
            })
        })
        .map(|x| x.filter.clone())
        .collect()
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
