"""Proves tests/support/cluster.py: a loopback Swift cluster where Swift's own replicator
moves objects written to node 0 only onto every primary and reverts node 0's handoffs."""
import hashlib
import os
import subprocess

import pytest

from cluster import Cluster
from objects import ACCOUNT, CONTAINER, NUM_OBJECTS, check_spread, pick_objects
from replicant_test import TOOLS_DIR, seeded_random


@pytest.mark.parametrize('sync_method', ['rsync', 'ssync'])
def test_swift_replicator_spreads_node0_objects(sync_method):
    rng = seeded_random('test_cluster_harness[%s]' % sync_method)
    with Cluster(nodes=4, replicas=3, part_power=8,
                 replicator_options={'sync_method': sync_method, 'concurrency': 4}) as c:
        print(c.describe())
        node0 = c.nodes[0]
        objects = pick_objects(rng, c, node0)
        for name, body, meta in objects:
            r = c.write_object_on(node0, ACCOUNT, CONTAINER, name, body,
                                  headers={'X-Object-Meta-Tag': meta})
            assert r.headers.get('Etag', '').strip('"') == hashlib.md5(body).hexdigest()
        on_node0 = {f.hash for f in c.list_objects_on(node0) if f.ext == '.data'}
        assert len(on_node0) == NUM_OBJECTS
        for node in c.nodes[1:]:
            assert c.list_objects_on(node) == []

        run = c.run_swift_replicator(node0, timeout=120)
        print('swift-object-replicator (%s) took %.2fs' % (sync_method, run.elapsed))
        problems = check_spread(c, objects, node0)
        if problems or 'Object replication complete' not in run.output:
            print('\n'.join(problems))
            print('----- replicator output -----\n' + run.output)
            print(c.dump_logs(60))
        assert 'Object replication complete' in run.output
        assert not problems, '%d problems, first: %s' % (len(problems), problems[0])


def test_front_ports_carry_all_replication_traffic():
    """Cluster(front_ports=True) (bench --rtt-ms): the ring and rsync modules name the front
    ports, so Swift's replicator moves nothing while nothing serves them, and everything
    once bench/delay_relay forwards them to the servers."""
    relay_bin = os.path.join(TOOLS_DIR, 'delay_relay')
    if not os.access(relay_bin, os.X_OK):
        pytest.skip('no %s' % relay_bin)
    rng = seeded_random('test_cluster_harness[front_ports]')
    with Cluster(nodes=4, replicas=3, part_power=6, front_ports=True) as c:
        print(c.describe())
        fronts = {f for f, _ in c.front_map()}
        assert len(fronts) == 5 and not fronts & {r for _, r in c.front_map()}
        assert {d['port'] for d in c.ring(0).devs} == {n.front_port for n in c.nodes}
        node0 = c.nodes[0]
        objects = pick_objects(rng, c, node0)
        for name, body, meta in objects:
            c.write_object_on(node0, ACCOUNT, CONTAINER, name, body,
                              headers={'X-Object-Meta-Tag': meta})
        c.run_swift_replicator(node0, timeout=120, check=False)
        for node in c.nodes[1:]:
            assert c.list_objects_on(node) == [], 'a copy went around the front ports'
        args = [relay_bin, '--delay-ms', '0']
        for front, real in c.front_map():
            args += ['--listen', '127.0.0.1:%d' % front, '--to', '127.0.0.1:%d' % real]
        relay = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        try:
            lines = [relay.stdout.readline() for _ in range(len(fronts) + 1)]
            assert lines[-1].strip() == 'ready', lines
            for _ in range(2):  # a pass may leave a handoff that a peer's copy made later
                c.run_swift_replicator(node0, timeout=120)
            problems = check_spread(c, objects, node0)
            assert not problems, '%d problems, first: %s' % (len(problems), problems[0])
        finally:
            relay.kill()
            relay.wait()
