#!/usr/bin/env bash
# The instrumented clang build that scripts/fuzz.sh and scripts/sanitize.sh share
# (docs/reliability.md, "Sanitizer build"): every library, `replicant`, the unit tests,
# the test tools and the libFuzzer targets, compiled once with ASan + UBSan (any report
# fatal) and libFuzzer's coverage instrumentation. Coverage without the libFuzzer runtime
# links into ordinary binaries, so one build serves both suites; on CI's two cores that
# saves a second full compile (~12 minutes).
#
#   scripts/clang-build.sh     configure (once) and build $CLANG_BUILD_DIR (default build-clang)
#
# Prints the build dir's path on its last line. Idempotent: an up-to-date tree costs
# seconds. Uses ccache when it is installed. Builds at -O1 -g1: about half the compile
# time of -O2 -g, with line numbers in every stack.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${CLANG_BUILD_DIR:-$SRC/build-clang}
JOBS=${CLANG_BUILD_JOBS:-$(nproc)}
mkdir -p "$BUILD"
# One build at a time per tree: fuzz.brief and sanitize.asan may start together.
exec 9>"$BUILD/.build-lock"
flock 9
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  CC=${FUZZ_CC:-clang} CXX=${FUZZ_CXX:-clang++} cmake -S "$SRC" -B "$BUILD" \
    -DREPLICANT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" "${launcher[@]}" >/dev/null
fi
start=$SECONDS
cmake --build "$BUILD" -j "$JOBS" >"$BUILD/build.log" 2>&1 || {
  tail -50 "$BUILD/build.log" >&2; echo "clang-build: FAILED (log: $BUILD/build.log)" >&2; exit 1; }
echo "clang-build: $((SECONDS - start)) s" >&2
echo "$BUILD"
