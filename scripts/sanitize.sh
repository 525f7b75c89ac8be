#!/usr/bin/env bash
# The sanitizer build (docs/reliability.md, "Sanitizer build").
#
#   scripts/sanitize.sh            ASan + UBSan (+ LeakSanitizer): build, unit tests, then the
#                                  integration tests that drive `replicant serve` and
#                                  `replicant replicate` with the sanitized binary
#   scripts/sanitize.sh --thread   ThreadSanitizer: build, unit tests only
#
# Build: ASan + UBSan use the instrumented clang build shared with scripts/fuzz.sh
# (scripts/clang-build.sh, $CLANG_BUILD_DIR, default build-clang); --thread builds its own
# ($SANITIZE_BUILD_DIR, default build-tsan).
# SANITIZE_TESTS: the integration tests to run (a ctest -R regex; default SERVE_REPLICATE).
# Every report, in unit_tests or in any replicant process a Python test starts, is written
# to <build>/sanitizer-reports/ (log_path) and fails the run, even if the test passed.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
# The integration tests that start `replicant serve` or `replicant replicate`, but those
# that bound peak RSS (test_hostile_input, test_peer_cost_bounds): ASan's shadow memory,
# redzones and quarantine make a sanitized process several times larger.
SERVE_REPLICATE='^integration\.test_(serve_replicate|serve_safety|native|hostile_peers|ssync_compat|replicator_rsync_serve|handoff_safety)$'
if [ "${1:-}" = --thread ]; then
  MODE=thread BUILD=${SANITIZE_BUILD_DIR:-$SRC/build-tsan}
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # -O1 -g1: about half the compile time of -O2 -g, and line numbers in every stack.
  cmake -S "$SRC" -B "$BUILD" -DREPLICANT_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" "${launcher[@]}" >/dev/null
  start=$SECONDS
  cmake --build "$BUILD" -j "$(nproc)" >"$BUILD/build.log" 2>&1 || { tail -50 "$BUILD/build.log"; exit 1; }
  echo "sanitize: thread build took $((SECONDS - start)) s"
else
  MODE=address
  BUILD=$(scripts/clang-build.sh | tail -1)
fi
REPORTS=$BUILD/sanitizer-reports

rm -rf "$REPORTS" && mkdir -p "$REPORTS"
supp=$SRC/tests/sanitizers
# verify_asan_link_order=0: test_handoff_safety LD_PRELOADs its fault-injection shim.
export ASAN_OPTIONS="log_path=$REPORTS/asan:halt_on_error=1:detect_leaks=1:abort_on_error=0:verify_asan_link_order=0"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="log_path=$REPORTS/ubsan:halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="log_path=$REPORTS/tsan:halt_on_error=1:second_deadlock_stack=1"

reports() {  # prints every report; true if there was none
  local found=0 f
  for f in "$REPORTS"/*; do
    [ -e "$f" ] || continue
    found=1
    echo "=== sanitizer report $f"
    cat "$f"
  done
  [ "$found" = 0 ]
}

status=0
start=$SECONDS
(cd "$BUILD" && ./unit_tests) >"$BUILD/unit_tests.log" 2>&1 || {
  # Each failed assertion with its test case's name, without the servers' log lines
  # around it (a plain tail showed only those), then Catch's summary.
  grep -B10 -A10 ' FAILED:$' "$BUILD/unit_tests.log" | grep -v '^\[20' || true
  tail -3 "$BUILD/unit_tests.log"; echo "sanitize: unit tests FAILED"; status=1; }
echo "sanitize: unit tests took $((SECONDS - start)) s"
if [ "$MODE" = address ]; then
  start=$SECONDS
  ctest --test-dir "$BUILD" -R "${SANITIZE_TESTS:-$SERVE_REPLICATE}" --output-on-failure \
    -j "${SANITIZE_JOBS:-2}" || { echo "sanitize: integration tests FAILED"; status=1; }
  echo "sanitize: integration tests took $((SECONDS - start)) s"
fi
if ! reports; then
  echo "sanitize: sanitizer reports above"
  status=1
fi
[ "$status" = 0 ] && echo "sanitize: $MODE clean"
exit "$status"
