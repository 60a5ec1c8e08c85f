//! Running the built `filterbench` binary from the CLI tests.

use std::path::{Path, PathBuf};
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

/// `filterbench instructions --filters add-header <args> --out <out>` with the slowdown knob at
/// `burn` rounds per request (None: off); the run must succeed, complete, with no failure.
/// (Not every test binary counts instructions.)
#[allow(dead_code)]
pub fn count_add_header(
    args: &[&str],
    out: &Path,
    burn: Option<u32>,
) -> filterbench_results::Results {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_filterbench"));
    cmd.args(["instructions", "--filters", "add-header"])
        .args(args)
        .arg("--out")
        .arg(out);
    match burn {
        Some(n) => cmd.env("FILTERBENCH_BURN", format!("add-header={n}")),
        None => cmd.env_remove("FILTERBENCH_BURN"),
    };
    let o = cmd.output().expect("run filterbench");
    assert!(o.status.success(), "{}", text(&o));
    let r = filterbench_results::Results::read(out).unwrap();
    assert!(r.complete && r.failures.is_empty(), "{:?}", r.failures);
    r
}

/// A copy of `cli/tests/data/<name>` in `dir`: a user's crate lives outside our workspace.
/// (Not every test binary builds one.)
#[allow(dead_code)]
pub fn user_crate(dir: &Path, name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let to = dir.join(name);
    copy_dir(&from, &to);
    to
}

#[allow(dead_code)]
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
