//! Plausibility of the figures in a results file. A runner never writes NaN, an infinity or a
//! value beyond any machine's reach, so such a figure means a corrupt or hand-edited file:
//! summing it overflows, a chart's axis search never ends, and a comparison built on it
//! proves nothing. Readers refuse it rather than guess.

use std::fmt;

use crate::vocab::{Metric, Phase, Unit};
use crate::{Histogram, Results, Row};

/// Largest plausible magnitude of a figure in `unit`: 1e15 ns is 11.6 days per request or
/// phase, 1e15 bytes a petabyte, 1e15 counts (instructions, calls) per request a day of a
/// 10 GHz core; 1e12 requests a second is a thousand times the fastest in-process loop; a
/// ratio of 1e9 between two figures of one run is no measurement.
pub const fn limit(unit: Unit) -> f64 {
    match unit {
        Unit::Ns | Unit::Bytes | Unit::Count => 1e15,
        Unit::PerSecond => 1e12,
        Unit::Ratio => 1e9,
    }
}

/// Whether `value` is a plausible figure in `unit`.
pub fn plausible(value: f64, unit: Unit) -> bool {
    value.is_finite() && value.abs() <= limit(unit)
}

/// Which figure of the file is implausible.
#[derive(Clone, Debug, PartialEq)]
pub enum Place {
    Row {
        filter: String,
        scenario: String,
        arm: String,
        phase: Phase,
        metric: Metric,
        threads: u32,
        process: u32,
        iteration: u32,
    },
    /// A field of a stored latency histogram (`mean_ns`, `points`, …).
    Histogram {
        filter: String,
        scenario: String,
        arm: String,
        process: u32,
        field: &'static str,
    },
    /// A field of the file itself (`duration_s`).
    File(&'static str),
}

/// One implausible figure: where, its value, and its unit's bound.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "{place}: {value:e} {unit} is {why}",
    unit = unit.name(),
    why = if value.is_finite() {
        format!("beyond the plausible bound of {:e} {}", limit(*unit), unit.name())
    } else {
        "not finite".to_string()
    }
)]
pub struct Implausible {
    pub place: Place,
    pub value: f64,
    pub unit: Unit,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Row {
                filter,
                scenario,
                arm,
                phase,
                metric,
                threads,
                process,
                iteration,
            } => write!(
                f,
                "row (filter {filter:?}, scenario {scenario:?}, arm {arm:?}, {phase} {metric}, \
                 {threads} thread(s), process {process}, iteration {iteration})"
            ),
            Place::Histogram {
                filter,
                scenario,
                arm,
                process,
                field,
            } => write!(
                f,
                "latency histogram of filter {filter:?}, scenario {scenario:?}, arm {arm:?}, \
                 process {process}: {field}"
            ),
            Place::File(field) => f.write_str(field),
        }
    }
}

impl Implausible {
    /// The row this came from, if a row.
    pub fn row(r: &Row) -> Option<Implausible> {
        let unit = r.metric.unit();
        (!plausible(r.value, unit)).then(|| Implausible {
            place: Place::Row {
                filter: r.filter.clone(),
                scenario: r.scenario.clone(),
                arm: r.arm.clone(),
                phase: r.phase,
                metric: r.metric,
                threads: r.threads,
                process: r.process,
                iteration: r.iteration,
            },
            value: r.value,
            unit,
        })
    }
}

fn histogram(h: &Histogram, out: &mut Vec<Implausible>) {
    let mut field = |field: &'static str, value: f64, unit: Unit| {
        if !plausible(value, unit) {
            out.push(Implausible {
                place: Place::Histogram {
                    filter: h.filter.clone(),
                    scenario: h.scenario.clone(),
                    arm: h.arm.clone(),
                    process: h.process,
                    field,
                },
                value,
                unit,
            });
        }
    };
    field("mean_ns", h.mean_ns, Unit::Ns);
    field("stdev_ns", h.stdev_ns, Unit::Ns);
    field("max_ns", h.max_ns as f64, Unit::Ns);
    field("count", h.count as f64, Unit::Count);
    // One bad point is enough to name. Quantiles out of 0..1 are the charts' to guard.
    if let Some(&(_, v, _)) = h.points.iter().find(|p| !plausible(p.1 as f64, Unit::Ns)) {
        field("points", v as f64, Unit::Ns);
    }
}

impl Results {
    /// Every implausible figure (rows, histograms, the run's duration), in file order.
    pub fn implausible(&self) -> Vec<Implausible> {
        let mut out: Vec<Implausible> = self.rows.iter().filter_map(Implausible::row).collect();
        for h in &self.histograms {
            histogram(h, &mut out);
        }
        // Seconds, checked against the ns bound converted.
        if !plausible(self.duration_s * 1e9, Unit::Ns) {
            out.push(Implausible {
                place: Place::File("duration_s"),
                value: self.duration_s * 1e9,
                unit: Unit::Ns,
            });
        }
        out
    }

    /// The first implausible figure, as an error naming it and how many more there are.
    pub fn check(&self) -> Result<(), Refused> {
        let all = self.implausible();
        match all.first() {
            None => Ok(()),
            Some(first) => Err(Refused {
                first: Box::new(first.clone()),
                more: all.len() - 1,
            }),
        }
    }
}

/// A results file refused for implausible figures.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "implausible figure (a corrupt or edited results file): {first}{}",
    if *more > 0 { format!(" (and {more} more)") } else { String::new() }
)]
pub struct Refused {
    pub first: Box<Implausible>,
    pub more: usize,
}
