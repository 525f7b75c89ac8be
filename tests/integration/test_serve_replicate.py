"""`replicant serve` on each node's replication port of a loopback Swift cluster
(replication='external': the object servers refuse REPLICATE/SSYNC), compared with a
Swift 2.30 object server (replication_server = true) on copies of the same disk, and used
by Swift's own swift-object-replicator as its peer: REPLICATE with rsync (the harness's
rsync daemon moves the data), and SSYNC. Also: error answers as Swift's, the
replication_concurrency refusal, hostile clients, SIGTERM."""
import http.client
import json
import os
import pickle
import shutil
import signal
import socket
import time

import pytest

from cluster import Cluster, free_port, wait_for_port
from objects import ACCOUNT, CONTAINER, check_spread, pick_objects
from interop import cluster_dir_kept_on_failure
from replicant_test import REPLICANT_BIN, seeded_random

CLIENT_TIMEOUT = 1.0
SWIFT_SERVER = '/usr/bin/swift-object-server'


def raw_request(port, method, path, headers=None, body=b'', timeout=30):
    """One request with the path sent exactly as given: (status, body bytes)."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def replicate(port, path, policy=0):
    return raw_request(port, 'REPLICATE', path, {'X-Backend-Storage-Policy-Index': str(policy)})


def start_serve(c, node):
    log = os.path.join(c.log_dir, '%s-replicant-serve.log' % node.name)
    proc = c._spawn('%s-replicant-serve' % node.name, [REPLICANT_BIN, 'serve', node.conf_path],
                    log)
    wait_for_port(node.replication_port, proc=proc)
    return proc


def start_swift_replication_server(c, node):
    """A Swift object server with replication_server = true on node's disks; its port."""
    port = free_port()
    conf = os.path.join(node.dir, 'swift-replication-compare.conf')
    with open(conf, 'w') as f:
        f.write('\n'.join([
            c._default_section(node, port),
            '[pipeline:main]\npipeline = object-server\n',
            '[app:object-server]\nuse = egg:swift#object\nreplication_server = true\n']))
    proc = c._spawn('%s-swift-replication' % node.name, [SWIFT_SERVER, conf, '-v'],
                    os.path.join(c.log_dir, '%s-swift-replication.log' % node.name))
    wait_for_port(port, proc=proc, timeout=30)
    return port


@pytest.fixture(scope='module')
def env(request):
    # Our own temp dir (not replicant-cluster-*), kept when a test failed.
    with cluster_dir_kept_on_failure(request, 'replicant-serve-test-') as base, \
            Cluster(nodes=4, replicas=3, part_power=6, replication='external', base_dir=base,
                    replicant_server_options={'client_timeout': CLIENT_TIMEOUT,
                                              'replication_concurrency': 1}) as c:
        serves = [start_serve(c, n) for n in c.nodes]
        swift_port = start_swift_replication_server(c, c.nodes[0])
        yield c, serves, swift_port


def write_mixed_objects(c, node, rng, count=20):
    """Objects, .meta updates, tombstones and a reclaimable tombstone on node."""
    objects = pick_objects(rng, c, node, count=count)
    for name, body, meta in objects:
        c.write_object_on(node, ACCOUNT, CONTAINER, name, body,
                          headers={'X-Object-Meta-Tag': meta})
    for name, _, _ in objects[:3]:
        c.post_object(node, ACCOUNT, CONTAINER, name, headers={'X-Object-Meta-Extra': 'x'})
    for name, _, _ in objects[3:5]:
        c.delete_object(node, ACCOUNT, CONTAINER, name)
    old = '%.5f' % (time.time() - 3 * 604800)
    c.delete_object(node, ACCOUNT, CONTAINER, 'reclaim-me', timestamp=old)
    for i in range(4):
        c.write_object_on(node, ACCOUNT, CONTAINER, 'p1-%d' % i, b'one' * i, policy=1)
    return objects


# Copies of node0's device, outside the ring (the replicators leave them alone):
# replicant answers for OURS, Swift for THEIRS.
OURS, THEIRS = 'sdours', 'sdtheirs'


def test_replicate_hashes_are_swifts_bytes(env):
    c, _, swift_port = env
    node = c.nodes[0]
    write_mixed_objects(c, node, seeded_random('test_replicate_hashes_are_swifts_bytes'))
    part0 = sorted(c.partitions_on(node, policy=0))[0]
    # Identical trees, each hashed from scratch by one server.
    for d in (OURS, THEIRS):
        path = os.path.join(node.devices_dir, d)
        shutil.copytree(node.device_path(), path, symlinks=True)
        # A 3-character non-suffix dir holding only junk: Swift lists and hashes it too.
        os.makedirs(os.path.join(path, 'objects', str(part0), 'xyz', 'notahash'))
        with open(os.path.join(path, 'objects', str(part0), 'xyz', 'notahash', 'junk'),
                  'w') as f:
            f.write('x')
    ours_port = node.replication_port
    compared = nonempty = 0
    for policy in (0, 1):
        parts = sorted(c.partitions_on(node, policy=policy))
        assert parts
        missing = [p for p in range(64) if p not in parts][:2]
        for part in parts + missing:
            s1, ours = replicate(ours_port, '/%s/%d' % (OURS, part), policy)
            s2, theirs = replicate(swift_port, '/%s/%d' % (THEIRS, part), policy)
            assert (s1, s2) == (200, 200)
            assert ours == theirs, (policy, part, pickle.loads(ours), pickle.loads(theirs))
            d = pickle.loads(ours)
            assert pickle.dumps(d, protocol=2) == ours
            nonempty += bool(d)
            # Each now reads the hashes.pkl the other one wrote.
            s3, cross1 = replicate(ours_port, '/%s/%d' % (THEIRS, part), policy)
            s4, cross2 = replicate(swift_port, '/%s/%d' % (OURS, part), policy)
            assert (s3, s4) == (200, 200)
            assert cross1 == cross2 == ours, (policy, part)
            compared += 1
    assert compared >= 10 and nonempty >= 5, (compared, nonempty)
    d = pickle.loads(replicate(ours_port, '/%s/%d' % (OURS, part0))[1])
    assert d.get('xyz') == 'd41d8cd98f00b204e9800998ecf8427e', d


def replicate_batch(port, device, partitions, policy=0, header=None):
    """REPLICATE-BATCH (formats/replicate_batch.h): (status, [(status, body)] or raw body)."""
    headers = {'X-Backend-Storage-Policy-Index': str(policy)}
    if partitions is not None:
        headers['X-Replicant-Partitions'] = header or ','.join(str(p) for p in partitions)
    status, body = raw_request(port, 'REPLICATE-BATCH', '/' + device, headers)
    if status != 200:
        return status, body
    entries, at = [], 0
    while at < len(body):
        line_end = body.index(b'\n', at)
        code, length = body[at:line_end].split(b' ')
        at = line_end + 1 + int(length)
        entries.append((int(code), body[line_end + 1:at]))
    assert at == len(body)
    return status, entries


def test_replicate_batch_answers_each_partition_as_replicate(env):
    c, _, swift_port = env
    node = c.nodes[0]
    write_mixed_objects(c, node, seeded_random('test_replicate_batch'), count=12)
    copy = 'sdbatch'  # outside the ring: no replicator touches it meanwhile
    shutil.copytree(node.device_path(), os.path.join(node.devices_dir, copy), symlinks=True)
    ours = node.replication_port
    for policy in (0, 1):
        parts = sorted(c.partitions_on(node, policy=policy))
        missing = [p for p in range(64) if p not in parts][:2]
        asked = (parts + missing)[:16]
        singles = [replicate(ours, '/%s/%d' % (copy, p), policy) for p in asked]
        status, entries = replicate_batch(ours, copy, asked, policy)
        assert status == 200
        assert entries == singles, policy
        assert sum(1 for st, body in entries if st == 200 and pickle.loads(body)) >= 2
    # Swift's object server does not know the method: 405, and nothing on disk changes.
    before = sorted(os.walk(node.device_path()))
    assert replicate_batch(swift_port, node.devices[0], [1, 2])[0] == 405
    assert sorted(os.walk(node.device_path())) == before
    # REPLICATE's refusals, for the device or any one partition.
    dev = node.devices[0]
    for args, want in [((dev, None), 400),                    # no partition list
                       ((dev, list(range(17))), 400),         # more than 16
                       ((dev, [1, 1]), 400),                  # a repeat
                       ((dev, [1, 64]), 400),                 # not in the ring (part power 6)
                       ((dev, [1], 0, '01'), 400),            # not canonical
                       ((dev, [1], 0, '1,x'), 400),
                       (('nodev', [1, 2]), 507),
                       (('..', [1]), 400),
                       ((dev, [1, 2], 9), 503)]:
        assert replicate_batch(ours, *args)[0] == want, (args, want)
    assert raw_request(ours, 'REPLICATE-BATCH', '/%s/1' % dev,
                       {'X-Replicant-Partitions': '1'})[0] == 400


def test_replicate_with_suffixes_only_invalidates(env):
    c, _, swift_port = env
    node = c.nodes[0]
    part = sorted(c.partitions_on(node, policy=0))[-1]
    fresh = next(p for p in range(64) if p not in c.partitions_on(node, policy=0))
    for p in (part, fresh):
        s1, ours = replicate(node.replication_port, '/%s/%d/abc-xyz-0f0-ABC' % (OURS, p))
        s2, theirs = replicate(swift_port, '/%s/%d/abc-xyz-0f0-ABC' % (THEIRS, p))
        assert (s1, s2) == (200, 200)
        assert ours == theirs == pickle.dumps(None, protocol=2)
        inv = [os.path.join(node.devices_dir, d, 'objects', str(p), 'hashes.invalid')
               for d in (OURS, THEIRS)]
        with open(inv[0], 'rb') as f1, open(inv[1], 'rb') as f2:
            assert f1.read() == f2.read() == b'abc\n0f0\n'  # only valid suffixes
        # Swift creates the partition dir (lock_path) even when it did not exist.
        assert sorted(os.listdir(os.path.dirname(inv[0]))) == \
            sorted(os.listdir(os.path.dirname(inv[1])))
        # The next REPLICATE consolidates them, as Swift's does.
        s1, ours = replicate(node.replication_port, '/%s/%d' % (OURS, p))
        s2, theirs = replicate(swift_port, '/%s/%d' % (THEIRS, p))
        assert (s1, s2) == (200, 200) and ours == theirs
        assert os.path.getsize(inv[0]) == os.path.getsize(inv[1]) == 0
    for d in (OURS, THEIRS):
        shutil.rmtree(os.path.join(node.devices_dir, d))


def test_error_answers_match_swift(env):
    c, _, swift_port = env
    node = c.nodes[0]
    ours = node.replication_port
    p0 = {'X-Backend-Storage-Policy-Index': '0'}
    same = [
        ('REPLICATE', '/nodev/1', p0),
        ('REPLICATE', '/../etc/1', p0),
        ('REPLICATE', '/sdb1', p0),
        ('REPLICATE', '/sdb1//abc', p0),
        ('REPLICATE', '/sdb1/1', {'X-Backend-Storage-Policy-Index': '9'}),
        ('REPLICATE', '/sdb1/1', {'X-Backend-Storage-Policy-Index': 'abc'}),
        ('REPLICATE', '/sd%00b1/1', p0),
        ('REPLICATE', '/sdb1/%FF', p0),
        ('REPLICATE', '/sd%20b1/1', p0),
        ('SSYNC', '/sdb1/1/x', p0),
        ('SSYNC', '/nodev/1', p0),
        ('SSYNC', '/sdb1/1', {'X-Backend-Storage-Policy-Index': '7'}),
    ]
    for method, path, headers in same:
        a = raw_request(ours, method, path, headers)
        b = raw_request(swift_port, method, path, headers)
        assert a == b, (method, path, a, b)
        assert a[0] in (400, 405, 412, 503, 507), (method, path, a)
    # Only replication methods are served: the 405 Swift's object server gives for a
    # method it does not serve (here its main port, replication_server = false).
    not_allowed = raw_request(node.port, 'REPLICATE', '/sdb1/1', p0)
    assert not_allowed[0] == 405
    for method in ('GET', 'PUT', 'HEAD', 'OPTIONS', 'POST'):
        got = raw_request(ours, method, '/sdb1/1/a/c/o', p0)
        assert got == (405, b'' if method == 'HEAD' else not_allowed[1]), (method, got)
    # REPCONN (the native protocol, which Swift answers 405) takes /<dev>/<part> only.
    assert raw_request(ours, 'REPCONN', '/sdb1/1/a/c/o', p0)[0] == 400
    assert raw_request(ours, 'REPCONN', '/nodev/1', p0)[0] == 507
    assert raw_request(swift_port, 'REPCONN', '/sdb1/1', p0)[0] == 405
    # Deliberately stricter than Swift, which answers 200 (touching objects/notanumber,
    # or silently dropping suffixes that are not 3 hex digits).
    for path in ('/sdb1/notanumber', '/sdb1/1/../../x', '/sdb1/01', '/sdb1/%00'):
        assert raw_request(ours, 'REPLICATE', path, p0)[0] == 400, path
        assert raw_request(swift_port, 'REPLICATE', path, p0)[0] == 200, path
    assert not os.path.exists(os.path.join(node.device_path(), 'objects', 'notanumber'))


def test_busy_server_refuses_ssync_in_body(env):
    c, _, _ = env
    node = c.nodes[1]
    head = ('SSYNC /%s/3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
            'X-Backend-Storage-Policy-Index: 0\r\n\r\n' % node.devices[0]).encode()
    holder = socket.create_connection(('127.0.0.1', node.replication_port))
    holder.sendall(head)  # holds the only slot (replication_concurrency = 1)
    holder.settimeout(5)
    assert holder.recv(4096).startswith(b'HTTP/1.1 200 OK\r\n')
    r = http.client.HTTPConnection('127.0.0.1', node.replication_port, timeout=5)
    r.putrequest('SSYNC', '/%s/4' % node.devices[0])
    r.putheader('Transfer-Encoding', 'chunked')
    r.putheader('X-Backend-Storage-Policy-Index', '0')
    r.endheaders()
    resp = r.getresponse()
    assert resp.status == 200
    assert resp.getheader('X-Backend-Accept-No-Commit') == 'True'
    assert resp.read() == (b"\r\n:ERROR: 503 b'<html><h1>Service Unavailable</h1><p>The server "
                           b"is currently unavailable. Please try again at a later time.</p>"
                           b"</html>'\n")
    r.close()
    holder.close()


def test_hostile_clients_do_not_take_the_server_down(env):
    c, serves, _ = env
    node = c.nodes[2]
    port = node.replication_port
    addr = ('127.0.0.1', port)
    path = '/%s/5' % node.devices[0]

    def closed_within(sock, seconds):
        sock.settimeout(seconds)
        data = b''
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return True, data
                data += chunk
        except socket.timeout:
            return False, data

    s = socket.create_connection(addr)
    s.sendall(b'\x16\x03\x01\x02\x00\x01\x00garbage\r\n\r\n')
    ok, data = closed_within(s, 5)
    assert ok and data.startswith(b'HTTP/1.1 400 '), data
    s.close()

    s = socket.create_connection(addr)
    s.sendall(('REPLICATE %s HTTP/1.1\r\nX-Huge: %s\r\n\r\n' % (path, 'a' * 100000)).encode())
    ok, data = closed_within(s, 5)
    assert ok and data.startswith(b'HTTP/1.1 400 '), data
    s.close()

    s = socket.create_connection(addr)  # disconnects in the middle of its head
    s.sendall(('REPLICATE %s HTTP/1.1\r\nX-Backend-Stor' % path).encode())
    s.close()
    s = socket.create_connection(addr)  # and in the middle of an SSYNC body
    s.sendall(('SSYNC %s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
               '17\r\n:MISSING_CHECK: START\r\n\r\n5\r\nab' % path).encode())
    time.sleep(0.2)
    s.close()

    # Slowloris: one header byte at a time, each within client_timeout, never done.
    s = socket.create_connection(addr)
    s.sendall(('REPLICATE %s HTTP/1.1\r\n' % path).encode())
    start = time.monotonic()
    closed = False
    while time.monotonic() - start < 4 * CLIENT_TIMEOUT + 3:
        try:
            s.sendall(b'X')
        except OSError:
            closed = True
            break
        time.sleep(CLIENT_TIMEOUT / 3)
    s.close()
    assert closed, 'a trickling client kept its connection'

    status, body = replicate(port, path)
    assert status == 200 and isinstance(pickle.loads(body), dict)
    assert serves[2].alive()
    with open(serves[2].log_path) as f:
        log = f.read()
    assert 'request head not received in time' in log
    assert 'bad request' in log


def test_swift_ssync_sender_is_served(env):
    """Swift's SSYNC sender reads the 200 head, then streams its body on the same
    connection (a "Connection: close" in the head would make it reconnect)."""
    c, _, _ = env
    node = c.nodes[1]
    rng = seeded_random('test_swift_ssync_sender_is_served')
    objects = pick_objects(rng, c, node, count=12)
    for name, body, meta in objects:
        c.write_object_on(node, ACCOUNT, CONTAINER, name, body,
                          headers={'X-Object-Meta-Tag': meta})
    c.set_replicator_options(nodes=[node], sync_method='ssync')
    run = c.run_swift_replicator(node)
    problems = check_spread(c, objects, node)
    assert not problems, '%d problems, first: %s\n%s' % (len(problems), problems[:3],
                                                         run.output[-3000:])
    with open(os.path.join(node.recon_cache_path, 'object.recon')) as f:
        stats = json.load(f)['replication_stats']
    assert stats['failure'] == 0, stats


def test_swift_replicator_converges_through_replicant_serve(env):
    c, serves, _ = env
    node0 = c.nodes[0]
    rng = seeded_random('test_swift_replicator_converges')
    objects = pick_objects(rng, c, node0, count=20)
    for name, body, meta in objects:
        c.write_object_on(node0, ACCOUNT, CONTAINER, name, body,
                          headers={'X-Object-Meta-Tag': meta})
    run = c.run_swift_replicator(node0)
    problems = check_spread(c, objects, node0)
    assert not problems, '%d problems, first: %s\n%s' % (len(problems), problems[:3],
                                                         run.output[-3000:])
    with open(os.path.join(node0.recon_cache_path, 'object.recon')) as f:
        stats = json.load(f)['replication_stats']
    assert stats['rsync'] > 0 and stats['failure'] == 0, stats

    # Nothing left to do: Swift's next pass compares hashes with replicant's and agrees.
    run = c.run_swift_replicator(node0)
    with open(os.path.join(node0.recon_cache_path, 'object.recon')) as f:
        stats = json.load(f)['replication_stats']
    assert stats['rsync'] == 0 and stats['failure'] == 0, (stats, run.output[-3000:])
    assert stats['hashmatch'] > 0, stats

    # SIGTERM: a clean exit.
    serves[3].popen.send_signal(signal.SIGTERM)
    assert serves[3].popen.wait(10) == 0
    assert all(p.alive() for p in serves[:3])
