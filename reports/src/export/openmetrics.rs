//! OpenMetrics text: every figure of the file as a gauge, for Prometheus-compatible tools (the
//! node exporter's textfile collector, a Pushgateway, a scrape of the file). One metric family
//! per vocabulary metric, `filterbench_<metric>_<unit>`, holding the mean over worker
//! processes, with sibling families for the bounds of its 95% confidence interval
//! (`…_ci95_low_<unit>`, `…_ci95_high_<unit>`). Samples are labelled `filter`, `scenario` (left
//! out for per-filter figures), `arm`, `phase` and `threads`; host-call counts share one
//! family `filterbench_calls` with a `function` label. Values are in base units, as
//! OpenMetrics asks: ns become seconds. Samples carry no timestamp (textfile collectors and
//! Pushgateways refuse them); the run's start is its own gauge, and `filterbench_run_info`
//! names the run.

use std::collections::BTreeMap;
use std::fmt::Write;

use filterbench_results::Results;
use filterbench_results::stats::Estimate;
use filterbench_results::summary::{Key, summarize};
use filterbench_results::vocab::{CALLS_PREFIX, Metric, Unit};

use super::Exporter;
use crate::ReportError;

pub struct OpenMetricsExporter;

const PREFIX: &str = "filterbench";

/// A unit's OpenMetrics name (empty: none) and what the results file's values are divided by
/// (dividing by 1e9 keeps 2158 ns as 0.000002158 s; multiplying by 1e-9 would not).
fn base_unit(u: Unit) -> (&'static str, f64) {
    match u {
        Unit::Ns => ("seconds", 1e9),
        Unit::PerSecond => ("requests_per_second", 1.0),
        Unit::Bytes => ("bytes", 1.0),
        Unit::Ratio => ("ratio", 1.0),
        Unit::Count => ("", 1.0),
    }
}

/// The three statistics written of every figure: family infix, what HELP says, the value.
type Stat = (&'static str, &'static str, fn(&Estimate) -> f64);
const STATS: [Stat; 3] = [
    ("", "Mean over worker processes", |e| e.mean),
    (
        "_ci95_low",
        "Lower bound of the 95% confidence interval of the mean over worker processes",
        |e| e.ci_low,
    ),
    (
        "_ci95_high",
        "Upper bound of the 95% confidence interval of the mean over worker processes",
        |e| e.ci_high,
    ),
];

#[derive(Default)]
struct Family {
    kind: &'static str,
    unit: &'static str,
    help: String,
    /// (labels, value) of each sample, in the file's key order.
    samples: Vec<(String, f64)>,
}

/// `{k="v",…}` with OpenMetrics escaping.
fn labels(pairs: &[(&str, &str)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

/// The family of a metric (without the statistic's infix and the unit) and its extra label.
fn family_base(metric: Metric) -> (String, Option<(&'static str, &'static str)>) {
    match metric.function() {
        Some(f) => (
            format!("{PREFIX}_{}", CALLS_PREFIX.trim_end_matches(':')),
            Some(("function", f)),
        ),
        None => (format!("{PREFIX}_{}", metric.name()), None),
    }
}

fn add_figure(families: &mut BTreeMap<String, Family>, k: &Key, e: &Estimate) {
    let (unit, divisor) = base_unit(k.metric.unit());
    let (base, extra) = family_base(k.metric);
    // A metric already named after its unit (`module_rss_bytes`) keeps its name.
    let (stem, suffix) = match base.strip_suffix(&format!("_{unit}")) {
        Some(stem) if !unit.is_empty() => (stem.to_string(), format!("_{unit}")),
        _ if unit.is_empty() => (base, String::new()),
        _ => (base, format!("_{unit}")),
    };
    let threads = k.threads.to_string();
    let mut pairs: Vec<(&str, &str)> = vec![("filter", &k.filter)];
    if !k.scenario.is_empty() {
        pairs.push(("scenario", &k.scenario));
    }
    pairs.extend([("arm", k.arm.as_str()), ("phase", k.phase.name())]);
    pairs.push(("threads", &threads));
    pairs.extend(extra);
    let set = labels(&pairs);
    for (infix, help, stat) in STATS {
        let value = stat(e) / divisor;
        if !value.is_finite() {
            continue;
        }
        let name = format!("{stem}{infix}{suffix}");
        let what = match extra {
            Some(_) => format!("calls per request of one host function (`{CALLS_PREFIX}*`)"),
            None => format!("`{}`", k.metric.name()),
        };
        let f = families.entry(name).or_insert_with(|| Family {
            kind: "gauge",
            unit,
            help: format!("{help} of {what}, in {}.", unit_words(k.metric.unit())),
            samples: Vec::new(),
        });
        f.samples.push((set.clone(), value));
    }
}

fn unit_words(u: Unit) -> String {
    let (name, divisor) = base_unit(u);
    if name.is_empty() {
        "counts".into()
    } else if divisor == 1.0 {
        name.replace('_', " ")
    } else {
        format!("{name} (the results file's {} scaled)", u.name())
    }
}

/// The run itself: what it was (an info metric) and when it started and how long it took.
fn add_run(families: &mut BTreeMap<String, Family>, r: &Results) {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("filterbench_version", &r.filterbench_version),
        ("profile", &r.profile),
    ];
    // No commit outside a checkout: the label is left out, not set empty.
    pairs.extend(r.git_commit.as_deref().map(|c| ("git_commit", c)));
    pairs.extend([
        ("hostname", r.machine.hostname.as_str()),
        ("cpu_model", r.machine.cpu_model.as_str()),
    ]);
    let info = labels(&pairs);
    families.insert(
        format!("{PREFIX}_run"),
        Family {
            kind: "info",
            help: "The filterbench run these figures come from.".into(),
            samples: vec![(info, 1.0)],
            ..Default::default()
        },
    );
    for (name, help, value) in [
        (
            "run_start_time_seconds",
            "When the run started, in seconds since the Unix epoch.",
            r.started_unix as f64,
        ),
        (
            "run_duration_seconds",
            "How long the run took, in seconds.",
            r.duration_s,
        ),
    ] {
        families.insert(
            format!("{PREFIX}_{name}"),
            Family {
                kind: "gauge",
                unit: "seconds",
                help: help.into(),
                samples: vec![(String::new(), value)],
            },
        );
    }
}

impl Exporter for OpenMetricsExporter {
    fn serialize(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let mut families: BTreeMap<String, Family> = BTreeMap::new();
        add_run(&mut families, results);
        for (k, e) in &summarize(results) {
            add_figure(&mut families, k, e);
        }
        let mut out = String::new();
        for (name, f) in &families {
            let _ = writeln!(out, "# TYPE {name} {}", f.kind);
            if !f.unit.is_empty() {
                let _ = writeln!(out, "# UNIT {name} {}", f.unit);
            }
            let help = f.help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(out, "# HELP {name} {help}");
            // An info family's samples carry the `_info` suffix.
            let sample = if f.kind == "info" {
                format!("{name}_info")
            } else {
                name.clone()
            };
            for (set, value) in &f.samples {
                let _ = writeln!(out, "{sample}{set} {value}");
            }
        }
        out.push_str("# EOF\n");
        Ok(out.into_bytes())
    }
}
