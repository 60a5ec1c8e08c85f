#!/usr/bin/env bash
# The one build: every package and target of the workspace in release mode, so the main job,
# the tests and `cargo bench` resolve the same features and share one compiled dependency set.
# (`cargo run -p filterbench` alone would resolve fewer features — criterion's, the tests' —
# and the tests would then compile the engines a second time.)
# Extra arguments go to cargo, e.g. `--timings`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo build --release --workspace --all-targets "$@"
