//! The analysis model on small hand-made results: costs net of the harness per process, the
//! resolution rule, the claim's verdict from intervals, absent figures with their reason, and
//! one reference rule read by the terminal, Markdown and HTML alike.

use filterbench_reports::model::Analysis;
use filterbench_reports::net::{Claim, Net, NetRatio, net_cell, net_ratio_cell};
use filterbench_reports::{Format, terminal};
use filterbench_results::stats::estimate;
use filterbench_results::summary::Key;
use filterbench_results::vocab::{Metric, Phase};
use filterbench_results::{Absent, ArmInfo, FilterInfo, Results, Row};

const F: &str = "add-header";
const S: &str = "small-headers";

/// A results file with `arms` (name, kind) and, per arm, CPU per request in each process.
fn results(arms: &[(&str, &str, &[f64])]) -> Results {
    let mut r = Results::new();
    r.complete = true;
    r.filters.push(FilterInfo {
        name: F.into(),
        language: "rust".into(),
        scenarios: vec![S.into()],
        ..Default::default()
    });
    for (name, kind, values) in arms {
        r.arms.push(ArmInfo {
            name: name.to_string(),
            kind: kind.parse().expect("a kind of the vocabulary"),
            ..Default::default()
        });
        for (process, v) in values.iter().enumerate() {
            for metric in [Metric::CpuPerRequest, Metric::LatencyP99] {
                r.rows.push(Row {
                    filter: F.into(),
                    scenario: S.into(),
                    arm: name.to_string(),
                    phase: Phase::Request,
                    metric,
                    unit: metric.unit(),
                    threads: 1,
                    process: process as u32,
                    iteration: 0,
                    value: *v,
                });
            }
        }
    }
    r
}

fn cpu(arm: &str) -> Key {
    Key::new(F, S, arm, Phase::Request, Metric::CpuPerRequest, 1)
}

fn markdown(r: &Results) -> String {
    String::from_utf8(Format::Markdown.exporter().serialize(r).unwrap()).unwrap()
}

fn html(r: &Results) -> String {
    String::from_utf8(Format::Html.exporter().serialize(r).unwrap()).unwrap()
}

#[test]
fn net_and_its_ratio_are_taken_per_process() {
    // Harness drifts with the process; native and wasm drift with it.
    let r = results(&[
        ("native", "native", &[290.0, 350.0, 330.0]),
        ("wasmtime-cranelift", "wasm", &[670.0, 550.0, 960.0]),
        ("harness", "harness", &[100.0, 150.0, 120.0]),
    ]);
    let a = Analysis::new(&r);
    assert_eq!(a.baseline("wasmtime-cranelift"), Some("harness"));
    let Some(Net::Measured(native)) = a.net(&cpu("native")) else {
        panic!("native's net is measured")
    };
    assert_eq!((native.n, native.mean, native.stdev), (3, 200.0, 10.0));
    // Per process 570/190, 400/200, 840/210: mean 3×, not the ratio of mean nets (3.02×).
    let Some(NetRatio::Measured { est, per_process }) = a.net_ratio(&cpu("wasmtime-cranelift"))
    else {
        panic!("a net ratio")
    };
    assert_eq!(per_process.len(), 3);
    assert!((est.mean - 3.0).abs() < 1e-9, "{est:?}");
    // Gross and net both shown, labelled, in the report.
    let md = markdown(&r);
    assert!(md.contains("CPU per request net of the harness"), "{md}");
    assert!(md.contains("| add-header | small-headers | 3.00× "), "{md}");
}

#[test]
fn a_net_below_resolution_is_flagged_never_negative() {
    // Native's net is −33, 50 and 40 ns: its interval reaches below 0.
    let r = results(&[
        ("native", "native", &[467.0, 550.0, 540.0]),
        ("wasmtime-cranelift", "wasm", &[900.0, 1000.0, 950.0]),
        ("harness", "harness", &[500.0, 500.0, 500.0]),
    ]);
    let a = Analysis::new(&r);
    let net = a.net(&cpu("native")).unwrap();
    let Net::BelowResolution { limit } = net else {
        panic!("{net:?}")
    };
    assert!(limit > 50.0, "the bound covers the interval: {limit}");
    let text = net_cell(&net).flat();
    assert!(text.starts_with("below resolution (< "), "{text}");
    // A ratio over it cannot be told.
    let ratio = a.net_ratio(&cpu("wasmtime-cranelift")).unwrap();
    assert!(matches!(ratio, NetRatio::CannotTell(_)), "{ratio:?}");
    assert_eq!(Claim::of_ratio(&ratio), Claim::CannotTell);
    assert_eq!(net_ratio_cell(&ratio).text, "cannot tell");
    let out = terminal::render(&r);
    assert!(out.contains("below resolution (< "), "{out}");
    assert!(!out.contains("-33") && !out.contains("−33"), "{out}");

    // Paired: a drift both arms share between processes cancels, so a net of 10–12 ns is
    // measured even though the harness moved by 100 ns from process to process.
    let r = results(&[
        ("native", "native", &[110.0, 211.0, 312.0]),
        ("harness", "harness", &[100.0, 200.0, 300.0]),
    ]);
    let a = Analysis::new(&r);
    let Some(Net::Measured(e)) = a.net(&cpu("native")) else {
        panic!("{:?}", a.net(&cpu("native")))
    };
    assert!((e.mean - 11.0).abs() < 1e-9 && e.ci_low > 0.0, "{e:?}");
}

#[test]
fn the_claim_is_judged_on_the_interval() {
    let holds = estimate(&[1.15, 1.2, 1.25]).unwrap();
    let fails = estimate(&[2.0, 2.1, 2.2]).unwrap();
    let straddles = estimate(&[1.0, 1.8, 1.4]).unwrap();
    assert!(
        straddles.mean < 1.0 / 0.7,
        "the point estimate alone would hold"
    );
    assert_eq!(Claim::of(&holds), Claim::Holds);
    assert_eq!(Claim::of(&fails), Claim::Fails);
    assert_eq!(Claim::of(&straddles), Claim::CannotTell);
    // One process: no interval, no verdict.
    assert_eq!(Claim::of(&estimate(&[1.1]).unwrap()), Claim::CannotTell);
    assert_eq!(
        [holds, fails, straddles].map(|e| Claim::of(&e).word()),
        ["holds", "fails", "cannot tell"]
    );
}

#[test]
fn absent_figures_show_their_reason_where_the_value_would_be() {
    let mut r = results(&[
        ("native", "native", &[200.0, 300.0]),
        ("harness", "harness", &[100.0, 100.0]),
    ]);
    r.rows
        .retain(|x| !(x.arm == "native" && x.metric == Metric::LatencyP99));
    let why = "p99 needs 1000 samples per process, had 12";
    for process in 0..2 {
        r.absent.push(Absent {
            filter: F.into(),
            scenario: S.into(),
            arm: "native".into(),
            phase: Phase::Request,
            metric: Metric::LatencyP99,
            threads: 1,
            process,
            reason: why.into(),
        });
    }
    let want = format!("absent: {why}");
    let out = terminal::render(&r);
    let row = out
        .lines()
        .find(|l| l.starts_with(&format!("{F} / {S}")) && l.contains(" native "))
        .unwrap_or_else(|| panic!("no native row in\n{out}"));
    assert!(row.contains(&want), "the p99 cell says why: {row}");
    // Markdown cuts a long reason to its 100 columns; the HTML has it whole.
    assert!(markdown(&r).contains("absent: p99 needs"));
    assert!(html(&r).contains(&want));
}

#[test]
fn terminal_markdown_and_html_give_the_same_envoy_ratio() {
    // Net of envoy-none: the native module adds 10 µs, V8 29–31 µs (3.00×); against Envoy's
    // built-in filter (5 µs) it would read 6.00×.
    let r = results(&[
        ("native", "native", &[200.0, 200.0, 200.0]),
        ("harness", "harness", &[100.0, 100.0, 100.0]),
        ("envoy-none", "envoy", &[40_000.0, 40_000.0, 40_000.0]),
        ("envoy-native", "envoy", &[45_000.0, 45_000.0, 45_000.0]),
        (
            "envoy-native-module",
            "envoy",
            &[50_000.0, 50_000.0, 50_000.0],
        ),
        ("envoy-wasm-v8", "envoy", &[69_000.0, 70_000.0, 71_000.0]),
    ]);
    let a = Analysis::new(&r);
    assert_eq!(a.reference("envoy-wasm-v8"), Some("envoy-native-module"));
    let net = "3.00× [2.75, 3.25] fails";
    let out = terminal::render(&r);
    let md = markdown(&r);
    let page = html(&r);
    assert!(out.contains(net), "terminal:\n{out}");
    assert!(md.contains(net), "markdown:\n{md}");
    assert!(
        page.contains("3.00×") && page.contains("[2.75, 3.25] fails"),
        "html"
    );
    assert!(!out.contains("6.00×") && !md.contains("6.00×") && !page.contains("6.00×"));
    // The gross ratio too: 140% of the native module in the terminal and the HTML table.
    let gross = "140% [135%, 145%]";
    let v8 = out
        .lines()
        .find(|l| l.contains("envoy-wasm-v8") && l.contains(" / "))
        .unwrap();
    assert!(v8.contains(gross), "{v8}");
    assert!(page.contains("140%") && page.contains("[135%, 145%]"));
}

#[test]
fn a_real_quick_run_reads_the_same_net_ratio_everywhere() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/quick-trimmed.json");
    let r = Results::read(std::path::Path::new(path)).unwrap();
    let a = Analysis::new(&r);
    let ratio = a
        .net_ratio(&Key::new(
            "noop",
            "small-headers",
            "wasmtime-cranelift",
            Phase::Request,
            Metric::CpuPerRequest,
            1,
        ))
        .unwrap();
    let text = net_ratio_cell(&ratio).flat();
    let out = terminal::render(&r);
    if std::env::var_os("SHOW").is_some() {
        println!("{out}");
    }
    assert!(out.contains(&text), "{text} not in\n{out}");
    assert!(markdown(&r).contains(&text));
}
