#!/usr/bin/env bash
# Sets up everything on a fresh Debian machine (apt packages included), builds replicant,
# and runs one replication pass on a self-contained loopback Swift cluster. demo.py runs
# itself in a private mount namespace (tests/support/private_etc.py): the cluster's
# swift.conf never replaces the host's /etc/swift/swift.conf.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec /usr/bin/python3 scripts/demo.py "$@"
