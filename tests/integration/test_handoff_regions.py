"""Handoff revert across regions: Swift's remote_check_objs (issue #19).

A two-region ring (nodes 0-1 in region 1, nodes 2-4 in region 2) and a handoff
partition on node 0 (region 1) whose primaries include two or more region-2 nodes.
Swift's update_deleted() with ssync sends the handoff's objects to the *first* primary
of a remote region only; the region's later primaries are only asked (missing check,
no updates) which objects they already hold, and an object is deleted from the
handoff only when those checked primaries hold it too. The others stay on the handoff
until the region's own replication brings them to the checked primaries. replicant
does the same with ssync and native; rsync has no per-object check, so Swift (and
replicant) send it to every primary.

The checked primary "checked" starts with some objects ("held") and lacks the others
("fresh"). After one revert pass:
* every object is on the synced remote primary and on the region-1 primary;
* "checked" received nothing (no PUT in its log, no file), so "fresh" is not there;
* the handoff lost exactly "held"; "fresh" stays, with its partition dir.
Then "checked" gets "fresh" from its region's replication, and the next revert removes
the partition. A check that fails (the checked primary down) keeps every object and
counts a failure. Swift's own replicator is run on the same setup for comparison.
"""
import os
import re

import pytest

from cluster import Cluster
from interop import ACCOUNT, CONTAINER, recon, replicant_servers, replicate

REGIONS = [1, 1, 2, 2, 2]


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _cluster(backend):
    method = 'ssync' if backend == 'swift' else backend
    # DEBUG: Swift's object server logs SSYNC requests and their PUT subrequests then.
    return Cluster(nodes=5, replicas=3, part_power=4, regions=REGIONS, ring_seed=7,
                   log_level='DEBUG',
                   replicator_options={'sync_method': method, 'concurrency': 1},
                   replication='external' if backend == 'native' else 'same')


def _servers(c, backend):
    return replicant_servers(c) if backend == 'native' else _Nothing()


def _layout(c, src, tag, count):
    """Names in one partition that `src` does not hold as a primary and of which at
    least two primaries are in region 2: (names, synced, checked, local)."""
    by_part = {}
    for i in range(3000):
        name = '%s-%04d' % (tag, i)
        prim = c.primaries(ACCOUNT, CONTAINER, name)
        remote = [p.node for p in prim if p.node.region != src.region]
        if any(p.node is src for p in prim) or len(remote) < 2:
            continue
        by_part.setdefault(c.partition(ACCOUNT, CONTAINER, name), []).append(name)
    assert by_part, 'the ring has no partition with two region-2 primaries'
    names = max(by_part.values(), key=len)
    assert len(names) >= count, by_part
    prim = [p.node for p in c.primaries(ACCOUNT, CONTAINER, names[0])]
    remote = [n for n in prim if n.region != src.region]
    local = [n for n in prim if n.region == src.region]
    return names[:count], remote[0], remote[1:], local


def _has(c, node, name):
    r = c.get_object(node, ACCOUNT, CONTAINER, name)
    return r.status == 200 and r.body == _body(name)


def _body(name):
    return ('%s body ' % name).encode() * 40


def _on_src(c, src, name):
    h = c.object_hash(ACCOUNT, CONTAINER, name)
    return [f for f in c.list_objects_on(src) if f.hash == h]


def _log_sizes(c):
    return {n.name: os.path.getsize(n.log_path) for n in c.nodes}


def _logged(node, since, method, part):
    """`method` requests into `part` that the node's object server logged after byte
    `since` of its log (ssync's updates reach it as PUT subrequests)."""
    with open(node.log_path, 'rb') as f:
        f.seek(since[node.name])
        text = f.read().decode('utf-8', 'replace')
    return [l for l in text.splitlines() if re.search(r'"%s /[^/]+/%d\b' % (method, part), l)]


def _setup(c, src, tag):
    names, synced, checked, local = _layout(c, src, tag, 5)
    held, fresh = names[:2], names[2:]
    for name in names:
        ts = c.next_timestamp()
        c.write_object_on(src, ACCOUNT, CONTAINER, name, _body(name), timestamp=ts)
        if name in held:  # the same object, already on every checked primary
            for n in checked:
                c.write_object_on(n, ACCOUNT, CONTAINER, name, _body(name), timestamp=ts)
    return c.partition(ACCOUNT, CONTAINER, names[0]), held, fresh, synced, checked, local


def _revert(c, src, backend):
    if backend == 'swift':
        return c.run_swift_replicator(src).output
    return replicate(src).stderr


@pytest.mark.parametrize('backend', ['ssync', 'native', 'swift'])
def test_remote_region_later_primaries_are_only_checked(backend):
    with _cluster(backend) as c, _servers(c, backend):
        src = c.nodes[0]
        part, held, fresh, synced, checked, local = _setup(c, src, 'chk-' + backend)
        since = _log_sizes(c)
        out = _revert(c, src, backend)
        for name in held + fresh:
            for n in [synced] + local:
                assert _has(c, n, name), (name, n, out[-4000:])
        for n in checked:
            for name in fresh:
                assert not _has(c, n, name), ('a checked primary received data', name, n,
                                              out[-4000:])
            if backend != 'native':
                # Asked (one SSYNC session), sent nothing.
                assert len(_logged(n, since, 'SSYNC', part)) == 1, out[-4000:]
                assert not _logged(n, since, 'PUT', part), out[-4000:]
        if backend != 'native':
            assert len(_logged(synced, since, 'SSYNC', part)) == 1
            assert len(_logged(synced, since, 'PUT', part)) == len(held) + len(fresh)
        else:
            for n in checked:
                line = [l for l in out.splitlines()
                        if 'native check of' in l and ':%d' % n.replication_port in l]
                assert line and '0 files sent (0 bytes' in line[0], out[-4000:]
        # Deleted exactly what every region confirmed; the partition stays for the rest.
        for name in held:
            assert not _on_src(c, src, name), (name, out[-4000:])
        for name in fresh:
            assert _on_src(c, src, name), (name, out[-4000:])
        assert part in c.partitions_on(src)

        # The checked primaries get the rest from their own region; the next revert
        # then finds everything in sync and removes the partition.
        if backend == 'swift':
            c.run_swift_replicator(synced)
        else:
            replicate(synced)
        for n in checked:
            for name in fresh:
                assert _has(c, n, name), (name, n)
        out = _revert(c, src, backend)
        assert not [f for f in c.list_objects_on(src) if f.partition == part], out[-4000:]


def test_rsync_sends_to_every_primary():
    """Swift ignores remote_check_objs with rsync: every primary gets the partition."""
    with _cluster('rsync') as c:
        src = c.nodes[0]
        part, held, fresh, synced, checked, local = _setup(c, src, 'rsync')
        out = _revert(c, src, 'rsync')
        for name in held + fresh:
            for n in [synced] + checked + local:
                assert _has(c, n, name), (name, n, out[-4000:])
        assert part not in c.partitions_on(src), out[-4000:]


@pytest.mark.parametrize('backend', ['ssync', 'native'])
def test_failed_remote_check_keeps_handoff(backend):
    with _cluster(backend) as c, _servers(c, backend) as serve:
        src = c.nodes[0]
        part, held, fresh, synced, checked, local = _setup(c, src, 'down-' + backend)
        down = checked[0]
        if backend == 'native':
            serve[down.name].stop(grace=1)
        else:
            down.server.stop()
        p = replicate(src)
        for name in held + fresh:
            assert _on_src(c, src, name), ('handoff object deleted after a failed check',
                                           name, p.stderr[-4000:])
            assert _has(c, synced, name)
        assert recon(src)['failure'] > 0, recon(src)
        assert re.search(r'Checked \d+ objects of handoff .* on .*:%d.* \(failed'
                         % down.replication_port, p.stderr), p.stderr[-4000:]
