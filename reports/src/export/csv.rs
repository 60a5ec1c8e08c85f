//! Every row of the results file as CSV (RFC 4180 quoting), one line per raw figure, for
//! spreadsheets and data-frame tools.

use std::fmt::Write;

use filterbench_results::Results;

use super::Exporter;
use crate::ReportError;

pub struct CsvExporter;

pub const HEADER: &str = "filter,scenario,arm,phase,metric,unit,threads,process,iteration,value";

/// One text cell: quoted when it holds a separator, quote or line break (RFC 4180), and
/// neutralised when it starts like a formula (`=`, `+`, `-`, `@`, tab, carriage return):
/// prefixed with `'` and quoted, as OWASP's CSV-injection advice says, so a spreadsheet shows
/// the text rather than running it.
fn field(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula || s.contains([',', '"', '\n', '\r']) {
        let q = if formula { "'" } else { "" };
        format!("\"{q}{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Exporter for CsvExporter {
    fn serialize(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let mut out = String::with_capacity(results.rows.len() * 80);
        out.push_str(HEADER);
        out.push('\n');
        for r in &results.rows {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{}",
                field(&r.filter),
                field(&r.scenario),
                field(&r.arm),
                field(r.phase.name()),
                field(r.metric.name()),
                field(r.unit.name()),
                r.threads,
                r.process,
                r.iteration,
                r.value
            );
        }
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("wasm-x"), "wasm-x");
    }

    #[test]
    fn formulas_are_text() {
        assert_eq!(field("=1+1"), "\"'=1+1\"");
        assert_eq!(field("-2+3"), "\"'-2+3\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(field("+\"x\""), "\"'+\"\"x\"\"\"");
        assert_eq!(field("\tcmd"), "\"'\tcmd\"");
    }
}
