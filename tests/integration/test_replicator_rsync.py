"""replicant replicate --once with sync_method=rsync on a loopback cluster of real
swift-object-server processes and a real rsync daemon."""
import json
import os
import shutil

import pytest

from cluster import Cluster
from objects import ACCOUNT, CONTAINER, check_spread, pick_objects
from replicant_test import REPLICANT_BIN, run, seeded_random


def replicate(node, *args, check=True):
    """Runs one replicant pass for node; returns the CompletedProcess (log in stderr)."""
    p = run([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'] + list(args),
            check=False, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError('replicant exited %d\n%s' % (p.returncode, p.stderr))
    return p


def recon(node):
    with open(os.path.join(node.recon_cache_path, 'object.recon')) as f:
        return json.load(f)


def spread(c, objects, node):
    problems = check_spread(c, objects, node)
    assert not problems, '%d problems, first: %s' % (len(problems), problems[:3])


@pytest.fixture
def cluster():
    with Cluster(nodes=4, replicas=3, part_power=6,
                 replicator_options={'concurrency': 4}) as c:
        yield c


def test_objects_reach_primaries_and_second_pass_is_idle(cluster):
    c = cluster
    rng = seeded_random('test_objects_reach_primaries')
    node0 = c.nodes[0]
    objects = pick_objects(rng, c, node0, count=30)
    for name, body, meta in objects:
        c.write_object_on(node0, ACCOUNT, CONTAINER, name, body,
                          headers={'X-Object-Meta-Tag': meta})
    p = replicate(node0)
    spread(c, objects, node0)
    stats = recon(node0)['replication_stats']
    assert stats['rsync'] > 0 and stats['suffix_sync'] > 0, stats
    assert stats['remove'] > 0, stats  # handoff partitions were reverted
    assert 'Replication pass complete' in p.stderr
    # Swift's object servers refuse REPLICATE-BATCH (405): asked partition by partition.
    assert 'answered REPLICATE-BATCH with 405' in p.stderr, p.stderr[-3000:]
    # Byte-identical files and xattrs on every primary.
    for name, body, _ in objects:
        h = c.object_hash(ACCOUNT, CONTAINER, name)
        files = {}
        for f in [f for n in c.nodes for f in c.list_objects_on(n) if f.hash == h]:
            with open(f.path, 'rb') as fh:
                content = fh.read()
            xattrs = {k: os.getxattr(f.path, k) for k in os.listxattr(f.path)}
            files.setdefault(f.filename, []).append((content, xattrs))
        for fname, copies in files.items():
            assert len(copies) == 3, (name, fname, len(copies))
            assert all(cp == copies[0] for cp in copies), (name, fname)

    # Nothing changed: the next pass only compares hashes.
    replicate(node0)
    stats = recon(node0)['replication_stats']
    assert stats['rsync'] == 0 and stats['suffix_sync'] == 0, stats
    assert stats['hashmatch'] > 0 and stats['failure'] == 0, stats


def test_tombstones_and_newer_data_propagate(cluster):
    c = cluster
    node0 = c.nodes[0]
    rng = seeded_random('test_tombstones')
    names = [n for n in ('obj-%d' % i for i in range(200))
             if c.is_primary(node0, ACCOUNT, CONTAINER, n)][:6]
    for name in names:  # v1 everywhere
        ts = c.next_timestamp()
        for p in c.primaries(ACCOUNT, CONTAINER, name):
            c.put_object(p.node, ACCOUNT, CONTAINER, name, b'v1-' + name.encode(),
                         device=p.device, timestamp=ts)
    deleted, updated = names[:3], names[3:]
    for name in deleted:
        c.delete_object(node0, ACCOUNT, CONTAINER, name)
    newer = {}
    for name in updated:
        newer[name] = rng.randbytes(rng.randrange(1, 50000))
        c.put_object(node0, ACCOUNT, CONTAINER, name, newer[name])
    replicate(node0)
    for name in deleted:
        for p in c.primaries(ACCOUNT, CONTAINER, name):
            r = c.get_object(p.node, ACCOUNT, CONTAINER, name, device=p.device)
            assert r.status == 404, (name, p.node.name, r.status)
            h = c.object_hash(ACCOUNT, CONTAINER, name)
            exts = {f.ext for f in c.list_objects_on(p.node) if f.hash == h}
            assert '.ts' in exts, (name, p.node.name, exts)
    for name in updated:
        for p in c.primaries(ACCOUNT, CONTAINER, name):
            r = c.get_object(p.node, ACCOUNT, CONTAINER, name, device=p.device)
            assert r.status == 200 and r.body == newer[name], (name, p.node.name)


def test_handoff_kept_while_a_primary_is_down(cluster):
    c = cluster
    node0 = c.nodes[0]
    name = next(n for n in ('ho-%d' % i for i in range(500))
                if not c.is_primary(node0, ACCOUNT, CONTAINER, n))
    c.write_object_on(node0, ACCOUNT, CONTAINER, name, b'handoff data')
    part = c.partition(ACCOUNT, CONTAINER, name)
    down = c.primaries(ACCOUNT, CONTAINER, name)[0].node
    down.server.stop()
    replicate(node0)
    assert part in c.partitions_on(node0), 'handoff removed although a primary was down'
    assert recon(node0)['replication_stats']['failure'] > 0
    c.restart_server(down)
    replicate(node0)
    assert part not in c.partitions_on(node0)
    for p in c.primaries(ACCOUNT, CONTAINER, name):
        assert c.get_object(p.node, ACCOUNT, CONTAINER, name, device=p.device).body == \
            b'handoff data'


def test_unmounted_peer_sends_data_to_next_handoff(cluster):
    c = cluster
    node0 = c.nodes[0]
    name = next(n for n in ('u-%d' % i for i in range(500))
                if c.is_primary(node0, ACCOUNT, CONTAINER, n))
    c.write_object_on(node0, ACCOUNT, CONTAINER, name, b'needs a home')
    prims = [p for p in c.primaries(ACCOUNT, CONTAINER, name) if p.node is not node0]
    gone = prims[0]
    dev_path = gone.node.device_path(gone.device)
    shutil.move(dev_path, dev_path + '.away')  # the object server now answers 507
    try:
        p = replicate(node0)
        assert 'responded as unmounted' in p.stderr
        handoff = c.handoffs(ACCOUNT, CONTAINER, name, limit=1)[0]
        r = c.get_object(handoff.node, ACCOUNT, CONTAINER, name, device=handoff.device)
        assert r.status == 200 and r.body == b'needs a home'
        r = c.get_object(prims[1].node, ACCOUNT, CONTAINER, name, device=prims[1].device)
        assert r.status == 200
    finally:
        shutil.move(dev_path + '.away', dev_path)


def test_overrides_limit_the_pass(cluster):
    c = cluster
    node0 = c.nodes[0]
    mine = [n for n in ('ov-%d' % i for i in range(400))
            if c.is_primary(node0, ACCOUNT, CONTAINER, n)]
    a, b = mine[0], next(n for n in mine if c.partition(ACCOUNT, CONTAINER, n) !=
                         c.partition(ACCOUNT, CONTAINER, mine[0]))
    p1 = next(n for n in ('p1-%d' % i for i in range(400))
              if c.is_primary(node0, ACCOUNT, CONTAINER, n, policy=1))
    for name in (a, b):
        c.write_object_on(node0, ACCOUNT, CONTAINER, name, name.encode())
    c.write_object_on(node0, ACCOUNT, CONTAINER, p1, b'policy one', policy=1)

    def copies(name, policy=0):
        return sum(c.get_object(p.node, ACCOUNT, CONTAINER, name, device=p.device,
                                policy=policy).status == 200
                   for p in c.primaries(ACCOUNT, CONTAINER, name, policy=policy))

    replicate(node0, '-d', 'nosuchdev')
    assert (copies(a), copies(b), copies(p1, 1)) == (1, 1, 1)
    replicate(node0, '-i', '1')
    assert (copies(a), copies(b), copies(p1, 1)) == (1, 1, 3)
    replicate(node0, '-p', str(c.partition(ACCOUNT, CONTAINER, a)), '-i', '0')
    assert (copies(a), copies(b)) == (3, 1)
    replicate(node0, '-d', node0.devices[0])
    assert (copies(a), copies(b)) == (3, 3)
    # Override passes do not publish recon stats (as Swift).
    assert not os.path.exists(os.path.join(node0.recon_cache_path, 'object.recon'))


def test_bad_config_exits_nonzero_naming_the_option(tmp_path):
    conf = tmp_path / 'object-server.conf'
    conf.write_text('[DEFAULT]\nswift_dir = %s\n[object-replicator]\nsync_method = carrier-pigeon\n'
                    % tmp_path)
    p = run([REPLICANT_BIN, 'replicate', str(conf), '--once'], check=False)
    assert p.returncode != 0 and 'sync_method' in p.stderr
    conf.write_text('[DEFAULT]\nswift_dir = %s\n[object-replicator]\nconcurrency = x\n' % tmp_path)
    p = run([REPLICANT_BIN, 'replicate', str(conf), '--once'], check=False)
    assert p.returncode != 0 and 'concurrency' in p.stderr
    (tmp_path / 'swift.conf').write_text('[swift-hash]\nswift_hash_path_suffix = x\n')
    conf.write_text('[DEFAULT]\nswift_dir = %s\n[object-replicator]\n' % tmp_path)
    p = run([REPLICANT_BIN, 'replicate', str(conf), '--once'], check=False)
    assert p.returncode != 0 and 'object.ring.gz' in p.stderr


def test_daemon_mode_reloads_on_sighup_and_stops_on_sigterm(cluster):
    import signal
    import subprocess
    import time
    c = cluster
    node0 = c.nodes[0]
    c.set_replicator_options([node0], interval=1, stats_interval=0.2)
    proc = subprocess.Popen([REPLICANT_BIN, 'replicate', node0.conf_path],
                            stderr=subprocess.PIPE, text=True)
    lines = []

    def wait_for(text, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if text in line:
                return
        raise AssertionError('no %r in daemon output:\n%s' % (text, ''.join(lines)))

    try:
        wait_for('Replication pass complete')
        c.write_object_on(node0, ACCOUNT, CONTAINER, 'late-object', b'arrives later')
        proc.send_signal(signal.SIGHUP)
        wait_for('Configuration reloaded')
        wait_for('Replication pass complete')
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert any('partitions replicated in' in l for l in lines), 'no progress line'
    for p in c.primaries(ACCOUNT, CONTAINER, 'late-object'):
        assert c.get_object(p.node, ACCOUNT, CONTAINER, 'late-object',
                            device=p.device).status == 200
    assert 'object_replication_last' in recon(node0)


def test_housekeeping_file_partition_and_stale_tmp(cluster):
    c = cluster
    node0 = c.nodes[0]
    dev = node0.device_path(node0.devices[0])
    os.makedirs(os.path.join(dev, 'tmp'), exist_ok=True)
    stale = os.path.join(dev, 'tmp', 'stale-upload')
    fresh = os.path.join(dev, 'tmp', 'fresh-upload')
    for path in (stale, fresh):
        with open(path, 'w') as f:
            f.write('x')
    old = os.path.getmtime(stale) - 8 * 86400  # older than the default reclaim_age
    os.utime(stale, (old, old))
    bogus_part = os.path.join(dev, 'objects', '7')
    with open(bogus_part, 'w') as f:
        f.write('')
    p = replicate(node0)
    assert not os.path.exists(stale) and os.path.exists(fresh)
    assert not os.path.exists(bogus_part)
    assert 'which was a file' in p.stderr


def test_ring_change_aborts_the_pass(cluster, tmp_path):
    """A ring file rewritten mid-pass (here by an rsync wrapper, as a ring push would)
    aborts the pass at the next ring check."""
    import stat
    import subprocess
    c = cluster
    node0 = c.nodes[0]
    names = [n for n in ('rc-%d' % i for i in range(400))
             if c.is_primary(node0, ACCOUNT, CONTAINER, n)]
    for name in names[:12]:
        c.write_object_on(node0, ACCOUNT, CONTAINER, name, name.encode())
    ring = c.ring_path(0)
    wrapper = tmp_path / 'rsync'
    wrapper.write_text('#!/bin/sh\ntouch -d "+1 minute" %s\nexec /usr/bin/rsync "$@"\n' % ring)
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    c.set_replicator_options([node0], ring_check_interval=0.001, concurrency=1)
    env = dict(os.environ, PATH='%s:%s' % (tmp_path, os.environ['PATH']))
    p = subprocess.run([REPLICANT_BIN, 'replicate', node0.conf_path, '--once'], env=env,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    assert 'Ring change detected. Aborting current replication pass.' in p.stderr, p.stderr
    assert p.returncode == 1
    assert 'Replication pass aborted' in p.stderr
    p = replicate(node0)  # a fresh run loads the new ring and completes
    assert 'Replication pass complete' in p.stderr
