#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, differential against Swift,
# integration against real Swift processes) through CTest. CTest runs each test that starts
# Swift in a private mount namespace (tests/support/private_etc.py): the host's /etc/swift
# is never written.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j 2 "$@"
