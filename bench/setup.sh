#!/usr/bin/env bash
# Installs what the benchmarks need on top of scripts/install-deps.sh (Swift, rsync, build
# tools): matplotlib for the PNG charts and GNU time for peak RSS / CPU seconds. Then builds
# the replicant binary into $BUILD_DIR (default build-bench; BENCH_SKIP_BUILD=1 skips it).
# Idempotent; needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
PKGS=(python3-matplotlib time tar)
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench/setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  # only the replicant binary (the tests are not needed to benchmark)
  BUILD_DIR=${BUILD_DIR:-build-bench}
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target replicant
fi
