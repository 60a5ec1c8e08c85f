//! The reach probe in live Envoy: the control (`property`) is allowed on both variants — so
//! the probe really runs there, and a refusal is the host's — the environment is refused on
//! V8 and read, with the very canary value planted, by the native module. Only the control and
//! `env` (a fresh Envoy each, four in all) to stay within a few seconds.
//! Skipped only with `FILTERBENCH_SKIP_ENVOY=1`, as the other Envoy tests.
//!
//! One test function only: planting the canary variable must happen while no other test
//! thread reads the environment.

mod common;

use filterbench_results::vocab::{arm, reach};
use filterbench_runners::catalog;
use filterbench_runners::envoy::process;
use filterbench_runners::promise::reach::{Canaries, Verdict, control_failed, envoy};

#[test]
fn control_allowed_live_and_env_refused_on_v8_read_by_the_native_module() {
    let Some(bin) = common::envoy_bin() else {
        return;
    };
    let version = process::version(&bin).unwrap();
    let probe = catalog::find(reach::PROBE_FILTER).expect("the probe filter is built");
    let mut c = Canaries::new().unwrap();
    // SAFETY: the only test of this binary; no thread reads the environment meanwhile.
    unsafe { c.plant_env() };
    let dir = tempfile::tempdir().unwrap();
    let setup = envoy::Setup {
        bin: &bin,
        version: &version,
        dir: dir.path(),
    };
    let accesses = [reach::PROPERTY_ALLOWED, reach::ENV];
    let mut seen = Vec::new();
    for variant in [arm::ENVOY_WASM_V8, arm::ENVOY_NATIVE_MODULE] {
        let got = envoy::run_some(variant, &probe, &setup, &mut c, &accesses)
            .unwrap_or_else(|e| panic!("{variant}: {e}"));
        let names: Vec<&str> = got.iter().map(|a| a.access).collect();
        assert_eq!(names, accesses, "{variant}");
        // The control: the probe loaded, ran and the host answered it on this variant.
        assert!(control_failed(&got).is_none(), "{variant}: {got:?}");
        assert!(got[0].said.contains(&c.path), "{variant}: {}", got[0].said);
        seen.push((variant, got[1].clone()));
    }
    let (_, v8) = &seen[0];
    assert_eq!(v8.verdict, Verdict::Refused, "{}", v8.said);
    // Refused by an answer (WASI handed over no variable), not by a trap or a dead Envoy.
    assert!(
        v8.said.contains("environ_get gave 0 variables"),
        "{}",
        v8.said
    );
    let (_, module) = &seen[1];
    assert_eq!(module.verdict, Verdict::Allowed, "{}", module.said);
    assert!(
        module
            .said
            .contains(&format!("{}={}", c.env_name, c.env_value)),
        "{}",
        module.said
    );
}
