"""A handoff partition loses nothing when the local disk misbehaves during its revert.

Regression tests for issue 15's data-loss defects, each with every backend where it
applies, on loopback clusters of real Swift object servers (and `replicant serve` for
native), with faults injected into the replicant process by an LD_PRELOAD shim
(tests/reliability/path_fault_shim.c):

* a listing of the handoff partition that fails (EIO) keeps the partition and counts a
  failure; it once looked empty and was removed with its objects (defect 1);
* a transient open() error (EMFILE) on an object file fails the sync and keeps the
  object; the native sender once quarantined it and then removed the partition (defect 2);
* a .meta that lands on the handoff while its revert runs survives the revert (only
  files the primaries confirmed, or rsync copied, are removed; defect 10);
* a newer PUT that replaces an object the sender holds open leaves no copy Swift reads
  as corrupt on any node (rsync's sender sends an empty xattr for a file gone by name).

After each, one clean pass converges every object onto its primaries, checked through
Swift's object server.
"""
import errno
import os
import subprocess
import tempfile
import time

import pytest

from cluster import Cluster
from interop import ACCOUNT, CONTAINER, recon, replicant_servers, replicate, trouble
from objects import object_file_problem
from replicant_test import REPLICANT_BIN

SHIM_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'reliability',
                        'path_fault_shim.c')
BACKENDS = ['rsync', 'ssync', 'native']


@pytest.fixture(scope='module')
def shim():
    out = os.path.join(tempfile.mkdtemp(prefix='replicant-shim-'), 'path_fault_shim.so')
    subprocess.run(['cc', '-shared', '-fPIC', '-O2', '-o', out, SHIM_SRC, '-ldl'], check=True)
    return out


def _cluster(backend):
    opts = {'sync_method': backend, 'concurrency': 1}
    return Cluster(nodes=4, replicas=3, part_power=4, replicator_options=opts,
                   replication='external' if backend == 'native' else 'same')


def _servers(c, backend):
    """replicant serve on every node for native; Swift's object servers serve the rest."""
    if backend == 'native':
        return replicant_servers(c)
    return _Nothing()


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _handoff_objects(c, node, count, tag):
    """`count` objects written only on `node`, all in one of its handoff partitions."""
    by_part = {}
    for i in range(2000):
        name = '%s-%04d' % (tag, i)
        if not c.is_primary(node, ACCOUNT, CONTAINER, name):
            by_part.setdefault(c.partition(ACCOUNT, CONTAINER, name), []).append(name)
    part, names = max(by_part.items(), key=lambda kv: len(kv[1]))
    bodies = {}
    for name in names[:count]:
        bodies[name] = ('%s body' % name).encode() * 50
        c.write_object_on(node, ACCOUNT, CONTAINER, name, bodies[name])
    return part, bodies


def _one_handoff_object(c, node, tag):
    """(partition, name, body, .data path) of one object written only on node, a handoff."""
    part, bodies = _handoff_objects(c, node, 1, tag)
    (name, body), = bodies.items()
    data, = [f.path for f in _files_on(c, node, name) if f.ext == '.data']
    return part, name, body, data


def _partition_dir(node, part):
    return os.path.join(node.devices_dir, node.devices[0], 'objects', str(part))


def _files_on(c, node, name):
    h = c.object_hash(ACCOUNT, CONTAINER, name)
    return [f for f in c.list_objects_on(node) if f.hash == h]


def _on_every_primary(c, name, body, meta=None):
    for p in c.primaries(ACCOUNT, CONTAINER, name):
        r = c.get_object(p.node, ACCOUNT, CONTAINER, name, device=p.device)
        if r.status != 200 or r.body != body:
            return False
        for k, v in (meta or {}).items():
            if r.headers.get(k) != v:
                return False
    return True


def _faulty_env(shim, path, err=0, delay_ms=0, mark=None):
    env = dict(os.environ, LD_PRELOAD=shim, REPLICANT_FAULT_PATH=path)
    if err:
        env['REPLICANT_FAULT_ERRNO'] = str(err)
    if delay_ms:
        env['REPLICANT_FAULT_DELAY_MS'] = str(delay_ms)
    if mark:
        env['REPLICANT_FAULT_MARK'] = mark
    return env


def _replicate_with(node, env, timeout=120):
    return subprocess.run([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


def _converges(c, src, part, bodies, meta=None):
    p = replicate(src)
    bad = [n for n, b in bodies.items() if not _on_every_primary(c, n, b, meta)]
    assert not bad, ('not on every primary after a clean pass', bad, trouble(p))
    assert part not in c.partitions_on(src), trouble(p)


@pytest.mark.parametrize('backend', BACKENDS)
def test_failed_partition_listing_keeps_handoff(shim, backend):
    with _cluster(backend) as c, _servers(c, backend):
        src = c.nodes[0]
        part, bodies = _handoff_objects(c, src, 4, 'list-' + backend)
        p = _replicate_with(src, _faulty_env(shim, _partition_dir(src, part), errno.EIO))
        assert p.returncode == 0, trouble(p)
        # Not one object may be gone from the handoff: none was pushed anywhere.
        missing = [n for n in bodies if not _files_on(c, src, n)]
        assert not missing, ('handoff objects deleted after a failed listing', missing,
                             trouble(p))
        assert recon(src)['failure'] > 0, recon(src)
        assert 'keeping it' in p.stderr
        _converges(c, src, part, bodies)


@pytest.mark.parametrize('backend', BACKENDS)
def test_transient_open_error_keeps_object(shim, backend):
    with _cluster(backend) as c, _servers(c, backend):
        src = c.nodes[0]
        part, bodies = _handoff_objects(c, src, 3, 'open-' + backend)
        victim = sorted(bodies)[0]
        data = [f.path for f in _files_on(c, src, victim) if f.ext == '.data']
        assert len(data) == 1
        p = _replicate_with(src, _faulty_env(shim, data[0], errno.EMFILE))
        assert p.returncode == 0, trouble(p)
        quarantined = os.path.join(src.devices_dir, src.devices[0], 'quarantined')
        assert not os.path.exists(quarantined), ('a transient error quarantined an object',
                                                 trouble(p))
        assert os.path.exists(data[0]) or _on_every_primary(c, victim, bodies[victim]), \
            ('object lost after a transient open error', trouble(p))
        assert recon(src)['failure'] > 0, recon(src)
        _converges(c, src, part, bodies)


def _replicate_racing(src, env, mark, write):
    """Runs one pass with env (the shim stalling the sender at one object file, creating
    mark then), calls write() once the stall starts; the pass's (returncode, stderr)."""
    proc = subprocess.Popen([REPLICANT_BIN, 'replicate', src.conf_path, '--once', '-v'],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not os.path.exists(mark) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert os.path.exists(mark), 'the sender never opened %s' % env['REPLICANT_FAULT_PATH']
        write()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


@pytest.mark.parametrize('backend', BACKENDS)
def test_meta_written_during_revert_survives(shim, backend):
    with _cluster(backend) as c, _servers(c, backend):
        src = c.nodes[0]
        part, name, body, data = _one_handoff_object(c, src, 'late-' + backend)
        mark = os.path.join(c.dir, 'revert-started')
        # The sender's first open of the .data stalls for a while; the POST lands then.
        rc, err = _replicate_racing(
            src, _faulty_env(shim, data, delay_ms=3000, mark=mark), mark,
            lambda: c.post_object(src, ACCOUNT, CONTAINER, name, device=src.devices[0],
                                  headers={'X-Object-Meta-Late': 'yes'}))
        assert rc == 0, err[-3000:]
        metas = [f for f in _files_on(c, src, name) if f.ext == '.meta']
        if not metas:  # gone from the handoff: then it must have reached the primaries
            assert _on_every_primary(c, name, body, {'X-Object-Meta-Late': 'yes'}), \
                ('a .meta written during the revert was deleted', err[-3000:])
        _converges(c, src, part, {name: body}, {'X-Object-Meta-Late': 'yes'})


@pytest.mark.parametrize('backend', BACKENDS)
def test_newer_put_while_sender_holds_object_open(shim, backend):
    """A client PUT replaces a handoff object while the sender holds the old .data open
    (the object server unlinks it). rsync's sender re-reads a long xattr by name after
    opening a file, and sends an empty value when the name is gone: the peer's daemon then
    publishes the old .data with an empty user.swift.metadata beside its checksum, which
    Swift reads as corrupt (found by the reliability suite's race hook). replicant runs
    such an rsync again, the newer file follows, and the peer's rehash removes the old.
    Every backend: no node holds a copy Swift reads as corrupt after the pass."""
    with _cluster(backend) as c, _servers(c, backend):
        src = c.nodes[0]
        part, name, _, data = _one_handoff_object(c, src, 'held-' + backend)
        mark = os.path.join(c.dir, 'sender-opened')
        env = dict(_faulty_env(shim, data, delay_ms=3000, mark=mark),
                   REPLICANT_FAULT_AFTER_OPEN='1')
        newer = ('%s newer' % name).encode() * 50
        rc, err = _replicate_racing(
            src, env, mark,
            lambda: c.put_object(src, ACCOUNT, CONTAINER, name, newer, device=src.devices[0]))
        assert rc == 0, err[-3000:]
        assert not os.path.exists(data), 'the PUT did not replace the held file'
        problems = [(n.name, f.path, object_file_problem(f.path))
                    for n in c.nodes for f in c.list_objects_on(n)]
        corrupt = [p for p in problems if p[2]]
        assert not corrupt, (corrupt, err[-3000:])
        _converges(c, src, part, {name: newer})
