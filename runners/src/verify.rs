//! Runs every fixture of every filter on every arm and compares the arms: the correctness
//! gate that must pass before anything is timed.

use std::time::{Duration, Instant};

use crate::catalog::Filter;
use crate::engines::{self, Limits};
use crate::fixtures::{self, CaseOutcome, Mismatch};

/// Why a case failed on an arm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The outcome contradicts the fixture.
    Expectation,
    /// The outcome differs from the reference arm's.
    Differential { reference: String },
}

#[derive(Clone, Debug)]
pub struct CaseFailure {
    pub case: String,
    pub kind: FailureKind,
    pub mismatch: Mismatch,
}

/// One filter on one arm.
#[derive(Clone, Debug)]
pub struct ArmReport {
    pub filter: String,
    pub arm: String,
    pub cases: usize,
    pub passed: usize,
    pub load_error: Option<String>,
    pub failures: Vec<CaseFailure>,
    pub elapsed: Duration,
}

impl ArmReport {
    pub fn ok(&self) -> bool {
        self.load_error.is_none() && self.failures.is_empty()
    }

    /// One line per problem, naming filter, case, arm and field.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(e) = &self.load_error {
            out.push(format!("{} / {}: cannot load: {e}", self.filter, self.arm));
        }
        for f in &self.failures {
            let what = match &f.kind {
                FailureKind::Expectation => "fixture".to_string(),
                FailureKind::Differential { reference } => format!("vs {reference}"),
            };
            out.push(format!(
                "{} / case {:?} / {} / {} ({what}): expected {}, got {}",
                self.filter,
                f.case,
                self.arm,
                f.mismatch.field,
                f.mismatch.expected,
                f.mismatch.actual
            ));
        }
        out
    }
}

/// Verifies `filters` on `arms`; the first arm is the reference for the differential check.
pub fn verify(filters: &[Filter], arms: &[&str], limits: &Limits) -> Vec<ArmReport> {
    let mut reports = Vec::new();
    for filter in filters {
        let mut reference: Option<(String, Vec<Option<CaseOutcome>>)> = None;
        for arm in arms
            .iter()
            .filter(|a| engines::applies(a, &filter.artifacts))
        {
            let start = Instant::now();
            let mut report = ArmReport {
                filter: filter.name.clone(),
                arm: arm.to_string(),
                cases: filter.fixtures.cases.len(),
                passed: 0,
                load_error: None,
                failures: Vec::new(),
                elapsed: Duration::ZERO,
            };
            let module = engines::engine(arm, limits).and_then(|e| e.load(&filter.artifacts));
            let outcomes: Vec<Option<CaseOutcome>> = match module {
                Err(e) => {
                    report.load_error = Some(e.to_string());
                    vec![None; filter.fixtures.cases.len()]
                }
                Ok(module) => filter
                    .fixtures
                    .cases
                    .iter()
                    .map(|case| Some(fixtures::run_case(module.as_ref(), &filter.fixtures, case)))
                    .collect(),
            };
            for (i, (case, got)) in filter.fixtures.cases.iter().zip(&outcomes).enumerate() {
                let Some(got) = got else { continue };
                let mut failures: Vec<CaseFailure> = fixtures::check_expectations(case, got)
                    .into_iter()
                    .map(|mismatch| CaseFailure {
                        case: case.name.clone(),
                        kind: FailureKind::Expectation,
                        mismatch,
                    })
                    .collect();
                if let Some((ref_arm, ref_outcomes)) = &reference
                    && let Some(Some(want)) = ref_outcomes.get(i)
                {
                    failures.extend(fixtures::diff(want, got).into_iter().map(|mismatch| {
                        CaseFailure {
                            case: case.name.clone(),
                            kind: FailureKind::Differential {
                                reference: ref_arm.clone(),
                            },
                            mismatch,
                        }
                    }));
                }
                if failures.is_empty() {
                    report.passed += 1;
                }
                report.failures.extend(failures);
            }
            report.elapsed = start.elapsed();
            if reference.is_none() && report.load_error.is_none() {
                reference = Some((arm.to_string(), outcomes));
            }
            reports.push(report);
        }
    }
    reports
}
