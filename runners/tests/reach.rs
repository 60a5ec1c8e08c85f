//! The reach probe on one wasm engine and the native build in process: wasm refuses the
//! environment, files and a write past its memory; native reads the environment. Judged from
//! the evidence the harness planted, and each refusal checked to be an attempt that was made
//! (the probe's words about the host call), so a harness that says "refused" without running
//! the attempt fails here.
//!
//! One test function only: planting the canary variable must happen while no other test
//! thread reads the environment.

use filterbench_results::merge::Batch;
use filterbench_results::vocab::{Stage, arm, reach};
use filterbench_runners::catalog;
use filterbench_runners::engines::Limits;
use filterbench_runners::promise::reach::{
    Attempt, Canaries, Verdict, control_failed, inproc, judge, record,
};

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

    // A trap is a refusal only of the access whose refusal it is: a VM that failed to load
    // traps every access, the control included, and that refuses nothing.
    let broken = "trap in proxy_on_vm_start: unknown import: wasi_snapshot_preview1::sock_open";
    for access in reach::ALL {
        let a = judge(access, Err(broken), &c, false, None);
        assert_eq!(a.verdict, Verdict::NoVerdict, "{access}: {}", a.said);
    }
    let oob = judge(
        reach::OOB_WRITE,
        Err(
            "Function: proxy_on_request_headers failed: Uncaught RuntimeError: memory access out of bounds",
        ),
        &c,
        false,
        None,
    );
    assert_eq!(oob.verdict, Verdict::Refused, "{}", oob.said);
    let env = judge(
        reach::ENV,
        Err("out of bounds memory access"),
        &c,
        false,
        None,
    );
    assert_eq!(env.verdict, Verdict::NoVerdict, "{}", env.said);

    // A failed control voids the arm: every access absent with why, and a failure.
    let mut broken_arm = wasm.clone();
    for a in broken_arm.iter_mut() {
        *a = judge(a.access, Err(broken), &c, false, None);
    }
    assert!(control_failed(&wasm).is_none());
    let mut b = Batch::default();
    record(&mut b, arm::WASMI, &broken_arm);
    assert!(b.rows.is_empty(), "{:?}", b.rows);
    assert_eq!(b.absent.len(), reach::ALL.len());
    assert!(
        b.absent
            .iter()
            .all(|x| x.reason.contains("the probe's control was refused"))
    );
    assert!(
        b.failures
            .iter()
            .any(|f| f.arm == arm::WASMI && f.stage == Stage::Promise),
        "{:?}",
        b.failures
    );
    // A sound arm: a row per judged access, no failure.
    let mut b = Batch::default();
    record(&mut b, arm::WASMTIME_CRANELIFT, &wasm);
    assert!(b.failures.is_empty());
    assert_eq!(b.rows.len(), reach::ALL.len(), "{:?}", b.absent);
}
