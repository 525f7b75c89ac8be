"""Shared helpers for replicant's Python integration and differential tests.

Tests run under Debian's /usr/bin/python3 so that Swift 2.30 (python3-swift) is
importable; CTest sets REPLICANT_BIN, REPLICANT_TOOLS_DIR and REPLICANT_SOURCE_DIR.
"""
import os
import random
import subprocess
import sys

SOURCE_DIR = os.environ.get(
    'REPLICANT_SOURCE_DIR',
    os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
BUILD_DIR = os.environ.get('REPLICANT_BUILD_DIR', os.path.join(SOURCE_DIR, 'build'))
REPLICANT_BIN = os.environ.get('REPLICANT_BIN', os.path.join(BUILD_DIR, 'replicant'))
TOOLS_DIR = os.environ.get('REPLICANT_TOOLS_DIR', os.path.join(BUILD_DIR, 'tools'))

# The hash path prefix/suffix every test cluster uses. Swift daemons always read
# /etc/swift/swift.conf, so tests that start them write this there: a private one
# (private_etc.py), never the host's.
TEST_HASH_PREFIX = 'replicant-test-prefix'
TEST_HASH_SUFFIX = 'replicant-test-suffix'


def tool(name):
    """Path of a test-only program built from tests/tools/NAME.cc."""
    return os.path.join(TOOLS_DIR, name)


def seeded_random(test_name):
    """A random.Random with a seed printed for reproduction (REPLICANT_SEED overrides)."""
    seed = int(os.environ.get('REPLICANT_SEED', random.randrange(1 << 30)))
    print('%s: seed %d (set REPLICANT_SEED=%d to reproduce)' % (test_name, seed, seed),
          file=sys.stderr)
    return random.Random(seed)


def run(args, check=True, **kw):
    """Runs a command, returning CompletedProcess with text output."""
    kw.setdefault('stdout', subprocess.PIPE)
    kw.setdefault('stderr', subprocess.PIPE)
    kw.setdefault('timeout', 300)
    p = subprocess.run(args, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError('%s exited %d\nstdout:\n%s\nstderr:\n%s' % (
            args, p.returncode, p.stdout, p.stderr))
    return p


def set_swift_hash(prefix=TEST_HASH_PREFIX, suffix=TEST_HASH_SUFFIX):
    """Points the in-process Swift library at a hash prefix/suffix."""
    from swift.common import utils
    utils.HASH_PATH_PREFIX = prefix.encode() if isinstance(prefix, str) else prefix
    utils.HASH_PATH_SUFFIX = suffix.encode() if isinstance(suffix, str) else suffix


def write_swift_conf(swift_dir, prefix=TEST_HASH_PREFIX, suffix=TEST_HASH_SUFFIX,
                     policies=((0, 'gold', True),)):
    """Writes swift_dir/swift.conf with the given hash settings and replication policies."""
    os.makedirs(swift_dir, exist_ok=True)
    lines = ['[swift-hash]', 'swift_hash_path_prefix = %s' % prefix,
             'swift_hash_path_suffix = %s' % suffix, '']
    for index, name, default in policies:
        lines += ['[storage-policy:%d]' % index, 'name = %s' % name,
                  'policy_type = replication']
        if default:
            lines.append('default = yes')
        lines.append('')
    path = os.path.join(swift_dir, 'swift.conf')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    return path
