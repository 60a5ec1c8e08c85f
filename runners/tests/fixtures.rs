//! Every filter's fixtures on every arm of the registry, with the differential check.

use filterbench_runners::{catalog, engines, verify};

#[test]
fn fixtures_pass_on_every_arm() {
    let filters = catalog::discover().expect("catalogue loads");
    assert!(!filters.is_empty(), "no filters found");
    let arms = engines::arm_names();
    let reports = verify::verify(&filters, &arms, &engines::Limits::default());
    let runs: usize = filters
        .iter()
        .map(|f| {
            arms.iter()
                .filter(|a| engines::applies(a, &f.artifacts))
                .count()
        })
        .sum();
    assert_eq!(reports.len(), runs);
    let problems: Vec<String> = reports.iter().flat_map(|r| r.problems()).collect();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
