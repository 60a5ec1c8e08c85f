//! WebAssembly against native, per source language: for each job done by filters in several
//! languages (`add-header` in Rust, C++, AssemblyScript), each wasm arm's CPU per request net
//! of the harness over the native build's net, per process — the figure the "WASM runs at
//! ~70% of native" claim is about — and the claim's verdict from the interval (see
//! [`crate::net`]).

use std::collections::BTreeMap;

use filterbench_results::FilterInfo;
use filterbench_results::summary::Key;

use crate::doc::{Block, Cell, Section, Table};
use crate::format;
use crate::model::{Analysis, REFERENCE_ARM};
use crate::net::{self, Claim, NetRatio, net_cell, net_ratio_cell, times};
use filterbench_results::vocab::{ArmKind, arm};

/// The arm the claim is judged on in process (the fastest wasm engine here), and in Envoy,
/// with the native arm each is held against.
const CLAIM_ARMS: [(&str, &str); 2] = [
    (arm::WASMTIME_CRANELIFT, REFERENCE_ARM),
    (arm::ENVOY_WASM_V8, arm::ENVOY_NATIVE_MODULE),
];

fn job(f: &FilterInfo) -> &str {
    if f.job.is_empty() { &f.name } else { &f.job }
}

/// The native reference of a filter: its own native build, else (a wasm-only language) the
/// native build of the Rust filter doing the same job.
fn reference<'a>(
    a: &Analysis,
    f: &'a FilterInfo,
    rust: Option<&'a FilterInfo>,
    scenario: &str,
    native_arm: &str,
) -> Option<(&'a str, Key)> {
    [Some(f), rust]
        .into_iter()
        .flatten()
        .find(|g| {
            a.table
                .contains_key(&net::cpu_key(&g.name, scenario, native_arm))
        })
        .map(|g| {
            (
                g.language.as_str(),
                net::cpu_key(&g.name, scenario, native_arm),
            )
        })
}

fn native_arm(arm: &str) -> &'static str {
    CLAIM_ARMS
        .iter()
        .find(|(c, _)| *c == arm)
        .map_or(REFERENCE_ARM, |(_, n)| *n)
}

pub fn section(a: &Analysis) -> Option<Section> {
    let filters = &a.results.filters;
    let mut by_job: BTreeMap<&str, Vec<&FilterInfo>> = BTreeMap::new();
    for f in filters {
        by_job.entry(job(f)).or_default().push(f);
    }
    by_job.retain(|_, fs| {
        let mut langs: Vec<&str> = fs.iter().map(|f| f.language.as_str()).collect();
        langs.dedup();
        langs.len() > 1
    });
    if by_job.is_empty() {
        return None;
    }
    let arms: Vec<&str> = a
        .arms
        .iter()
        .filter(|x| x.kind == ArmKind::Wasm || x.name == CLAIM_ARMS[1].0)
        .map(|x| x.name.as_str())
        .collect();
    let mut header = vec![
        "job".to_string(),
        "scenario".into(),
        "language".into(),
        "native CPU / request, net".into(),
    ];
    header.extend(arms.iter().map(|x| format!("{x} ÷ native")));
    let mut rows = Vec::new();
    // Per (language label, claim arm): (job/scenario, net ratio).
    let mut verdicts: BTreeMap<(String, &str), Vec<(String, NetRatio)>> = BTreeMap::new();
    for (job, fs) in &by_job {
        let rust = fs.iter().copied().find(|f| f.language == "rust");
        let scenarios = fs[0].scenarios.clone();
        for sc in &scenarios {
            for f in fs {
                let native = reference(a, f, rust, sc, REFERENCE_ARM);
                let mut row = vec![
                    Cell::label(*job),
                    Cell::label(sc.as_str()),
                    Cell::label(f.language.as_str()),
                    match &native {
                        Some((lang, k)) => a.net(k).map_or(Cell::none(), |n| {
                            let c = net_cell(&n);
                            if *lang == f.language {
                                c
                            } else {
                                let sub =
                                    format!("{} {lang} (no native {} build)", c.sub, f.language);
                                c.with_sub(sub)
                            }
                        }),
                        None => Cell::none(),
                    },
                ];
                let mut any = false;
                for arm in &arms {
                    let reference = reference(a, f, rust, sc, native_arm(arm));
                    let against = reference.as_ref().map_or("", |(lang, _)| *lang);
                    let key = net::cpu_key(&f.name, sc, arm);
                    let r = reference
                        .as_ref()
                        .and_then(|(_, k)| a.net_ratio_of(&key, k));
                    row.push(match r {
                        None => net::missing_cell(a, &key),
                        Some(r) => {
                            any = true;
                            let cell = net_ratio_cell(&r);
                            if CLAIM_ARMS.iter().any(|(c, _)| c == arm) {
                                let lang = if against == f.language {
                                    f.language.clone()
                                } else {
                                    format!("{} (against {against} native)", f.language)
                                };
                                verdicts
                                    .entry((lang, arm))
                                    .or_default()
                                    .push((format!("{job}/{sc}"), r));
                            }
                            cell
                        }
                    });
                }
                if any {
                    rows.push(row);
                }
            }
        }
    }
    if rows.is_empty() {
        return None;
    }
    let mut s = Section::new("languages", "WebAssembly against native, per language");
    s.summary = true;
    s.para(format!(
        "CPU time per request net of the harness, the wasm arm's over the native build's of the \
         same filter in the same language, process by process: mean and 95% confidence \
         interval. In-process arms are against the in-process `native` arm; `envoy-wasm-v8` is \
         against `envoy-native-module` (the native build inside the same Envoy), both net of \
         `envoy-none`. A language without a native build (AssemblyScript) is shown against the \
         Rust filter's native build. The {:.0}% claim (wasm at ≥ {:.0}% of native speed, i.e. \
         a net cost ratio ≤ {}) holds when the whole interval is at or under it, fails when \
         the whole interval is above it, and cannot be told otherwise. Per language, the \
         verdict is on the interval of the geometric mean over its scenarios, taken per \
         process.",
        net::CLAIM_SPEED * 100.0,
        net::CLAIM_SPEED * 100.0,
        times(net::CLAIM_MAX_COST)
    ));
    for ((lang, arm), mine) in &verdicts {
        let refs: Vec<&NetRatio> = mine.iter().map(|(_, r)| r).collect();
        let (gm, skipped) = net::geomean(&refs);
        let claim = gm.as_ref().map_or(Claim::CannotTell, Claim::of_ratio);
        let overall = match &gm {
            Some(NetRatio::Measured { est, .. }) => format!(
                "net cost {} of native [{}, {}] (geometric mean of {}, 95% CI)",
                times(est.mean),
                times(est.ci_low),
                times(est.ci_high),
                mine.len() - skipped
            ),
            Some(NetRatio::CannotTell(why)) => format!("no aggregate: {why}"),
            None => "no scenario with a measurable ratio".into(),
        };
        let by = |c: Claim| {
            let v: Vec<&str> = mine
                .iter()
                .filter(|(_, r)| Claim::of_ratio(r) == c)
                .map(|(n, _)| n.as_str())
                .collect();
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        s.blocks.push(Block::Callout(
            format!(
                "{lang} on {arm}: {overall}; the {:.0}% claim {}. Per scenario it holds for {}, \
                 fails for {}, cannot tell for {}.",
                net::CLAIM_SPEED * 100.0,
                match claim {
                    Claim::CannotTell => "cannot be told".to_string(),
                    c => c.word().to_string(),
                },
                by(Claim::Holds),
                by(Claim::Fails),
                by(Claim::CannotTell)
            ),
            claim.tone(),
        ));
    }
    s.blocks.push(Block::Table(Table {
        caption: "CPU per request net of the harness: × native (lower is better)".into(),
        groups: Vec::new(),
        header,
        rows,
        collapsed: false,
    }));
    let sizes: Vec<Vec<Cell>> = by_job
        .values()
        .flatten()
        .map(|f| {
            vec![
                Cell::label(job(f)),
                Cell::label(f.language.as_str()),
                f.wasm_bytes
                    .map_or(Cell::none(), |b| Cell::num(format::bytes(b as f64))),
            ]
        })
        .collect();
    s.blocks.push(Block::Table(Table {
        caption: ".wasm size per language".into(),
        groups: Vec::new(),
        header: vec!["job".into(), "language".into(), ".wasm".into()],
        rows: sizes,
        collapsed: false,
    }));
    Some(s)
}

#[cfg(test)]
mod tests {
    use filterbench_results::vocab::{Metric, Phase};
    use filterbench_results::{ArmInfo, Results, Row};

    use super::*;

    fn results() -> Results {
        let mut r = Results::new();
        for (name, kind) in [
            (arm::NATIVE, ArmKind::Native),
            ("wasmtime-cranelift", ArmKind::Wasm),
            (arm::HARNESS, ArmKind::Harness),
        ] {
            r.arms.push(ArmInfo {
                name: name.into(),
                kind,
                ..Default::default()
            });
        }
        for (name, language, job) in [
            ("add-header", "rust", "add-header"),
            ("cpp-add-header", "cpp", "add-header"),
            ("as-add-header", "assemblyscript", "add-header"),
            ("noop", "rust", "noop"),
        ] {
            r.filters.push(FilterInfo {
                name: name.into(),
                language: language.into(),
                job: job.into(),
                scenarios: vec!["small".into()],
                ..Default::default()
            });
        }
        // CPU per request in two processes, the harness at 20 ns. Net of it: rust wasm 2× then
        // 0.8× its native's 100 ns (an interval across the claim), cpp 1.25× of 80 ns in both
        // (holds), AssemblyScript (no native) 4× the rust native (fails). Gross ratios would
        // read 1.83×/0.83×, 1.2× and 3.5×.
        for (filter, arm, ns) in [
            ("add-header", "native", [120.0, 120.0]),
            ("add-header", "wasmtime-cranelift", [220.0, 100.0]),
            ("cpp-add-header", "native", [100.0, 100.0]),
            ("cpp-add-header", "wasmtime-cranelift", [120.0, 120.0]),
            ("as-add-header", "wasmtime-cranelift", [420.0, 420.0]),
            ("noop", "native", [50.0, 50.0]),
            ("noop", "wasmtime-cranelift", [60.0, 60.0]),
        ]
        .into_iter()
        .chain(
            ["add-header", "cpp-add-header", "as-add-header", "noop"]
                .map(|f| (f, "harness", [20.0, 20.0])),
        ) {
            for process in 0..2 {
                r.rows.push(Row {
                    filter: filter.into(),
                    scenario: "small".into(),
                    arm: arm.into(),
                    phase: Phase::Request,
                    metric: Metric::CpuPerRequest,
                    unit: Metric::CpuPerRequest.unit(),
                    threads: 1,
                    process,
                    iteration: 0,
                    value: ns[process as usize],
                });
            }
        }
        r
    }

    #[test]
    fn each_language_net_against_its_own_native_and_the_claim_judged_on_intervals() {
        let r = results();
        let s = section(&Analysis::new(&r)).expect("three languages");
        let md = crate::doc::markdown(
            &crate::doc::Page {
                sections: vec![s],
                ..Default::default()
            },
            false,
        );
        let has = |want: &str| assert!(md.contains(want), "missing {want:?} in\n{md}");
        has("| add-header | small | rust | 100 ns ±0.0% |");
        has("| add-header | small | rust | 1.40× [-6.22, 9.02] cannot tell |");
        has("| add-header | small | cpp | 1.25× [1.25, 1.25] holds |");
        has("| add-header | small | assemblyscript | 4.00× [4.00, 4.00] fails |");
        has(
            "cpp on wasmtime-cranelift: net cost 1.25× of native [1.25×, 1.25×] (geometric \
             mean of 1, 95% CI); the 70% claim holds. Per scenario it holds for \
             add-header/small, fails for none, cannot tell for none.",
        );
        has("assemblyscript (against rust native) on wasmtime-cranelift: net cost 4.00×");
        has("rust on wasmtime-cranelift: net cost 1.40× of native [-6.22×, 9.02×]");
        has(
            "the 70% claim cannot be told. Per scenario it holds for none, fails for none, \
             cannot tell for add-header/small.",
        );
        // A job in one language only is not part of this section.
        assert!(!md.contains("noop"), "{md}");
    }
}
