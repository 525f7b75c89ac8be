#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cc) with clang, ASan and UBSan (in the
# instrumented build scripts/clang-build.sh makes, shared with scripts/sanitize.sh) and
# fuzzes every parser from seeds of real Swift output (tests/fuzz/make_seeds.py), with
# limits that make a slow or memory-hungry input fail: one input over 1 s is a timeout,
# over 256 MiB of RSS (or one 128 MiB malloc) an OOM.
#
#   scripts/fuzz.sh                 brief (CI): each target FUZZ_SECONDS (15) seconds
#   scripts/fuzz.sh --long          each target to FUZZ_RUNS (10^6) executions
#                                   (FUZZ_LONG_MAX_SECONDS caps each one's time)
#   scripts/fuzz.sh --report FILE   also write the results table (markdown) to FILE
#   scripts/fuzz.sh [...] NAME...   only these targets (e.g. pickle_fuzz)
#
# Each target first runs over its regression inputs (tests/fuzz/regressions/<target>/,
# every crash, timeout or OOM found so far): any that fails again fails the run. Exits
# non-zero on any crash, leak, sanitizer report, timeout or OOM, naming the input to add
# to the regressions. Targets run one at a time under nice.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
SECONDS_EACH=${FUZZ_SECONDS:-15}
RUNS=${FUZZ_RUNS:-1000000}
long=0 report="" only=()
while [ $# -gt 0 ]; do
  case $1 in
    --long) long=1 ;;
    --report) report=$2; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) only+=("$1") ;;
  esac
  shift
done

BUILD=$(scripts/clang-build.sh | tail -1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tests/fuzz/make_seeds.py "$work/seeds"

# The libFuzzer dictionaries (tests/fuzz/dicts/*.dict) each target mutates with.
dicts_for() {
  case $1 in
    pickle_fuzz|hashes_pkl_fuzz|xattr_metadata_fuzz) echo pickle ;;
    replicate_answer_fuzz) echo http pickle ;;
    http_request_fuzz) echo http ;;
    http_response_fuzz) echo http ssync ;;
    ssync_receiver_fuzz|ssync_sender_fuzz) echo ssync ;;
    ring_fuzz) echo ring ;;
    config_fuzz|swift_conf_fuzz) echo config ;;
  esac
}

# UBSan reports must fail the run, not just print. ASan's quarantine of freed memory
# (256 MiB by default) would by itself reach the RSS limit after enough inputs: keep it
# small so that limit measures what one input holds.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}
LIMITS=(-timeout=1 -rss_limit_mb=256 -malloc_limit_mb=128 -max_len=65536)
if [ "$long" = 1 ]; then
  budget=(-runs="$RUNS")
  # FUZZ_LONG_MAX_SECONDS caps each target's long run (a loaded machine); the table
  # then shows the executions reached.
  if [ -n "${FUZZ_LONG_MAX_SECONDS:-}" ]; then budget+=(-max_total_time="$FUZZ_LONG_MAX_SECONDS"); fi
else
  budget=(-max_total_time="$SECONDS_EACH")
fi
# libFuzzer's -timeout is wall time: on a shared machine (CI runs this beside the
# sanitizer tests) a millisecond input can be descheduled past 1 s. A timeout counts as
# the machine's, not the input's, only when the input alone then runs within the limit
# three times out of three; a slow input reproduces and fails the run.
stalled() {  # BIN PREFIX: true if the only finding is a timeout that does not reproduce
  local bin=$1 prefix=$2 a found=0 i
  for a in "$prefix"-*; do
    [ -e "$a" ] || continue
    case $(basename "$a") in *-timeout-*) found=1 ;; *) return 1 ;; esac
    for i in 1 2 3; do
      "$bin" "${LIMITS[@]}" "$a" >"$a.rerun.log" 2>&1 || return 1
    done
    echo "fuzz: $(basename "$bin") timed out on $(basename "$a") while the machine was busy;" \
      "alone it ran $(grep -oE 'in [0-9]+ ms' "$a.rerun.log" | head -1) (3 of 3 runs): not a finding"
    rm -f "$a" "$a.rerun.log"
  done
  [ "$found" = 1 ]
}
# BIN DIR LOG: every regression input in DIR runs clean; one that times out counts only
# if it times out again when run alone, as stalled() decides for a fuzzing finding (a
# CI run timed out on a 30 ms input while a clang build shared the 2 cores).
regressions_pass() {
  local bin=$1 dir=$2 log=$3 a i
  : >"$log"
  for a in "$dir"/*; do
    nice "$bin" "${LIMITS[@]}" "$a" >>"$log" 2>&1 && continue
    grep -q 'ERROR: libFuzzer: timeout' "$log" || return 1
    for i in 1 2 3; do
      "$bin" "${LIMITS[@]}" "$a" >"$log.rerun" 2>&1 || { cat "$log.rerun" >>"$log"; return 1; }
    done
    echo "fuzz: $(basename "$bin") timed out on regression $(basename "$a") while the" \
      "machine was busy; alone it ran $(grep -oE 'in [0-9]+ ms' "$log.rerun" | head -1)" \
      "(3 of 3 runs): not a failure"
    : >"$log"
  done
}
table="| target | executions | peak RSS (MB) | result |"$'\n'"|---|---:|---:|---|"
failed=0
for bin in "$BUILD"/*_fuzz; do
  name=$(basename "$bin")
  if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then continue; fi
  regress=tests/fuzz/regressions/$name
  if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
    echo "fuzz: $name over $(ls "$regress" | wc -l) regression inputs"
    if ! regressions_pass "$bin" "$regress" "$work/$name.regress.log"; then
      tail -40 "$work/$name.regress.log"
      echo "fuzz: $name FAILED on a regression input"
      table+=$'\n'"| $name | - | - | regression failed |"
      failed=1
      continue
    fi
  fi
  dict=()
  parts=$(dicts_for "$name")
  if [ -n "$parts" ]; then
    for p in $parts; do cat "tests/fuzz/dicts/$p.dict"; done >"$work/$name.dict"
    dict=(-dict="$work/$name.dict")
  fi
  mkdir -p "$work/corpus/$name" "$work/seeds/$name"
  echo "fuzz: $name (${budget[*]})"
  result=clean
  if ! nice "$bin" "${LIMITS[@]}" "${budget[@]}" "${dict[@]}" -print_final_stats=1 \
      -artifact_prefix="$work/$name-" "$work/corpus/$name" "$work/seeds/$name" \
      >"$work/$name.log" 2>&1 && ! stalled "$bin" "$work/$name"; then
    tail -60 "$work/$name.log"
    for a in "$work/$name"-*; do
      [ -e "$a" ] || continue
      mkdir -p "$SRC/build-fuzz-artifacts"
      cp "$a" "$SRC/build-fuzz-artifacts/"
      echo "fuzz: input kept as build-fuzz-artifacts/$(basename "$a"); once fixed, add it to $regress/"
    done
    echo "fuzz: $name FAILED"
    result=FAILED
    failed=1
  fi
  execs=$(grep -oE 'stat::number_of_executed_units: +[0-9]+' "$work/$name.log" | grep -o '[0-9]*$' || echo -)
  rss=$(grep -oE 'stat::peak_rss_mb: +[0-9]+' "$work/$name.log" | grep -o '[0-9]*$' || echo -)
  echo "  executions $execs, peak RSS ${rss} MB"
  table+=$'\n'"| $name | $execs | $rss | $result |"
  if [ "$failed" = 1 ] && [ "$long" = 0 ]; then break; fi
done
echo "$table"
if [ -n "$report" ]; then echo "$table" >"$report"; fi
if [ "$failed" = 1 ]; then echo "fuzz: FAILED"; exit 1; fi
echo "fuzz: all targets ran clean"
