//! HTTP/1.1 against HTTP/2 (h2c) per Envoy variant (`run --protocols http1,h2c`, or `load
//! --protocols`). The h2c figures are the same arms under the scenario name with the
//! vocabulary's h2c suffix, so each protocol's comparisons between variants are the report's
//! usual ones; this section sets the two protocols side by side, and their ratio per process.

use std::collections::BTreeMap;

use filterbench_results::stats::{Estimate, estimate};
use filterbench_results::summary::Key;
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm, protocol};

use super::figure;
use crate::doc::{Block, Cell, Section, Table};
use crate::format;
use crate::model::Analysis;
use crate::net::{missing_cell, net_ratio_cell, times};

/// A value formatter.
type Fmt = fn(f64) -> String;

/// The figures set side by side: what Envoy spends, what it serves, how late.
const FIGURES: [(Metric, &str, Fmt); 3] = [
    (Metric::CpuPerRequest, "CPU/req", format::ns),
    (Metric::Throughput, "throughput", format::rate),
    (Metric::LatencyP99, "p99", format::ns),
];

/// One comparison: a filter's closed-loop scenario, its HTTP/1.1 name and its h2c name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pair {
    pub filter: String,
    pub http1: String,
    pub h2c: String,
}

/// The scenarios measured over h2c (closed loop: rate-suffixed ones left out), in the report's
/// scenario order, each with its HTTP/1.1 name.
pub(crate) fn pairs(a: &Analysis) -> Vec<Pair> {
    let mut out: Vec<Pair> = Vec::new();
    for (filter, scenario) in a.scenarios() {
        let (base, h2c) = protocol::split(&scenario);
        if !h2c || base.contains('@') {
            continue;
        }
        let p = Pair {
            filter,
            http1: base,
            h2c: scenario,
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn key(filter: &str, scenario: &str, arm: &str, metric: Metric) -> Key {
    Key::new(filter, scenario, arm, Phase::Request, metric, 1)
}

/// `num` over `den`, process by process (both protocols ran in the same rounds of the same
/// process, so drift between processes cancels in the ratio).
pub(crate) fn paired_ratio(a: &Analysis, num: &Key, den: &Key) -> Option<Estimate> {
    let x = a.table.get(num)?;
    let y = a.table.get(den)?;
    let r: Vec<f64> = x
        .iter()
        .filter_map(|(p, v)| y.get(p).filter(|w| **w > 0.0).map(|w| v / w))
        .collect();
    estimate(&r)
}

/// A ratio with its 95% CI below it.
fn ratio_cell(e: Option<Estimate>) -> Cell {
    match e {
        Some(e) if e.n > 1 => Cell::num(times(e.mean)).with_sub(format!(
            "[{}, {}]",
            times(e.ci_low).trim_end_matches('×'),
            times(e.ci_high).trim_end_matches('×')
        )),
        Some(e) => Cell::num(times(e.mean)).with_sub("one process"),
        None => Cell::none(),
    }
}

/// The Envoy variants with a figure of `p` over either protocol, in the run's arm order.
fn variants<'a>(a: &'a Analysis, p: &Pair) -> Vec<&'a str> {
    a.arms
        .iter()
        .filter(|x| x.kind == ArmKind::Envoy)
        .map(|x| x.name.as_str())
        .filter(|arm| {
            [&p.http1, &p.h2c].iter().any(|sc| {
                FIGURES
                    .iter()
                    .any(|(m, _, _)| a.table.contains_key(&key(&p.filter, sc, arm, *m)))
            })
        })
        .collect()
}

/// Per filter and variant: each figure over HTTP/1.1 and h2c (mean ±95% CI over processes)
/// and h2c ÷ HTTP/1.1 paired per process.
pub(crate) fn side_by_side(a: &Analysis) -> Table {
    let mut rows = Vec::new();
    for p in pairs(a) {
        for v in variants(a, &p) {
            let mut row = vec![
                Cell::label(format!("{} / {}", p.filter, p.http1)),
                Cell::label(v),
            ];
            for (m, _, fmt) in FIGURES {
                let (k1, k2) = (key(&p.filter, &p.http1, v, m), key(&p.filter, &p.h2c, v, m));
                row.push(figure(a, &k1, fmt));
                row.push(figure(a, &k2, fmt));
                row.push(ratio_cell(paired_ratio(a, &k2, &k1)));
            }
            rows.push(row);
        }
    }
    let mut header = vec!["filter / scenario".to_string(), "arm".to_string()];
    let mut groups = vec![(String::new(), 2)];
    for (_, label, _) in FIGURES {
        groups.push((label.to_string(), 3));
        // Each column names its figure: the terminal's tables have no group line.
        header.extend(["HTTP/1.1", "h2c", "h2c ÷ HTTP/1.1"].map(|p| format!("{label} {p}")));
    }
    Table {
        caption: "HTTP/1.1 against HTTP/2 with prior knowledge (h2c), generator to Envoy and \
                  Envoy to upstream: an Envoy per variant × protocol, all timed in the same \
                  interleaved rounds, every response checked. Mean over processes ±95% CI; \
                  h2c ÷ HTTP/1.1 paired per process [95% CI]. p99: mean of the processes' p99."
            .into(),
        groups,
        header,
        rows,
        collapsed: false,
    }
}

/// The report's headline comparisons, once per protocol: V8 against no filter and against the
/// native module, on Envoy's CPU per request (and throughput against no filter).
pub(crate) fn headline(a: &Analysis) -> Table {
    let mut rows = Vec::new();
    for p in pairs(a) {
        for (label, sc) in [("HTTP/1.1", &p.http1), ("h2c", &p.h2c)] {
            let cpu = key(&p.filter, sc, arm::ENVOY_WASM_V8, Metric::CpuPerRequest);
            let thr = key(&p.filter, sc, arm::ENVOY_WASM_V8, Metric::Throughput);
            let over = |k: &Key, other: &str| {
                let o = k.with_arm(other);
                match paired_ratio(a, k, &o) {
                    Some(e) => ratio_cell(Some(e)),
                    None if a.table.contains_key(k) => missing_cell(a, &o),
                    None => missing_cell(a, k),
                }
            };
            rows.push(vec![
                Cell::label(format!("{} / {}", p.filter, p.http1)),
                Cell::label(label),
                over(&cpu, arm::ENVOY_NONE),
                over(&cpu, arm::ENVOY_NATIVE_MODULE),
                a.net_ratio(&cpu)
                    .map_or_else(|| missing_cell(a, &cpu), |r| net_ratio_cell(&r)),
                over(&thr, arm::ENVOY_NONE),
            ]);
        }
    }
    Table {
        caption: "The headline comparisons per protocol (envoy-wasm-v8): gross ratios paired per \
                  process [95% CI]; net = minus envoy-none, over the reference variant's net, \
                  with the verdict of the claim (wasm at ≥ 70% of native speed) as elsewhere."
            .into(),
        groups: Vec::new(),
        header: [
            "filter / scenario",
            "protocol",
            "CPU/req V8 ÷ none",
            "CPU/req V8 ÷ native module",
            "net CPU/req V8 ÷ reference",
            "throughput V8 ÷ none",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        collapsed: false,
    }
}

/// One sentence per filter: how h2c moves each variant's CPU per request.
fn lines(a: &Analysis) -> Vec<String> {
    let mut out = Vec::new();
    for p in pairs(a) {
        let mut parts: BTreeMap<usize, String> = BTreeMap::new();
        for v in variants(a, &p) {
            let (k1, k2) = (
                key(&p.filter, &p.http1, v, Metric::CpuPerRequest),
                key(&p.filter, &p.h2c, v, Metric::CpuPerRequest),
            );
            if let Some(r) = paired_ratio(a, &k2, &k1) {
                parts.insert(a.arm_index(v), format!("{v} {}", times(r.mean)));
            }
        }
        if !parts.is_empty() {
            let list: Vec<String> = parts.into_values().collect();
            out.push(format!(
                "{} / {}: Envoy CPU per request over h2c ÷ over HTTP/1.1: {}.",
                p.filter,
                p.http1,
                list.join(", ")
            ));
        }
    }
    out
}

/// The section, when the results hold its figures.
pub fn section(a: &Analysis) -> Option<Section> {
    if pairs(a).is_empty() {
        return None;
    }
    let mut s = Section::new("protocols", "HTTP/1.1 and HTTP/2 (h2c) per Envoy variant");
    s.summary = true;
    s.para(format!(
        "The same variants over both protocols; the h2c figures are recorded under the \
         scenario name + `{}`. h2c keeps one request in flight per connection, as HTTP/1.1 \
         does, so the protocols differ in framing and codec work, not in concurrency.",
        protocol::H2C_SUFFIX
    ));
    for l in lines(a) {
        s.para(l);
    }
    s.blocks.push(Block::Table(side_by_side(a)));
    s.blocks.push(Block::Table(headline(a)));
    Some(s)
}
