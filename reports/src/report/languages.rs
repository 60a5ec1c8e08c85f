//! WebAssembly as a percentage of native, per source language: for each job done by filters
//! in several languages (`add-header` in Rust, C++, AssemblyScript), each wasm arm's speed
//! (native CPU per request ÷ the arm's, per process) against the native build of the same
//! language — the figure the "WASM runs at ~70% of native" claim is about — and a verdict on
//! the claim from these numbers.

use std::collections::BTreeMap;

use filterbench_results::FilterInfo;
use filterbench_results::stats::Estimate;
use filterbench_results::summary::{Key, ratio_of};

use crate::doc::{Block, Cell, Section, Table, Tone};
use crate::format::{self, pct};
use crate::model::{Analysis, REFERENCE_ARM};

/// The speed share the claim is about.
const CLAIM: f64 = 0.70;
/// The arm the claim is judged on in process (the fastest wasm engine here), and in Envoy.
const CLAIM_ARMS: [(&str, &str); 2] = [
    ("wasmtime-cranelift", REFERENCE_ARM),
    ("envoy-wasm-v8", "envoy-native-module"),
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
    let has = |name: &str| {
        a.table.contains_key(&Key::new(
            name,
            scenario,
            native_arm,
            "request",
            "cpu_per_request",
            1,
        ))
    };
    [Some(f), rust]
        .into_iter()
        .flatten()
        .find(|g| has(&g.name))
        .map(|g| {
            (
                g.language.as_str(),
                Key::new(
                    &g.name,
                    scenario,
                    native_arm,
                    "request",
                    "cpu_per_request",
                    1,
                ),
            )
        })
}

/// Speed of `arm` as a share of the reference: reference CPU/request ÷ arm CPU/request.
fn speed(a: &Analysis, arm_key: &Key, reference: &Key) -> Option<Estimate> {
    ratio_of(&a.table, reference, arm_key)
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
        .filter(|x| x.kind == "wasm" || x.name == "envoy-wasm-v8")
        .map(|x| x.name.as_str())
        .collect();
    let mut header = vec![
        "job".to_string(),
        "scenario".into(),
        "language".into(),
        "native CPU / request".into(),
    ];
    header.extend(arms.iter().map(|x| x.to_string()));
    let mut rows = Vec::new();
    // (language, job/scenario, speed) on the claim arms.
    let mut verdicts: Vec<(String, String, &str, f64)> = Vec::new();
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
                        Some((lang, k)) => a.get(k).map_or(Cell::none(), |e| {
                            let c = Cell::num(format::ns(e.mean));
                            if *lang == f.language {
                                c
                            } else {
                                c.with_sub(format!("{lang} (no native {} build)", f.language))
                            }
                        }),
                        None => Cell::none(),
                    },
                ];
                let mut any = false;
                for arm in &arms {
                    let native_arm = if arm.starts_with("envoy-") {
                        "envoy-native-module"
                    } else {
                        REFERENCE_ARM
                    };
                    let reference = reference(a, f, rust, sc, native_arm);
                    let against = reference.as_ref().map_or("", |(lang, _)| *lang);
                    let r = reference.as_ref().and_then(|(_, k)| {
                        speed(
                            a,
                            &Key::new(&f.name, sc, arm, "request", "cpu_per_request", 1),
                            k,
                        )
                    });
                    row.push(match &r {
                        None => Cell::none(),
                        Some(e) => {
                            any = true;
                            if CLAIM_ARMS.iter().any(|(c, _)| c == arm) {
                                let lang = if against == f.language {
                                    f.language.clone()
                                } else {
                                    format!("{} (against {against} native)", f.language)
                                };
                                verdicts.push((lang, format!("{job}/{sc}"), arm, e.mean));
                            }
                            let tone = if e.mean >= CLAIM {
                                Tone::Good
                            } else if e.mean >= 0.4 {
                                Tone::Fair
                            } else {
                                Tone::Poor
                            };
                            let c = Cell::num(pct(e.mean)).tone(tone);
                            if e.n > 1 {
                                c.with_sub(format!("[{}, {}]", pct(e.ci_low), pct(e.ci_high)))
                            } else {
                                c
                            }
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
    let mut s = Section::new("languages", "WebAssembly as % of native, per language");
    s.summary = true;
    s.para(format!(
        "Speed of each wasm arm as a share of the native build of the same filter in the same \
         language: native CPU time per request ÷ the arm's, process by process, mean and 95% \
         confidence interval. In-process arms are against the in-process `native` arm; \
         `envoy-wasm-v8` is against `envoy-native-module` (the native build inside the same \
         Envoy). A language without a native build (AssemblyScript) is shown against the Rust \
         filter's native build. Green: at or above the {}% of the claim.",
        CLAIM * 100.0
    ));
    for (arm, _) in CLAIM_ARMS {
        let mut langs: Vec<&str> = verdicts
            .iter()
            .filter(|v| v.2 == arm)
            .map(|v| v.0.as_str())
            .collect();
        langs.sort();
        langs.dedup();
        for lang in langs {
            let mine: Vec<&(String, String, &str, f64)> = verdicts
                .iter()
                .filter(|v| v.2 == arm && v.0 == lang)
                .collect();
            let gm = (mine.iter().map(|v| v.3.ln()).sum::<f64>() / mine.len() as f64).exp();
            let holds: Vec<String> = mine
                .iter()
                .filter(|v| v.3 >= CLAIM)
                .map(|v| format!("{} {}", v.1, pct(v.3)))
                .collect();
            let fails: Vec<String> = mine
                .iter()
                .filter(|v| v.3 < CLAIM)
                .map(|v| format!("{} {}", v.1, pct(v.3)))
                .collect();
            let tone = if gm >= CLAIM { Tone::Good } else { Tone::Poor };
            s.blocks.push(Block::Callout(
                format!(
                    "{lang} on {arm}: wasm at {} of native (geometric mean of {}); the 70% claim \
                     holds for {} and fails for {}.",
                    pct(gm),
                    mine.len(),
                    if holds.is_empty() {
                        "none".into()
                    } else {
                        holds.join(", ")
                    },
                    if fails.is_empty() {
                        "none".into()
                    } else {
                        fails.join(", ")
                    }
                ),
                tone,
            ));
        }
    }
    s.blocks.push(Block::Table(Table {
        caption: "Speed as % of native (higher is better)".into(),
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
    use filterbench_results::{ArmInfo, Results, Row};

    use super::*;

    fn results() -> Results {
        let mut r = Results::new();
        for (name, kind) in [("native", "native"), ("wasmtime-cranelift", "wasm")] {
            r.arms.push(ArmInfo {
                name: name.into(),
                kind: kind.into(),
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
        // CPU per request in two processes: rust wasm at 50% of rust native, cpp at 80%,
        // AssemblyScript (no native) at 25% of the rust native.
        for (filter, arm, ns) in [
            ("add-header", "native", 100.0),
            ("add-header", "wasmtime-cranelift", 200.0),
            ("cpp-add-header", "native", 80.0),
            ("cpp-add-header", "wasmtime-cranelift", 100.0),
            ("as-add-header", "wasmtime-cranelift", 400.0),
            ("noop", "native", 50.0),
            ("noop", "wasmtime-cranelift", 60.0),
        ] {
            for process in 0..2 {
                r.rows.push(Row {
                    filter: filter.into(),
                    scenario: "small".into(),
                    arm: arm.into(),
                    phase: "request".into(),
                    metric: "cpu_per_request".into(),
                    unit: "ns".into(),
                    threads: 1,
                    process,
                    iteration: 0,
                    value: ns,
                });
            }
        }
        r
    }

    #[test]
    fn each_language_against_its_own_native_and_the_claim_judged() {
        let r = results();
        let s = section(&Analysis::new(&r)).expect("three languages");
        let md = crate::doc::markdown(
            &crate::doc::Page {
                sections: vec![s],
                ..Default::default()
            },
            false,
        );
        assert!(
            md.contains("| add-header | small | rust | 100 ns | 50% [50%, 50%] |"),
            "{md}"
        );
        assert!(
            md.contains("| add-header | small | cpp | 80.0 ns | 80% "),
            "{md}"
        );
        assert!(
            md.contains("assemblyscript | 100 ns rust (no native assemblyscript build) | 25% "),
            "{md}"
        );
        assert!(
            md.contains(
                "cpp on wasmtime-cranelift: wasm at 80% of native (geometric mean of 1); the \
                 70% claim holds for add-header/small 80% and fails for none."
            ),
            "{md}"
        );
        assert!(
            md.contains("assemblyscript (against rust native) on wasmtime-cranelift: wasm at 25%"),
            "{md}"
        );
        assert!(
            md.contains("rust on wasmtime-cranelift: wasm at 50%"),
            "{md}"
        );
        // A job in one language only is not part of this section.
        assert!(!md.contains("noop"), "{md}");
    }
}
