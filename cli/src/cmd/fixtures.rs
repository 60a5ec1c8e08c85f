use std::process::ExitCode;

use anyhow::Result;
use comfy_table::{Cell, Table, presets::UTF8_FULL_CONDENSED};
use filterbench_runners::{engines, verify};

#[derive(clap::Args)]
pub struct Args {
    /// Arms to run, comma-separated (default: every arm; the first is the reference).
    #[arg(long, value_delimiter = ',')]
    arms: Vec<String>,
    /// Filters to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    filters: Vec<String>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let arms = super::select_arms(&args.arms)?;
    let filters = super::select_filters(&args.filters)?;
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
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
