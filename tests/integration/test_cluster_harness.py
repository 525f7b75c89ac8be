"""Proves tests/support/cluster.py: a loopback Swift cluster where Swift's own replicator
moves objects written to node 0 only onto every primary and reverts node 0's handoffs."""
import hashlib

import pytest

from cluster import Cluster
from objects import ACCOUNT, CONTAINER, NUM_OBJECTS, check_spread, pick_objects
from replicant_test import seeded_random


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
