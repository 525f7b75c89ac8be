#!/usr/bin/env bash
# Runs the side-by-side benchmarks (see docs/bench.md). Arguments go to bench/run.py;
# --setup first installs the packages and builds replicant (bench/setup.sh). run.py runs
# itself in a private mount namespace (tests/support/private_etc.py): the host's
# /etc/swift is never written.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --setup ]; then
  shift
  bench/setup.sh
fi
# Debian's Python: the one with Swift 2.30 (python3-swift) and matplotlib.
exec /usr/bin/python3 bench/run.py "$@"
