"""The demo, the tests and the bench never change the host's /etc/swift (nor /srv/node,
/var/cache/swift, /var/run/swift, /run/systemd): on a Swift node, a test swift.conf there
would make every object server put every name in another partition.

How it is proved: the test simulates a Swift node as the host. In a mount namespace of its
own, a sentinel directory is bind-mounted over /etc/swift (a swift.conf with another hash
prefix/suffix, mode 0640, and another file), and over each other host path that exists on
this machine. In that host it runs what the README's commands run: scripts/demo.py
(scripts/demo.sh runs it after building), then a cluster test and the systemd-analyze test
by CTest's command (tests/support/private_etc.py + pytest). Afterwards the sentinels are
byte-for-byte the same (modes too), the other paths that did not exist still do not, and the
Swift object server of a cluster put an object where the cluster's own prefix/suffix says,
not the sentinel's.

Why a simulated host rather than this machine's /etc/swift: CTest runs this test with a
private /etc/swift already, and on a shared machine other runs use the real one. To the code
under test the simulated host is a real one: a mount namespace with a plain /etc/swift and no
private one of its own (the REPLICANT_PRIVATE_ETC it inherits names another namespace, which
is how a leaked variable looks, and must not be trusted).
"""
import hashlib
import json
import os
import stat
import time

import pytest

import private_etc
from replicant_test import SOURCE_DIR, TEST_HASH_PREFIX, TEST_HASH_SUFFIX, run, write_swift_conf

PY = '/usr/bin/python3'
WRAPPER = os.path.join(SOURCE_DIR, 'tests', 'support', 'private_etc.py')
SENTINEL_PREFIX = 'sentinel-node-prefix'
SENTINEL_SUFFIX = 'sentinel-node-suffix'
OTHER_HOST_PATHS = ('/srv/node', '/var/cache/swift', '/var/run/swift', '/run/systemd')
# In the host: bind-mount each SRC over DST, then exec the command after `--`.
HOST_SH = ('while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 97; shift 2; done; '
           'shift; exec "$@"')

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not private_etc.namespace_possible(),
    reason='needs root and mount namespaces to simulate a host')


def snapshot(root):
    """{relative path: (bytes or None for a dir, mode)} of everything under root."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            data = None
            if stat.S_ISREG(st.st_mode):
                with open(p, 'rb') as f:
                    data = f.read()
            out[os.path.relpath(p, root)] = (data, stat.S_IMODE(st.st_mode))
    return out


class Host:
    """The simulated Swift node: sentinel dirs over /etc/swift and the other host paths."""

    def __init__(self, tmp_path):
        self.etc = str(tmp_path / 'host-etc-swift')
        conf = write_swift_conf(self.etc, SENTINEL_PREFIX, SENTINEL_SUFFIX,
                                ((0, 'node-gold', True), (1, 'node-silver', False)))
        os.chmod(conf, 0o640)
        with open(os.path.join(self.etc, 'object-server.conf'), 'w') as f:
            f.write('[DEFAULT]\n# the node\'s own, untouched\ndevices = /srv/node\n')
        self.binds = [(self.etc, '/etc/swift')]
        self.absent = []
        for i, path in enumerate(OTHER_HOST_PATHS):
            if os.path.isdir(path):
                d = str(tmp_path / ('host-%d' % i))
                os.makedirs(d)
                with open(os.path.join(d, 'sentinel'), 'wb') as f:
                    f.write(os.urandom(64))
                self.binds.append((d, path))
            else:
                self.absent.append(path)
        self.before = self.state()
        self.env = dict(os.environ)
        # As inherited from CTest's private namespace (or leaked): names another namespace.
        self.env[private_etc.ENV_INSIDE] = private_etc.mount_namespace()
        self.env.pop(private_etc.ENV_BACKUP, None)
        self.env.pop(private_etc.ENV_OPT_IN, None)
        support = os.path.join(SOURCE_DIR, 'tests', 'support')
        self.env['PYTHONPATH'] = os.pathsep.join(
            [support] + [p for p in self.env.get('PYTHONPATH', '').split(os.pathsep) if p])

    def state(self):
        return {src: snapshot(src) for src, _ in self.binds}

    def run(self, cmd, env=None, timeout=300):
        args = ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', HOST_SH,
                'host']
        for src, dst in self.binds:
            args += [src, dst]
        return run(args + ['--'] + cmd, check=False, env=env or self.env, timeout=timeout)

    def assert_untouched(self):
        assert self.state() == self.before, 'the host\'s Swift paths changed'
        for path in self.absent:
            assert not os.path.exists(path), '%s was created on the host' % path


def hash_dir(prefix, suffix, account, container, obj):
    """Swift's hash_path: the object's hash dir name under that prefix/suffix."""
    return hashlib.md5(('%s/%s/%s/%s%s' % (prefix, account, container, obj, suffix))
                       .encode()).hexdigest()


# One cluster, started through the wrapper as CTest starts a test: where did its Swift
# object server put an object, and what did its /etc/swift/swift.conf say?
CLUSTER_PROBE = r"""
import json
from cluster import Cluster
with Cluster(nodes=1, replicas=1, part_power=4, rsync=False) as c:
    r = c.write_object_on(c.nodes[0], 'AUTH_iso', 'c', 'o', b'x')
    assert r.status == 201, r
    with open('/etc/swift/swift.conf') as f:
        conf = f.read()
    print(json.dumps({'hashes': [f.hash for f in c.list_objects_on(c.nodes[0])],
                      'conf': conf}))
"""


def test_demo_and_cluster_tests_leave_host_etc_swift_alone(tmp_path):
    host = Host(tmp_path)
    t0 = time.monotonic()
    demo = host.run([PY, os.path.join(SOURCE_DIR, 'scripts', 'demo.py'), '--objects', '12'])
    print('demo: %.1fs\n%s\n%s' % (time.monotonic() - t0, demo.stdout, demo.stderr[-3000:]))
    assert demo.returncode == 0 and 'OK: all 12 objects' in demo.stdout
    host.assert_untouched()

    probe = host.run([PY, WRAPPER, PY, '-c', CLUSTER_PROBE])
    assert probe.returncode == 0, probe.stderr[-3000:]
    out = json.loads(probe.stdout.strip().splitlines()[-1])
    assert 'swift_hash_path_prefix = %s' % TEST_HASH_PREFIX in out['conf']
    # The Swift object server used the cluster's prefix/suffix, not the node's.
    assert out['hashes'] == [hash_dir(TEST_HASH_PREFIX, TEST_HASH_SUFFIX, 'AUTH_iso', 'c', 'o')]
    assert out['hashes'] != [hash_dir(SENTINEL_PREFIX, SENTINEL_SUFFIX, 'AUTH_iso', 'c', 'o')]
    host.assert_untouched()

    # Two tests by CTest's command: a cluster's, and systemd-analyze's (it writes in
    # /run/systemd).
    t0 = time.monotonic()
    tests = os.path.join(SOURCE_DIR, 'tests', 'integration')
    test = host.run([PY, WRAPPER, PY, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-W',
                     'ignore::DeprecationWarning',
                     os.path.join(tests, 'test_cluster_harness.py') +
                     '::test_swift_replicator_spreads_node0_objects[rsync]',
                     os.path.join(tests, 'test_ops_systemd.py') +
                     '::test_units_pass_systemd_analyze_verify'])
    print('tests: %.1fs\n%s' % (time.monotonic() - t0, test.stdout[-3000:]))
    assert test.returncode == 0 and ' passed' in test.stdout
    host.assert_untouched()


def test_outside_a_namespace_the_host_swift_conf_is_not_overwritten(tmp_path):
    """Started without the wrapper (e.g. pytest by hand), a cluster refuses to start: its
    first step is install_swift_conf."""
    host = Host(tmp_path)
    p = host.run([PY, '-c', 'import cluster; cluster.install_swift_conf()'])
    assert p.returncode != 0
    assert 'refusing to write /etc/swift/swift.conf outside a private mount namespace' \
        in p.stderr
    host.assert_untouched()


# The wrapper finds no unshare on this PATH, so it cannot make a namespace.
NO_UNSHARE = ['/usr/bin/env', 'PATH=/nonexistent']


def test_without_a_namespace_a_differing_swift_conf_is_refused(tmp_path):
    host = Host(tmp_path)
    p = host.run(NO_UNSHARE + [PY, WRAPPER, PY, '-c', 'print("ran")'])
    assert p.returncode == 2 and 'ran' not in p.stdout
    assert private_etc.ENV_OPT_IN in p.stderr
    host.assert_untouched()


# Two overlapping runs under the opt-in, as CTest -j2 makes them: A starts, B starts, A ends
# (the driver then touches a-out), B checks that the test swift.conf is still in place.
OVERLAP_CHILD = r"""
import os, sys, time
import cluster
cluster.install_swift_conf()
d, me = sys.argv[1], sys.argv[2]
open(os.path.join(d, me + '-in'), 'w').close()
wait_for = os.path.join(d, 'b-in' if me == 'a' else 'a-out')
deadline = time.time() + 60
while not os.path.exists(wait_for):
    assert time.time() < deadline, 'timed out waiting for ' + wait_for
    time.sleep(0.05)
with open('/etc/swift/swift.conf') as f:
    print(f.read())
"""
OVERLAP_DRIVER = r"""
import os, subprocess, sys, time
wrapper, child, d = sys.argv[1:4]
def wait(path):
    deadline = time.time() + 60
    while not os.path.exists(path):
        assert time.time() < deadline, 'timed out waiting for ' + path
        time.sleep(0.05)
a = subprocess.Popen(['/usr/bin/python3', wrapper, '/usr/bin/python3', '-c', child, d, 'a'])
wait(os.path.join(d, 'a-in'))
b = subprocess.Popen(['/usr/bin/python3', wrapper, '/usr/bin/python3', '-c', child, d, 'b'],
                     stdout=subprocess.PIPE, text=True)
assert a.wait() == 0
open(os.path.join(d, 'a-out'), 'w').close()
out = b.communicate()[0]
assert b.returncode == 0
print(out)
"""


def test_opt_in_overwrites_and_restores_even_with_overlapping_runs(tmp_path):
    host = Host(tmp_path)
    sync = str(tmp_path / 'sync')
    os.makedirs(sync)
    env = dict(host.env, **{private_etc.ENV_OPT_IN: '1'})
    p = host.run(NO_UNSHARE + [PY, '-c', OVERLAP_DRIVER, WRAPPER, OVERLAP_CHILD, sync], env=env)
    print(p.stdout, p.stderr[-3000:])
    assert p.returncode == 0
    # B, still running after A had ended, saw the test swift.conf (its servers need it) ...
    assert 'swift_hash_path_prefix = %s' % TEST_HASH_PREFIX in p.stdout
    assert p.stderr.count('%s restored' % private_etc.SWIFT_CONF) == 1
    # ... and the node's swift.conf is back, bytes and mode, with no backup left behind.
    host.assert_untouched()
