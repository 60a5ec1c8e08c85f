#!/usr/bin/env bash
# The test command (README, .ci/run): formatting, then the one build (scripts/build.sh) with
# clippy's lints, then every test in release mode.
#
# Clippy runs as the compiler of the workspace's own crates (RUSTC_WORKSPACE_WRAPPER, as
# `cargo clippy` itself does), during the normal build: dependencies keep the artifacts of the
# main job's build, where `cargo clippy` would check all ~500 of them again in check mode
# (~5 min here). CLIPPY_ARGS is how cargo-clippy hands its `-- -D warnings` to clippy-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
driver="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver || true)"
if [ -z "$driver" ]; then
    echo "clippy-driver not found: rustup component add clippy (rust-toolchain.toml lists it)" >&2
    exit 1
fi
export RUSTC_WORKSPACE_WRAPPER="$driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
scripts/build.sh
cargo test --release --workspace
