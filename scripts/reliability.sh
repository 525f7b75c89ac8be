#!/usr/bin/env bash
# The reliability suite (docs/reliability.md): an LD_PRELOAD shim fails the Nth call
# of each kind (open, read, write, fsync, rename, dir, unlink, mkdir, xattr, fallocate, net)
# in replicant's sender and receiver, kills them (and Swift's object server) with -9 at
# random moments, and races client PUTs into a handoff, on a small loopback Swift cluster;
# after every run each object must read back somewhere through Swift's DiskFile, no partial
# file may sit under a name Swift reads, and one clean pass must converge.
#
#   scripts/reliability.sh [--long] [--out DIR] [--seed N] [--only BACKEND[:SIDE],...]
#                          [--parts faults,kills,races] [--stop-after SECONDS]
#
# Default: the reduced suite (3 handoff-partition call sites per kind, 6 kills per backend,
# 4 races per sender; minutes on 2 cores; CTest reliability.reduced). --long: every call
# site and every index up to --max-index (60) per (kind, errno) class, >= 100 kills per
# backend (--kills), 30 races per sender (--races). Options: run.py --help.
# Results: DIR/table.md and DIR/results.json (default ./reliability-results); exits 1 if
# anything was lost, partial or left unconverged. REPLICANT_BIN picks the binary
# (default build/replicant, built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export REPLICANT_BIN=${REPLICANT_BIN:-$PWD/build/replicant}
if [ ! -x "$REPLICANT_BIN" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j 2 --target replicant
fi
exec /usr/bin/python3 tests/reliability/run.py "$@"
