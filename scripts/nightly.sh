#!/usr/bin/env bash
# The nightly performance job (.github/workflows/nightly.yml; runs anywhere): build, measure the
# whole matrix, write the report, compare with the baseline, keep the run.
#
#   $FILTERBENCH_BASELINE_DIR (default ./baselines)
#       baseline.json      the run every new run is compared with
#       history/*.json     every nightly run, newest 30 kept
#   $FILTERBENCH_OUT_DIR (default ./nightly): this run's results.json, report.html, summary.md,
#       compare.html, compare.md and the tracker files (bmf.json, gab-*.json)
#   $FILTERBENCH_RUN_ARGS: arguments of `filterbench run` (default --full)
#   $FILTERBENCH_THRESHOLD_PCT (default 5)
#   $FILTERBENCH_ACCEPT_BASELINE=1: make this run the baseline even if it regressed (an
#       intended change); otherwise a regressed or failed run never becomes the baseline, so a
#       regression keeps failing the job until it is fixed or accepted.
#
# Exit status: 0 no significant regression, 1 significant regression or a failed filter × arm,
# 2 the job itself failed.
set -euo pipefail
cd "$(dirname "$0")/.."

baselines="${FILTERBENCH_BASELINE_DIR:-./baselines}"
out="${FILTERBENCH_OUT_DIR:-./nightly}"
run_args="${FILTERBENCH_RUN_ARGS:---full}"
threshold="${FILTERBENCH_THRESHOLD_PCT:-5}"
mkdir -p "$baselines/history" "$out"

cargo build --release -p filterbench || exit 2
bin=./target/release/filterbench
results="$out/results.json"
rm -f "$results"

# A run with a failed filter × arm still writes its file (exit 1): report it all the same.
run_status=0
# shellcheck disable=SC2086 # word splitting intended: several arguments
"$bin" run $run_args --out "$results" || run_status=$?
if [ ! -s "$results" ]; then
  echo "nightly: the run wrote no results file (exit $run_status)" >&2
  exit 2
fi

"$bin" report "$results" -o "$out/report.html" || exit 2
"$bin" report "$results" --format markdown -o "$out/summary.md" || exit 2
for format in bmf gab-smaller gab-bigger; do
  "$bin" report "$results" --format "$format" -o "$out/$format.json" || exit 2
done

compare_status=0
if [ -f "$baselines/baseline.json" ]; then
  "$bin" compare "$baselines/baseline.json" "$results" --threshold-pct "$threshold" \
    -o "$out/compare.html" --markdown >"$out/compare.md" || compare_status=$?
  cat "$out/compare.md"
  if [ "$compare_status" -ge 2 ]; then
    echo "nightly: compare failed (exit $compare_status)" >&2
    exit 2
  fi
else
  echo "nightly: no baseline in $baselines yet; this run becomes the first" | tee "$out/compare.md"
fi

# Keep the run in the history, and as the baseline when it is clean (or accepted).
cp "$results" "$baselines/history/$(date -u +%Y%m%dT%H%M%SZ).json"
ls -1 "$baselines/history/"*.json | sort | head -n -30 | xargs -r rm -f
if { [ "$run_status" -eq 0 ] && [ "$compare_status" -eq 0 ]; } || [ "${FILTERBENCH_ACCEPT_BASELINE:-0}" = 1 ]; then
  cp "$results" "$baselines/baseline.json"
  echo "nightly: $results is the new baseline"
else
  echo "nightly: baseline kept (run exit $run_status, compare exit $compare_status)"
fi

if [ "$run_status" -ne 0 ] || [ "$compare_status" -ne 0 ]; then
  exit 1
fi
