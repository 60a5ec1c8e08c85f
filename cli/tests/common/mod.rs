//! Running the built `filterbench` binary from the CLI tests.

use std::process::{Command, Output};

pub fn filterbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_filterbench"))
        .args(args)
        .output()
        .expect("run filterbench")
}

/// Standard output then standard error, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
