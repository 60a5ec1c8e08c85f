//! The terminal summary of a results file, built from the same [`Analysis`] and the same cells
//! as the HTML and Markdown reports (so every ratio reads the same in all three): the net
//! headline with the claim's verdicts, per-request figures gross and net, cold start, memory,
//! Envoy memory, HTTP/1.1 against h2c, absent figures and failures.

use std::collections::BTreeMap;
use std::fmt::Write;

use filterbench_results::Results;
use filterbench_results::summary::Key;

use crate::doc::{Cell, Table, text_table};
use crate::format;
use crate::model::Analysis;
use crate::net::{self, mean_cell, net_cell};
use crate::report::{answer_text, headline, maxrate, protocols};
use filterbench_results::vocab::{ArmKind, Metric, Phase};

const THROUGHPUT: Metric = Metric::Throughput;
const P50: Metric = Metric::LatencyP50;
const P99: Metric = Metric::LatencyP99;
const THROUGHPUT_WRK: Metric = Metric::ThroughputWrk;

fn table(caption: &str, header: &[&str], rows: Vec<Vec<Cell>>) -> Table {
    Table {
        caption: caption.into(),
        groups: Vec::new(),
        header: header.iter().map(|h| h.to_string()).collect(),
        rows,
        collapsed: false,
    }
}

/// A figure's estimate as mean ± CI, else the run's reason for its absence, else "–".
fn cell(a: &Analysis, key: &Key, fmt: fn(f64) -> String) -> Cell {
    a.get(key)
        .map_or_else(|| net::missing_cell(a, key), |e| mean_cell(e, fmt))
}

/// A percentile: the median over processes with the range of the processes' values (a
/// median has no Student's t interval).
fn median_cell(a: &Analysis, key: &Key) -> Cell {
    match a.get(key) {
        None => net::missing_cell(a, key),
        Some(e) if e.n > 1 => Cell::num(format::ns(e.median)).with_sub(format!(
            "[{}–{}]",
            format::ns(e.min),
            format::ns(e.max)
        )),
        Some(e) => Cell::num(format::ns(e.median)),
    }
}

fn per_request(a: &Analysis) -> Table {
    let mut rows = Vec::new();
    for (f, sc) in a.scenarios() {
        for arm in &a.arms {
            let k = |m: Metric| Key::new(&f, &sc, &arm.name, Phase::Request, m, 1);
            if !a.table.contains_key(&k(Metric::CpuPerRequest)) && !a.table.contains_key(&k(P50)) {
                continue;
            }
            let net = |m: Metric| a.net(&k(m)).map_or_else(Cell::none, |n| net_cell(&n));
            rows.push(vec![
                Cell::label(format!("{f} / {sc}")),
                Cell::label(arm.name.as_str()),
                cell(a, &k(Metric::CpuPerRequest), format::ns),
                net(Metric::CpuPerRequest),
                headline::gross_ratio_cell(a, &k(Metric::CpuPerRequest), false),
                net(Metric::LatencyMean),
                median_cell(a, &k(P50)),
                median_cell(a, &k(P99)),
                cell(a, &k(THROUGHPUT), format::rate),
            ]);
        }
    }
    table(
        "Per request. CPU, net and throughput: mean over processes ±95% CI of the mean; net = \
         minus the harness (Envoy: minus envoy-none), per process; gross ratio = % of the \
         reference arm; p50/p99: median over processes [min–max of processes].",
        &[
            "filter / scenario",
            "arm",
            "CPU/req gross",
            "CPU/req net",
            "gross % of ref",
            "mean latency net",
            "p50",
            "p99",
            "throughput 1 thr",
        ],
        rows,
    )
}

/// A value formatter.
type Fmt = fn(f64) -> String;

fn cold_start_and_memory(a: &Analysis) -> Table {
    let mem = [
        Metric::ModuleRssBytes,
        Metric::RssAnonPerVmBytes,
        Metric::RssFilePerVmBytes,
        Metric::HeapPerVmBytes,
    ];
    let mut rows = Vec::new();
    for f in a.filters() {
        for arm in a
            .arms
            .iter()
            .filter(|x| x.kind == ArmKind::Native || x.kind == ArmKind::Wasm)
        {
            let keys: Vec<(Key, Fmt)> = Phase::COLD_START
                .iter()
                .map(|p| {
                    (
                        Key::new(&f, "", &arm.name, *p, Metric::Time, 1),
                        format::ns as _,
                    )
                })
                .chain(mem.iter().map(|m| {
                    (
                        Key::new(&f, "", &arm.name, Phase::Memory, *m, 1),
                        format::bytes as _,
                    )
                }))
                .collect();
            if keys
                .iter()
                .all(|(k, _)| a.get(k).is_none() && a.absent(k).is_none())
            {
                continue;
            }
            let mut row = vec![Cell::label(f.as_str()), Cell::label(arm.name.as_str())];
            row.extend(keys.iter().map(|(k, fmt)| cell(a, k, *fmt)));
            rows.push(row);
        }
    }
    table(
        "Cold start and memory per VM (mean over processes ±95% CI of the mean)",
        &[
            "filter",
            "arm",
            "compile",
            "instantiate",
            "start+configure",
            "first request",
            "module RSS",
            "private RSS / VM",
            "file RSS / VM",
            "heap / VM",
        ],
        rows,
    )
}

fn envoy_memory(a: &Analysis) -> Table {
    let rows = a
        .est
        .iter()
        .filter(|(k, _)| {
            k.phase == Phase::Memory
                && (k.metric == Metric::EnvoyRssBytes || k.metric == Metric::RssPerWorkerBytes)
        })
        .map(|(k, e)| {
            vec![
                Cell::label(k.filter.as_str()),
                Cell::label(k.arm.as_str()),
                Cell::label(k.metric.name()),
                Cell::num(k.threads.to_string()),
                mean_cell(e, format::bytes),
            ]
        })
        .collect();
    table(
        "Envoy memory (RSS; per worker = slope over --concurrency; mean ±95% CI)",
        &["filter", "arm", "metric", "workers", "value"],
        rows,
    )
}

/// Our load generator against wrk on the same Envoy, same connections.
fn wrk(a: &Analysis) -> Table {
    let rows = a
        .est
        .iter()
        .filter(|(k, _)| k.metric == THROUGHPUT_WRK)
        .map(|(k, theirs)| {
            let ours = Key {
                metric: THROUGHPUT,
                ..k.clone()
            };
            vec![
                Cell::label(format!("{} / {}", k.filter, k.scenario)),
                Cell::label(k.arm.as_str()),
                cell(a, &ours, format::rate),
                mean_cell(theirs, format::rate),
                a.get(&ours).map_or_else(Cell::none, |e| {
                    Cell::num(format!("{:.2}", e.mean / theirs.mean))
                }),
            ]
        })
        .collect();
    table(
        "Load generator cross-check (closed loop, same target and connections; mean ±95% CI)",
        &[
            "filter / scenario",
            "arm",
            "our generator",
            "wrk",
            "ours ÷ wrk (means)",
        ],
        rows,
    )
}

/// The default terminal summary, at most 100 columns: what failed or is absent first, then
/// the answer per filter last (where a terminal's last lines show it). The full tables are
/// [`render`] (`--verbose`) and the report.
pub fn summary(results: &Results) -> String {
    let a = Analysis::new(results);
    let mut out = String::new();
    if !results.complete {
        out.push_str(
            "INCOMPLETE RUN: the figures cover only what was measured before it stopped.\n",
        );
    }
    if !results.failures.is_empty() {
        let _ = writeln!(out, "FAILED (not timed, never counted as fast):");
        for f in &results.failures {
            let line = format!(
                "  {} / {} / {} ({}): {}",
                f.filter, f.scenario, f.arm, f.stage, f.message
            );
            // Wrapped, not cut: the cause (a CPU bound, a field) is often at the end.
            let _ = writeln!(out, "{}", wrap(&line, 100, "      "));
        }
    }
    if !results.absent.is_empty() {
        let _ = writeln!(
            out,
            "{} figures not published, each with its reason (--verbose, or the report).",
            results.absent.len()
        );
    }
    let answer = answer_text::text(&a);
    if answer.is_empty() {
        // No filter with both a wasm and a native build (e.g. only `hostcalls`): the net
        // verdicts per arm are the answer.
        for (sentence, _) in headline::verdicts(&a) {
            let _ = writeln!(out, "{sentence}");
        }
    }
    out.push_str(&answer);
    out.push_str(&maxrate::lines(&a));
    out
}

/// `s` in lines of at most `width` characters, broken at spaces; lines after the first start
/// with `indent`.
pub(crate) fn wrap(s: &str, width: usize, indent: &str) -> String {
    let mut lines: Vec<String> = vec![String::new()];
    for word in s.split(' ') {
        let line = lines.last_mut().expect("one line at least");
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(format!("{indent}{word}"));
        } else {
            if len > 0 {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines.join("\n")
}

/// Every table of the summary, each row on one line (wide): `--verbose`.
pub fn render(results: &Results) -> String {
    let a = Analysis::new(results);
    let mut out = String::new();
    let put = |out: &mut String, t: Table| {
        if !t.rows.is_empty() {
            let _ = writeln!(out, "{}", text_table(&t));
        }
    };
    for place in headline::Place::BOTH {
        if let Some(t) = headline::net_table(&a, place) {
            put(&mut out, t);
        }
    }
    for (sentence, _) in headline::verdicts(&a) {
        let _ = writeln!(out, "{sentence}");
    }
    out.push('\n');
    put(&mut out, per_request(&a));
    put(&mut out, cold_start_and_memory(&a));
    put(&mut out, wrk(&a));
    put(&mut out, maxrate::table(&a));
    // HTTP/1.1 and h2c side by side, when the run asked for both.
    put(&mut out, protocols::side_by_side(&a));
    put(&mut out, protocols::headline(&a));
    put(&mut out, envoy_memory(&a));
    if !results.absent.is_empty() {
        let _ = writeln!(out, "\nABSENT (not measured well enough to publish):");
        for x in &results.absent {
            let _ = writeln!(
                out,
                "  {} / {} / {} {} {} (process {}): absent: {}",
                x.filter, x.scenario, x.arm, x.phase, x.metric, x.process, x.reason
            );
        }
    }
    if !results.failures.is_empty() {
        let mut by: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
        for f in &results.failures {
            by.entry((&f.filter, &f.arm))
                .or_default()
                .push(format!("{} {}: {}", f.stage, f.scenario, f.message));
        }
        let _ = writeln!(out, "\nFAILED (not timed, never counted as fast):");
        for ((filter, arm), msgs) in by {
            for m in msgs {
                let _ = writeln!(out, "  {filter} / {arm}: {m}");
            }
        }
    }
    out
}
