//! compare as a nightly gate: each test builds base and new runs whose per-process values are
//! known, so a wrong verdict rule turns it red — a 10% shift must regress, a 0.5% jitter with
//! tight intervals must be unchanged, a wide interval unsure, a missing gating figure must gate
//! unless the new run says why, and Holm's control must change a borderline verdict.

mod common;

use filterbench_reports::compare::{Outcome, Rule, trend};
use filterbench_reports::{Thresholds, Verdict, compare};
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};
use filterbench_results::{Absent, ArmInfo, FilterInfo, Results, Row};

/// A run of `filters`, each with native, wasmi and harness: `cpu` gives per-process CPU per
/// request (ns) of an arm, `compile` per-process compile times of wasmi.
struct Plan<'a> {
    filters: &'a [&'a str],
    cpu: &'a dyn Fn(&str, &str) -> Vec<f64>,
    compile: &'a dyn Fn(&str) -> Vec<f64>,
}

const ARMS: [(&str, ArmKind); 3] = [
    (arm::NATIVE, ArmKind::Native),
    ("wasmi", ArmKind::Wasm),
    (arm::HARNESS, ArmKind::Harness),
];

fn run(plan: &Plan) -> Results {
    let mut r = Results::new();
    r.complete = true;
    r.profile = "quick".into();
    for (name, kind) in ARMS {
        r.arms.push(ArmInfo {
            name: name.into(),
            kind,
            ..Default::default()
        });
    }
    let row = common::row;
    for f in plan.filters {
        r.filters.push(FilterInfo {
            name: f.to_string(),
            ..Default::default()
        });
        for (arm, _) in ARMS {
            for (p, v) in (plan.cpu)(f, arm).into_iter().enumerate() {
                r.rows.push(row(
                    f,
                    "s",
                    arm,
                    Phase::Request,
                    Metric::CpuPerRequest,
                    p,
                    v,
                ));
            }
        }
        for (p, v) in (plan.compile)(f).into_iter().enumerate() {
            r.rows
                .push(row(f, "", "wasmi", Phase::Compile, Metric::Time, p, v));
        }
    }
    r
}

/// Three processes around `mean`, spread by ±`rel`.
fn around(mean: f64, rel: f64) -> Vec<f64> {
    vec![mean * (1.0 - rel), mean, mean * (1.0 + rel)]
}

fn cost(arm: &str) -> f64 {
    match arm {
        "native" => 1000.0,
        "wasmi" => 8000.0,
        _ => 200.0,
    }
}

fn steady(_: &str, arm: &str) -> Vec<f64> {
    around(cost(arm), 0.001)
}

fn compile_steady(_: &str) -> Vec<f64> {
    around(1e6, 0.001)
}

fn gate<'a>(
    c: &'a filterbench_reports::Comparison,
    f: &str,
    arm: &str,
    figure: Metric,
) -> &'a filterbench_reports::compare::Change {
    c.gates
        .iter()
        .find(|g| g.key.filter == f && g.key.arm == arm && g.key.metric == figure)
        .unwrap_or_else(|| panic!("no gating figure {f} {arm} {figure}: {:#?}", c.gates))
}

#[test]
fn a_known_ten_percent_slowdown_regresses_and_only_there() {
    let base = run(&Plan {
        filters: &["a", "b"],
        cpu: &steady,
        compile: &compile_steady,
    });
    let slower = |f: &str, arm: &str| {
        let k = if (f, arm) == ("a", "wasmi") {
            1.10
        } else {
            1.0
        };
        around(cost(arm) * k, 0.001)
    };
    let new = run(&Plan {
        filters: &["a", "b"],
        cpu: &slower,
        compile: &compile_steady,
    });
    let c = compare(&base, &new, &Thresholds::default());
    assert!(c.has_regression(), "{}", c.text());
    assert_eq!(c.outcome(), Outcome::Regression);
    assert_eq!(c.outcome().exit_code(), 1);
    let ratio = gate(&c, "a", "wasmi", Metric::CpuNetRatioToReference);
    assert_eq!(ratio.verdict, Verdict::Regressed, "{ratio:#?}");
    assert!(ratio.p_adjusted <= 0.05);
    assert_eq!(
        gate(&c, "a", "wasmi", Metric::CpuNetOfHarness).verdict,
        Verdict::Regressed
    );
    // Net of the harness (200 ns): 7.8 µs → 8.6 µs, the ratio over native's 800 ns likewise.
    assert!((ratio.change - 0.8 / 7.8).abs() < 0.005, "{}", ratio.change);
    // Nothing else moved, and with intervals this tight that is shown, not assumed.
    for g in &c.gates {
        if (g.key.filter.as_str(), g.key.arm.as_str()) != ("a", "wasmi") {
            assert_eq!(g.verdict, Verdict::Unchanged, "{g:#?}");
        }
    }
    assert_eq!(c.count(Verdict::Regressed), 2);
    assert!(c.text().contains("RESULT: significant regression"));
    assert!(c.html().unwrap().contains("Significant regression."));
    // Only the declared set gates: the raw figures are reported but never counted as gates.
    assert!(c.changes.iter().all(|x| !x.gating));
    assert!(c.gates.iter().all(|x| x.gating));
}

#[test]
fn half_a_percent_of_jitter_with_tight_intervals_is_unchanged() {
    let base = run(&Plan {
        filters: &["a", "b"],
        cpu: &steady,
        compile: &compile_steady,
    });
    let jitter = |f: &str, arm: &str| {
        let k = if f == "a" { 1.005 } else { 0.995 };
        around(cost(arm) * k, 0.002)
    };
    let new = run(&Plan {
        filters: &["a", "b"],
        cpu: &jitter,
        compile: &|_| around(1.005e6, 0.002),
    });
    let c = compare(&base, &new, &Thresholds::default());
    assert!(!c.gates.is_empty());
    assert_eq!(c.count(Verdict::Unchanged), c.gates.len(), "{}", c.text());
    assert!(!c.has_regression());
    // Tight intervals: every gating figure could flag a change of the threshold.
    assert_eq!(c.sensitivity().covered, c.gates.len(), "{}", c.text());
    assert_eq!(c.outcome(), Outcome::NoRegression);
    assert!(c.text().contains("RESULT: no significant regression"));
}

#[test]
fn a_wide_interval_is_unsure_not_unchanged_nor_regressed() {
    let base = run(&Plan {
        filters: &["a"],
        cpu: &steady,
        compile: &compile_steady,
    });
    // Same mean, but the wasmi processes spread by ±30%: equivalence cannot be shown.
    let noisy = |_: &str, arm: &str| around(cost(arm), if arm == "wasmi" { 0.3 } else { 0.001 });
    let new = run(&Plan {
        filters: &["a"],
        cpu: &noisy,
        compile: &compile_steady,
    });
    let c = compare(&base, &new, &Thresholds::default());
    let g = gate(&c, "a", "wasmi", Metric::CpuNetRatioToReference);
    assert_eq!(g.verdict, Verdict::Unsure, "{g:#?}");
    assert!(g.ci_high > 0.05 && g.ci_low < -0.05);
    assert!(!c.has_regression());
}

#[test]
fn a_missing_gating_figure_gates_unless_the_new_run_says_why() {
    let plan = Plan {
        filters: &["a"],
        cpu: &steady,
        compile: &compile_steady,
    };
    let base = run(&plan);
    let mut new = run(&plan);
    new.rows
        .retain(|r| !(r.arm == "wasmi" && r.phase == Phase::Compile));
    let c = compare(&base, &new, &Thresholds::default());
    assert_eq!(c.unexplained_missing().len(), 1, "{:#?}", c.missing);
    assert_eq!(c.missing[0].key.metric, Metric::CompileTime);
    assert!(c.has_regression());
    assert!(c.text().contains("no reason given: gates"));
    // The new run says why: absent with a reason…
    new.absent.push(Absent {
        filter: "a".into(),
        arm: "wasmi".into(),
        phase: Phase::Compile,
        metric: Metric::Time,
        threads: 1,
        reason: "compile time not measurable here".into(),
        ..Default::default()
    });
    let c = compare(&base, &new, &Thresholds::default());
    assert!(!c.has_regression(), "{}", c.text());
    assert_eq!(
        c.missing[0].reason.as_deref(),
        Some("compile time not measurable here")
    );
    // …or the arm was not selected at all (every wasmi figure gone, with its listing).
    let mut unselected = run(&plan);
    unselected.rows.retain(|r| r.arm != "wasmi");
    unselected.arms.retain(|a| a.name != "wasmi");
    let c = compare(&base, &unselected, &Thresholds::default());
    assert!(c.missing.len() >= 3);
    assert!(c.unexplained_missing().is_empty(), "{:#?}", c.missing);
    assert!(!c.has_regression());
}

#[test]
fn holm_turns_a_borderline_regression_unsure_among_many_gates() {
    // wasmi's compile time of filter "a": +8% with p ≈ 0.008 (t ≈ 4.9 on 4 df).
    let base_compile = |_: &str| around(1e6, 0.02);
    let new_compile = |f: &str| {
        let k = if f == "a" { 1.08 } else { 1.0 };
        around(1e6 * k, 0.02)
    };
    let judged = |filters: &[&str]| {
        let base = run(&Plan {
            filters,
            cpu: &steady,
            compile: &base_compile,
        });
        let new = run(&Plan {
            filters,
            cpu: &steady,
            compile: &new_compile,
        });
        let c = compare(&base, &new, &Thresholds::default());
        let g = gate(&c, "a", "wasmi", Metric::CompileTime).clone();
        (g, c.has_regression())
    };
    let (alone, failed) = judged(&["a"]);
    assert!(alone.p > 0.001 && alone.p < 0.02, "{}", alone.p);
    assert_eq!(alone.verdict, Verdict::Regressed, "{alone:#?}");
    assert!(failed);
    let many = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let (among, failed) = judged(&many);
    assert_eq!(among.p, alone.p);
    assert!(among.p_adjusted > 0.05, "{}", among.p_adjusted);
    assert_eq!(among.verdict, Verdict::Unsure, "{among:#?}");
    assert!(!failed);
}

/// A deterministic instruction-count file: `per` per (filter, arm) with `repeats` processes.
fn counts(per: &[(&str, f64)], repeats: u32, wobble: f64) -> Results {
    let mut r = Results::new();
    r.arms.push(ArmInfo {
        name: "native".into(),
        kind: ArmKind::Native,
        ..Default::default()
    });
    for (f, v) in per {
        for p in 0..repeats {
            r.rows.push(Row {
                filter: f.to_string(),
                scenario: "s".into(),
                arm: "native".into(),
                phase: Phase::Request,
                metric: Metric::Instructions,
                unit: Metric::Instructions.unit(),
                threads: 1,
                process: p,
                iteration: 0,
                value: v * (1.0 + wobble * p as f64),
            });
        }
    }
    r
}

#[test]
fn agreeing_instruction_counts_gate_on_size_alone() {
    let base = counts(&[("a", 10_000.0), ("b", 20_000.0)], 2, 0.0);
    // 3% more instructions in a, b within the agreement: a regresses, b is unchanged.
    let new = counts(&[("a", 10_300.0), ("b", 20_020.0)], 2, 0.0);
    let c = compare(&base, &new, &Thresholds::default());
    let a = gate(&c, "a", "native", Metric::InstructionsPerRequest);
    assert_eq!(a.verdict, Verdict::Regressed, "{a:#?}");
    assert_eq!(
        gate(&c, "b", "native", Metric::InstructionsPerRequest).verdict,
        Verdict::Unchanged
    );
    assert!(c.has_regression());
    // Twice as many instructions in one repeat only: the repeats disagree, so the size-only
    // rule does not apply and Welch's test (with two wildly different repeats) decides.
    let c = compare(
        &base,
        &counts(&[("a", 10_000.0), ("b", 20_000.0)], 2, 1.0),
        &Thresholds::default(),
    );
    assert!(
        c.gates.iter().all(|g| g.rule == Rule::Welch),
        "{:#?}",
        c.gates
    );
    assert!(c.gates.iter().all(|g| g.verdict == Verdict::Unsure));
    // One repeat cannot show agreement: unsure, never a silent pass as "unchanged".
    let one = counts(&[("a", 10_000.0)], 1, 0.0);
    let c = compare(
        &one,
        &counts(&[("a", 20_000.0)], 1, 0.0),
        &Thresholds::default(),
    );
    assert_eq!(c.count(Verdict::Unsure), 1);
}

#[test]
fn a_realistic_run_against_itself_has_no_regression() {
    let r = common::fixture(1, 0.02);
    let c = compare(&r, &r, &Thresholds::default());
    assert!(!c.gates.is_empty());
    assert_eq!(c.count(Verdict::Regressed), 0);
    assert!(c.missing.is_empty() && c.new_failures.is_empty());
    assert!(!c.has_regression());
}

#[test]
fn the_history_keeps_gating_figures_and_the_trend_page_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("history.jsonl");
    let mut r = run(&Plan {
        filters: &["a"],
        cpu: &steady,
        compile: &compile_steady,
    });
    for t in [1, 2, 3] {
        r.started_unix = 1_764_000_000 + t * 86_400;
        trend::append(&h, &r).unwrap();
    }
    let history = trend::read(&h).unwrap();
    assert_eq!(history.len(), 3);
    let figures = &history[0].points;
    assert!(
        figures
            .iter()
            .any(|p| p.figure == Metric::CpuNetRatioToReference.name() && p.arm == "wasmi")
    );
    assert!(
        figures
            .iter()
            .all(|p| p.ci_low <= p.mean && p.mean <= p.ci_high)
    );
    let html = trend::html(&history).unwrap();
    assert!(html.contains("<polygon") && html.contains("<polyline"));
    assert!(html.contains("3 runs"));
    std::fs::write(&h, "{not json\n").unwrap();
    assert!(trend::read(&h).is_err());
}
