//! compare says what it can see: the smallest change each gating figure could have flagged, and
//! an inconclusive result — not "no significant regression" — when most could not have flagged
//! a change of the threshold. Each test fixes the per-process values, so a wrong formula, a
//! wrong Holm step or a wrong rule turns it red.

mod common;

use filterbench_reports::compare::{Change, Outcome};
use filterbench_reports::{Comparison, Thresholds, Verdict, compare};
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};
use filterbench_results::{ArmInfo, FilterInfo, Results, Row};

/// A run of `filters` on native, wasmi and the harness: `cpu(filter, arm)` gives the
/// per-process CPU per request, `compile(filter)` wasmi's per-process compile times.
fn run(
    filters: &[&str],
    cpu: &dyn Fn(&str, &str) -> Vec<f64>,
    compile: &dyn Fn(&str) -> Vec<f64>,
) -> Results {
    let mut r = Results::new();
    r.complete = true;
    for (name, kind) in [
        (arm::NATIVE, ArmKind::Native),
        ("wasmi", ArmKind::Wasm),
        (arm::HARNESS, ArmKind::Harness),
    ] {
        r.arms.push(ArmInfo {
            name: name.into(),
            kind,
            ..Default::default()
        });
    }
    let row = common::row;
    for f in filters {
        r.filters.push(FilterInfo {
            name: f.to_string(),
            scenarios: vec!["s".into()],
            ..Default::default()
        });
        for a in [arm::NATIVE, "wasmi", arm::HARNESS] {
            for (p, v) in cpu(f, a).into_iter().enumerate() {
                let m = Metric::CpuPerRequest;
                r.rows.push(row(f, "s", a, Phase::Request, m, p, v));
            }
        }
        for (p, v) in compile(f).into_iter().enumerate() {
            r.rows
                .push(row(f, "", "wasmi", Phase::Compile, Metric::Time, p, v));
        }
    }
    r
}

/// `n` processes around `mean`, spread uniformly by ±`rel`, deterministic per `seed`.
fn spread(mean: f64, rel: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut z = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            z ^= z << 13;
            z ^= z >> 7;
            z ^= z << 17;
            let u = (z >> 11) as f64 / (1u64 << 53) as f64;
            mean * (1.0 + rel * (2.0 * u - 1.0))
        })
        .collect()
}

fn cost(arm: &str) -> f64 {
    match arm {
        "native" => 1000.0,
        "wasmi" => 8000.0,
        _ => 200.0,
    }
}

fn find<'a>(c: &'a Comparison, f: &str, arm: &str, figure: Metric) -> &'a Change {
    c.gates
        .iter()
        .find(|g| g.key.filter == f && g.key.arm == arm && g.key.metric == figure)
        .unwrap_or_else(|| panic!("no gating figure {f} {arm} {figure}: {}", c.text()))
}

#[test]
fn two_quick_runs_of_one_build_are_inconclusive_not_no_regression() {
    // Three processes a side, 2% jitter, different draws: the same build measured twice.
    let (a, b) = (common::fixture(1, 0.02), common::fixture(2, 0.02));
    let c = compare(&a, &b, &Thresholds::default());
    assert!(!c.gates.is_empty());
    assert_eq!(c.count(Verdict::Regressed), 0, "{}", c.text());
    assert!(!c.has_regression(), "{}", c.text());
    // At Holm's step with 2–4 degrees of freedom, most figures cannot flag a 5% change.
    let s = c.sensitivity();
    assert!(s.covered * 2 < s.figures, "{s:?}");
    assert!(s.median.is_some_and(|m| m > 0.05), "{s:?}");
    for g in &c.gates {
        let d = g
            .detectable
            .expect("three processes a side: a test can run");
        assert!(d > 0.0 && g.alpha < 0.05, "{g:#?}");
    }
    assert_eq!(c.outcome(), Outcome::Inconclusive);
    assert_eq!(c.outcome().exit_code(), 3);
    let text = c.text();
    assert!(text.contains("RESULT: inconclusive"), "{text}");
    assert!(!text.contains("no significant regression"), "{text}");
    // What it could have detected, in every output.
    assert!(text.contains("could flag"), "{text}");
    let md = c.markdown();
    assert!(
        md.contains("Inconclusive") && md.contains("could flag"),
        "{md}"
    );
    assert!(!md.contains("No significant regression"), "{md}");
    assert!(
        c.html()
            .unwrap()
            .contains("What this comparison could detect")
    );
}

#[test]
fn a_real_ten_percent_shift_with_enough_processes_is_flagged() {
    let filters = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let base = run(
        &filters,
        &|f, a| spread(cost(a), 0.02, 10, f.len() as u64 * 7 + a.len() as u64),
        &|f| spread(1e6, 0.02, 10, f.len() as u64),
    );
    // The same build again (other draws), but filter a's wasmi 10% slower in every process.
    let new = run(
        &filters,
        &|f, a| {
            let k = if (f, a) == ("a", "wasmi") { 1.10 } else { 1.0 };
            spread(
                cost(a) * k,
                0.02,
                10,
                1000 + f.len() as u64 * 7 + a.len() as u64,
            )
        },
        &|f| spread(1e6, 0.02, 10, 1000 + f.len() as u64),
    );
    let c = compare(&base, &new, &Thresholds::default());
    let net = find(&c, "a", "wasmi", Metric::CpuNetOfHarness);
    assert_eq!(net.verdict, Verdict::Regressed, "{net:#?}");
    assert!(net.change > 0.08, "{net:#?}");
    // Ten processes a side: every gating figure could flag a change of the threshold.
    assert_eq!(c.sensitivity().covered, c.gates.len(), "{}", c.text());
    assert_eq!(c.outcome(), Outcome::Regression);
    assert!(c.text().contains("RESULT: significant regression"));

    // Without the shift the same machinery concludes: no regression, and it could have seen one.
    let same = run(
        &filters,
        &|f, a| {
            spread(
                cost(a),
                0.02,
                10,
                1000 + f.len() as u64 * 7 + a.len() as u64,
            )
        },
        &|f| spread(1e6, 0.02, 10, 1000 + f.len() as u64),
    );
    let c = compare(&base, &same, &Thresholds::default());
    assert_eq!(c.count(Verdict::Regressed), 0, "{}", c.text());
    assert_eq!(c.outcome(), Outcome::NoRegression, "{}", c.text());
    assert_eq!(c.outcome().exit_code(), 0);
    assert!(c.text().contains("RESULT: no significant regression"));
}

#[test]
fn the_detectable_change_is_welchs_critical_change_at_the_figures_holm_step() {
    // One filter: four gating figures (native net, wasmi net, wasmi net ratio, wasmi compile
    // time), all judged by Welch's test. The harness is exact, so native's net is
    // [899, 900, 901] in both runs: se = sqrt(1/3 + 1/3), df = 4 exactly.
    let three = |m: f64| vec![m - 1.0, m, m + 1.0];
    let exact = |a: &str| {
        if a == arm::HARNESS {
            vec![200.0; 3]
        } else {
            three(cost(a) + 100.0)
        }
    };
    let compile = |_: &str| three(1e6);
    let base = run(&["a"], &|_, a| exact(a), &compile);
    let t = Thresholds {
        alpha: 0.02,
        ..Thresholds::default()
    };
    let c = compare(&base, &run(&["a"], &|_, a| exact(a), &compile), &t);
    assert_eq!(c.gates.len(), 4, "{}", c.text());
    let se = (2.0f64 / 3.0).sqrt();
    let native = find(&c, "a", "native", Metric::CpuNetOfHarness);
    // Nothing flagged: Holm's first step, α/4 = 0.005; t(0.9975, 4) = 5.597568 (tables).
    assert!((native.alpha - 0.005).abs() < 1e-12, "{native:#?}");
    let d = native.detectable.unwrap();
    assert!((d - 5.597_568 * se / 900.0).abs() < 1e-7, "{d}");

    // wasmi 10% slower with the same tiny spread: its net and its ratio are flagged, so
    // native's figure would come third: α/(4 − 2) = 0.01, t(0.995, 4) = 4.604095 (tables).
    let slower = |a: &str| {
        let v = exact(a);
        if a == "wasmi" {
            v.iter().map(|x| x * 1.1).collect()
        } else {
            v
        }
    };
    let c = compare(&base, &run(&["a"], &|_, a| slower(a), &compile), &t);
    assert_eq!(c.count(Verdict::Regressed), 2, "{}", c.text());
    let native = find(&c, "a", "native", Metric::CpuNetOfHarness);
    assert!((native.alpha - 0.01).abs() < 1e-12, "{native:#?}");
    let d = native.detectable.unwrap();
    assert!((d - 4.604_095 * se / 900.0).abs() < 1e-7, "{d}");
    // A flagged figure's own level: the one other flagged figure goes first, α/(4 − 1).
    let flagged = find(&c, "a", "wasmi", Metric::CpuNetOfHarness);
    assert!((flagged.alpha - 0.02 / 3.0).abs() < 1e-12, "{flagged:#?}");
}

#[test]
fn the_gating_set_is_net_and_first_scenario_only() {
    // Two scenarios: only the first listed gates; the ratio is of nets, not of gross costs.
    let mut r = run(&["a"], &|_, a| spread(cost(a), 0.001, 3, 1), &|_| {
        spread(1e6, 0.001, 3, 2)
    });
    let second: Vec<Row> = r
        .rows
        .iter()
        .filter(|x| x.scenario == "s")
        .map(|x| Row {
            scenario: "t".into(),
            ..x.clone()
        })
        .collect();
    r.rows.extend(second);
    r.filters[0].scenarios.push("t".into());
    let c = compare(&r, &r, &Thresholds::default());
    assert!(
        c.gates.iter().all(|g| g.key.scenario != "t"),
        "{}",
        c.text()
    );
    let ratio = find(&c, "a", "wasmi", Metric::CpuNetRatioToReference);
    // (8000 − 200) / (1000 − 200) = 9.75, not the gross 8.
    assert!((ratio.base.mean - 9.75).abs() < 0.05, "{ratio:#?}");
    // A net below resolution is not gated, and says why.
    let mut flat = r.clone();
    for x in &mut flat.rows {
        if x.arm == arm::NATIVE && x.metric == Metric::CpuPerRequest {
            x.value = 200.0 + (x.process as f64 - 1.0);
        }
    }
    let c = compare(&flat, &flat, &Thresholds::default());
    assert!(
        c.ungated.iter().any(
            |m| m.key.arm == arm::NATIVE && m.reason.as_deref().unwrap().contains("resolution")
        ),
        "{:#?}",
        c.ungated
    );
    assert!(
        !c.gates
            .iter()
            .any(|g| g.key.arm == arm::NATIVE && g.key.metric == Metric::CpuNetOfHarness)
    );
}

#[test]
fn no_gating_figure_is_inconclusive() {
    let c = compare(&Results::new(), &Results::new(), &Thresholds::default());
    assert_eq!(c.outcome(), Outcome::Inconclusive);
    assert!(
        c.text().contains("no gating figure is in both runs"),
        "{}",
        c.text()
    );
}
