"""Hostile and broken peers: each converges or fails cleanly within the configured
timeouts, with nothing lost.

Sender side: `replicant replicate --once` on node0 with node3's replication port served by
a HostilePeer (tests/support/hostile_peer.py) that is slow (one byte a second), stalls
mid-body or before its acknowledgement, lies (acknowledges and writes nothing), or answers
507 / 503 / garbage. node1 and node2 run `replicant serve`. After the hostile pass: the
run ended within its timeouts, every object is still somewhere with a body matching its
ETag, no partial file is under any name Swift reads, the well-behaved peers converged;
then node3 gets a real `replicant serve` and a clean pass converges everywhere.

Receiver side: `replicant serve` against a client that drips its request head, or stops
in the middle of a body (then disconnects, or just stays): the server drops it within
client_timeout, releases the partition lock, leaves no temp or partial file, and keeps
serving.
"""
import hashlib
import os
import pickle
import socket
import subprocess
import time

import pytest

from cluster import Cluster
from hostile_peer import HostilePeer, wait_until
from native_client import frame as _frame, read_frame as _read_frame
from native_client import repconn
from interop import ACCOUNT, CONTAINER, object_files, recon, start_server, trouble
from replicant_test import REPLICANT_BIN

NODE_TIMEOUT, HTTP_TIMEOUT, CONN_TIMEOUT = 1, 1, 0.5
# The slow peer drips one byte a second: its case needs timeouts above that, or each
# read would time out on its own and the case would test nothing more than a stall.
SLOW_TIMEOUT = 2
# Each of the pass's (at most 3) partitions may spend one REPLICATE and one answer's
# timeout on the slow peer; a sender that times out per recv() is held forever.
SLOW_LIMIT = 3 * 2 * SLOW_TIMEOUT + 3
# A hostile pass touches at most a few partitions, each bounded by the timeouts above.
PASS_LIMIT = 15
CLIENT_TIMEOUT = 1


def run_pass(node, limit=PASS_LIMIT):
    """replicate --once; (seconds it took, CompletedProcess). Fails if it overran."""
    start = time.monotonic()
    try:
        p = subprocess.run([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'],
                           text=True, capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired as e:
        raise AssertionError('replicate --once still running after %ds: a peer held it '
                             'past its timeouts\n%s' % (limit, (e.stderr or b'')[-3000:]))
    return time.monotonic() - start, p


@pytest.fixture(scope='module')
def cluster():
    """node0 replicates; node1 and node2 run `replicant serve`; node3's replication port
    is free for a HostilePeer (or, for a clean pass, a real server)."""
    # replication_lock_timeout 0: a session finding its partition locked is refused at
    # once, which shows exactly when a dropped session let go of it.
    with Cluster(nodes=4, replicas=3, part_power=2, replication='external',
                 replicator_options={'concurrency': 2, 'conn_timeout': CONN_TIMEOUT},
                 replicant_server_options={'client_timeout': CLIENT_TIMEOUT,
                                           'replication_lock_timeout': 0}) as c:
        c.good_servers = [start_server(c, n) for n in c.nodes[1:3]]
        yield c
        for s in c.good_servers:
            s.stop(grace=2)


_names = iter('hostile-%05d' % i for i in range(100000))


def write_objects(c, src, hostile, sizes):
    """Fresh objects on src only, each with `hostile` among its primaries; the first half
    has src as a primary too, the second half is on a handoff partition of src."""
    want_primary = [True] * ((len(sizes) + 1) // 2) + [False] * (len(sizes) // 2)
    bodies = {}
    for size, on_primary in zip(sizes, want_primary):
        while True:
            name = next(_names)
            prims = [p.node for p in c.primaries(ACCOUNT, CONTAINER, name)]
            if hostile in prims and (src in prims) == on_primary:
                break
        body = os.urandom(size)
        c.write_object_on(src, ACCOUNT, CONTAINER, name, body)
        bodies[name] = body
    return bodies


def partial_files(c):
    """Leftovers Swift could trip on: temp files, and object files whose body does not
    match their metadata (read as Swift's DiskFile does)."""
    from swift.obj.diskfile import read_metadata
    out = []
    for node in c.nodes:
        for dev in node.devices:
            tmp = os.path.join(node.device_path(dev), 'tmp')
            if os.path.isdir(tmp):
                out += [os.path.join(tmp, f) for f in os.listdir(tmp)]
        for f in c.list_objects_on(node):
            if f.ext != '.data':
                continue
            with open(f.path, 'rb') as fp:
                md = read_metadata(fp)
                body = fp.read()
            if hashlib.md5(body).hexdigest() != md.get('ETag') or \
                    str(len(body)) != md.get('Content-Length'):
                out.append(f.path)
    return out


def holders(c, name, body):
    """Nodes whose object server returns `body` (and its ETag) for name, from whichever
    partition dir holds it there."""
    h = c.object_hash(ACCOUNT, CONTAINER, name)
    part = c.partition(ACCOUNT, CONTAINER, name)
    out = []
    for node in c.nodes:
        if not object_files(c, node, h):
            continue
        r = c.get_object(node, ACCOUNT, CONTAINER, name, partition=part)
        if r.status == 200 and r.body == body and \
                r.headers['Etag'].strip('"') == hashlib.md5(body).hexdigest():
            out.append(node)
    return out


def check_nothing_lost(c, bodies, good):
    """No partial file anywhere; every object readable somewhere, and on each of its
    primaries in `good`."""
    assert not partial_files(c), partial_files(c)
    for name, body in bodies.items():
        have = holders(c, name, body)
        assert have, '%s: lost' % name
        for p in c.primaries(ACCOUNT, CONTAINER, name):
            if p.node in good:
                assert p.node in have, (name, p.node.name)


def clean_pass(c, src, hostile, bodies):
    """node3 gets a real server: a pass then converges (copies a 507 sent to a handoff
    node stay there for that node's own replicator)."""
    real = start_server(c, hostile)
    try:
        _, p = run_pass(src)
        assert recon(src)['failure'] == 0, trouble(p)
        for name, body in bodies.items():
            prims = [p.node for p in c.primaries(ACCOUNT, CONTAINER, name)]
            have = holders(c, name, body)
            assert all(n in have for n in prims), (name, [n.name for n in have])
            if src not in prims:
                assert src not in have, name
        assert not partial_files(c)
    finally:
        real.stop(grace=2)


# (sync method, hostile mode, status, REPLICATE status, object sizes)
SENDER_CASES = [
    ('native', 'status', 507, None, [100, 2000, 300, 5]),
    ('native', 'status', 503, None, [100, 2000, 300, 5]),
    ('native', 'status', 503, 507, [100, 2000]),
    ('native', 'garbage', 0, None, [100, 2000]),
    ('native', 'garbage-frame', 0, None, [100, 2000]),
    ("native", "stall-body", 0, None, [6 << 20, 100]),
    ('native', 'stall-ack', 0, None, [100, 2000]),
    ('native', 'slow', 0, None, [100, 2000]),
    ('ssync', 'status', 507, None, [100, 2000]),
    ('ssync', 'garbage', 0, None, [100, 2000]),
    ("ssync", "stall-body", 0, None, [6 << 20, 100]),
    ('ssync', 'slow', 0, None, [100, 2000]),
]


@pytest.mark.parametrize('sync,mode,status,replicate_status,sizes', [
    pytest.param(*case, id='%s-%s%s%s' % (case[0], case[1], '-%d' % case[2] if case[2] else '',
                                          '-replicate-%d' % case[3] if case[3] else ''))
    for case in SENDER_CASES])
def test_sender_against_a_broken_peer(cluster, sync, mode, status, replicate_status, sizes):
    c = cluster
    src, hostile, good = c.nodes[0], c.nodes[3], c.nodes[1:3]
    timeout = SLOW_TIMEOUT if mode == 'slow' else NODE_TIMEOUT
    c.set_replicator_options(nodes=[src], sync_method=sync, node_timeout=timeout,
                             http_timeout=timeout if mode == 'slow' else HTTP_TIMEOUT)
    bodies = write_objects(c, src, hostile, sizes)
    with HostilePeer(hostile.replication_port, mode, status, replicate_status) as peer:
        _, p = run_pass(src, limit=SLOW_LIMIT if mode == "slow" else PASS_LIMIT)
        assert p.returncode == 0, trouble(p)
        assert peer.methods, 'the peer was never asked'
        assert recon(src)['failure'] > 0, trouble(p)
    check_nothing_lost(c, bodies, good)
    for name, body in bodies.items():  # a failed peer never lets a handoff go
        assert src in holders(c, name, body), name
    clean_pass(c, src, hostile, bodies)


@pytest.mark.parametrize('sync', ['native', 'ssync'])
def test_a_peer_that_lies_is_found_out_by_replicate(cluster, sync):
    # It acknowledges every file and keeps none: the next pass's REPLICATE still shows
    # its suffixes differ, so the files go again. src keeps its primary copies (a
    # handoff it was told is safe there is gone, but the honest primaries hold it).
    c = cluster
    src, liar, good = c.nodes[0], c.nodes[3], c.nodes[1:3]
    c.set_replicator_options(nodes=[src], sync_method=sync, node_timeout=NODE_TIMEOUT,
                             http_timeout=HTTP_TIMEOUT)
    bodies = write_objects(c, src, liar, [100, 2000, 300, 5])
    mine = {n for n in bodies if c.is_primary(src, ACCOUNT, CONTAINER, n)}
    with HostilePeer(liar.replication_port, 'liar') as peer:
        run_pass(src)
        first = list(peer.acked)
        check_nothing_lost(c, bodies, good)
        run_pass(src)
        resent = peer.acked[len(first):]
    for name in mine:
        h = c.object_hash(ACCOUNT, CONTAINER, name)
        assert any(h in a for a in first) and any(h in a for a in resent), (name, peer.acked)
    real = start_server(c, liar)
    try:
        run_pass(src)
    finally:
        real.stop(grace=2)
    for name in mine:
        assert liar in holders(c, name, bodies[name]), name
    check_nothing_lost(c, bodies, good)


# ----------------------------------------------------------------------------------------
# `replicant serve` against misbehaving clients

@pytest.fixture
def served(cluster):
    """node1's `replicant serve` (client_timeout 1 s, replication_lock_timeout 0)."""
    node = cluster.nodes[1]
    return cluster, node, cluster.good_servers[0]


def _repconn(node, part):
    """A plain-protocol session begun on node's partition: the socket, or None when the
    server refused it (partition busy)."""
    s, _ = repconn(node.replication_port, node.devices[0], part)
    s.sendall(_frame({'Device': node.devices[0], 'Partition': str(part), 'NeedHashes': False}))
    begin = _read_frame(s)
    if 'Error' in begin:
        assert 'busy' in begin['Error'], begin
        s.close()
        return None
    return s


def _closed_by_server(s, within):
    """True if the server closes (or answers and closes) s within `within` seconds."""
    s.settimeout(within)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def _object(c, node, tag):
    name = next(n for n in ('%s-%d' % (tag, i) for i in range(500))
                if c.is_primary(node, ACCOUNT, CONTAINER, n))
    part = c.partition(ACCOUNT, CONTAINER, name)
    h = c.object_hash(ACCOUNT, CONTAINER, name)
    body = os.urandom(300000)
    ts = c.next_timestamp()
    md = {b'name': ('/%s/%s/%s' % (ACCOUNT, CONTAINER, name)).encode(),
          b'X-Timestamp': ts.encode(), b'Content-Type': b'application/x-test',
          b'ETag': hashlib.md5(body).hexdigest().encode(),
          b'Content-Length': str(len(body)).encode()}
    offer = {'Path': '%s/objects/%d/%s/%s/%s.data' % (node.devices[0], part, h[-3:], h, ts),
             'Xattrs': pickle.dumps(md, protocol=2).hex(), 'Size': len(body), 'Check': False,
             'Ping': False, 'Done': False}
    return name, part, h, body, ts, offer


def _no_leftovers(c, node, h):
    tmp = os.path.join(node.device_path(), 'tmp')
    return wait_until(lambda: not os.listdir(tmp), 5) and not object_files(c, node, h)


def test_serve_drops_a_client_that_drips_its_request_head(served):
    c, node, proc = served
    s = socket.create_connection(('127.0.0.1', node.replication_port), timeout=10)
    start = time.monotonic()
    head = b'REPLICATE /%s/0 HTTP/1.1\r\nHost: x\r\nX-Drip: ' % node.devices[0].encode()
    dropped = None
    for i in range(10 * 4 * CLIENT_TIMEOUT):
        try:
            s.sendall(head[i:i + 1] if i < len(head) else b'y')
        except OSError:
            dropped = time.monotonic() - start
            break
        if i == 2:  # meanwhile, others are served
            assert isinstance(c.replicate(node, node.devices[0], 0), dict)
        if _closed_by_server(s, 0.25):
            dropped = time.monotonic() - start
            break
    s.close()
    assert dropped is not None and dropped < CLIENT_TIMEOUT + 1.5, dropped
    assert proc.alive()
    assert isinstance(c.replicate(node, node.devices[0], 0), dict)


@pytest.mark.parametrize('then', ['disconnect', 'stall'])
def test_serve_releases_a_native_session_stopped_mid_body(served, then):
    c, node, proc = served
    name, part, h, body, ts, offer = _object(c, node, 'midbody-' + then)
    s = _repconn(node, part)
    s.sendall(_frame(offer))
    assert _read_frame(s)['GoAhead']
    s.sendall(body[:len(body) // 2])
    assert _repconn(node, part) is None  # the partition is held meanwhile
    start = time.monotonic()
    if then == 'disconnect':
        s.close()
    else:
        assert _closed_by_server(s, CLIENT_TIMEOUT + 2)
        s.close()
    again = []
    assert wait_until(lambda: again.append(_repconn(node, part)) or again[-1], 
                      CLIENT_TIMEOUT + 2, step=0.1)
    released = time.monotonic() - start
    assert released < CLIENT_TIMEOUT + 2, released
    assert _no_leftovers(c, node, h)
    # The server still takes the whole file, in the session that got the lock.
    s = again[-1]
    s.sendall(_frame(offer))
    assert _read_frame(s)['GoAhead']
    s.sendall(body)
    assert _read_frame(s)['Success']
    s.sendall(_frame({'Done': True}))
    s.close()
    r = c.get_object(node, ACCOUNT, CONTAINER, name)
    assert r.status == 200 and r.body == body
    assert proc.alive()


def _ssync_open(node, part):
    s = socket.create_connection(('127.0.0.1', node.replication_port), timeout=10)
    s.sendall(('SSYNC /%s/%d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
               'X-Backend-Storage-Policy-Index: 0\r\n\r\n' % (node.devices[0], part)).encode())
    return s


def _chunk(data):
    return b'%x\r\n%s\r\n' % (len(data), data)


def _ssync_busy(node, part):
    """True when an SSYNC session on the partition is refused for its lock."""
    s = _ssync_open(node, part)
    s.sendall(_chunk(b':MISSING_CHECK: START\r\n:MISSING_CHECK: END\r\n') +
              _chunk(b':UPDATES: START\r\n:UPDATES: END\r\n') + b'0\r\n\r\n')
    data = b''
    s.settimeout(10)
    while True:
        got = s.recv(65536)
        if not got:
            break
        data += got
    s.close()
    assert b':MISSING_CHECK: START' in data or b'ERROR' in data, data
    return b':UPDATES: END' not in data


@pytest.mark.parametrize('then', ['disconnect', 'stall'])
def test_serve_releases_an_ssync_session_stopped_mid_body(served, then):
    c, node, proc = served
    name, part, h, body, ts, _ = _object(c, node, 'ssync-midbody-' + then)
    s = _ssync_open(node, part)
    s.sendall(_chunk(b':MISSING_CHECK: START\r\n%s %s\r\n:MISSING_CHECK: END\r\n' %
                     (h.encode(), ts.encode())))
    sub = (b':UPDATES: START\r\nPUT /%s/%s/%s\r\nContent-Length: %d\r\nX-Timestamp: %s\r\n'
           b'Content-Type: x/y\r\nETag: %s\r\n\r\n' % (
               ACCOUNT.encode(), CONTAINER.encode(), name.encode(), len(body), ts.encode(),
               hashlib.md5(body).hexdigest().encode()))
    s.sendall(_chunk(sub + body[:len(body) // 2]))
    assert wait_until(lambda: os.listdir(os.path.join(node.device_path(), 'tmp')), 5)
    assert _ssync_busy(node, part)  # the partition is held meanwhile
    start = time.monotonic()
    if then == 'disconnect':
        s.close()
    else:
        assert _closed_by_server(s, CLIENT_TIMEOUT + 2)
        s.close()
    assert wait_until(lambda: not _ssync_busy(node, part), CLIENT_TIMEOUT + 2, step=0.1)
    assert time.monotonic() - start < CLIENT_TIMEOUT + 2
    assert _no_leftovers(c, node, h)
    assert proc.alive()


def _drip_until_dropped(s, body, interval=0.5, frame=lambda b: b):
    """Sends body a byte every `interval` seconds until the server drops the connection
    (seconds it took) or 8 client_timeouts pass (None)."""
    start = time.monotonic()
    for b in body[:int(8 * CLIENT_TIMEOUT / interval)]:
        try:
            s.sendall(frame(bytes([b])))
        except OSError:
            return time.monotonic() - start
        if _closed_by_server(s, interval):
            return time.monotonic() - start
    return None


def test_serve_drops_a_native_session_that_drips_its_body(served):
    # A byte every half second: each read makes progress within client_timeout, but a
    # 64 KiB piece of the body would take 9 hours. Swift bounds each such piece by
    # client_timeout; the session must end within about one, and let go of its lock.
    c, node, proc = served
    name, part, h, body, ts, offer = _object(c, node, 'drip')
    s = _repconn(node, part)
    s.sendall(_frame(offer))
    assert _read_frame(s)['GoAhead']
    dropped = _drip_until_dropped(s, body)
    s.close()
    assert dropped is not None and dropped < CLIENT_TIMEOUT + 1.5, dropped
    again = []
    assert wait_until(lambda: again.append(_repconn(node, part)) or again[-1], 2, step=0.1)
    again[-1].close()
    assert _no_leftovers(c, node, h)
    assert 'client timeout (1s for 64 KiB)' in open(proc.log_path).read()


def test_serve_drops_an_ssync_session_that_drips_its_body(served):
    c, node, proc = served
    name, part, h, body, ts, _ = _object(c, node, 'ssync-drip')
    s = _ssync_open(node, part)
    s.sendall(_chunk(b':MISSING_CHECK: START\r\n%s %s\r\n:MISSING_CHECK: END\r\n' %
                     (h.encode(), ts.encode())))
    s.sendall(_chunk(b':UPDATES: START\r\nPUT /%s/%s/%s\r\nContent-Length: %d\r\n'
                     b'X-Timestamp: %s\r\nContent-Type: x/y\r\n\r\n' % (
                         ACCOUNT.encode(), CONTAINER.encode(), name.encode(), len(body),
                         ts.encode())))
    dropped = _drip_until_dropped(s, body, frame=_chunk)
    s.close()
    assert dropped is not None and dropped < CLIENT_TIMEOUT + 1.5, dropped
    assert wait_until(lambda: not _ssync_busy(node, part), 2, step=0.1)
    assert _no_leftovers(c, node, h)
