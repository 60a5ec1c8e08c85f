//! Shared pieces of the criterion benches: which scenarios and arms exist, and the proof
//! every bench runs before it times anything (a wrong output aborts the bench).

use filterbench_runners::engines::{self, Limits, LoadedModule};
use filterbench_runners::fixtures::Step;
use filterbench_runners::host::Vm;
use filterbench_runners::measure::Plan;
use filterbench_runners::measure::scenario::{self, Proof, Scenario};

pub mod bytes;

/// Every benchmark scenario of the catalogue.
pub fn scenarios() -> Vec<Scenario> {
    let mut plan = Plan::quick();
    plan.filters = filterbench_runners::catalog::discover()
        .expect("the filter catalogue loads")
        .into_iter()
        .filter(|f| !f.is_test())
        .map(|f| f.name)
        .collect();
    scenario::scenarios(&plan).expect("scenarios")
}

/// Arms of the one registry that can run the scenario's filter (an AssemblyScript filter has
/// no native build).
pub fn arms(sc: &Scenario) -> Vec<&'static str> {
    engines::arm_names()
        .into_iter()
        .filter(|a| engines::applies(a, &sc.artifacts))
        .collect()
}

/// Loads the scenario's filter on `arm`.
pub fn load(sc: &Scenario, arm: &str) -> Result<Box<dyn LoadedModule>, String> {
    engines::engine(arm, &Limits::default())
        .and_then(|e| e.load(&sc.artifacts))
        .map_err(|e| e.to_string())
}

/// A VM whose filter has just been proven to produce the fixture's outcome, and the proof
/// every timed request must keep (a scenario whose outcome varies with each repetition is
/// recorded, not compared: criterion gives the bench no end to settle it at).
pub fn checked_vm(sc: &Scenario, module: &dyn LoadedModule) -> Result<(Vm, Proof), String> {
    let want = sc.verify(module)?;
    let mut vm = sc.start_vm(module)?;
    let mut proof = Proof::new(&mut vm, sc.varies());
    let first = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
    if first != want {
        return Err("the benched VM's first request differs from the fixture outcome".into());
    }
    proof.check(&first, &mut vm);
    Ok((vm, proof))
}

/// A proven VM ready for timed requests, with the module it came from: a native arm's library
/// must stay loaded while its VM runs, so the module is dropped last (fields drop in order).
pub struct Benched {
    pub vm: Vm,
    pub proof: Proof,
    _module: Box<dyn LoadedModule>,
}

/// Loads the scenario's filter on `arm`, proves it and keeps the proven VM to time.
pub fn benched(sc: &Scenario, arm: &str) -> Result<Benched, String> {
    let module = load(sc, arm)?;
    let (vm, proof) = checked_vm(sc, module.as_ref())?;
    Ok(Benched {
        vm,
        proof,
        _module: module,
    })
}

/// Loads the scenario's filter on `arm` and proves it (`checked_vm`).
pub fn proven(sc: &Scenario, arm: &str) -> Result<Box<dyn LoadedModule>, String> {
    let module = load(sc, arm)?;
    checked_vm(sc, module.as_ref())?;
    Ok(module)
}

/// One timed request, its full outcome checked.
pub fn request(sc: &Scenario, vm: &mut Vm, proof: &mut Proof) -> Step {
    let step = sc.run_once(vm).expect("a benched request failed");
    if !proof.check(&step, vm) {
        panic!(
            "a benched request changed its outcome: {:?}",
            proof.explain()
        );
    }
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_runners::fixtures::Body;

    #[test]
    fn a_wrong_output_aborts_the_bench() {
        let mut sc = scenarios()
            .into_iter()
            .find(|s| s.filter == "add-header" && s.name == "small-headers")
            .unwrap();
        let module = load(&sc, "native").unwrap();
        assert!(checked_vm(&sc, module.as_ref()).is_ok());
        // The same filter against an expectation it does not meet: no VM to time.
        sc.case.requests[0].expect.response_body = Some(Body::Text("something else".into()));
        let err = checked_vm(&sc, module.as_ref()).err().expect("must refuse");
        assert!(err.contains("output differs from the fixture"), "{err}");
    }

    #[test]
    fn every_scenario_has_a_checked_vm_on_every_arm() {
        for sc in scenarios() {
            for arm in arms(&sc) {
                let module = load(&sc, arm).unwrap();
                checked_vm(&sc, module.as_ref())
                    .unwrap_or_else(|e| panic!("{} / {} / {arm}: {e}", sc.filter, sc.name));
            }
        }
    }
}
