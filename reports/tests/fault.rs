//! The blast-radius section on hand-made results: one row per (mode, arm) with its figures,
//! a host that died reads as "no" (never as survived), an absent recovery reads as "never",
//! trials averaged with their range, the one-line answer per mode, and no section without
//! fault figures.

use filterbench_reports::doc::{Block, Section, Table, Tone};
use filterbench_reports::report;
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};
use filterbench_results::{ArmInfo, At, Batch, Results};

fn results(with_fault: bool) -> Results {
    let mut r = Results::new();
    r.complete = true;
    let v8 = arm::envoy_wasm_v8_policy("FAIL_RELOAD");
    for (name, kind) in [
        (arm::WASMI, ArmKind::Wasm),
        (arm::ENVOY_NATIVE_MODULE, ArmKind::Envoy),
        (v8.as_str(), ArmKind::Envoy),
    ] {
        r.arms.push(ArmInfo {
            name: name.into(),
            kind,
            ..Default::default()
        });
    }
    if !with_fault {
        return r;
    }
    let mut b = Batch::default();
    // V8 under FAIL_RELOAD: two trials, recovering after 40 and 60 ms.
    for (p, rec) in [(0u32, 40e6), (1, 60e6)] {
        let at = At::new("add-header", "panic", &v8, Phase::Fault, p);
        b.record(&at, Metric::FaultRequests, 1000.0);
        b.record(&at, Metric::FaultRequestsFailed, 10.0 + f64::from(p) * 2.0);
        b.record(&at, Metric::FaultRequestsReset, 0.0);
        b.record(&at, Metric::FaultRecoveryTime, rec);
        b.record(&at, Metric::FaultHostSurvived, 1.0);
        b.observe(&at, format!("Envoy survived; trial {p}"));
    }
    // The native module: Envoy died, 4 requests reset, never recovered.
    let at = At::new(
        "add-header",
        "panic",
        arm::ENVOY_NATIVE_MODULE,
        Phase::Fault,
        0,
    );
    b.record(&at, Metric::FaultRequests, 205.0);
    b.record(&at, Metric::FaultRequestsFailed, 0.0);
    b.record(&at, Metric::FaultRequestsReset, 4.0);
    b.absent(
        &at,
        Metric::FaultRecoveryTime,
        "no good answer after the first bad one within the 3.0 s window",
    );
    b.record(&at, Metric::FaultHostSurvived, 0.0);
    b.observe(&at, "Envoy exited (signal: 6 (SIGABRT))");
    // wasmi: the loop, stopped by the CPU bound.
    let at = At::new("add-header", "loop", arm::WASMI, Phase::Fault, 0);
    b.record(&at, Metric::FaultRequests, 300.0);
    b.record(&at, Metric::FaultRequestsFailed, 1.0);
    b.record(&at, Metric::FaultRequestsReset, 0.0);
    b.record(&at, Metric::FaultRecoveryTime, 2e3);
    b.record(&at, Metric::FaultHostSurvived, 1.0);
    b.observe(&at, "host survived; VM replaced 1 times");
    r.merge(b);
    r
}

fn fault_section(r: &Results) -> Option<Section> {
    report::build(r)
        .expect("a sound file")
        .sections
        .into_iter()
        .find(|s| s.id == report::fault::ID)
}

fn table(s: &Section) -> &Table {
    s.blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
        .expect("a table")
}

fn row(t: &Table, mode: &str, arm: &str) -> Vec<String> {
    t.rows
        .iter()
        .find(|r| r[0].text == mode && r[1].text == arm)
        .unwrap_or_else(|| panic!("no row {mode} / {arm}"))
        .iter()
        .map(|c| c.flat())
        .collect()
}

#[test]
fn each_mode_and_arm_is_one_row_with_its_figures() {
    let r = results(true);
    let s = fault_section(&r).expect("the section");
    let t = table(&s);
    assert_eq!(t.rows.len(), 3);
    let v8 = arm::envoy_wasm_v8_policy("FAIL_RELOAD");
    // Mean over the two trials, with their range; recovery 50 ms (40–60).
    assert_eq!(
        row(t, "panic", &v8),
        [
            "panic",
            v8.as_str(),
            "1000 1000–1000",
            "11 10–12",
            "0 0–0",
            "yes",
            "50 ms 40 ms–60 ms"
        ]
    );
    // A host that died is "no", never "yes"; a recovery that never came is "never".
    assert_eq!(
        row(t, "panic", arm::ENVOY_NATIVE_MODULE),
        [
            "panic",
            arm::ENVOY_NATIVE_MODULE,
            "205",
            "0",
            "4",
            "no",
            "never"
        ]
    );
    assert_eq!(row(t, "loop", arm::WASMI)[5], "yes");
    assert_eq!(row(t, "loop", arm::WASMI)[6], "2 µs");
    // The answer: the native module kills the host, V8 costs failed requests and recovers.
    let said: Vec<&str> = s
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Callout(t, _) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let panic = said
        .iter()
        .find(|l| l.starts_with("A panic"))
        .expect("{said:?}");
    assert!(
        panic.contains("kills the host on envoy-native-module (4 requests"),
        "{panic}"
    );
    assert!(
        panic.contains(
            "costs 11 failed requests and is good again after 50 ms on envoy-wasm-v8+fail-reload"
        ),
        "{panic}"
    );
    // How each trial ended, in words.
    let facts = s
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Facts(f) => Some(f),
            _ => None,
        })
        .expect("observations");
    assert!(
        facts
            .iter()
            .any(|(k, v)| k.contains("envoy-native-module") && v.contains("SIGABRT"))
    );
    assert_eq!(facts.len(), 4);
}

#[test]
fn no_fault_figures_no_section() {
    assert!(fault_section(&results(false)).is_none());
}

/// A host alive but stuck (or failing to the end) is no success, and a recovery seen in only
/// some trials says so: 1 of 3 trials recovering in 5 ms is "5 ms (1/3)", never "5 ms".
#[test]
fn alive_but_never_good_is_not_fine_and_partial_recovery_is_counted() {
    let mut r = results(false);
    let mut b = Batch::default();
    let v8 = arm::envoy_wasm_v8_policy("FAIL_RELOAD");
    let never = "no good answer after the first bad one within the 3.0 s window";
    for p in 0..3u32 {
        let at = At::new("add-header", "panic", &v8, Phase::Fault, p);
        b.record(&at, Metric::FaultRequests, 1000.0);
        b.record(&at, Metric::FaultRequestsFailed, 10.0);
        b.record(&at, Metric::FaultRequestsReset, 0.0);
        b.record(&at, Metric::FaultHostSurvived, 1.0);
        if p == 0 {
            b.record(&at, Metric::FaultRecoveryTime, 5e6);
        } else {
            b.absent(&at, Metric::FaultRecoveryTime, never);
        }
    }
    // The native module stuck in a loop: Envoy alive, its worker never answers again.
    let at = At::new(
        "add-header",
        "loop",
        arm::ENVOY_NATIVE_MODULE,
        Phase::Fault,
        0,
    );
    b.record(&at, Metric::FaultRequests, 204.0);
    b.record(&at, Metric::FaultRequestsFailed, 0.0);
    b.record(&at, Metric::FaultRequestsReset, 4.0);
    b.record(&at, Metric::FaultHostSurvived, 1.0);
    b.absent(
        &at,
        Metric::FaultRecoveryTime,
        "a request never returned, and no good answer came after the first bad one within \
         the 3.0 s window",
    );
    r.merge(b);
    let s = fault_section(&r).expect("the section");
    let t = table(&s);
    let v8_row = row(t, "panic", &v8);
    assert_eq!(v8_row[6], "5.00 ms (1/3)");
    assert_eq!(v8_row[5], "alive, 2/3 never good");
    let stuck = row(t, "loop", arm::ENVOY_NATIVE_MODULE);
    assert_eq!(stuck[5], "alive, never good");
    assert_eq!(stuck[6], "never");
    // Neither reads in the Good tone.
    for r in &t.rows {
        assert!(r[5].tone != Tone::Good && r[6].tone != Tone::Good, "{r:?}");
    }
}
