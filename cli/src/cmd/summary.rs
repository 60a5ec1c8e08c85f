//! The terminal summary of a results file: per-request costs with their spread and ratios to
//! native, cold start, memory per VM, and what failed.

use std::collections::BTreeMap;
use std::fmt::Write;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use filterbench_results::Results;
use filterbench_results::stats::Estimate;
use filterbench_results::summary::{Key, difference, per_process, ratio, summarize};

pub fn ns(v: f64) -> String {
    match v.abs() {
        x if x >= 1e9 => format!("{:.2} s", v / 1e9),
        x if x >= 1e6 => format!("{:.2} ms", v / 1e6),
        x if x >= 1e3 => format!("{:.2} µs", v / 1e3),
        _ => format!("{v:.0} ns"),
    }
}

pub fn bytes(v: f64) -> String {
    match v.abs() {
        x if x >= 1048576.0 => format!("{:.1} MiB", v / 1048576.0),
        x if x >= 1024.0 => format!("{:.0} KiB", v / 1024.0),
        _ => format!("{v:.0} B"),
    }
}

/// Median with the 95% CI half-width relative to the mean.
fn with_spread(e: &Estimate, fmt: fn(f64) -> String) -> String {
    if e.n > 1 {
        format!("{} ±{:.0}%", fmt(e.median), e.relative_ci() * 100.0)
    } else {
        fmt(e.median)
    }
}

fn ratio_text(e: &Estimate) -> String {
    if e.n > 1 {
        format!("{:.2}× [{:.2}, {:.2}]", e.mean, e.ci_low, e.ci_high)
    } else {
        format!("{:.2}×", e.mean)
    }
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().map(Cell::new));
    t
}

fn right(s: String) -> Cell {
    Cell::new(s).set_alignment(CellAlignment::Right)
}

pub fn render(results: &Results) -> String {
    let est = summarize(results);
    let pp = per_process(results);
    let mut out = String::new();
    let get = |k: &Key| est.get(k);
    let key = Key::new;

    // Per-request costs.
    let mt = results
        .rows
        .iter()
        .filter(|r| r.metric == "throughput" && r.threads > 1)
        .map(|r| r.threads)
        .max();
    let mt_title = mt.map_or("throughput N thr".to_string(), |t| {
        format!("throughput {t} thr")
    });
    let mut t = table(&[
        "filter / scenario",
        "arm",
        "p50",
        "p99",
        "CPU / req",
        "net of harness",
        "CPU/req ÷ native¹",
        "throughput 1 thr",
        "% of native¹ thr.",
        &mt_title,
    ]);
    let mut scenarios: Vec<(String, String)> = est
        .keys()
        .filter(|k| k.phase == "request")
        .map(|k| (k.filter.clone(), k.scenario.clone()))
        .collect();
    scenarios.dedup();
    for (filter, scenario) in &scenarios {
        for arm in &results.arms {
            let k = |m: &str, th: u32| key(filter, scenario, &arm.name, "request", m, th);
            let Some(p50) = get(&k("latency_p50", 1)) else {
                continue;
            };
            let cell = |m: &str, th: u32, f: fn(f64) -> String| {
                get(&k(m, th)).map_or("-".to_string(), |e| with_spread(e, f))
            };
            // Each kind against its own native comparator: in-process wasm against the native
            // build, Envoy variants against Envoy's native filter (or no filter).
            let baseline = match arm.kind.as_str() {
                "wasm" => Some("native"),
                "envoy" if arm.name != "envoy-none" && arm.name != "envoy-native" => {
                    if get(&key(
                        filter,
                        scenario,
                        "envoy-native",
                        "request",
                        "latency_p50",
                        1,
                    ))
                    .is_some()
                    {
                        Some("envoy-native")
                    } else {
                        Some("envoy-none")
                    }
                }
                "envoy" if arm.name == "envoy-native" => Some("envoy-none"),
                _ => None,
            };
            let vs_native = |m: &str| {
                let Some(baseline) = baseline else {
                    return "-".to_string();
                };
                ratio(&pp, &k(m, 1), baseline).map_or("-".into(), |e| match m {
                    "throughput" => format!(
                        "{:.0}% ±{:.0}",
                        e.mean * 100.0,
                        (e.ci_high - e.mean) * 100.0
                    ),
                    _ => ratio_text(&e),
                })
            };
            t.add_row(vec![
                Cell::new(format!("{filter} / {scenario}")),
                Cell::new(&arm.name),
                right(with_spread(p50, ns)),
                right(cell("latency_p99", 1, ns)),
                right(cell("cpu_per_request", 1, ns)),
                right(if arm.kind != "native" && arm.kind != "wasm" {
                    "-".into()
                } else {
                    difference(&pp, &k("cpu_per_request", 1), "harness")
                        .map_or("-".into(), |e| with_spread(&e, ns))
                }),
                right(vs_native("cpu_per_request")),
                right(cell("throughput", 1, |v| format!("{v:.0}/s"))),
                right(vs_native("throughput")),
                right(mt.map_or("-".into(), |th| {
                    cell("throughput", th, |v| format!("{v:.0}/s"))
                })),
            ]);
        }
    }
    let _ = writeln!(
        out,
        "Per request (median over processes ±95% CI; ratios and net figures per process, mean [95% CI]):\n{t}"
    );

    // Our load generator against wrk on the same Envoy, same connections.
    let wrk: Vec<&Key> = est
        .keys()
        .filter(|k| k.metric == "throughput_wrk")
        .collect();
    if !wrk.is_empty() {
        let mut t = table(&[
            "filter / scenario",
            "arm",
            "our generator",
            "wrk",
            "ours ÷ wrk",
        ]);
        for k in wrk {
            let ours = get(&Key {
                metric: "throughput".into(),
                ..k.clone()
            });
            let theirs = &est[k];
            t.add_row(vec![
                Cell::new(format!("{} / {}", k.filter, k.scenario)),
                Cell::new(&k.arm),
                right(ours.map_or("-".into(), |e| with_spread(e, |v| format!("{v:.0}/s")))),
                right(with_spread(theirs, |v| format!("{v:.0}/s"))),
                right(ours.map_or("-".into(), |e| format!("{:.2}", e.median / theirs.median))),
            ]);
        }
        let _ = writeln!(
            out,
            "Load generator cross-check (closed loop, same target and connections):\n{t}"
        );
    }

    // Envoy memory: RSS per variant and what each extra worker adds.
    let envoy_mem: Vec<&Key> = est
        .keys()
        .filter(|k| {
            k.phase == "memory"
                && (k.metric == "envoy_rss_bytes" || k.metric == "rss_per_worker_bytes")
        })
        .collect();
    if !envoy_mem.is_empty() {
        let mut t = table(&["filter", "arm", "metric", "workers", "median"]);
        for k in envoy_mem {
            t.add_row(vec![
                Cell::new(&k.filter),
                Cell::new(&k.arm),
                Cell::new(&k.metric),
                right(k.threads.to_string()),
                right(bytes(est[k].median)),
            ]);
        }
        let _ = writeln!(
            out,
            "Envoy memory (RSS; per worker = slope over --concurrency):\n{t}"
        );
    }

    // Cold start and memory, per filter × arm.
    let phases = ["compile", "instantiate", "start", "first_request"];
    let mem = [
        "module_file_bytes",
        "module_rss_bytes",
        "rss_per_vm_bytes",
        "heap_per_vm_bytes",
        "linear_memory_bytes",
    ];
    let mut t = table(&[
        "filter",
        "arm",
        "compile",
        "instantiate",
        "start+configure",
        "first request",
        "module file",
        "module RSS",
        "RSS / VM",
        "heap / VM",
        "linear mem / VM",
    ]);
    let mut filters: Vec<&str> = results.filters.iter().map(|f| f.name.as_str()).collect();
    filters.sort();
    for filter in filters {
        for arm in results
            .arms
            .iter()
            .filter(|a| a.kind == "native" || a.kind == "wasm")
        {
            let mut row = vec![Cell::new(filter), Cell::new(&arm.name)];
            let mut any = false;
            for p in phases {
                let e = get(&key(filter, "", &arm.name, p, "time", 1));
                any |= e.is_some();
                row.push(right(e.map_or("-".into(), |e| with_spread(e, ns))));
            }
            for m in mem {
                let e = get(&key(filter, "", &arm.name, "memory", m, 1));
                any |= e.is_some();
                row.push(right(e.map_or("-".into(), |e| bytes(e.median))));
            }
            if any {
                t.add_row(row);
            }
        }
    }
    let _ = writeln!(out, "Cold start (median ±95% CI) and memory (median):\n{t}");

    if !results.failures.is_empty() {
        let mut by: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
        for f in &results.failures {
            by.entry((&f.filter, &f.arm))
                .or_default()
                .push(format!("{} {}: {}", f.stage, f.scenario, f.message));
        }
        let _ = writeln!(out, "FAILED (not timed, never counted as fast):");
        for ((filter, arm), msgs) in by {
            for m in msgs {
                let _ = writeln!(out, "  {filter} / {arm}: {m}");
            }
        }
    }
    out
}
