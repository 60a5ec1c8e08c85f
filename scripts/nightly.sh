#!/usr/bin/env bash
# The nightly performance job (.github/workflows/nightly.yml; runs anywhere): build, measure the
# matrix (timed) and the instruction counts (deterministic), write the report, compare both with
# their FIXED baselines, keep the gating figures' history and its trend page.
#
#   $FILTERBENCH_BASELINE_DIR (default ./baselines)
#       baseline.json               the timed run every new one is compared with (fixed: see below)
#       baseline.promoted           when and why it became the baseline
#       baseline.clean-nights       consecutive clean nights against it (the promotion count)
#       instructions-baseline.json, instructions-baseline.promoted,
#       instructions-baseline.clean-nights  the same for instruction counts
#       history/*.json              every nightly timed run, newest 30 kept
#       history/gating.jsonl        the gating figures of every timed run (one line per run)
#       history/gating-instructions.jsonl   the same for instruction counts
#   $FILTERBENCH_OUT_DIR (default ./nightly): this run's results.json, instructions.json,
#       report.html, summary.md, compare.html, compare.md, compare-instructions.html/.md,
#       trend.html, trend-instructions.html and the tracker files (bmf.json, gab-*.json)
#   $FILTERBENCH_RUN_ARGS: arguments of `filterbench run` (default --full --processes 8: with 3
#       processes Welch's test has 2–4 degrees of freedom and, at Holm's first step, can flag
#       only changes many times the threshold — compare then says "inconclusive")
#   $FILTERBENCH_INSTRUCTIONS_ARGS: arguments of `filterbench instructions` (default: every
#       filter on native and wasmi, 2 repeats); set to "skip" to leave the deterministic gate out
#   $FILTERBENCH_THRESHOLD_PCT (default 5): timed figures
#   $FILTERBENCH_DETERMINISTIC_THRESHOLD_PCT (default 1): instruction counts whose repeats agree
#
# The baseline is fixed, so a slow drift adds up against it night after night until the
# comparison flags it, where a baseline replaced by every passing run would let each night
# move it a little further unseen. It changes only:
#   - on the first run (no baseline yet);
#   - by hand: $FILTERBENCH_PROMOTE_BASELINE=1 ($FILTERBENCH_ACCEPT_BASELINE=1, its older name)
#       makes this run the baseline whatever its comparison says (an intended change, a new
#       machine); the job's status still tells what the comparison found;
#   - after $FILTERBENCH_PROMOTE_AFTER (default 7; 0: never automatically) consecutive clean
#       nights: the night that completes the streak becomes the baseline and the count restarts.
#   Clean = the run had no failed filter × arm and compare exited 0 (no regression, conclusive).
#   A regressed, failed or inconclusive night is not clean and restarts the count.
#
# Only the declared gating figures fail a comparison (see `filterbench compare --help`). In
# GitHub Actions ($GITHUB_ACTIONS=true) a failing or inconclusive comparison also prints
# workflow commands (`::error` per regressed figure, `::warning` for inconclusive), which
# GitHub shows as annotations of the run.
# Exit status: 0 clean (every mode conclusive, no regression); 1 a regressed or unexplained
# missing gating figure or a failed filter × arm (timed or instruction mode); 2 the job itself
# failed; 3 inconclusive: no regression flagged, but a comparison could not have seen most
# regressions of the threshold's size (or there was no baseline to compare with yet) — not a
# regression, not a clean night; the workflow turns it into a warning, not a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

baselines="${FILTERBENCH_BASELINE_DIR:-./baselines}"
out="${FILTERBENCH_OUT_DIR:-./nightly}"
run_args="${FILTERBENCH_RUN_ARGS:---full --processes 8}"
instr_args="${FILTERBENCH_INSTRUCTIONS_ARGS:---repeats 2}"
threshold="${FILTERBENCH_THRESHOLD_PCT:-5}"
det_threshold="${FILTERBENCH_DETERMINISTIC_THRESHOLD_PCT:-1}"
promote_after="${FILTERBENCH_PROMOTE_AFTER:-7}"
promote_now="${FILTERBENCH_PROMOTE_BASELINE:-${FILTERBENCH_ACCEPT_BASELINE:-0}}"
case "$promote_after" in
  '' | *[!0-9]*)
    echo "nightly: FILTERBENCH_PROMOTE_AFTER must be a whole number (got '$promote_after')" >&2
    exit 2
    ;;
esac
mkdir -p "$baselines/history" "$out"

# $FILTERBENCH_BIN: an already built binary (skips the build; e.g. a copy kept apart from a
# working tree that keeps being rebuilt).
bin="${FILTERBENCH_BIN:-}"
if [ -z "$bin" ]; then
  scripts/build.sh || exit 2
  bin=./target/release/filterbench
fi

# Whether baseline $1 is replaced by results $2 after a night whose comparison exited $3 (run
# exit $4): keeps the count of consecutive clean nights beside the baseline, and says when and
# why a baseline was promoted. Prints what it did.
keep_or_promote() {
  local baseline=$1 results=$2 compare_status=$3 run_status=$4
  local count_file="${baseline%.json}.clean-nights" why_file="${baseline%.json}.promoted"
  local clean=0
  if [ -f "$count_file" ]; then
    clean=$(cat "$count_file")
    case "$clean" in '' | *[!0-9]*) clean=0 ;; esac
  fi
  local why=""
  if [ ! -f "$baseline" ]; then
    why="first run: there was no baseline"
    clean=0
  elif [ "$run_status" -eq 0 ] && [ "$compare_status" -eq 0 ]; then
    clean=$((clean + 1))
    if [ "$promote_after" -gt 0 ] && [ "$clean" -ge "$promote_after" ]; then
      why="$clean consecutive clean nights (FILTERBENCH_PROMOTE_AFTER=$promote_after)"
    fi
  else
    # Regressed, failed or inconclusive: not clean, the streak starts again.
    clean=0
  fi
  if [ "$promote_now" = 1 ]; then
    why="promoted by hand (FILTERBENCH_PROMOTE_BASELINE=1)"
  fi
  if [ -n "$why" ]; then
    cp "$results" "$baseline"
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $why" >"$why_file"
    clean=0
    echo "nightly: $results is the new baseline: $why"
  else
    echo "nightly: baseline $baseline kept ($clean consecutive clean night(s) of \
${promote_after} to promote automatically; compare exit $compare_status, run exit $run_status)"
  fi
  echo "$clean" >"$count_file"
}

# One mode: measure ($1 = run or instructions) into $2, compare with baseline $3, append to
# history $4, pages named $5 (compare$5.html, compare$5.md, trend$5.html). Sets mode_status:
# 0 clean, 1 regression or failed filter × arm, 3 inconclusive.
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
  if [ "$compare_status" -eq 2 ] || [ "$compare_status" -gt 3 ]; then
    echo "nightly: compare failed (exit $compare_status)" >&2
    exit 2
  fi
  # In GitHub Actions, a regression gets one annotation per regressed or unexplained missing
  # gating figure and per new failure, an inconclusive comparison one warning, on the run's
  # page. The same comparison again, as workflow commands (no --history: the first call
  # appended the run already; the page is the same).
  if [ "$compare_status" -ne 0 ] && [ "${GITHUB_ACTIONS:-}" = true ]; then
    "$bin" compare "$against" "$results" --threshold-pct "$threshold" \
      --deterministic-threshold-pct "$det_threshold" -o "$out/compare$suffix.html" \
      --format github || {
      local s=$?
      [ "$s" -eq 1 ] || [ "$s" -eq 3 ] || echo "nightly: the annotations could not be made" >&2
    }
  fi
  if [ ! -f "$baseline" ]; then
    echo "nightly: no baseline $baseline yet; this run becomes the first" | tee "$out/compare$suffix.md"
    # Compared with itself: nothing is known about regressions yet.
    [ "$compare_status" -eq 1 ] || compare_status=3
  else
    {
      echo
      # Said in the job summary: what a regression here is measured from.
      echo "Compared with the fixed baseline $baseline, promoted $(cat "${baseline%.json}.promoted" 2>/dev/null || echo "before its date was kept"): drift since then adds up against it."
    } >>"$out/compare$suffix.md"
  fi
  cat "$out/compare$suffix.md"
  keep_or_promote "$baseline" "$results" "$compare_status" "$run_status"
  if [ "$run_status" -ne 0 ] || [ "$compare_status" -eq 1 ]; then
    mode_status=1
  else
    mode_status=$compare_status
  fi
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

if [ "$timed_status" -eq 1 ] || [ "$instr_status" -eq 1 ]; then
  exit 1
fi
if [ "$timed_status" -eq 3 ] || [ "$instr_status" -eq 3 ]; then
  echo "nightly: inconclusive (exit 3): no regression flagged, but not a clean night either" >&2
  exit 3
fi
