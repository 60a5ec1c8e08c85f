//! `scripts/nightly.sh` keeps a fixed baseline: promoted on the first night, by hand, or after
//! N consecutive clean nights — never by one passing night — and an inconclusive night is
//! neither clean nor a regression (exit 3). The script runs for real against a stand-in
//! `filterbench` (`FILTERBENCH_BIN`) whose compare exits as each night says, so the test takes
//! well under a second and needs no measuring.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `{"night": N}` for `run --out`, logs what compare was given and exits as told.
const STAND_IN: &str = r#"#!/usr/bin/env bash
cmd=$1; shift
case "$cmd" in
  run)
    while [ $# -gt 0 ]; do
      if [ "$1" = --out ]; then echo "{\"night\": $NIGHT}" >"$2"; fi
      shift
    done
    exit "${RUN_STATUS:-0}" ;;
  compare)
    echo "night $NIGHT: $1 $2" >>"$COMPARE_LOG"
    echo "comparison of night $NIGHT"
    exit "$COMPARE_STATUS" ;;
  report) exit 0 ;;
  *) echo "stand-in: unexpected $cmd" >&2; exit 9 ;;
esac
"#;

struct Nights {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Nights {
    fn new() -> Nights {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("filterbench");
        std::fs::write(&bin, STAND_IN).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        Nights { dir, bin }
    }

    fn baselines(&self) -> PathBuf {
        self.dir.path().join("baselines")
    }

    /// One night whose compare exits `compare`; `promote`: FILTERBENCH_PROMOTE_BASELINE=1.
    /// Returns the job's exit status and its output.
    fn night(&self, n: u32, compare: i32, promote: bool) -> (i32, String) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/nightly.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .env("FILTERBENCH_BIN", &self.bin)
            .env("FILTERBENCH_BASELINE_DIR", self.baselines())
            .env("FILTERBENCH_OUT_DIR", self.dir.path().join("out"))
            .env("FILTERBENCH_INSTRUCTIONS_ARGS", "skip")
            .env("FILTERBENCH_PROMOTE_AFTER", "3")
            .env("NIGHT", n.to_string())
            .env("COMPARE_STATUS", compare.to_string())
            .env("COMPARE_LOG", self.dir.path().join("compare.log"))
            .env_remove("GITHUB_ACTIONS")
            .env_remove("FILTERBENCH_ACCEPT_BASELINE")
            .env_remove("FILTERBENCH_PROMOTE_BASELINE");
        if promote {
            cmd.env("FILTERBENCH_PROMOTE_BASELINE", "1");
        }
        let o = cmd.output().expect("bash runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.code().unwrap_or(-1), text)
    }

    /// The night the baseline holds, and the count of clean nights kept beside it.
    fn state(&self) -> (String, String) {
        let read = |f: &str| {
            std::fs::read_to_string(self.baselines().join(f))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        (read("baseline.json"), read("baseline.clean-nights"))
    }
}

fn holds(night: u32) -> String {
    format!("{{\"night\": {night}}}")
}

#[test]
fn the_baseline_stays_fixed_until_promoted_and_inconclusive_is_not_clean() {
    let n = Nights::new();
    // Night 1: no baseline yet; it becomes the first, and nothing is known: inconclusive.
    let (status, out) = n.night(1, 0, false);
    assert_eq!(status, 3, "{out}");
    assert_eq!(n.state(), (holds(1), "0".into()), "{out}");
    let promoted = std::fs::read_to_string(n.baselines().join("baseline.promoted")).unwrap();
    assert!(promoted.contains("first run"), "{promoted}");

    // A clean night does not move the baseline; it counts.
    let (status, out) = n.night(2, 0, false);
    assert_eq!(status, 0, "{out}");
    assert_eq!(n.state(), (holds(1), "1".into()), "{out}");
    assert!(out.contains("Compared with the fixed baseline"), "{out}");
    // Inconclusive: exit 3 (not 1), not clean: the count starts again.
    let (status, out) = n.night(3, 3, false);
    assert_eq!(status, 3, "{out}");
    assert_eq!(n.state(), (holds(1), "0".into()), "{out}");
    // A regression: exit 1, the baseline kept, the count starts again.
    n.night(4, 0, false);
    let (status, out) = n.night(5, 1, false);
    assert_eq!(status, 1, "{out}");
    assert_eq!(n.state(), (holds(1), "0".into()), "{out}");
    // Three clean nights in a row (FILTERBENCH_PROMOTE_AFTER=3): the third is promoted.
    for night in [6, 7] {
        assert_eq!(n.night(night, 0, false).0, 0);
        assert_eq!(n.state().0, holds(1));
    }
    let (status, out) = n.night(8, 0, false);
    assert_eq!(status, 0, "{out}");
    assert_eq!(n.state(), (holds(8), "0".into()), "{out}");
    // By hand: the night becomes the baseline, and its status still says what compare found.
    let (status, out) = n.night(9, 1, true);
    assert_eq!(status, 1, "{out}");
    assert_eq!(n.state(), (holds(9), "0".into()), "{out}");
    let promoted = std::fs::read_to_string(n.baselines().join("baseline.promoted")).unwrap();
    assert!(promoted.contains("by hand"), "{promoted}");

    // Every night after the first was compared with the baseline file, never with itself.
    let log = std::fs::read_to_string(n.dir.path().join("compare.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 9, "{log}");
    assert!(lines[0].ends_with("out/results.json"), "{log}");
    for l in &lines[1..] {
        assert!(l.contains("baselines/baseline.json "), "{log}");
    }
    // A compare that fails is the job failing: 2.
    assert_eq!(n.night(10, 2, false).0, 2);
}
