//! `filterbench reload`: Live reload: a filter swapped in a running Envoy under load, through extension-config discovery.

use std::process::ExitCode;

use anyhow::{Result, bail};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> Result<ExitCode> {
    bail!("`filterbench reload` is not built yet")
}
