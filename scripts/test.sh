#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, differential against Swift,
# integration against real Swift processes) through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j 2 "$@"
