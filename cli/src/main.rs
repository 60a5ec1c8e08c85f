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
    /// List the filters and arms this build knows.
    List,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fixtures(args) => cmd::fixtures::run(args),
        Command::List => cmd::list::run(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
