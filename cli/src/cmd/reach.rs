//! `filterbench reach`: Reach: what a probe filter can touch on each arm (environment, files, other streams, memory).

use std::process::ExitCode;

use anyhow::{Result, bail};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> Result<ExitCode> {
    bail!("`filterbench reach` is not built yet")
}
