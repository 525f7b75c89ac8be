#!/usr/bin/env bash
# Sets up everything on a fresh Debian machine (apt packages included), builds replicant,
# and runs one replication pass on a self-contained loopback Swift cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec /usr/bin/python3 scripts/demo.py "$@"
