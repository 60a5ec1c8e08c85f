//! The native-module arm refuses an Envoy that does not speak its dynamic-modules ABI, with a
//! clear message, rather than run with mismatched callbacks. Its own test binary (process):
//! it makes the module report another ABI version through the environment Envoy inherits.

use std::time::Duration;

use filterbench_results::vocab::Stage;
use filterbench_runners::envoy::{self, EnvoySettings, config};
use filterbench_runners::measure::{Plan, Silent, WorkerOutput, scenario};

#[test]
fn an_abi_mismatch_is_a_clear_error() {
    // A version table miss: refused before Envoy starts.
    let e = config::dynamic_module("1.41.0").unwrap_err();
    assert!(e.contains("ABI v0.2.0") && e.contains("1.41.0"), "{e}");
    assert!(config::dynamic_module("1.40.0").is_ok());

    let bin = match envoy::process::find(None) {
        Ok(b) => b,
        // scripts/setup.sh installs Envoy everywhere: missing, it fails unless skipped on purpose.
        Err(e) if std::env::var("FILTERBENCH_SKIP_ENVOY").as_deref() == Ok("1") => {
            return eprintln!("skipping (FILTERBENCH_SKIP_ENVOY=1): {e}");
        }
        Err(e) => panic!("{e}; set FILTERBENCH_SKIP_ENVOY=1 to skip the Envoy tests"),
    };
    // SAFETY: set before this test binary starts any other thread.
    unsafe { std::env::set_var("FILTERBENCH_ENVOY_MODULE_ABI", "v0.1.0") };
    let dir = tempfile::tempdir().unwrap();
    let s = EnvoySettings {
        version: envoy::process::version(&bin).unwrap(),
        bin,
        concurrency: 1,
        connections: 2,
        duration: Duration::from_millis(100),
        rounds: 1,
        warmup: Duration::from_millis(20),
        rate_fractions: Vec::new(),
        rate_duration: Duration::ZERO,
        wrk: false,
        scaling: Vec::new(),
        dir: dir.path().to_path_buf(),
        under: Default::default(),
        variants: Vec::new(),
    };
    let mut plan = Plan::quick();
    plan.filters = vec!["noop".into()];
    let sc = scenario::scenarios(&plan).unwrap().remove(0);
    let mut out = WorkerOutput::default();
    envoy::measure_scenario(&s, &sc, 0, &Silent, &mut out);
    let f = out
        .failures
        .iter()
        .find(|f| f.arm == config::NATIVE_MODULE)
        .expect("the mismatch is reported");
    assert_eq!(f.stage, Stage::Load);
    assert!(
        f.message.contains("ABI mismatch") && f.message.contains("v0.1.0"),
        "{}",
        f.message
    );
    // Never timed.
    assert!(!out.rows.iter().any(|r| r.arm == config::NATIVE_MODULE));
}
