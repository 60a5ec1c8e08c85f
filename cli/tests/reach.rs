//! `filterbench reach` in process: one command writes a results file of the `reach` phase
//! and prints a table no wider than 100 columns that says plainly that the native arm read
//! the environment, with the canary's value it read.

use filterbench_results::Results;
use filterbench_results::vocab::{Metric, Phase, arm, reach};

mod common;
use common::{filterbench, text};

#[test]
fn one_command_writes_the_table_and_says_native_reads_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reach.json");
    let o = filterbench(&[
        "reach",
        "--no-envoy",
        "--no-report",
        "--arms",
        "native,wasmi",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for line in stdout.lines() {
        assert!(line.chars().count() <= 100, "wider than 100: {line}");
    }
    assert!(
        stdout.contains("The native arm native READS THE PROCESS ENVIRONMENT"),
        "{stdout}"
    );
    assert!(stdout.contains("wasmi: refused everything"), "{stdout}");
    let r = Results::read(&out).unwrap();
    let value = |a: &str, access: &str| {
        r.rows
            .iter()
            .find(|x| {
                x.phase == Phase::Reach
                    && x.metric == Metric::ReachRefused
                    && x.arm == a
                    && x.scenario == access
            })
            .map(|x| x.value)
    };
    assert_eq!(value(arm::NATIVE, reach::ENV), Some(0.0));
    assert_eq!(value(arm::WASMI, reach::ENV), Some(1.0));
    assert_eq!(value(arm::WASMI, reach::OOB_WRITE), Some(1.0));
    // Every access on both arms, with its observation.
    for a in [arm::NATIVE, arm::WASMI] {
        for access in reach::ALL {
            assert!(value(a, access).is_some(), "{a} {access}");
            assert!(
                r.observations
                    .iter()
                    .any(|x| x.arm == a && x.scenario == access && !x.text.is_empty())
            );
        }
    }
    // What native read is the canary the command planted (its value ends in the run's nonce).
    let env = r
        .observations
        .iter()
        .find(|x| x.arm == arm::NATIVE && x.scenario == reach::ENV)
        .unwrap();
    assert!(
        env.text.contains("FILTERBENCH_CANARY=env-canary-"),
        "{}",
        env.text
    );
}
