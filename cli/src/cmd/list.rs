use anyhow::Result;
use filterbench_results::vocab::arm;
use filterbench_runners::{catalog, engines};
use std::process::ExitCode;

pub fn run() -> Result<ExitCode> {
    println!("filters:");
    for f in catalog::discover()? {
        println!(
            "  {:<18} {:<14} {:?}, {} fixture cases — {}{}",
            f.name,
            f.language,
            f.fixtures.kind,
            f.fixtures.cases.len(),
            if f.is_test() {
                "TEST filter (run only with --filters): "
            } else {
                ""
            },
            f.fixtures.description
        );
        let scenarios: Vec<&str> = f
            .fixtures
            .cases
            .iter()
            .filter_map(|c| c.bench.as_deref())
            .collect();
        if !scenarios.is_empty() {
            println!("  {:<18} scenarios: {}", "", scenarios.join(", "));
        }
    }
    for (name, why) in catalog::skipped() {
        println!("  {name:<18} SKIPPED: {why}");
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
    println!(
        "Envoy variants (with Envoy; `envoy-none` and the native builds always run, the references):"
    );
    for v in arm::ENVOY {
        println!("  {v}");
    }
    println!("--filters, --scenarios and --arms take these names or globs ('wasmtime-*').");
    Ok(ExitCode::SUCCESS)
}
