//! `filterbench compare --format github`: the comparison as GitHub Actions workflow commands,
//! one `::error` per thing that fails the gate (a regressed or unexplained missing gating
//! figure, a new failure), one `::warning` per difference of setup that weakens the
//! comparison and one for an inconclusive comparison (with what it could have detected), so
//! the run page shows them as annotations without anyone opening a log.
//! GitHub keeps the first 10 errors of a step: the new failures come first, then the missing
//! figures, then the regressions largest change first.

use filterbench_reports::compare::{Change, Comparison, Outcome, Verdict};
use filterbench_reports::format;
use filterbench_results::summary::Key;

/// A command's message: `%`, CR and LF would end or garble the command.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A command's property value (the title): a `:` would end the properties, a `,` the value.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

fn command(level: &str, title: &str, message: &str) -> String {
    format!("::{level} title={}::{}\n", property(title), data(message))
}

fn place(k: &Key) -> String {
    if k.scenario.is_empty() {
        format!("{} / {}", k.filter, k.arm)
    } else {
        format!("{} / {} / {}", k.filter, k.scenario, k.arm)
    }
}

fn figure(k: &Key) -> String {
    format!("{} {} ({} thr)", k.phase, k.metric, k.threads)
}

fn regression(c: &Change) -> String {
    let p = if c.p_adjusted.is_finite() {
        format!(", Holm-adjusted p {:.3}", c.p_adjusted)
    } else {
        String::new()
    };
    format!(
        "{}: {} {} → {}, {} (95% interval [{}, {}]{p})",
        place(&c.key),
        figure(&c.key),
        format::unit(&c.unit, c.base.mean),
        format::unit(&c.unit, c.new.mean),
        format::change(c.change),
        format::change(c.ci_low),
        format::change(c.ci_high),
    )
}

/// The workflow commands of a comparison; with no regression, one notice that says so — or,
/// when the comparison could not have seen one, a warning that says what it could see.
pub fn annotations(c: &Comparison) -> String {
    let mut out = String::new();
    for f in &c.new_failures {
        let scope = if f.scenario.is_empty() {
            format!("{} / {}", f.filter, f.arm)
        } else {
            format!("{} / {} / {}", f.filter, f.scenario, f.arm)
        };
        out += &command(
            "error",
            &format!("filterbench: {scope} newly fails"),
            &format!("{scope} fails at {}: {}", f.stage, f.message),
        );
    }
    for m in c.unexplained_missing() {
        out += &command(
            "error",
            &format!("filterbench: {} missing", figure(&m.key)),
            &format!(
                "{}: {} is a gating figure of the base, absent from the new run, which does \
                 not say why",
                place(&m.key),
                figure(&m.key)
            ),
        );
    }
    for r in c.with_verdict(Verdict::Regressed) {
        out += &command(
            "error",
            &format!("filterbench regression: {} {}", place(&r.key), r.key.metric),
            &regression(r),
        );
    }
    for n in &c.notes {
        out += &command("warning", "filterbench: weaker comparison", n);
    }
    match c.outcome() {
        Outcome::NoRegression => {
            out += &command(
                "notice",
                "filterbench: no significant regression",
                &c.counts_line(),
            );
        }
        Outcome::Inconclusive => {
            out += &command(
                "warning",
                "filterbench: inconclusive",
                &format!("{}. {}", c.result_sentence(), c.counts_line()),
            );
        }
        Outcome::Regression | Outcome::Failed => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_titles_cannot_break_out_of_their_command() {
        assert_eq!(data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(property("50% a\nb: c, d"), "50%25 a%0Ab%3A c%2C d");
        assert_eq!(
            command("error", "t: x", "m\n::warning::injected"),
            "::error title=t%3A x::m%0A::warning::injected\n"
        );
    }

    #[test]
    fn nothing_to_judge_is_one_warning_and_a_new_failure_an_error() {
        // No gating figure at all: inconclusive, never "no significant regression".
        let c = Comparison::default();
        let out = annotations(&c);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.starts_with(
                "::warning title=filterbench%3A inconclusive::inconclusive: no regression \
                 flagged, but no gating figure is in both runs"
            ),
            "{out}"
        );
        let mut failing = Comparison::default();
        failing.new_failures.push(filterbench_results::Failure {
            filter: "f".into(),
            arm: "wasmi".into(),
            stage: filterbench_results::vocab::Stage::Load,
            message: "trap\nat 0x1".into(),
            ..Default::default()
        });
        failing.notes.push("different machines".into());
        let out = annotations(&failing);
        assert_eq!(
            out,
            "::error title=filterbench%3A f / wasmi newly fails::f / wasmi fails at \
             load: trap%0Aat 0x1\n::warning title=filterbench%3A weaker comparison::different \
             machines\n"
        );
    }
}
