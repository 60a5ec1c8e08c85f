#!/usr/bin/env bash
# The test command (README, .ci/run): formatting, lints, then every test in release mode
# (release shares its build with the main job and keeps the engines' compile times short).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo test --release --workspace
