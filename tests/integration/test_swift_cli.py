"""replicant takes swift-object-replicator's command line, as Swift's own tools pass it.

* `swift-object-replicator CONF once verbose` (the symlink the build makes next to the
  binary, which `cmake --install` installs with -DREPLICANT_SWIFT_ENTRY_POINT=ON) runs one
  pass of replicant and exits 0, and the objects reach their primaries;
* `replicant replicate CONF once` and `-o`, and extra words (Swift's extra_args) are
  ignored with a warning;
* -d/-p/-i without once are ignored with a warning (Swift ignores them), not exit 2;
* Swift's Manager (the code behind `swift-init object-replicator once`; Debian ships the
  module but not the swift-init script) starts replicant when the symlink comes first on
  PATH, reading /etc/swift/object-server.conf — which here is the private /etc/swift of
  this test's mount namespace (tests/support/private_etc.py).
"""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

import private_etc
from cluster import Cluster
from objects import ACCOUNT, CONTAINER, check_spread, pick_objects
from replicant_test import REPLICANT_BIN, seeded_random

ENTRY = os.path.join(os.path.dirname(REPLICANT_BIN), 'swift-object-replicator')


@pytest.fixture
def cluster():
    with Cluster(nodes=4, replicas=3, part_power=4, recon=True) as c:
        yield c


def _write_objects(c, tag):
    objects = pick_objects(seeded_random(tag), c, c.nodes[0], count=8)
    for name, body, meta in objects:
        c.write_object_on(c.nodes[0], ACCOUNT, CONTAINER, name, body,
                          headers={'X-Object-Meta-Tag': meta})
    return objects


def _progress(node):
    """replicant's own progress file: proof that replicant, not Swift, ran the pass."""
    with open(os.path.join(node.recon_cache_path, 'replicant-progress.json')) as f:
        return json.load(f)


def test_entry_point_takes_swift_arguments(cluster):
    c = cluster
    objects = _write_objects(c, 'entry')
    assert os.path.islink(ENTRY) and os.path.realpath(ENTRY) == os.path.realpath(REPLICANT_BIN)
    p = subprocess.run([ENTRY, c.nodes[0].conf_path, 'once', 'verbose'],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert 'Object replication complete (once)' in p.stderr
    assert _progress(c.nodes[0])['last_pass'] is not None
    assert not check_spread(c, objects, c.nodes[0])


def test_replicate_words_and_flags(cluster):
    c = cluster
    conf = c.nodes[0].conf_path
    for argv in ([conf, 'once'], [conf, '-o', 'verbose'], [conf, 'once', 'something-else']):
        p = subprocess.run([REPLICANT_BIN, 'replicate'] + argv, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, (argv, p.stderr[-3000:])
        assert 'Object replication complete (once)' in p.stderr, argv
    assert "ignoring extra argument 'something-else'" in p.stderr


def test_overrides_without_once_are_ignored(cluster):
    c = cluster
    proc = subprocess.Popen([REPLICANT_BIN, 'replicate', c.nodes[0].conf_path, '-d', 'sdb9',
                             '-p', '1'], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        # The daemon runs its passes; the override warning comes first.
        while time.time() < deadline and proc.poll() is None:
            if os.path.exists(os.path.join(c.nodes[0].recon_cache_path,
                                           'replicant-progress.json')):
                break
            time.sleep(0.1)
        assert proc.poll() is None, 'replicate exited %s' % proc.returncode
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert '-d/-p/-i only apply with once; ignored' in err
    assert proc.returncode == 0, err[-3000:]


def test_swift_init_starts_replicant(cluster, tmp_path):
    if not private_etc.inside():
        pytest.skip('needs the private /etc/swift of tests/support/private_etc.py')
    c = cluster
    objects = _write_objects(c, 'swift-init')
    shutil.copy(c.nodes[0].conf_path, '/etc/swift/object-server.conf')
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    os.symlink(os.path.realpath(REPLICANT_BIN), bindir / 'swift-object-replicator')
    env = dict(c.env, PATH='%s:%s' % (bindir, c.env['PATH']))
    # What swift-init's main() does for `swift-init object-replicator once`.
    script = ('import sys\nfrom swift.common.manager import Manager\n'
              "sys.exit(Manager(['object-replicator']).run_command('once'))\n")
    p = subprocess.run(['/usr/bin/python3', '-c', script], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
    assert _progress(c.nodes[0])['last_pass'] is not None, p.stdout[-3000:]
    assert not check_spread(c, objects, c.nodes[0])
