#!/usr/bin/env bash
# Compiles C++ proxy-wasm plugins, unchanged, against our C++ layer (filters/cpp/sdk) both ways
# runners/build.rs builds the C++ filters: to wasm32-wasi (reactor) and to a native shared
# library linked with the native shim. Shows that code written for the proxy-wasm C++ SDK
# builds on our layer; we do not ship the SDK's code, so its examples come from a checkout.
#
#   scripts/check-cpp-sdk-examples.sh [--out DIR] [-v] SOURCE...
#
# A SOURCE is a proxy-wasm-cpp-sdk checkout (its example/*.cc) or a .cc file. Each is reported
# per build as `ok`, `needs <header>` (a third-party header the example depends on, e.g. re2,
# is not installed for that target: not our API's failing) or `FAILED` with the compiler's
# errors. Exit status: 0 no FAILED build, 1 some, 2 usage error.
#
# Environment: FILTERBENCH_CXX (default clang++-19), FILTERBENCH_NATIVE_SHIM (default
# target/filterbench-filters/<host>/filters/libfilterbench_native_shim.a, which
# `cargo build` makes).
set -u

repo="$(cd "$(dirname "$0")/.." && pwd)"
sdk="$repo/filters/cpp/sdk"
cxx="${FILTERBENCH_CXX:-clang++-19}"
out=""
verbose=0
sources=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -v) verbose=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) sources+=("$1"); shift ;;
  esac
done
if [ ${#sources[@]} -eq 0 ]; then
  echo "usage: $0 [--out DIR] [-v] <proxy-wasm-cpp-sdk checkout | file.cc>..." >&2
  exit 2
fi
if ! command -v "$cxx" >/dev/null; then
  echo "C++ compiler $cxx not found (scripts/setup.sh installs it)" >&2
  exit 2
fi
shim="${FILTERBENCH_NATIVE_SHIM:-}"
if [ -z "$shim" ]; then
  host="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')"
  shim="$repo/target/filterbench-filters/$host/filters/libfilterbench_native_shim.a"
fi
if [ ! -f "$shim" ]; then
  echo "native shim $shim not found: run cargo build first, or set FILTERBENCH_NATIVE_SHIM" >&2
  exit 2
fi
[ -n "$out" ] || out="$(mktemp -d)"
mkdir -p "$out"

files=()
for s in "${sources[@]}"; do
  if [ -d "$s" ]; then
    found=0
    for f in "$s"/example/*.cc; do
      [ -f "$f" ] && files+=("$f") && found=1
    done
    [ $found -eq 1 ] || { echo "$s: no example/*.cc (not a proxy-wasm-cpp-sdk checkout?)" >&2; exit 2; }
  elif [ -f "$s" ]; then
    files+=("$s")
  else
    echo "$s: no such file or directory" >&2
    exit 2
  fi
done

# The flags of runners/build.rs build_cpp: CXX_* in runners/src/source/flags.rs (keep in step).
common=(-std=c++17 -O3 -fno-exceptions -fno-rtti -Wall -Werror)
layer=("$sdk"/*.cc)
wasm_runtime=("$sdk"/wasm/*.cc)

failed=0
# report <label> <log>: classifies one compiler run from its output.
report() {
  local label="$1" log="$2" status="$3"
  if [ "$status" -eq 0 ]; then
    echo "  $label: ok"
    return
  fi
  local missing
  missing="$(sed -n "s/.*fatal error: '\([^']*\)' file not found.*/\1/p" "$log" | head -1)"
  # Link errors only for another library's symbols: our API compiled, that library is missing.
  local undefined foreign
  undefined="$(sed -n 's/.*undefined symbol: \(.*\)/\1/p' "$log" | sort -u)"
  foreign="$(printf '%s\n' "$undefined" | grep -v -e proxy_ -e WasmData -e Context -e Metric)"
  if [ -n "$missing" ] && [ ! -f "$sdk/$missing" ]; then
    echo "  $label: needs $missing (a dependency of the example, not installed for this target)"
  elif [ -n "$undefined" ] && [ "$foreign" = "$undefined" ]; then
    echo "  $label: compiles; the link needs a library not built for this target ($(printf '%s\n' "$foreign" | head -1 | cut -c1-60)...)"
  else
    echo "  $label: FAILED"
    sed 's/^/    /' "$log" | head -40
    failed=1
  fi
}

for f in "${files[@]}"; do
  stem="$(basename "$f" .cc)"
  [ "$stem" = filter ] && stem="$(basename "$(dirname "$f")")"
  stem="${stem//-/_}"
  echo "$f"
  # Libraries an example links natively when the host has them.
  native_libs=()
  if grep -q '"re2/re2.h"' "$f" && [ -f /usr/include/re2/re2.h ]; then native_libs+=(-lre2); fi

  wasm_cmd=("$cxx" --target=wasm32-wasi -mexec-model=reactor -Wl,--strip-debug "${common[@]}"
    -I "$sdk" "$f" "${layer[@]}" "${wasm_runtime[@]}" -o "$out/$stem.wasm")
  native_cmd=("$cxx" -shared -fPIC -fvisibility=hidden -fvisibility-inlines-hidden "${common[@]}"
    "-Wl,--version-script=$sdk/exports.map" -Wl,--gc-sections -I "$sdk" "$f" "${layer[@]}"
    "$shim" "${native_libs[@]}" -o "$out/lib$stem.so")
  for arm in wasm native; do
    if [ $arm = wasm ]; then cmd=("${wasm_cmd[@]}"); else cmd=("${native_cmd[@]}"); fi
    [ $verbose -eq 1 ] && echo "  \$ ${cmd[*]}"
    log="$out/$stem.$arm.log"
    "${cmd[@]}" >"$log" 2>&1
    report "$arm" "$log" $?
  done
done
echo "outputs in $out"
exit $failed
