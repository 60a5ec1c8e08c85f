//! The comparison in plain text for the terminal: the counts, what the gating figures could
//! detect, every gating figure, what fails the gate, and the result.

use super::{Comparison, SHOWN, Verdict, page};

impl Comparison {
    /// One line of counts: the gating set's verdicts, what it could detect, and how many other
    /// figures were compared. Their verdicts are not counted here: taken one by one without
    /// multiplicity control, hundreds of them would show "regressed" figures on any two runs.
    pub fn counts_line(&self) -> String {
        let verdicts = Verdict::ALL
            .iter()
            .map(|v| format!("{} {}", self.count(*v), v.label()))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "gating: {} figures: {verdicts}; {} missing ({} unexplained), {} not gated (not \
             resolved in the base) — threshold {}% (timed, Holm over the gating set at α = {}), \
             {}% (deterministic repeats within {}%); detectable change: {}; not gating: {} other \
             figures, for reading (their verdicts, on the page, are not corrected for \
             multiplicity)",
            self.gates.len(),
            self.missing.len(),
            self.unexplained_missing().len(),
            self.ungated.len(),
            self.thresholds.pct,
            self.thresholds.alpha,
            self.thresholds.deterministic_pct,
            self.thresholds.agreement * 100.0,
            self.sensitivity().describe(),
            self.changes.len(),
        )
    }

    /// A plain-text summary for the terminal.
    pub fn text(&self) -> String {
        let mut out = format!("base: {}\nnew:  {}\n", self.base_name, self.new_name);
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out.push_str(&self.counts_line());
        out.push('\n');
        if !self.gates.is_empty() {
            out.push_str(
                "gating figures: verdict, figure, base → new, change [95% interval]; the \
                 smallest change this pair could flag\n",
            );
        }
        for c in &self.gates {
            out.push_str(&format!(
                "  {:<9} {}; could flag {}\n",
                c.verdict.label(),
                page::describe_change(c),
                page::detectable(c)
            ));
        }
        for v in [Verdict::Regressed, Verdict::Improved] {
            for c in self.with_verdict(v) {
                out.push_str(&format!("{:<9} {}\n", v.label(), page::describe_change(c)));
            }
        }
        for m in &self.missing {
            out.push_str(&format!(
                "missing   {} / {} / {}: {} ({} thr): {}\n",
                m.key.filter,
                m.key.scenario,
                m.key.arm,
                m.key.metric,
                m.key.threads,
                m.reason.as_deref().unwrap_or("no reason given: gates")
            ));
        }
        for m in &self.ungated {
            out.push_str(&format!(
                "not gated {} / {} / {}: {}: {}\n",
                m.key.filter,
                m.key.scenario,
                m.key.arm,
                m.key.metric,
                m.reason.as_deref().unwrap_or_default()
            ));
        }
        for i in self.implausible.iter().take(SHOWN) {
            out.push_str(&format!("implausible {i}\n"));
        }
        if let Some(more) = self.implausible.len().checked_sub(SHOWN).filter(|n| *n > 0) {
            out.push_str(&format!("implausible … and {more} more\n"));
        }
        for f in &self.new_failures {
            out.push_str(&format!(
                "new failure: {} / {} / {} at {}: {}\n",
                f.filter, f.scenario, f.arm, f.stage, f.message
            ));
        }
        out.push_str(&format!("RESULT: {}\n", self.result_sentence()));
        out
    }
}
