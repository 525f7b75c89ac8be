#!/usr/bin/env bash
# Crash states in the spirit of ALICE (docs/reliability.md, "Crash states (ALICE-style)"):
# records the file-system calls of replication sessions (native batch, native with per-file
# fsyncs, native plain, SSYNC PUT/POST/DELETE, each with node0's handoff revert and the
# hashes.pkl rewrites) under strace, builds every crash state POSIX allows after each call,
# and checks each through Swift's DiskFile: every object whole somewhere, nothing
# acknowledged missing, nothing partial under a name Swift reads.
#
#   scripts/crashstates.sh [--long] [--ops native-batch,ssync,...] [--sizes 4,12]
#                          [--out DIR] [--seed N]
#
# Default: native batch + SSYNC with 4 objects per partition (about a minute; CTest
# crashstates.reduced). --long: all four operations, with 4, 12 and 40 objects per
# partition (a batch of 8+ small files takes the syncfs path). Results: DIR/table.md and
# DIR/results.json (default ./crashstates-results); exits 1 on any violation, or if the
# self-check (the same recording with its syncs dropped) finds none. Needs strace.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v strace >/dev/null || { echo "crashstates: strace is needed (scripts/install-deps.sh)" >&2; exit 1; }
export REPLICANT_BIN=${REPLICANT_BIN:-$PWD/build/replicant}
if [ ! -x "$REPLICANT_BIN" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j 2 --target replicant
fi
exec /usr/bin/python3 tests/crashstates/run.py "$@"
