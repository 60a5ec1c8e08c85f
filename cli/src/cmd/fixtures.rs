//! `filterbench fixtures`: every filter's fixture cases on every arm, checked against the
//! fixture and against the reference arm; the correctness gate before anything is timed.

mod junit;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use comfy_table::{Cell, Table, presets::UTF8_FULL_CONDENSED};
use filterbench_runners::measure::probes;
use filterbench_runners::{engines, verify};

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 every case passed on every arm that applies; 1 a case \
                        failed or a filter did not load on an arm; 2 an error (unknown filter or \
                        arm, the JUnit file could not be written)."
)]
pub struct Args {
    /// Arms to run, comma-separated (default: every arm; the first is the reference).
    #[arg(long, value_delimiter = ',')]
    arms: Vec<String>,
    /// Filters to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    filters: Vec<String>,
    /// Also write the results as JUnit XML here (one test suite per filter × arm, one test case
    /// per fixture case), for CI test reporters.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let arms = super::select_arms(&args.arms)?;
    let filters = super::select_filters(&args.filters)?;
    let started = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let reports = verify::verify(&filters, &arms, &engines::Limits::default());

    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec![Cell::new("filter")];
    header.extend(arms.iter().map(Cell::new));
    table.set_header(header);
    for filter in &filters {
        let mut row = vec![Cell::new(&filter.name)];
        for arm in &arms {
            // An arm that does not apply (no native build of an AssemblyScript filter).
            let Some(r) = reports
                .iter()
                .find(|r| r.filter == filter.name && r.arm == *arm)
            else {
                row.push(Cell::new("n/a"));
                continue;
            };
            let text = match &r.load_error {
                Some(_) => "LOAD ERROR".to_string(),
                None if r.ok() => {
                    format!("{}/{} ok ({} ms)", r.passed, r.cases, r.elapsed.as_millis())
                }
                None => format!("{}/{} FAIL", r.passed, r.cases),
            };
            row.push(Cell::new(text));
        }
        table.add_row(row);
    }
    println!("{table}");

    let problems: Vec<String> = reports.iter().flat_map(|r| r.problems()).collect();
    for p in &problems {
        println!("{p}");
    }
    let cases: usize = reports.iter().map(|r| r.cases).sum();
    let passed: usize = reports.iter().map(|r| r.passed).sum();
    println!(
        "{passed} of {cases} case runs passed on {} arms (the first arm that applies to a \
         filter is its reference)",
        arms.len()
    );
    if let Some(path) = &args.junit {
        let cases: Vec<(String, Vec<String>)> = filters
            .iter()
            .map(|f| {
                let names = f.fixtures.cases.iter().map(|c| c.name.clone()).collect();
                (f.name.clone(), names)
            })
            .collect();
        let doc = junit::xml(
            &junit::suites(&cases, &arms, &reports),
            &junit::timestamp(started),
            &probes::machine().hostname,
        );
        super::atomic::write(path, doc.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
