"""Priority replication (issue 19) on a loopback cluster whose replication ports run
`replicant serve` (replication='external'):

* moveparts: after a rebalance, `replicant moveparts OLD` queues one job per moved
  partition (with data) on a node holding it; ONE replicator pass per node then pushes
  every moved partition to its new primaries before any normal job starts (log order),
  the job files go, and every object is on all its new primaries;
* restore-device: a wiped device gets all its partitions back from its peers' priority
  jobs, and `replicant status` on a peer shows the jobs done with their bytes;
* POST /priorityrep refuses malformed jobs (400), an unknown device (507) and a
  partition that is not there (404).
"""
import glob
import http.client
import json
import os
import re
import shutil
import subprocess

import pytest

from cluster import Cluster
from interop import ACCOUNT, CONTAINER, start_server
from replicant_test import REPLICANT_BIN

NAMES = ['prio-%03d' % i for i in range(60)]


def _cluster():
    return Cluster(nodes=4, devices_per_node=1, replicas=3, part_power=4, replication='external',
                   replicator_options={'sync_method': 'ssync', 'concurrency': 1,
                                       'priority_concurrency': 2})


def _write_everywhere(c):
    for name in NAMES:
        for p in c.primaries(ACCOUNT, CONTAINER, name):
            c.write_object_on(p.node, ACCOUNT, CONTAINER, name, name.encode() * 10,
                              device=p.device)


def _missing(c, names):
    out = []
    for name in names:
        for p in c.primaries(ACCOUNT, CONTAINER, name):
            r = c.get_object(p.node, ACCOUNT, CONTAINER, name, device=p.device)
            if r.status != 200 or r.body != name.encode() * 10:
                out.append((name, p.node.name))
    return out


def _replicate_once(node):
    p = subprocess.run([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-4000:]
    return p.stdout


def _job_files(c):
    return sorted(glob.glob(os.path.join(c.dir, 'node*', 'devices', '*', 'replicant-priority',
                                         '*.json')))


def _post(node, body):
    conn = http.client.HTTPConnection('127.0.0.1', node.replication_port, timeout=30)
    try:
        conn.request('POST', '/priorityrep', body=body,
                     headers={'Content-Type': 'application/json'})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _primary_sets(c):
    ring = c.ring(0)
    return {p: {(d['replication_port'], d['device']) for d in ring.get_part_nodes(p)}
            for p in range(ring.partition_count)}


def test_moveparts_then_restore_device():
    with _cluster() as c:
        for node in c.nodes:
            start_server(c, node)
        _write_everywhere(c)
        old_ring = os.path.join(c.dir, 'old.ring.gz')
        shutil.copy(c.ring_path(0), old_ring)
        before = _primary_sets(c)
        c.ring_builder(0, 'pretend_min_part_hours_passed')
        c.ring_builder(0, 'set_weight', 'd0', '0')
        c.ring_builder(0, 'rebalance', ok=(0, 1))
        after = _primary_sets(c)
        moved = {p for p in after if after[p] != before[p]}
        assert moved
        with_data = {c.partition(ACCOUNT, CONTAINER, n) for n in NAMES} & moved
        assert with_data

        p = subprocess.run([REPLICANT_BIN, 'moveparts', old_ring, '--swift-dir', c.swift_dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        m = re.search(r'(\d+) partitions to push: (\d+) queued \((\d+) jobs sent\), (\d+) with '
                      r'no data, 0 failures', p.stdout)
        assert m, p.stdout + p.stderr
        assert int(m.group(1)) == len(moved)
        assert int(m.group(2)) == len(with_data), (p.stdout, with_data)
        files = _job_files(c)
        assert sorted(int(f.rsplit('-', 1)[1][:-5]) for f in files) == sorted(with_data)

        logs = [_replicate_once(node) for node in c.nodes]
        for log in logs:
            start = log.find('Starting replication pass')
            assert start >= 0, log[-3000:]
            prio = [m.start() for m in re.finditer(r'Priority job .*: done', log)]
            # Every priority job, and its syncs, before the first normal job.
            assert all(s < start for s in prio), log[-3000:]
            if prio:
                assert log.find('Starting priority replication') < min(prio)
        done = sum(len(re.findall(r'Priority job .*: done', log)) for log in logs)
        assert done == len(with_data), '\n'.join(logs)[-6000:]
        assert _job_files(c) == []
        assert _missing(c, NAMES) == []

        # restore-device: node1's disk is replaced by an empty one.
        node = c.nodes[1]
        objects = os.path.join(node.device_path(), 'objects')
        shutil.rmtree(objects)
        os.makedirs(objects)
        lost = [n for n in NAMES if any(pl.node is node
                                        for pl in c.primaries(ACCOUNT, CONTAINER, n))]
        assert lost and _missing(c, lost)
        p = subprocess.run([REPLICANT_BIN, 'restore-device', '127.0.0.1', node.devices[0],
                            '--port', str(node.replication_port), '--swift-dir', c.swift_dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        assert ' 0 failures' in p.stdout
        peers = [n for n in c.nodes if n is not node]
        for peer in peers:
            _replicate_once(peer)
        assert _missing(c, lost) == []
        assert _job_files(c) == []
        statuses = []
        for peer in peers:
            s = subprocess.run([REPLICANT_BIN, 'status', peer.conf_path, '--json'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=30)
            assert s.returncode == 0, s.stderr
            statuses.append(json.loads(s.stdout)['priority'])
        # node0 (weight 0) holds none of node1's partitions: no priority run there.
        statuses = [st for st in statuses if st is not None]
        assert statuses
        assert sum(st['jobs_done'] for st in statuses) >= 1
        assert sum(st['bytes'] for st in statuses) > 0
        assert all(st['jobs_failed'] == 0 and not st['running'] for st in statuses)
        text = subprocess.run([REPLICANT_BIN, 'status', peers[1].conf_path, '--once'],
                              stdout=subprocess.PIPE, text=True, timeout=30).stdout
        assert 'priority jobs (last run)' in text, text

        # The endpoint's refusals.
        dev = node.devices[0]
        part = sorted(with_data)[0]
        good = {'policy': 0, 'partition': part, 'from_device': dev, 'to_devices': [0]}
        for body, code in [(b'{', 400), (b'[]', 400), (json.dumps(dict(good, extra=1)), 400),
                           (json.dumps(dict(good, partition='1')), 400),
                           (json.dumps(dict(good, from_device='../etc')), 400),
                           (json.dumps(dict(good, to_devices=[])), 400),
                           (json.dumps(dict(good, partition=99999)), 400),
                           (b'x' * (70 * 1024), 400),
                           (json.dumps(dict(good, from_device='sdz9')), 507),
                           (json.dumps(dict(good, policy=7)), 503)]:
            status, answer = _post(node, body)
            assert status == code, (body[:80], status, answer)
        empty = [q for q in range(16) if not os.path.isdir(os.path.join(objects, str(q)))]
        if empty:
            status, answer = _post(node, json.dumps(dict(good, partition=empty[0])))
            assert status == 404, answer
        assert _job_files(c) == []
