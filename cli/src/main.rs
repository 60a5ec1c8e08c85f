//! filterbench: what does running a proxy-wasm filter as WebAssembly cost, against the same
//! filter run natively? The binary is a thin pipeline over `filterbench-runners`.

mod cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "filterbench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every filter's fixtures on every arm and compare the arms (the correctness gate).
    Fixtures(cmd::fixtures::Args),
    /// Measure every filter × arm: latency, throughput, CPU per request, cold start, memory.
    #[command(
        after_help = "Exit status: 0 every filter × arm measured; 1 some failed (each \
        listed, never timed; the results file holds the rest); 2 error (nothing measured, or \
        the results could not be written)."
    )]
    Run(cmd::run::Args),
    /// Build a filter's source (Rust, C++, Go, AssemblyScript) to wasm and natively, as ours are.
    Build(cmd::build::Args),
    /// Write a results file as an HTML report (charts, tables) or as Markdown, CSV, .hgrm, BMF…
    Report(cmd::report::Args),
    /// Print a results file's summary again: the per-filter answer, or every table.
    Summary(cmd::summary::Args),
    /// Compare two results files, or this build with another revision (`--ref`); exit status
    /// 1 on a significant regression.
    Compare(cmd::compare::Args),
    /// Where a filter's time goes on each arm: host calls, guest code, copies; flame graphs.
    Profile(cmd::profile::Args),
    /// Instructions per request under callgrind: the deterministic mode for noisy machines.
    Instructions(cmd::instructions::Args),
    /// Write what a mesh needs to run a filter's `.wasm`: Istio's WasmPlugin, or an
    /// EnvoyFilter with the module in a ConfigMap.
    Deploy(cmd::deploy::Args),
    /// Load an Envoy (or sidecar) we did not start, every response checked; A/B with
    /// --target-b (rounds interleaved); HTTP/1.1 or h2c.
    Load(cmd::load::Args),
    /// Blast radius: add-header failing on purpose on every arm, Envoy included; what a
    /// crash, a loop or a leak in the filter costs the host.
    Fault(cmd::fault::Args),
    /// Live reload: a filter's version swapped in a running Envoy under load.
    Reload(cmd::reload::Args),
    /// Reach: what a probe filter can touch on each arm beyond the host API.
    Reach(cmd::reach::Args),
    /// List the filters and arms this build knows.
    List,
    /// Envoy variants of a filter and our upstream, serving until stdin closes (the other
    /// side of `load` in the cross-namespace tests).
    #[command(name = "__serve", hide = true)]
    Serve(cmd::load::ServeArgs),
    /// Runs one scenario on one arm for a while (the process `profile` samples with perf).
    #[command(name = "__spin", hide = true)]
    Spin(cmd::profile::SpinArgs),
    /// One repetition of a run, in its own process (started by `run`).
    #[command(name = "__worker", hide = true)]
    Worker(cmd::worker::Args),
}

/// The error and its causes, each said once: a cause whose text its parent's message already
/// ends with (libraries that put their source in their own message) is not repeated.
fn said_once(e: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut previous = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let said = previous.ends_with(&text) || previous.contains(&format!("{text}:"));
        if !said {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        previous = text;
    }
    out
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fixtures(args) => cmd::fixtures::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Build(args) => cmd::build::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Summary(args) => cmd::summary::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::Profile(args) => cmd::profile::run(args),
        Command::Spin(args) => cmd::profile::spin(args),
        Command::Instructions(args) => cmd::instructions::run(args),
        Command::Deploy(args) => cmd::deploy::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Serve(args) => cmd::load::serve(args),
        Command::Fault(args) => cmd::fault::run(args),
        Command::Reload(args) => cmd::reload::run(args),
        Command::Reach(args) => cmd::reach::run(args),
        Command::List => cmd::list::run(),
        Command::Worker(args) => cmd::worker::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", said_once(&e));
            std::process::ExitCode::from(2)
        }
    }
}
