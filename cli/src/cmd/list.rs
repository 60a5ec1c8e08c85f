use anyhow::Result;
use filterbench_runners::{catalog, engines};
use std::process::ExitCode;

pub fn run() -> Result<ExitCode> {
    println!("filters:");
    for f in catalog::discover()? {
        println!(
            "  {:<16} {:?}, {} fixture cases — {}",
            f.name,
            f.fixtures.kind,
            f.fixtures.cases.len(),
            f.fixtures.description
        );
    }
    println!("arms:");
    let limits = engines::Limits::default();
    for name in engines::arm_names() {
        println!(
            "  {:<20} {}",
            name,
            engines::engine(name, &limits)?.version()
        );
    }
    Ok(ExitCode::SUCCESS)
}
