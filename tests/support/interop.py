"""Helpers shared by the interop tests: running replicant on a loopback cluster node,
`replicant serve` on the nodes' replication ports, and a workload that needs data,
.meta updates and tombstones moved from primaries and handoffs, checked through
Swift's own object server."""
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time

from cluster import wait_for_port
from replicant_test import REPLICANT_BIN, run

ACCOUNT = 'AUTH_ssync'
CONTAINER = 'c'

@contextlib.contextmanager
def cluster_dir_kept_on_failure(request, prefix):
    """A fresh base dir for a module's Cluster, removed afterwards unless a test of the
    session failed meanwhile (pytest's failures never reach the fixture's `with`) or
    $REPLICANT_KEEP_CLUSTER is set."""
    base = tempfile.mkdtemp(prefix=prefix)
    failed_before = request.session.testsfailed
    yield base
    if request.session.testsfailed == failed_before and \
            not os.environ.get('REPLICANT_KEEP_CLUSTER'):
        shutil.rmtree(base, ignore_errors=True)
    else:
        sys.stderr.write('cluster kept in %s\n' % base)


def replicate(node, check=True, extra=()):
    p = run([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'] + list(extra),
            check=False, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError('replicant exited %d\n%s' % (p.returncode, p.stderr[-4000:]))
    return p


def trouble(p, peers=(), limit=100):
    """What to show when a pass's outcome is wrong: its warning and error lines (why a
    sync failed: the tail alone often holds only the pass's summary), each line about
    one of `peers` (nodes: was it synced, and what did it answer?), then its tail."""
    about = tuple(':%d' % n.replication_port for n in peers)
    lines = [l for l in p.stderr.splitlines()
             if re.search(r' (warning|error|critical):|failed', l) or
             (about and any(a in l for a in about))]
    return '\n'.join(lines[:limit] + ['--- last lines ---', p.stderr[-1500:]])


def recon(node):
    with open(os.path.join(node.recon_cache_path, 'object.recon')) as f:
        return json.load(f)['replication_stats']


def recent_ts(offset):
    """Timestamps just in the past (old tombstones would be reclaimed on sight)."""
    return '%016.05f' % (int(time.time()) - 1000 + offset)


@contextlib.contextmanager
def replicant_servers(c, nodes=None):
    """`replicant serve` on each node's replication port; killed on exit."""
    procs = {}
    try:
        for node in (nodes or c.nodes):
            procs[node.name] = start_server(c, node)
        yield procs
    finally:
        for p in procs.values():
            p.stop(grace=2)


def start_server(c, node):
    log = os.path.join(c.log_dir, '%s-replicant-serve.log' % node.name)
    p = c._spawn('%s-replicant-serve' % node.name, [REPLICANT_BIN, 'serve', node.conf_path, '-v'],
                 log)
    wait_for_port(node.replication_port, timeout=20, proc=p)
    return p


def object_files(c, node, obj_hash):
    return [f for f in c.list_objects_on(node) if f.hash == obj_hash]


class Workload:
    """Objects written around `src` so that one pass from src must move data, .meta
    updates (with a Content-Type change) and tombstones, from primary and handoff
    partitions. `expect` maps name -> None (deleted) or (body, meta, content_type)."""

    def __init__(self, c, src, tag):
        self.c, self.src, self.expect = c, src, {}
        names = ['%s-%03d' % (tag, i) for i in range(400)]
        prim = [n for n in names if c.is_primary(src, ACCOUNT, CONTAINER, n)]
        hand = [n for n in names if not c.is_primary(src, ACCOUNT, CONTAINER, n)]
        # new objects, on src only
        for i, name in enumerate(prim[:3] + hand[:3]):
            body = os.urandom([0, 1, 4096, 300000, 17, 65537][i])
            meta = {'X-Object-Meta-Color': 'c%d' % i, 'X-Object-Meta-Two-Words': 'w'}
            c.write_object_on(src, ACCOUNT, CONTAINER, name, body, headers=dict(
                meta, **{'Content-Type': 'app/t%d' % i}))
            self.expect[name] = (body, meta, 'app/t%d' % i)
        # everywhere, then a POST (metadata + Content-Type) on src only
        for name in prim[3:5] + hand[3:4]:
            body = name.encode() * 10
            self._put_everywhere(name, body, {'X-Object-Meta-Old': 'o'}, with_src=True)
            meta = {'X-Object-Meta-New': 'n-' + name}
            c.post_object(src, ACCOUNT, CONTAINER, name, headers=dict(
                meta, **{'Content-Type': 'text/changed'}))
            self.expect[name] = (body, meta, 'text/changed')
        # everywhere, then deleted on src only
        for name in prim[5:7] + hand[4:5]:
            self._put_everywhere(name, b'doomed', {}, with_src=True)
            c.delete_object(src, ACCOUNT, CONTAINER, name)
            self.expect[name] = None
        self.handoff_parts = {c.partition(ACCOUNT, CONTAINER, n) for n in hand[:5]}

    def _put_everywhere(self, name, body, meta, with_src):
        ts = self.c.next_timestamp()
        nodes = [(p.node, p.device) for p in self.c.primaries(ACCOUNT, CONTAINER, name)]
        if with_src and self.src not in [n for n, _ in nodes]:
            nodes.append((self.src, None))
        for node, dev in nodes:
            self.c.put_object(node, ACCOUNT, CONTAINER, name, body, headers=dict(
                meta, **{'Content-Type': 'app/old'}), device=dev, timestamp=ts)

    def problems(self):
        c, out = self.c, []
        for name, exp in sorted(self.expect.items()):
            prims = c.primaries(ACCOUNT, CONTAINER, name)
            for p in prims:
                r = c.get_object(p.node, ACCOUNT, CONTAINER, name, device=p.device)
                if exp is None:
                    if r.status != 404:
                        out.append('%s: %s has %d, expected 404' % (name, p.node.name, r.status))
                    elif not any(f.ext == '.ts' for f in object_files(
                            c, p.node, c.object_hash(ACCOUNT, CONTAINER, name))):
                        out.append('%s: no tombstone on %s' % (name, p.node.name))
                    continue
                body, meta, ctype = exp
                if r.status != 200:
                    out.append('%s: %s has %d' % (name, p.node.name, r.status))
                    continue
                if r.body != body or r.headers['Etag'].strip('"') != hashlib.md5(body).hexdigest():
                    out.append('%s: body/ETag differ on %s' % (name, p.node.name))
                if r.headers['Content-Type'] != ctype:
                    out.append('%s: Content-Type %r on %s' % (name, r.headers['Content-Type'],
                                                              p.node.name))
                got = {k.title(): v for k, v in r.headers.items()
                       if k.lower().startswith('x-object-meta-')}
                if got != {k.title(): v for k, v in meta.items()}:
                    out.append('%s: metadata %r on %s' % (name, got, p.node.name))
            primary_nodes = {p.node.name for p in prims}
            h = c.object_hash(ACCOUNT, CONTAINER, name)
            for node in c.nodes:
                if node.name not in primary_nodes and object_files(c, node, h):
                    out.append('%s: handoff copy left on %s' % (name, node.name))
        for part in self.handoff_parts:
            if part in c.partitions_on(self.src):
                out.append('handoff partition %d still on %s' % (part, self.src.name))
        return out


def ssync_request(port, device, partition, body_chunks, read_timeout=10):
    """A hand-written SSYNC client: sends the chunks, then reads the response body."""
    s = socket.create_connection(('127.0.0.1', port), timeout=read_timeout)
    try:
        s.sendall(('SSYNC /%s/%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
                   'X-Backend-Storage-Policy-Index: 0\r\n\r\n' % (device, partition)).encode())
        for chunk in body_chunks:
            s.sendall(b'%x\r\n%s\r\n' % (len(chunk), chunk))
        s.sendall(b'0\r\n\r\n')
        data = b''
        while True:
            try:
                got = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not got:
                break
            data += got
        return data
    finally:
        s.close()
