"""`replicant replicate` with sync_method=rsync whose peers answer REPLICATE with
`replicant serve` (replication='external': the object servers refuse REPLICATE) while
the bytes land through the rsync daemon; Swift's object servers then read everything
back. Also: ReplicateClient's keep-alive connections against `replicant serve` and
against Swift's object server, including servers that close idle connections."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster  # noqa: E402
from objects import ACCOUNT, CONTAINER  # noqa: E402
from replicant_test import REPLICANT_BIN, run, tool  # noqa: E402
from test_serve_replicate import raw_request, start_swift_replication_server  # noqa: E402
from interop import cluster_dir_kept_on_failure  # noqa: E402
from test_ssync_compat import Workload, replicant_servers  # noqa: E402

IDLE_TIMEOUT = 1.0  # servers close kept-alive connections idle this long


@pytest.fixture(scope='module')
def env(request):
    with cluster_dir_kept_on_failure(request, 'replicant-rsync-serve-test-') as base, \
            Cluster(nodes=4, replicas=3, part_power=6, replication='external', base_dir=base,
                    replicator_options={'sync_method': 'rsync', 'concurrency': 2},
                    default_options={'client_timeout': IDLE_TIMEOUT},
                    replicant_server_options={'client_timeout': IDLE_TIMEOUT}) as c:
        with replicant_servers(c) as serves:
            swift_port = start_swift_replication_server(c, c.nodes[1])
            yield c, serves, swift_port


def replicate(node):
    p = run([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'], check=False,
            timeout=300)
    assert p.returncode == 0, p.stderr[-4000:]
    with open(os.path.join(node.recon_cache_path, 'object.recon')) as f:
        return json.load(f)['replication_stats'], p.stderr


def test_rsync_pass_through_replicant_serve_peers_converges(env):
    c, serves, _ = env
    src = c.nodes[0]
    # New objects, POSTed metadata (.meta, Content-Type changed) and tombstones, in
    # primary and handoff partitions of src.
    w = Workload(c, src, 'rsync-serve')
    stats, log = replicate(src)
    problems = w.problems()  # GET through Swift's object servers: body, ETag, metadata
    assert not problems, '%d problems, first: %s\n%s' % (len(problems), problems[:3],
                                                         log[-3000:])
    assert stats['rsync'] > 0 and stats['suffix_sync'] > 0, stats
    assert stats['failure'] == 0 and stats['remove'] > 0, stats
    # The REPLICATEs (hashes, and the rehash request after each rsync) reached serve,
    # several per connection (serve logs the client's address and port).
    rehashes, per_client = 0, {}
    for node in c.nodes[1:]:
        with open(serves[node.name].log_path) as f:
            for line in f:
                if ' REPLICATE /' not in line:
                    continue
                path = line.split(' REPLICATE ', 1)[1].split()[0]
                rehashes += path.count('/') == 3  # /dev/part/suf[-suf...]
                client = line.split()[-1]
                per_client[client] = per_client.get(client, 0) + 1
    assert rehashes > 0, 'no rehash request seen by any replicant serve'
    assert max(per_client.values()) > 1, 'no connection carried two requests: %r' % per_client
    # POSTs arrived as .meta files beside the .data.
    metas = sum(1 for n in c.nodes if n is not src for f in c.list_objects_on(n)
                if f.ext == '.meta')
    assert metas >= 3, metas

    # Converged: the next pass compares hashes with serve's and moves nothing.
    stats, log = replicate(src)
    assert stats['rsync'] == 0 and stats['suffix_sync'] == 0, (stats, log[-3000:])
    assert stats['failure'] == 0 and stats['hashmatch'] > 0, stats
    assert not w.problems()


def converged_object(c, node, name):
    """An object on all its primaries (node among them); its (device, partition)."""
    ts = c.next_timestamp()
    mine = None
    for p in c.primaries(ACCOUNT, CONTAINER, name):
        c.put_object(p.node, ACCOUNT, CONTAINER, name, b'kept alive', device=p.device,
                     timestamp=ts)
        if p.node is node:
            mine = p.device
    return mine, c.partition(ACCOUNT, CONTAINER, name)


def drive(port, device, part, *args):
    p = run([tool('replicate_tool'), '127.0.0.1', str(port), device, str(part), '0'] +
            [str(a) for a in args])
    return json.loads(p.stdout)


@pytest.mark.parametrize('server', ['replicant-serve', 'swift-object-server'])
def test_replicate_connections_are_kept_alive(env, server):
    import pickle
    c, _, swift_port = env
    node = c.nodes[1]
    name = next(n for n in ('ka-%d' % i for i in range(500))
                if c.is_primary(node, ACCOUNT, CONTAINER, n))
    device, part = converged_object(c, node, name)
    port = node.replication_port if server == 'replicant-serve' else swift_port
    status, body = raw_request(port, 'REPLICATE', '/%s/%d' % (device, part),
                               {'X-Backend-Storage-Policy-Index': '0'})
    assert status == 200
    expected = pickle.loads(body)
    assert expected, 'the partition has hashes'

    # Four requests in a row, then two at once: one connection for the first four (and
    # the first of the pair), a second one for the concurrent request.
    out = drive(port, device, part, 4, 0, 2)
    assert [r.get('status') for r in out['results']] == [200] * 6, out
    assert all(r['hashes'] == expected for r in out['results']), (out, expected)
    assert (out['connects'], out['reuses'], out['retries']) == (2, 4, 0), out

    # The server closes the kept-alive connection while the client is idle: the next
    # request still succeeds, on a new connection.
    out = drive(port, device, part, 2, IDLE_TIMEOUT + 0.8)
    assert [r.get('status') for r in out['results']] == [200, 200], out
    assert out['connects'] == 2, out
