#!/usr/bin/env bash
# Installs what the benchmarks need: scripts/install-deps.sh's packages (Swift, rsync, build
# tools, GNU time) plus matplotlib for the PNG charts. Then builds the replicant binary,
# tools/durable_copy (the durable copies), tools/partition_ref (the growth curves'
# reference) and tools/delay_relay (--rtt-ms) into $BUILD_DIR (default build-bench;
# BENCH_SKIP_BUILD=1 skips it).
# Idempotent; needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh python3-matplotlib
if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  # only the binaries the bench runs (the tests are not needed to benchmark)
  BUILD_DIR=${BUILD_DIR:-build-bench}
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target replicant durable_copy partition_ref delay_relay
fi
