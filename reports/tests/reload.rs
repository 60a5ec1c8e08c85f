//! The live-reload section on hand-made results: figures over trials with their interval, the
//! native module's old shim and old filter code still mapped, a failed arm without a reload time, and no section at
//! all without reload figures.

use filterbench_reports::Format;
use filterbench_reports::doc::text_table;
use filterbench_reports::model::Analysis;
use filterbench_reports::report::reload;
use filterbench_results::merge::{At, Batch};
use filterbench_results::vocab::{ArmKind, Metric, Phase, Stage, arm};
use filterbench_results::{ArmInfo, FilterInfo, Results};

const F: &str = "add-header";
const S: &str = "swap-module";

fn results(batch: Batch) -> Results {
    let mut r = Results::new();
    r.complete = true;
    r.filters.push(FilterInfo {
        name: F.into(),
        language: "rust".into(),
        scenarios: vec![S.into()],
        ..Default::default()
    });
    for name in [arm::ENVOY_WASM_V8, arm::ENVOY_NATIVE_MODULE] {
        r.arms.push(ArmInfo {
            name: name.into(),
            kind: ArmKind::Envoy,
            ..Default::default()
        });
    }
    r.merge(batch);
    r
}

/// Three trials of V8 (reload 200, 300, 400 ms) and of the native module (2, 3, 4 ms).
fn trials() -> Batch {
    let mut b = Batch::default();
    for trial in 1..=3u32 {
        let ms = f64::from(trial + 1) * 1e6;
        for (name, scale) in [(arm::ENVOY_WASM_V8, 100.0), (arm::ENVOY_NATIVE_MODULE, 1.0)] {
            let at = At::new(F, S, name, Phase::Reload, trial).iteration(trial);
            b.record(&at, Metric::ReloadTime, ms * scale);
            b.record(&at, Metric::ReloadFirstNewTime, ms * scale);
            b.record(&at, Metric::ReloadRequests, 1000.0);
            b.record(&at, Metric::ReloadRequestsFailed, 0.0);
            b.record(&at, Metric::ReloadRssBeforeBytes, 100.0 * 1048576.0);
            b.record(&at, Metric::ReloadRssAfterBytes, 104.0 * 1048576.0);
            if name == arm::ENVOY_WASM_V8 {
                b.record(&at, Metric::ReloadWasmVmsBefore, 3.0);
                b.record(&at, Metric::ReloadWasmVmsAfter, 3.0);
            } else {
                b.record(&at, Metric::ReloadOldModuleMappings, 4.0);
                b.record(&at, Metric::ReloadFilterCopiesBefore, 2.0);
                b.record(&at, Metric::ReloadFilterCopiesAfter, 3.0);
                b.record(&at, Metric::ReloadOldFilterCopies, 1.0);
            }
            b.observe(&at, format!("v{} → v{trial}: seen", trial - 1));
        }
    }
    b
}

#[test]
fn each_arm_shows_its_mean_over_trials_with_the_interval() {
    let r = results(trials());
    let a = Analysis::new(&r);
    let [swap, code] = reload::tables(&a).try_into().expect("two reload tables");
    let text = format!("{}{}", text_table(&swap), text_table(&code));
    let v8 = text
        .lines()
        .find(|l| l.starts_with(arm::ENVOY_WASM_V8))
        .unwrap();
    // Mean 300 ms; the 95% half-width of {200, 300, 400} is t(2) · 100 / √3 = 248 ms.
    assert!(v8.contains("300 ±248 ms"), "{text}");
    let code_text = text_table(&code);
    let line = |arm: &str| {
        code_text
            .lines()
            .find(|l| l.starts_with(arm))
            .unwrap()
            .to_string()
    };
    assert!(line(arm::ENVOY_WASM_V8).contains("100 → 104"), "{text}");
    assert!(line(arm::ENVOY_WASM_V8).contains("3 → 3"), "{text}");
    let native = text
        .lines()
        .find(|l| l.starts_with(arm::ENVOY_NATIVE_MODULE))
        .unwrap();
    assert!(native.contains("3.00 ±2.48 ms"), "{text}");
    // The shim's mappings and the filter's own code, each in its labelled column.
    let header: Vec<&str> = code.header.iter().map(String::as_str).collect();
    assert_eq!(
        &header[3..],
        ["old shim maps", "lib copies", "old lib kept"],
        "{text}"
    );
    let cells: Vec<String> = code.rows[1].iter().map(|c| c.flat()).collect();
    assert_eq!(cells[0], arm::ENVOY_NATIVE_MODULE);
    assert_eq!(&cells[3..], ["4 ±0", "2 → 3", "1 ±0"], "{text}");
    // Each table (its caption aside, which the command wraps) fits a terminal.
    for t in [&swap, &code] {
        let t = text_table(t);
        assert!(t.lines().skip(1).all(|l| l.chars().count() <= 100), "{t}");
    }
    let md = String::from_utf8(Format::Markdown.exporter().serialize(&r).unwrap()).unwrap();
    assert!(md.contains("Live reload"), "{md}");
    assert!(md.contains("v1 → v2: seen"), "{md}");
}

#[test]
fn a_failed_arm_has_no_reload_time_and_no_figures_means_no_section() {
    let mut b = trials();
    let at = At::new(F, S, arm::ENVOY_WASM_V8, Phase::Reload, 3);
    b.fail_at(
        &at,
        Stage::Promise,
        "trial 3: version 3's output never seen",
    );
    let r = results(b);
    let a = Analysis::new(&r);
    let [t, _] = reload::tables(&a).try_into().expect("two reload tables");
    let text = text_table(&t);
    let v8 = text
        .lines()
        .find(|l| l.starts_with(arm::ENVOY_WASM_V8))
        .unwrap();
    assert!(
        v8.contains("failed: trial 3") && !v8.contains(" ms"),
        "a failed arm shows its failure, no reload time:\n{text}"
    );
    // The other arm keeps its figures.
    assert!(text.contains("3.00 ±2.48 ms"), "{text}");
    let empty = results(Batch::default());
    assert!(reload::tables(&Analysis::new(&empty)).is_empty());
}
