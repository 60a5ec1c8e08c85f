//! `filterbench fault`: Blast radius: add-header failing on purpose (trap, endless loop, memory growth, null write) on every arm, Envoy included.

use std::process::ExitCode;

use anyhow::{Result, bail};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> Result<ExitCode> {
    bail!("`filterbench fault` is not built yet")
}
