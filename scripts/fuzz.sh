#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cc) with clang, ASan and UBSan in their
# own build dir, and runs each for FUZZ_SECONDS (default 30) from generated seeds.
# Exits non-zero on any crash, leak, sanitizer report or timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${FUZZ_BUILD_DIR:-$SRC/build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang} CXX=${FUZZ_CXX:-clang++} cmake -S "$SRC" -B "$BUILD" \
  -DREPLICANT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tests/fuzz/make_seeds.py "$work/seeds"
for bin in "$BUILD"/*_fuzz; do
  name=$(basename "$bin")
  mkdir -p "$work/$name"
  echo "fuzz: $name for ${SECONDS_EACH}s"
  # -timeout: one input taking over 10 s is a hang.
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/$name" "$work/seeds" 2>"$work/$name.log" || {
      tail -60 "$work/$name.log"; echo "fuzz: $name FAILED"; exit 1; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$name.log" | sed "s/^/  /"
done
echo "fuzz: all targets ran clean"
