"""Update jobs across regions: a remote region gets one copy per pass, from its first
primary that takes it (Swift's synced_remote_regions in ObjectReplicator.update).

A two-region ring (nodes 0-1 in region 1, nodes 2-4 in region 2). Node 0 holds, as a
primary, partitions whose other two primaries are both in region 2, node 2 among them.
Node 2's replication port is a HostilePeer that answers REPLICATE (empty hashes) but
refuses every sync with 503. Swift shuffles the primaries per job: when node 2 comes
first its sync fails and the region's next primary must get the data in the same pass;
when the other comes first, node 2 is skipped. Either way, after one pass every object
is on its good region-2 primary. replicant syncs in rounds (replicator/update_job.cc),
so the region's next primary waits for the first one's result, never for its mere
start. Swift's own replicator runs the same case for comparison.
"""
import pytest

from cluster import Cluster
from hostile_peer import HostilePeer
from interop import ACCOUNT, CONTAINER, recon, replicant_servers, replicate

REGIONS = [1, 1, 2, 2, 2]


def _layout(c, src, hostile):
    """One object name per partition where `src` is a primary and the two others are
    region 2's `hostile` and one more: [(name, good region-2 primary)]."""
    seen, out = set(), []
    for i in range(20000):
        name = 'upd-%05d' % i
        part = c.partition(ACCOUNT, CONTAINER, name)
        if part in seen:
            continue
        prim = [p.node for p in c.primaries(ACCOUNT, CONTAINER, name)]
        others = [n for n in prim if n is not src]
        if src not in prim or hostile not in others or any(n.region == src.region
                                                           for n in others):
            continue
        seen.add(part)
        out.append((name, [n for n in others if n is not hostile][0]))
    return out


@pytest.mark.parametrize('backend', ['native', 'ssync', 'swift'])
def test_remote_region_gets_its_next_primary_when_the_first_fails(backend):
    method = 'ssync' if backend == 'swift' else backend
    with Cluster(nodes=5, replicas=3, part_power=6, regions=REGIONS, ring_seed=7,
                 replicator_options={'sync_method': method, 'concurrency': 1},
                 replication='external' if backend == 'native' else 'same') as c:
        src, hostile = c.nodes[0], c.nodes[2]
        cases = _layout(c, src, hostile)
        # 2^-k: the chance that no job puts the failing peer first.
        assert len(cases) >= 5, cases
        for name, _ in cases:
            c.write_object_on(src, ACCOUNT, CONTAINER, name, name.encode() * 50)
        servers = replicant_servers(c) if backend == 'native' else None
        serve = servers.__enter__() if servers else None
        try:
            if serve:
                serve[hostile.name].stop(grace=1)
            else:
                hostile.server.stop()
            with HostilePeer(hostile.replication_port, 'status', 503) as peer:
                if backend == 'swift':
                    out = c.run_swift_replicator(src).output
                else:
                    out = replicate(src).stderr
                    assert recon(src)['failure'] > 0, out[-3000:]
                assert peer.methods, 'the failing peer was never asked'
            for name, good in cases:
                r = c.get_object(good, ACCOUNT, CONTAINER, name)
                assert r.status == 200, (name, good.name, out[-4000:])
        finally:
            if servers:
                servers.__exit__(None, None, None)
