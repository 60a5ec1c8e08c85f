#!/usr/bin/env bash
# The nightly performance job (.github/workflows/nightly.yml; runs anywhere): build, measure the
# matrix (timed) and the instruction counts (deterministic), write the report, compare both with
# their baselines, keep the gating figures' history and its trend page.
#
#   $FILTERBENCH_BASELINE_DIR (default ./baselines)
#       baseline.json               the timed run every new one is compared with
#       instructions-baseline.json  the same for instruction counts
#       history/*.json              every nightly timed run, newest 30 kept
#       history/gating.jsonl        the gating figures of every timed run (one line per run)
#       history/gating-instructions.jsonl   the same for instruction counts
#   $FILTERBENCH_OUT_DIR (default ./nightly): this run's results.json, instructions.json,
#       report.html, summary.md, compare.html, compare.md, compare-instructions.html/.md,
#       trend.html, trend-instructions.html and the tracker files (bmf.json, gab-*.json)
#   $FILTERBENCH_RUN_ARGS: arguments of `filterbench run` (default --full --processes 8: with 3
#       processes Welch's test has 2–4 degrees of freedom and, after Holm over ~135 gating
#       figures, cannot flag a 10% slowdown; with 8 it did, measured on a 2-core machine)
#   $FILTERBENCH_INSTRUCTIONS_ARGS: arguments of `filterbench instructions` (default: every
#       filter on native and wasmi, 2 repeats); set to "skip" to leave the deterministic gate out
#   $FILTERBENCH_THRESHOLD_PCT (default 5): timed figures
#   $FILTERBENCH_DETERMINISTIC_THRESHOLD_PCT (default 1): instruction counts whose repeats agree
#   $FILTERBENCH_ACCEPT_BASELINE=1: make this run the baseline even if it regressed (an
#       intended change); otherwise a regressed or failed run never becomes the baseline, so a
#       regression keeps failing the job until it is fixed or accepted.
#
# Only the declared gating figures fail a comparison (see `filterbench compare --help`). In
# GitHub Actions ($GITHUB_ACTIONS=true) a failing comparison also prints `::error` workflow
# commands, one per regressed figure, which GitHub shows as annotations of the run.
# Exit status: 0 no regression, 1 a regressed or unexplained missing gating figure or a failed
# filter × arm (timed or instruction mode), 2 the job itself failed.
set -euo pipefail
cd "$(dirname "$0")/.."

baselines="${FILTERBENCH_BASELINE_DIR:-./baselines}"
out="${FILTERBENCH_OUT_DIR:-./nightly}"
run_args="${FILTERBENCH_RUN_ARGS:---full --processes 8}"
instr_args="${FILTERBENCH_INSTRUCTIONS_ARGS:---repeats 2}"
threshold="${FILTERBENCH_THRESHOLD_PCT:-5}"
det_threshold="${FILTERBENCH_DETERMINISTIC_THRESHOLD_PCT:-1}"
mkdir -p "$baselines/history" "$out"

# $FILTERBENCH_BIN: an already built binary (skips the build; e.g. a copy kept apart from a
# working tree that keeps being rebuilt).
bin="${FILTERBENCH_BIN:-}"
if [ -z "$bin" ]; then
  scripts/build.sh || exit 2
  bin=./target/release/filterbench
fi

# One mode: measure ($1 = run or instructions) into $2, compare with baseline $3, append to
# history $4, pages named $5 (compare$5.html, compare$5.md, trend$5.html). Sets mode_status.
measure_and_compare() {
  local cmd=$1 results=$2 baseline=$3 history=$4 suffix=$5 args=$6
  rm -f "$results"
  local run_status=0
  # A run with a failed filter × arm still writes its file (exit 1): compare it all the same.
  # shellcheck disable=SC2086 # word splitting intended: several arguments
  "$bin" "$cmd" $args --out "$results" || run_status=$?
  if [ ! -s "$results" ]; then
    echo "nightly: $cmd wrote no results file (exit $run_status)" >&2
    exit 2
  fi
  local compare_status=0
  # With no baseline yet the run is compared with itself, only to start the history.
  local against="$baseline"
  [ -f "$baseline" ] || against="$results"
  "$bin" compare "$against" "$results" --threshold-pct "$threshold" \
    --deterministic-threshold-pct "$det_threshold" -o "$out/compare$suffix.html" --format markdown \
    --history "$history" --trend "$out/trend$suffix.html" >"$out/compare$suffix.md" || compare_status=$?
  if [ "$compare_status" -ge 2 ]; then
    echo "nightly: compare failed (exit $compare_status)" >&2
    exit 2
  fi
  # In GitHub Actions, a regression gets one annotation per regressed or unexplained missing
  # gating figure and per new failure, on the run's page. The same comparison again, as workflow
  # commands (no --history: the first call appended the run already; the page is the same).
  if [ "$compare_status" -eq 1 ] && [ "${GITHUB_ACTIONS:-}" = true ]; then
    "$bin" compare "$against" "$results" --threshold-pct "$threshold" \
      --deterministic-threshold-pct "$det_threshold" -o "$out/compare$suffix.html" \
      --format github || [ $? -eq 1 ] || echo "nightly: the annotations could not be made" >&2
  fi
  if [ ! -f "$baseline" ]; then
    echo "nightly: no baseline $baseline yet; this run becomes the first" | tee "$out/compare$suffix.md"
  fi
  cat "$out/compare$suffix.md"
  if { [ "$run_status" -eq 0 ] && [ "$compare_status" -eq 0 ]; } || [ "${FILTERBENCH_ACCEPT_BASELINE:-0}" = 1 ]; then
    cp "$results" "$baseline"
    echo "nightly: $results is the new baseline"
  else
    echo "nightly: baseline $baseline kept ($cmd exit $run_status, compare exit $compare_status)"
  fi
  mode_status=$((run_status > compare_status ? run_status : compare_status))
}

results="$out/results.json"
measure_and_compare run "$results" "$baselines/baseline.json" \
  "$baselines/history/gating.jsonl" "" "$run_args"
timed_status=$mode_status

"$bin" report "$results" -o "$out/report.html" || exit 2
"$bin" report "$results" --format markdown -o "$out/summary.md" || exit 2
for format in bmf gab-smaller gab-bigger; do
  "$bin" report "$results" --format "$format" -o "$out/$format.json" || exit 2
done
cp "$results" "$baselines/history/$(date -u +%Y%m%dT%H%M%SZ).json"
ls -1 "$baselines/history/"*.json | sort | head -n -30 | xargs -r rm -f

instr_status=0
if [ "$instr_args" != skip ]; then
  measure_and_compare instructions "$out/instructions.json" \
    "$baselines/instructions-baseline.json" "$baselines/history/gating-instructions.jsonl" \
    "-instructions" "$instr_args"
  instr_status=$mode_status
fi

if [ "$timed_status" -ne 0 ] || [ "$instr_status" -ne 0 ]; then
  exit 1
fi
