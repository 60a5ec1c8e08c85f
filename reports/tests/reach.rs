//! The reach section: a table of arms × accesses from `reach_refused` rows, and a plain
//! sentence for a native arm that read the environment — and none for a native arm that was
//! refused, or for a wasm arm that read it.

use filterbench_reports::doc::{Block, Section, Tone};
use filterbench_reports::report;
use filterbench_results::merge::{At, Batch};
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm, reach};
use filterbench_results::{ArmInfo, Results};

/// Results of one reach run: (arm, kind, access, refused, observation) each.
fn results(rows: &[(&str, ArmKind, &str, Option<bool>, &str)]) -> Results {
    let mut r = Results::new();
    r.complete = true;
    r.command_line = vec!["filterbench".into(), "reach".into()];
    let mut b = Batch::default();
    for (name, kind, access, refused, said) in rows {
        if !r.arms.iter().any(|a| a.name == *name) {
            r.arms.push(ArmInfo {
                name: name.to_string(),
                kind: *kind,
                ..Default::default()
            });
        }
        let at = At::new(reach::PROBE_FILTER, access, name, Phase::Reach, 0);
        match refused {
            Some(x) => b.record(&at, Metric::ReachRefused, if *x { 1.0 } else { 0.0 }),
            None => b.absent(&at, Metric::ReachRefused, *said),
        }
        b.observe(&at, *said);
    }
    r.merge(b);
    r
}

fn section(r: &Results) -> Option<Section> {
    report::build(r)
        .expect("report builds")
        .sections
        .into_iter()
        .find(|s| s.id == "reach")
}

fn callouts(s: &Section) -> Vec<(String, Tone)> {
    s.blocks
        .iter()
        .filter_map(|b| match b {
            Block::Callout(t, tone) => Some((t.clone(), *tone)),
            _ => None,
        })
        .collect()
}

/// The cell of `arm` × `access` in the section's (first) table.
fn cell(s: &Section, arm: &str, access: &str) -> String {
    let t = s
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) if !t.collapsed => Some(t),
            _ => None,
        })
        .expect("a table");
    let col = t.header.iter().position(|h| h == access).expect("column");
    let row = t.rows.iter().find(|r| r[0].text == arm).expect("row");
    row[col].text.clone()
}

#[test]
fn native_reading_the_environment_is_said_plainly() {
    let r = results(&[
        (
            arm::NATIVE,
            ArmKind::Native,
            reach::ENV,
            Some(false),
            "allowed: read FILTERBENCH_CANARY=x1",
        ),
        (
            arm::NATIVE,
            ArmKind::Native,
            reach::OOB_WRITE,
            Some(false),
            "allowed: wrote",
        ),
        (
            arm::NATIVE,
            ArmKind::Native,
            reach::PROPERTY_ALLOWED,
            Some(false),
            "allowed: request.path=/",
        ),
        (
            arm::WASMI,
            ArmKind::Wasm,
            reach::ENV,
            Some(true),
            "refused: 0 variables",
        ),
        (
            arm::WASMI,
            ArmKind::Wasm,
            reach::FILE,
            Some(true),
            "refused: EBADF",
        ),
        (
            arm::WASMI,
            ArmKind::Wasm,
            reach::OTHER_STREAM,
            Some(true),
            "refused: own secret",
        ),
        (
            arm::WASMI,
            ArmKind::Wasm,
            reach::PROPERTY_ALLOWED,
            Some(false),
            "allowed: request.path=/",
        ),
        (
            arm::WASMI,
            ArmKind::Wasm,
            reach::PROPERTY_OUTSIDE,
            Some(true),
            "refused: not found",
        ),
        (
            arm::WASMI,
            ArmKind::Wasm,
            reach::SOCKET,
            Some(true),
            "refused: not supported",
        ),
        (
            arm::WASMI,
            ArmKind::Wasm,
            reach::OOB_WRITE,
            Some(true),
            "trapped: out of bounds",
        ),
        (
            arm::ENVOY_NATIVE_MODULE,
            ArmKind::Envoy,
            reach::ENV,
            Some(false),
            "allowed: read y",
        ),
        (
            arm::ENVOY_NATIVE_MODULE,
            ArmKind::Envoy,
            reach::PROPERTY_ALLOWED,
            Some(false),
            "allowed: request.path=/",
        ),
        (
            arm::ENVOY_NATIVE_MODULE,
            ArmKind::Envoy,
            reach::OOB_WRITE,
            None,
            "not attempted: no address",
        ),
    ]);
    let s = section(&r).expect("a reach section");
    assert_eq!(cell(&s, arm::NATIVE, reach::ENV), "allowed");
    assert_eq!(cell(&s, arm::WASMI, reach::ENV), "refused");
    assert_eq!(cell(&s, arm::WASMI, reach::OOB_WRITE), "refused");
    assert_eq!(cell(&s, arm::ENVOY_NATIVE_MODULE, reach::OOB_WRITE), "n/a");
    let said = callouts(&s);
    for native in [arm::NATIVE, arm::ENVOY_NATIVE_MODULE] {
        assert!(
            said.iter().any(|(t, tone)| t.contains(native)
                && t.contains("READS THE PROCESS ENVIRONMENT")
                && *tone == Tone::Poor),
            "{said:?}"
        );
    }
    assert!(
        said.iter()
            .any(|(t, _)| t.contains("FILTERBENCH_CANARY=x1")),
        "{said:?}"
    );
    assert!(
        said.iter().any(|(t, tone)| t.starts_with(arm::WASMI)
            && t.contains("refused everything")
            && *tone == Tone::Good),
        "{said:?}"
    );
    // The observations are in the folded table, the reason of the absent one too.
    let folded = s
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) if t.collapsed => Some(t),
            _ => None,
        })
        .expect("folded table");
    assert!(
        folded
            .rows
            .iter()
            .any(|r| r[2].text == "trapped: out of bounds")
    );
    assert!(folded.rows.iter().any(|r| r[2].text.contains("no address")));
}

#[test]
fn no_environment_sentence_when_native_was_refused_or_wasm_read_it() {
    let r = results(&[
        (
            arm::NATIVE,
            ArmKind::Native,
            reach::ENV,
            Some(true),
            "refused",
        ),
        (
            arm::NATIVE,
            ArmKind::Native,
            reach::PROPERTY_ALLOWED,
            Some(false),
            "allowed: request.path=/",
        ),
        (
            arm::WASMTIME_CRANELIFT,
            ArmKind::Wasm,
            reach::ENV,
            Some(false),
            "allowed: read it",
        ),
        (
            arm::WASMTIME_CRANELIFT,
            ArmKind::Wasm,
            reach::PROPERTY_ALLOWED,
            Some(false),
            "allowed: request.path=/",
        ),
    ]);
    let s = section(&r).expect("a reach section");
    let said = callouts(&s);
    assert!(
        !said
            .iter()
            .any(|(t, _)| t.contains("READS THE PROCESS ENVIRONMENT")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|(t, _)| t.starts_with(arm::WASMTIME_CRANELIFT) && t.contains("allowed env")),
        "{said:?}"
    );
}

/// Every access on `name`: `control` for the control, refused for the rest but `na` (absent).
fn arm_rows(
    name: &'static str,
    control: Option<bool>,
    na: &'static str,
) -> Vec<(
    &'static str,
    ArmKind,
    &'static str,
    Option<bool>,
    &'static str,
)> {
    reach::ALL
        .iter()
        .map(|&x| match x {
            reach::PROPERTY_ALLOWED => (name, ArmKind::Wasm, x, control, "control: broken"),
            _ if x == na => (name, ArmKind::Wasm, x, None, "no verdict: Envoy died"),
            _ => (name, ArmKind::Wasm, x, Some(true), "refused"),
        })
        .collect()
}

#[test]
fn a_failed_control_voids_the_arm_and_nothing_unjudged_is_refused_everything() {
    let mut rows = arm_rows(arm::WASMI, Some(true), "");
    rows.extend(arm_rows(arm::WASMTIME_CRANELIFT, None, ""));
    rows.extend(arm_rows(
        arm::WASMER_CRANELIFT,
        Some(false),
        reach::OOB_WRITE,
    ));
    rows.extend(arm_rows(arm::WASMTIME_WINCH, Some(false), ""));
    let r = results(&rows);
    let s = section(&r).expect("a reach section");
    // The control's column is toned the other way round: refused there is what is wrong.
    let t = s
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) if !t.collapsed => Some(t),
            _ => None,
        })
        .expect("a table");
    let col = t
        .header
        .iter()
        .position(|h| h == reach::PROPERTY_ALLOWED)
        .expect("the control's column");
    let tone = |a: &str| t.rows.iter().find(|r| r[0].text == a).expect("row")[col].tone;
    assert_eq!(tone(arm::WASMI), Tone::Poor);
    assert_eq!(tone(arm::WASMTIME_WINCH), Tone::Good);
    let said = callouts(&s);
    let of = |a: &str| -> Vec<&(String, Tone)> {
        said.iter().filter(|(t, _)| t.starts_with(a)).collect()
    };
    // Control refused, or absent: no verdict, said as poor, never "refused everything".
    for a in [arm::WASMI, arm::WASMTIME_CRANELIFT] {
        let s = of(a);
        assert_eq!(s.len(), 1, "{said:?}");
        assert!(s[0].0.contains("NO VERDICT"), "{said:?}");
        assert!(s[0].0.contains("control"), "{said:?}");
        assert_eq!(s[0].1, Tone::Poor, "{said:?}");
    }
    assert!(
        of(arm::WASMTIME_CRANELIFT)[0].0.contains("control: broken"),
        "the reason: {said:?}"
    );
    // One access without a verdict: not "refused everything", and named.
    let s = of(arm::WASMER_CRANELIFT);
    assert!(
        s.iter().all(|(t, _)| !t.contains("refused everything")),
        "{said:?}"
    );
    assert!(
        s.iter()
            .any(|(t, tone)| t.contains("Not judged: oob-write") && *tone != Tone::Good),
        "{said:?}"
    );
    // All judged and refused, the control allowed: the one arm fully contained.
    let s = of(arm::WASMTIME_WINCH);
    assert!(
        s.iter()
            .any(|(t, tone)| t.contains("refused everything") && *tone == Tone::Good),
        "{said:?}"
    );
}

#[test]
fn no_reach_rows_no_section() {
    assert!(section(&Results::new()).is_none());
}
