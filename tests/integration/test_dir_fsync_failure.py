"""A receiver whose directory fsync fails must not keep the file it answered failure for.

`replicant serve` runs under tests/reliability/fsync_fail_shim.c (LD_PRELOAD), which makes
every fsync of the objects' hash dirs fail with EIO. The sender pushes handoff objects to
it: the receiver must answer failure AND take the renamed files back, since their names
may not survive a crash. Otherwise the next pass is answered "exists" from the directory
listing and the sender deletes its handoff copy of a file that was never durable.
Covers the native protocol with batches (deferred dir fsyncs), without them (the plain
protocol: one put at a time), and SSYNC.
"""
import os
import subprocess
import tempfile

import pytest

from cluster import Cluster, ManagedProcess, wait_for_port
from interop import ACCOUNT, CONTAINER, object_files, replicate, start_server
from replicant_test import REPLICANT_BIN, SOURCE_DIR

SHIM_SOURCE = os.path.join(SOURCE_DIR, 'tests', 'reliability', 'fsync_fail_shim.c')


@pytest.fixture(scope='module')
def shim():
    out = tempfile.mkdtemp(prefix='fsync-fail-shim-')
    path = os.path.join(out, 'fsync_fail_shim.so')
    subprocess.run(['cc', '-shared', '-fPIC', '-o', path, SHIM_SOURCE, '-ldl'], check=True)
    yield path
    os.unlink(path)
    os.rmdir(out)


def start_failing_server(c, node, shim, match):
    """`replicant serve` on node whose fsyncs of dirs matching `match` all fail."""
    log = os.path.join(c.log_dir, '%s-replicant-serve.log' % node.name)
    env = dict(c.env, LD_PRELOAD=shim, FSYNC_FAIL_DIR_MATCH=match, FSYNC_FAIL_DIR_COUNT='-1',
               FSYNC_FAIL_DIR_LOG=os.path.join(c.dir, '%s-failed-fsyncs' % node.name))
    p = ManagedProcess('%s-replicant-serve' % node.name,
                       [REPLICANT_BIN, 'serve', node.conf_path, '-v'], log, env=env, cwd=c.dir)
    c._procs.append(p)
    wait_for_port(node.replication_port, timeout=20, proc=p)
    return p


def handoff_objects(c, src, count):
    """count names whose primaries do not include src, written on src only."""
    names = [n for n in ('durable-%03d' % i for i in range(300))
             if not c.is_primary(src, ACCOUNT, CONTAINER, n)][:count]
    bodies = {n: os.urandom(100 + i) for i, n in enumerate(names)}
    for n, body in bodies.items():
        c.write_object_on(src, ACCOUNT, CONTAINER, n, body)
    return bodies


@pytest.mark.parametrize('sync', ['native-batch', 'native-plain', 'ssync'])
def test_a_file_whose_dir_fsync_failed_is_neither_kept_nor_answered_exists(shim, sync):
    options = {'sync_method': 'ssync' if sync == 'ssync' else 'native',
               'native_extensions': '' if sync == 'native-plain' else 'batch,delta,md5',
               'http_timeout': 5, 'node_timeout': 5}
    with Cluster(nodes=3, replicas=2, part_power=2, replication='external',
                 replicator_options=options) as c:
        src = c.nodes[0]
        bodies = handoff_objects(c, src, 3)
        victim = sorted(bodies)[0]
        victim_hash = c.object_hash(ACCOUNT, CONTAINER, victim)
        prims = [p.node for p in c.primaries(ACCOUNT, CONTAINER, victim)]
        servers = {n.name: (start_failing_server(c, n, shim, victim_hash) if n in prims
                            else start_server(c, n)) for n in c.nodes[1:]}
        try:
            p = replicate(src, check=False)
            failed = [open(os.path.join(c.dir, '%s-failed-fsyncs' % n.name)).read()
                      for n in prims if os.path.exists(os.path.join(c.dir,
                                                                    '%s-failed-fsyncs' % n.name))]
            assert any(victim_hash in f for f in failed), (failed, p.stderr[-3000:])
            # Answered failure: the sender keeps its handoff copy...
            assert object_files(c, src, victim_hash), p.stderr[-3000:]
            # ...and no receiver shows a file whose name is not durable.
            for n in prims:
                assert not object_files(c, n, victim_hash), (n.name, p.stderr[-3000:])
            # The disk recovers: the next pass must send the victim again, not be told
            # it exists, and only then may the handoff go.
            for n in prims:
                servers[n.name].stop()
                servers[n.name] = start_server(c, n)
            p = replicate(src)
            for name, body in bodies.items():
                for prim in c.primaries(ACCOUNT, CONTAINER, name):
                    r = c.get_object(prim.node, ACCOUNT, CONTAINER, name, device=prim.device)
                    assert r.status == 200 and r.body == body, (name, prim.node.name)
                assert not object_files(c, src, c.object_hash(ACCOUNT, CONTAINER, name)), name
        finally:
            for s in servers.values():
                s.stop(grace=2)
