#!/usr/bin/env bash
# Installs what filterbench needs on a fresh machine: the pinned Rust toolchain with its
# wasm targets (rust-toolchain.toml). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
# rustup >= 1.28 no longer installs the pinned toolchain implicitly.
rustup toolchain install
