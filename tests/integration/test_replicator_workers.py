"""replicator_workers and lockup_timeout (issue 19), on loopback clusters of real Swift
object servers where node0 has three devices:

* replicator_workers = 2, once: two worker processes split node0's devices, every
  device replicates, each writes its per-disk recon and the parent fills the top level;
* daemon mode: a device added to node0 in the ring makes the parent restart its workers
  and the new device replicates; SIGTERM stops parent and workers;
* a device whose partition listing hangs (tests/reliability/path_fault_shim.c, preloaded)
  is cancelled after lockup_timeout with a log line and counts in recon and in the
  progress file (/metrics), while the other devices finish during the hang.
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import time

import pytest

from cluster import Cluster
from interop import ACCOUNT, CONTAINER
from replicant_test import REPLICANT_BIN

SHIM_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'reliability',
                        'path_fault_shim.c')
WORKER_LINE = re.compile(r'Started replicator worker (\d+) \(pid (\d+)\) for devices (\S+)')


@pytest.fixture(scope='module')
def shim():
    out = os.path.join(tempfile.mkdtemp(prefix='replicant-shim-'), 'path_fault_shim.so')
    subprocess.run(['cc', '-shared', '-fPIC', '-O2', '-o', out, SHIM_SRC, '-ldl'], check=True)
    return out


def _cluster(**opts):
    base = {'sync_method': 'rsync', 'concurrency': 1}
    base.update(opts)
    return Cluster(nodes=4, devices_per_node=3, replicas=3, part_power=4,
                   replicator_options=base)


def _objects_on(c, node, device, count, tag):
    """`count` objects whose primaries include node/device, written there only."""
    names = []
    for i in range(5000):
        name = '%s-%s-%04d' % (tag, device, i)
        if any(p.node is node and p.device == device
               for p in c.primaries(ACCOUNT, CONTAINER, name)):
            c.write_object_on(node, ACCOUNT, CONTAINER, name, name.encode() * 20,
                              device=device)
            names.append(name)
            if len(names) == count:
                return names
    raise AssertionError('no object for %s' % device)


def _on_every_primary(c, name):
    for p in c.primaries(ACCOUNT, CONTAINER, name):
        r = c.get_object(p.node, ACCOUNT, CONTAINER, name, device=p.device)
        if r.status != 200 or r.body != name.encode() * 20:
            return False
    return True


def _recon_file(node):
    try:
        with open(os.path.join(node.recon_cache_path, 'object.recon')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _wait(pred, timeout, what, proc=None, log=None):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = open(log).read()[-4000:] if log else ''
    raise AssertionError('timed out waiting for %s\n%s' % (what, tail))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of the (reaped) parent counts as gone.
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


def test_workers_once_split_devices_and_aggregate_recon():
    with _cluster(replicator_workers=2) as c:
        node = c.nodes[0]
        names = [n for dev in node.devices for n in _objects_on(c, node, dev, 2, 'once')]
        p = subprocess.run([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=240)
        assert p.returncode == 0, p.stderr[-4000:]
        workers = WORKER_LINE.findall(p.stderr)
        assert len(workers) == 2, p.stderr[-4000:]
        pids = {int(pid) for _, pid, _ in workers}
        assert len(pids) == 2 and os.getpid() not in pids
        split = sorted(devs for _, _, devs in workers)
        assert split == ['sdb1,sdb3', 'sdb2'], split  # Swift's distribute_evenly
        missing = [n for n in names if not _on_every_primary(c, n)]
        assert not missing, (missing, p.stderr[-4000:])
        recon = _recon_file(node)
        per_disk = recon['object_replication_per_disk']
        assert sorted(per_disk) == sorted(node.devices), recon
        total = sum(d['replication_stats']['attempted'] for d in per_disk.values())
        assert total > 0
        assert recon['replication_stats']['attempted'] == total, recon
        assert recon['object_replication_last'] == min(
            d['object_replication_last'] for d in per_disk.values())
        assert recon['replicant_lockups'] == 0


def test_workers_daemon_restart_on_new_device():
    with _cluster(replicator_workers=2, interval=1, ring_check_interval=1) as c:
        node = c.nodes[0]
        log = os.path.join(c.log_dir, 'workers-daemon.log')
        with open(log, 'w') as out:
            proc = subprocess.Popen([REPLICANT_BIN, 'replicate', node.conf_path, '-v'],
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            text = lambda: open(log).read()  # noqa: E731
            _wait(lambda: len(WORKER_LINE.findall(text())) >= 2 and
                  len(_recon_file(node).get('object_replication_per_disk', {})) == 3,
                  90, 'two workers and three per-disk entries', proc, log)
            first = {int(pid) for _, pid, _ in WORKER_LINE.findall(text())}
            os.makedirs(os.path.join(node.devices_dir, 'sdb4'))
            c.ring_builder(0, 'add', 'r%dz%d-%s:%dR%s:%d/sdb4' % (
                node.region, node.zone, node.ip, node.port, node.replication_ip,
                node.replication_port), '100')
            c.ring_builder(0, 'pretend_min_part_hours_passed')
            c.ring_builder(0, 'rebalance', ok=(0, 1))
            node.devices.append('sdb4')
            names = _objects_on(c, node, 'sdb4', 2, 'daemon')
            _wait(lambda: 'Local devices changed' in text(), 60, 'the device change', proc, log)
            _wait(lambda: any('sdb4' in devs.split(',')
                              for _, _, devs in WORKER_LINE.findall(text())),
                  30, 'a worker for sdb4', proc, log)
            _wait(lambda: all(_on_every_primary(c, n) for n in names), 90,
                  'the objects on sdb4 replicated', proc, log)
            _wait(lambda: 'sdb4' in _recon_file(node).get('object_replication_per_disk', {}),
                  60, 'per-disk recon of sdb4', proc, log)
            # The first workers were stopped for the new set.
            assert not any(_alive(pid) for pid in first), text()[-4000:]
            workers = {int(pid) for _, pid, _ in WORKER_LINE.findall(text())} - first
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=60)
        assert rc == 0, open(log).read()[-4000:]
        assert workers and not any(_alive(pid) for pid in workers), open(log).read()[-4000:]


def test_lockup_cancels_stuck_device_others_go_on(shim):
    with _cluster(lockup_timeout=3, stats_interval=1) as c:
        node = c.nodes[0]
        stuck = 'sdb2'
        others = [n for dev in ('sdb1', 'sdb3') for n in _objects_on(c, node, dev, 2, 'lk')]
        stuck_name = _objects_on(c, node, stuck, 1, 'lk')[0]
        part = c.partition(ACCOUNT, CONTAINER, stuck_name)
        part_dir = os.path.join(node.devices_dir, stuck, 'objects', str(part))
        mark = os.path.join(c.dir, 'stall-started')
        env = dict(os.environ, LD_PRELOAD=shim, REPLICANT_FAULT_PATH=part_dir,
                   REPLICANT_FAULT_DELAY_MS='30000', REPLICANT_FAULT_MARK=mark)
        log = os.path.join(c.log_dir, 'lockup.log')
        with open(log, 'w') as out:
            proc = subprocess.Popen([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'],
                                    stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            _wait(lambda: os.path.exists(mark), 60, 'the stall', proc, log)
            stalled_at = time.time()
            # While the stuck listing still hangs, the other devices replicate.
            _wait(lambda: all(_on_every_primary(c, n) for n in others), 22,
                  'the other devices replicated during the stall', proc, log)
            assert time.time() - stalled_at < 25
            text = open(log).read()
            m = re.search(r'Lockup: device (\S+) made no progress for ([\d.]+)s .*partition (\d+)',
                          text)
            assert m, text[-4000:]
            assert m.group(1) == stuck and int(m.group(3)) == part, m.group(0)
            assert 3 <= float(m.group(2)) < 10, m.group(0)
            rc = proc.wait(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert rc == 0, open(log).read()[-4000:]
        recon = _recon_file(node)
        assert recon['object_replication_per_disk'][stuck]['lockups'] == 1, recon
        assert recon['object_replication_per_disk']['sdb1']['lockups'] == 0, recon
        assert recon['replicant_lockups'] == 1, recon
        with open(os.path.join(node.recon_cache_path, 'replicant-progress.json')) as f:
            progress = json.load(f)
        assert progress['last_pass']['per_device'][stuck]['lockups'] == 1, progress


def test_workers_parent_kills_a_stuck_worker(shim):
    """One device per worker: the worker whose listing hangs for good stops making
    progress once its device is cancelled; the parent kills it after lockup_timeout and
    publishes its lockup count, while the other workers finish."""
    with _cluster(replicator_workers=3, lockup_timeout=3) as c:
        node = c.nodes[0]
        stuck = 'sdb2'
        others = [n for dev in ('sdb1', 'sdb3') for n in _objects_on(c, node, dev, 2, 'wk')]
        stuck_name = _objects_on(c, node, stuck, 1, 'wk')[0]
        part = c.partition(ACCOUNT, CONTAINER, stuck_name)
        env = dict(os.environ, LD_PRELOAD=shim,
                   REPLICANT_FAULT_PATH=os.path.join(node.devices_dir, stuck, 'objects',
                                                     str(part)),
                   REPLICANT_FAULT_DELAY_MS='600000')
        start = time.time()
        p = subprocess.run([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, timeout=120)
        assert time.time() - start < 60, p.stderr[-4000:]
        assert p.returncode == 1, p.stderr[-4000:]  # one worker did not finish its pass
        m = re.search(r'Lockup: replicator worker \d+ \(pid \d+, devices (\S+)\) made no '
                      r'progress for [\d.]+s', p.stderr)
        assert m and m.group(1) == stuck, p.stderr[-4000:]
        # The worker's own lockup line may come first or not: both count one lockup.
        missing = [n for n in others if not _on_every_primary(c, n)]
        assert not missing, (missing, p.stderr[-4000:])
        per_disk = _recon_file(node)['object_replication_per_disk']
        assert per_disk[stuck]['lockups'] == 1, per_disk
        assert per_disk['sdb1']['lockups'] == 0, per_disk
