"""`replicant serve` and the collector against hostile partition numbers, and a full
device (issue 15): partitions outside the ring are refused by the server and skipped
(never deleted, never counted) by the collector; Swift's fallocate_reserve is honoured,
and a device that fills up mid-sync (the reserve, or a real ENOSPC) leaves no partial
object and no temp file, keeps the sender's copy and converges once space is freed."""
import os
import shutil
import subprocess
import time

import pytest

from cluster import Cluster
from interop import cluster_dir_kept_on_failure, recon, replicant_servers
from replicant_test import REPLICANT_BIN, run
from test_serve_replicate import raw_request

ACCOUNT, CONTAINER = 'AUTH_full', 'c'
P0 = {'X-Backend-Storage-Policy-Index': '0'}
MIB = 1 << 20


def test_partitions_outside_the_ring(request):
    with cluster_dir_kept_on_failure(request, 'replicant-safety-') as base, \
            Cluster(nodes=2, replicas=2, part_power=4, replication='external',
                    replicator_options={'sync_method': 'ssync'}, base_dir=base) as c, \
            replicant_servers(c):
        node = c.nodes[0]
        dev = node.devices[0]
        objects = os.path.join(node.device_path(), 'objects')
        assert raw_request(node.replication_port, 'REPLICATE', '/%s/15' % dev, P0)[0] == 200
        for method in ('REPLICATE', 'SSYNC', 'REPCONN'):
            for part in ('16', '4294967295'):
                status, body = raw_request(node.replication_port, method,
                                           '/%s/%s' % (dev, part), P0)
                assert status == 400, (method, part, status, body)
                assert b'Invalid partition' in body, body
                assert not os.path.exists(os.path.join(objects, part))
        # Directories an older server (or Swift's) may have made.
        odd = ['16', '4294967295', '99999999999999999999999']
        for part in odd:
            os.makedirs(os.path.join(objects, part, 'abc'))
        # Stale temp files (a crash mid-write) in each policy's tmp dir, and a fresh one.
        week_ago = time.time() - 8 * 86400
        stale = [os.path.join(node.device_path(), t, 'tmpstale') for t in ('tmp', 'tmp-1')]
        fresh = os.path.join(node.device_path(), 'tmp-1', 'tmpfresh')
        for path in stale + [fresh]:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, 'wb').close()
        for path in stale:
            os.utime(path, (week_ago, week_ago))
        for extra in (['-p', '1'], []):
            p = run([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'] + extra,
                    check=False, timeout=120)
            assert p.returncode == 0, (extra, p.returncode, p.stderr[-3000:])
            if not extra:  # with -p 1 they are filtered out before that
                assert p.stderr.count('is not in the ring') == len(odd), p.stderr[-3000:]
        for part in odd:
            assert os.path.isdir(os.path.join(objects, part, 'abc')), part
        assert [p for p in stale if os.path.exists(p)] == []
        assert os.path.exists(fresh)
        assert recon(node)['failure'] == 0


def loop_mount(img, mountpoint, size):
    """A fresh ext4 on a loop device over img, mounted at mountpoint: the loop device."""
    if os.geteuid() != 0:
        pytest.skip('needs root to mount a loop device')
    if not shutil.which('mkfs.ext4') or not shutil.which('losetup'):
        pytest.skip('mkfs.ext4 or losetup not installed')
    with open(img, 'wb') as f:
        f.truncate(size)
    # -m 0: no blocks kept for root, so free space is the same for everyone.
    subprocess.run(['mkfs.ext4', '-q', '-F', '-m', '0', img], check=True)
    p = subprocess.run(['losetup', '-f', '--show', img], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip('no loop device available: %s' % p.stderr.strip())
    loop = p.stdout.strip()
    m = subprocess.run(['mount', loop, mountpoint], capture_output=True, text=True)
    if m.returncode != 0:
        subprocess.run(['losetup', '-d', loop])
        pytest.skip('cannot mount %s: %s' % (loop, m.stderr.strip()))
    return loop


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_frsize * st.f_bavail


def fill_to(path, free_left):
    """A filler file leaving about free_left bytes free on path's filesystem."""
    filler = os.path.join(path, 'filler')
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        os.posix_fallocate(fd, 0, free_bytes(path) - free_left)
        os.fsync(fd)
    finally:
        os.close(fd)
    return filler


def data_files(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith('.data'):
                out[os.path.basename(d)] = os.path.join(d, f)
    return out


def temp_files(dev_path):
    return [os.path.join(dev_path, t, f) for t in os.listdir(dev_path)
            if t == 'tmp' or t.startswith('tmp-') for f in os.listdir(os.path.join(dev_path, t))]


RESERVE = 4 * MIB


@pytest.mark.parametrize('mode', ['reserve', 'enospc'])
def test_device_full_mid_sync(request, tmp_path, mode):
    opts = ({'fallocate_reserve': str(RESERVE)} if mode == 'reserve' else
            {'fallocate_reserve': '0', 'disable_fallocate': 'true'})
    with cluster_dir_kept_on_failure(request, 'replicant-full-') as base, \
            Cluster(nodes=3, replicas=2, part_power=2, replication='external',
                    replicator_options={'sync_method': 'ssync'},
                    replicant_server_options=opts, base_dir=base) as c:
        sender, full = c.nodes[0], c.nodes[1]
        dev_path = full.device_path()
        shutil.rmtree(dev_path)
        os.makedirs(dev_path)
        loop = loop_mount(str(tmp_path / 'dev.img'), dev_path, 64 * MIB)
        try:
            with replicant_servers(c):
                # Handoff copies on the sender, for which `full` is a primary.
                names = [n for n in ('obj-%03d' % i for i in range(400))
                         if c.is_primary(full, ACCOUNT, CONTAINER, n)
                         and not c.is_primary(sender, ACCOUNT, CONTAINER, n)][:8]
                # And objects for which both are primaries: what `full` refuses goes to
                # one more node (the third, their first handoff), as in Swift's update().
                shared = [n for n in ('shared-%03d' % i for i in range(400))
                          if c.is_primary(full, ACCOUNT, CONTAINER, n)
                          and c.is_primary(sender, ACCOUNT, CONTAINER, n)][:4]
                bodies = {n: os.urandom(MIB) for n in names + shared}
                hashes = {c.object_hash(ACCOUNT, CONTAINER, n): n for n in names}
                shared_hashes = {c.object_hash(ACCOUNT, CONTAINER, n): n for n in shared}
                for n in names + shared:
                    c.write_object_on(sender, ACCOUNT, CONTAINER, n, bodies[n])
                sender_root = os.path.join(sender.device_path(), 'objects')
                assert set(data_files(sender_root)) == set(hashes) | set(shared_hashes)
                filler = fill_to(dev_path, (RESERVE if mode == 'reserve' else 0) + 5 * MIB // 2)

                p = run([REPLICANT_BIN, 'replicate', sender.conf_path, '--once', '-v'],
                        check=False, timeout=120)
                assert p.returncode == 0, p.stderr[-3000:]
                got = data_files(os.path.join(dev_path, 'objects'))
                everything = dict(hashes, **shared_hashes)
                assert 0 < len(got) < len(everything), sorted(got)
                for h, path in got.items():  # whatever arrived is complete
                    with open(path, 'rb') as f:
                        assert f.read() == bodies[everything[h]], path
                assert temp_files(dev_path) == []
                assert set(data_files(sender_root)) == set(everything)  # the handoffs stay
                if mode == 'reserve':
                    # (With a real ENOSPC, REPLICATE itself may fail to write hashes.pkl:
                    # a 500, after which Swift tries no other node either.)
                    third = data_files(os.path.join(c.nodes[2].device_path(), 'objects'))
                    missing = [everything[h] for h in shared_hashes
                               if h not in got and h not in third]
                    assert missing == [], missing
                with open(os.path.join(c.log_dir, '%s-replicant-serve.log' % full.name)) as f:
                    serve_log = f.read()
                # The session that met the full device ended with Swift's 507 (the sender
                # then treats the device as full), not a 500 after trying every object.
                assert 'SSYNC failed: 507' in serve_log
                if mode == 'reserve':
                    assert free_bytes(dev_path) > RESERVE
                    assert 'FALLOCATE_RESERVE fail' in serve_log

                os.remove(filler)
                for _ in range(2):
                    run([REPLICANT_BIN, 'replicate', sender.conf_path, '--once', '-v'],
                        timeout=120)
                got = data_files(os.path.join(dev_path, 'objects'))
                assert set(got) == set(everything)
                for h, path in got.items():
                    with open(path, 'rb') as f:
                        assert f.read() == bodies[everything[h]], path
                assert temp_files(dev_path) == []
        finally:
            subprocess.run(['umount', dev_path])
            subprocess.run(['losetup', '-d', loop])
