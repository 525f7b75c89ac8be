#!/usr/bin/python3
"""Derives deb-src entries for Debian's archive from the machine's own apt sources.

`apt-get source swift` needs a deb-src entry for the suites the machine installs from, so
that the source matches the installed swift. This prints one deb822 stanza per enabled
`deb` entry of a Debian archive (deb.debian.org, security.debian.org, or a URI with
/debian in it) found in /etc/apt/sources.list and /etc/apt/sources.list.d/*.{list,sources},
with Types: deb-src. The caller (fetch_swift.sh) writes them to the file it owns.
"""
import glob
import re
import sys


def is_debian(uri):
    return 'debian' in uri


def one_line_entries(path):
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            m = re.match(r'^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$', line)
            if m and is_debian(m.group(2)):
                opts = m.group(1) or ''
                signed = re.search(r'signed-by=(\S+?)[\s\]]', opts)
                yield m.group(2), [m.group(3)], m.group(4).split(), \
                    signed.group(1) if signed else None


def deb822_entries(path):
    with open(path) as f:
        stanzas = re.split(r'\n\s*\n', f.read())
    for stanza in stanzas:
        fields = {}
        for line in stanza.splitlines():
            if line.startswith('#') or ':' not in line or line[:1].isspace():
                continue
            key, value = line.split(':', 1)
            fields[key.strip().lower()] = value.strip()
        if 'deb' not in fields.get('types', '').split():
            continue
        if fields.get('enabled', 'yes').lower() == 'no':
            continue
        for uri in fields.get('uris', '').split():
            if is_debian(uri):
                yield uri, fields.get('suites', '').split(), \
                    fields.get('components', '').split(), fields.get('signed-by')


def main():
    entries = []
    files = ['/etc/apt/sources.list'] + sorted(glob.glob('/etc/apt/sources.list.d/*.list'))
    for path in files:
        try:
            entries.extend(one_line_entries(path))
        except FileNotFoundError:
            pass
    for path in sorted(glob.glob('/etc/apt/sources.list.d/*.sources')):
        if path.endswith('/replicant-src.sources'):
            continue
        entries.extend(deb822_entries(path))
    if not entries:
        sys.exit('debsrc: no Debian archive in /etc/apt/sources.list*: cannot derive deb-src')
    out = ['# Written by replicant tests/saio/fetch_swift.sh: deb-src for the suites this '
           'machine installs from, so `apt-get source swift` works. Safe to remove.']
    seen = set()
    for uri, suites, comps, signed in entries:
        key = (uri, tuple(suites), tuple(comps))
        if key in seen:
            continue
        seen.add(key)
        stanza = ['Types: deb-src', 'URIs: ' + uri, 'Suites: ' + ' '.join(suites),
                  'Components: ' + ' '.join(comps)]
        if signed:
            stanza.append('Signed-By: ' + signed)
        out.append('\n'.join(stanza))
    print('\n\n'.join(out))


if __name__ == '__main__':
    main()
