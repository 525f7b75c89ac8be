#!/usr/bin/env bash
# Swift's own probe tests (Swift 2.30.1's test/probe, from Debian's swift source package)
# on a SAIO, with Swift's replicator (baseline) and with replicant (issue 17):
#   scripts/probe.sh [--variants baseline,rsync,ssync,native,mixed|all] [--modules a.py,...]
# Default: all variants, the five modules of docs/probe.md. Installs the packages, builds
# replicant, fetches Swift's source (cached in build/saio-src), runs each variant in its
# own mount, network and pid namespaces (tests/saio/), prints the table. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec nice /usr/bin/python3 tests/saio/probe.py --replicant "${BUILD_DIR:-build}/replicant" "$@"
