#!/usr/bin/env bash
# Fetches Swift's source (test/probe, doc/saio) from Debian's source package of the
# installed swift, into a cache dir; prints the unpacked tree's path. Reruns reuse it.
#   fetch_swift.sh CACHE_DIR
# Adds a deb-src file it owns (/etc/apt/sources.list.d/replicant-src.sources, derived from
# the machine's own sources by debsrc.py) when apt knows no source for swift.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${1:?usage: fetch_swift.sh CACHE_DIR}"
version="$(dpkg-query -W -f='${Version}' swift 2>/dev/null || true)"
[ -n "$version" ] || { echo "fetch_swift: the swift package is not installed (scripts/install-deps.sh)" >&2; exit 2; }
upstream="${version#*:}"; upstream="${upstream%%-*}"
tree="$cache/swift-$upstream"
if [ -f "$tree/.replicant-complete" ]; then echo "$tree"; exit 0; fi
mkdir -p "$cache"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if ! apt-get source --print-uris -q "swift=$version" >/dev/null 2>&1; then
  list=/etc/apt/sources.list.d/replicant-src.sources
  echo "fetch_swift: adding deb-src entries in $list" >&2
  python3 "$here/debsrc.py" | $SUDO tee "$list" >/dev/null
  $SUDO apt-get update -q >&2
fi
rm -rf "$tree"
# apt-get source unpacks with dpkg-source (dpkg-dev); as root it warns that the download
# is unsandboxed, which is harmless here.
if ! (cd "$cache" && apt-get source -q "swift=$version" >&2); then
  # Some mirrors serve the tarballs but not the .dsc (seen: a 404 on debian-security's).
  # apt checked the tarballs it did fetch against the Sources index; check again here and
  # unpack them as dpkg-source would: the orig tarball, debian/, then debian/patches.
  echo "fetch_swift: apt-get source failed; unpacking its verified tarballs" >&2
  rm -rf "$tree"
  sums="$(apt-cache showsrc swift | awk -v v="$version" '/^Version:/{m=($2==v)} /^Checksums-Sha256:/{f=m;next} /^[^ ]/{f=0} f{print $1"  "$3}' | sort -u)"
  orig="swift_$upstream.orig.tar.xz"; deb="swift_${version#*:}.debian.tar.xz"
  for f in "$orig" "$deb"; do
    grep -q "  $f\$" <<<"$sums" || { echo "fetch_swift: $f not in apt's Sources index" >&2; exit 1; }
    (cd "$cache" && grep "  $f\$" <<<"$sums" | sha256sum -c --quiet -) \
      || { echo "fetch_swift: $cache/$f missing or its sha256 differs" >&2; exit 1; }
  done
  tar -xJf "$cache/$orig" -C "$cache"
  tar -xJf "$cache/$deb" -C "$tree"
  if [ -f "$tree/debian/patches/series" ]; then
    grep -v '^\s*\(#\|$\)' "$tree/debian/patches/series" | while read -r patch _; do
      patch -d "$tree" -p1 -s -N < "$tree/debian/patches/$patch" >&2
    done
  fi
fi
for need in test/probe doc/saio/bin/remakerings doc/saio/swift/swift.conf; do
  [ -e "$tree/$need" ] || { echo "fetch_swift: $tree/$need missing after apt-get source" >&2; exit 1; }
done
touch "$tree/.replicant-complete"
echo "$tree"
