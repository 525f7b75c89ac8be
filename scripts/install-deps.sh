#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking replicant needs.
# Extra package names given as arguments are installed too (bench/setup.sh).
# Idempotent; needs root (or sudo).
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config
  libcurl4-openssl-dev libboost-program-options-dev libfmt-dev libspdlog-dev catch2
  librsync-dev zlib1g-dev libssl-dev nlohmann-json3-dev libsystemd-dev
  rsync attr
  swift swift-object python3-swift python3-pytest
  # the SAIO of Swift's probe tests (tests/saio/): the other servers, memcached; nose,
  # swiftclient and mock (Swift's test/probe imports them); dpkg-dev, xz-utils: apt-get source
  swift-proxy swift-account swift-container memcached python3-nose python3-swiftclient
  python3-mock dpkg-dev xz-utils
  clang libclang-rt-14-dev
  # systemd-analyze verifies the units in the tests
  systemd
  # GNU time: peak RSS and CPU seconds in bench/ (its smoke run is a test)
  time tar
  # strace records the file-system calls of tests/crashstates (scripts/crashstates.sh)
  strace
  "$@"
)
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # Debian's swift packages try to start services through invoke-rc.d; in containers
  # there is no init, which is harmless.
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
