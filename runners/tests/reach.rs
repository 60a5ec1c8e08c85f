//! The reach probe on one wasm engine and the native build in process: wasm refuses the
//! environment, files and a write past its memory; native reads the environment. Judged from
//! the evidence the harness planted, and each refusal checked to be an attempt that was made
//! (the probe's words about the host call), so a harness that says "refused" without running
//! the attempt fails here.
//!
//! One test function only: planting the canary variable must happen while no other test
//! thread reads the environment.

use filterbench_results::vocab::{arm, reach};
use filterbench_runners::catalog;
use filterbench_runners::engines::Limits;
use filterbench_runners::promise::reach::{Attempt, Canaries, Verdict, inproc, judge};

fn of<'a>(attempts: &'a [Attempt], access: &str) -> &'a Attempt {
    attempts
        .iter()
        .find(|a| a.access == access)
        .unwrap_or_else(|| panic!("no attempt of {access}"))
}

#[test]
fn wasm_refuses_and_native_reads_the_environment() {
    let probe = catalog::find(reach::PROBE_FILTER).expect("the probe filter is built");
    let mut c = Canaries::new().unwrap();
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe { c.plant_env() };
    assert!(c.env_planted());
    let limits = Limits::default();

    let wasm = inproc::run(arm::WASMTIME_CRANELIFT, &probe, &limits, &mut c).unwrap();
    let env = of(&wasm, reach::ENV);
    assert_eq!(env.verdict, Verdict::Refused, "{}", env.said);
    // The WASI call was made and answered: no variables handed over.
    assert!(
        env.said.contains("environ_get gave 0 variables"),
        "{}",
        env.said
    );
    let file = of(&wasm, reach::FILE);
    assert_eq!(file.verdict, Verdict::Refused, "{}", file.said);
    assert!(
        file.said.contains("fd_prestat_get(3): errno 8"),
        "{}",
        file.said
    );
    let oob = of(&wasm, reach::OOB_WRITE);
    assert_eq!(oob.verdict, Verdict::Refused, "{}", oob.said);
    assert!(oob.said.starts_with("trapped:"), "{}", oob.said);
    assert!(oob.said.contains("out of bounds"), "{}", oob.said);
    // The control: the probe ran and the host answered it.
    let control = of(&wasm, reach::PROPERTY_ALLOWED);
    assert_eq!(control.verdict, Verdict::Allowed, "{}", control.said);
    assert!(control.said.contains(&c.path), "{}", control.said);

    let native = inproc::run(arm::NATIVE, &probe, &limits, &mut c).unwrap();
    let env = of(&native, reach::ENV);
    assert_eq!(env.verdict, Verdict::Allowed, "{}", env.said);
    // The very value planted came back.
    assert!(
        env.said
            .contains(&format!("{}={}", c.env_name, c.env_value)),
        "{}",
        env.said
    );
    let file = of(&native, reach::FILE);
    assert_eq!(file.verdict, Verdict::Allowed, "{}", file.said);
    assert!(file.said.contains(&c.file_value), "{}", file.said);
    let oob = of(&native, reach::OOB_WRITE);
    assert_eq!(oob.verdict, Verdict::Allowed, "{}", oob.said);
    assert_eq!(of(&native, reach::SOCKET).verdict, Verdict::Allowed);

    // Every access was tried on both arms, in the vocabulary's order.
    for attempts in [&wasm, &native] {
        let names: Vec<&str> = attempts.iter().map(|a| a.access).collect();
        assert_eq!(names, reach::ALL);
    }

    // The judge believes evidence, not words: a probe that claims the canary without its
    // value, or a write the harness did not see, is refused.
    let fake = judge(
        reach::ENV,
        Ok("read FILTERBENCH_CANARY=something"),
        &c,
        false,
        None,
    );
    assert_eq!(fake.verdict, Verdict::Refused);
    let fake = judge(
        reach::OOB_WRITE,
        Ok("wrote 28 bytes at 0x1"),
        &c,
        false,
        None,
    );
    assert_eq!(fake.verdict, Verdict::Refused);
    let fake = judge(reach::SOCKET, Ok("connected"), &c, false, None);
    assert_eq!(fake.verdict, Verdict::Refused);
}
