"""SSYNC interop with Swift 2.30, both ways.

* replicant's receiver vs Swift's own ssync_receiver + object server, fed the same request
  body: same answers, same files, byte-identical metadata xattrs;
* replicant (sync_method = ssync) -> real swift-object-server;
* Swift's swift-object-replicator (ssync) -> `replicant serve`, and replicant -> `replicant
  serve`; a receiver killed mid-session and malformed input from a hand-written client.

Each cluster pass is checked through Swift's object server GET (body, ETag, metadata,
Content-Type) on every primary, handoffs gone, and a second pass that syncs nothing.
"""
import hashlib
import os
import pickle
import signal
import socket
import subprocess
import time

from cluster import SWIFT_PYTHON, Cluster, install_swift_conf
from replicant_test import TEST_HASH_PREFIX, TEST_HASH_SUFFIX, tool

from interop import (ACCOUNT, CONTAINER, Workload, object_files, recent_ts, recon, replicate,
                     replicant_servers, ssync_request, start_server)

# Swift's own receiver, in a fresh process (swift reads swift.conf at import).
SWIFT_RECEIVER = r'''
import io, sys
from swift.common import utils
utils.HASH_PATH_PREFIX = sys.argv[3].encode()
utils.HASH_PATH_SUFFIX = sys.argv[4].encode()
from swift.common.swob import Request
from swift.obj import server
app = server.ObjectController({'devices': sys.argv[1], 'mount_check': 'false',
                               'log_level': 'ERROR'})
req = Request.blank('/sdb1/7', headers={'X-Backend-Storage-Policy-Index': '0'}, environ={
    'REQUEST_METHOD': 'SSYNC', 'wsgi.input': io.BytesIO(open(sys.argv[2], 'rb').read())})
sys.stdout.buffer.write(req.get_response(app).body)
'''


# ----------------------------------------------------------------------------------------
# replicant's receiver against Swift's, same input

def _session(missing, updates):
    return (b':MISSING_CHECK: START\r\n' + missing + b':MISSING_CHECK: END\r\n'
            b':UPDATES: START\r\n' + updates + b':UPDATES: END\r\n')


def _sub(method, name, headers, body=b''):
    lines = [('%s /a/c/%s' % (method, name)).encode()]
    lines += [('%s: %s' % kv).encode() for kv in headers]
    return b'\r\n'.join(lines) + b'\r\n\r\n' + body


def _tree(devices):
    """{relative path: (content, {xattr: value})} of object files under devices."""
    out = {}
    for root, _dirs, files in os.walk(devices):
        for fn in files:
            if not fn.endswith(('.data', '.ts', '.meta')):
                continue
            p = os.path.join(root, fn)
            with open(p, 'rb') as f:
                content = f.read()
            out[os.path.relpath(p, devices)] = (content, {
                k: os.getxattr(p, k) for k in sorted(os.listxattr(p))})
    return out


def test_receiver_matches_swift_receiver(tmp_path):
    install_swift_conf()
    t = [recent_ts(i) for i in range(10)]
    body1 = os.urandom(70000)
    etag1 = hashlib.md5(body1).hexdigest()
    # Headers in the order a sender could use, with Swift's odd cases: lower-case and
    # underscore names, sysmeta, transient sysmeta, allowed headers, X-Delete-At,
    # EC-only X-Backend-No-Commit, a quoted ETag, an offset timestamp.
    put1 = _sub('PUT', 'o1', [
        ('X-Timestamp', t[0]), ('Content-Type', 'application/x-test'),
        ('x-object-meta-lower', 'l'), ('Content-Length', str(len(body1))),
        ('X-Object-Meta-Foo_Bar', 'u'), ('X-Object-Sysmeta-Slo-Etag', 'se'),
        ('X-Object-Transient-Sysmeta-Crypto-Meta', 'tm'), ('X-Static-Large-Object', 'True'),
        ('Content-Encoding', 'gzip'), ('X-Delete-At', str(int(time.time()) + 86400)),
        ('X-Object-Meta-A1b', 'title'), ('X-Backend-No-Commit', 'True'),
        ('ETag', '"%s"' % etag1)], body1)
    put2 = _sub('PUT', 'o2', [('Content-Length', '3'), ('Content-Type', 'a/b'),
                              ('X-Object-Meta-K', 'v'), ('X-Timestamp', t[1])], b'abc')
    post2 = _sub('POST', 'o2', [('Content-Type', 'text/new'), ('Content-Type-Timestamp', t[2]),
                                ('X-Object-Meta-New', '1'), ('X-Timestamp', t[2])])
    post2b = _sub('POST', 'o2', [('X-Object-Meta-Newer', '2'), ('X-Timestamp', t[3])])
    del3 = _sub('DELETE', 'o3', [('X-Timestamp', t[0] + '_0000000000000005')])
    put4 = _sub('PUT', 'o4', [('Content-Length', '0'), ('Content-Type', 'x/y'),
                              ('X-Timestamp', t[0])])
    del4 = _sub('DELETE', 'o4', [('X-Timestamp', t[1])])
    h = lambda n: hashlib.md5(('%s/a/c/%s%s' % (TEST_HASH_PREFIX, n, TEST_HASH_SUFFIX))
                              .encode()).hexdigest()
    sessions = [
        _session(b''.join(b'%s %s\r\n' % (h(n).encode(), t[0].encode())
                          for n in ('o1', 'o2', 'o3', 'o4')),
                 put1 + put2 + post2 + post2b + del3 + put4 + del4),
        # What is wanted now: in sync, newer meta, newer ctype, newer data, unknown.
        _session(b''.join(b'%s\r\n' % l.encode() for l in (
            '%s %s' % (h('o1'), t[0]), '%s %s m:%x' % (h('o2'), t[1], 400000),
            '%s %s m:%x,t:%x' % (h('o2'), t[1], 200000, 300000),
            '%s %s' % (h('o3'), t[5]), '%s %s' % (h('nope'), t[0]))), b''),
        # Failures: older PUT (409), POST of a missing object (404 = success), no
        # X-Timestamp (400).
        _session(b'', _sub('PUT', 'o2', [('Content-Length', '1'), ('Content-Type', 'a/b'),
                                          ('X-Timestamp', t[0])], b'x') +
                 _sub('POST', 'nope', [('X-Timestamp', t[4])]) +
                 _sub('DELETE', 'o9', [])),
        # Malformed: Swift's exception text in an :ERROR: line.
        b':MISSING_CHECK: START\r\n:MISSING_CHECK: END\r\n:UPDATES: START\r\nGET /a/c/o\r\n\r\n',
        b'hello\r\n',
    ]
    results = {}
    for who in ('swift', 'replicant'):
        devices = tmp_path / who
        (devices / 'sdb1' / 'tmp').mkdir(parents=True)
        answers = []
        for i, body in enumerate(sessions):
            bf = tmp_path / ('body%d' % i)
            bf.write_bytes(body)
            if who == 'swift':
                p = subprocess.run([SWIFT_PYTHON, '-c', SWIFT_RECEIVER, str(devices), str(bf),
                                    TEST_HASH_PREFIX, TEST_HASH_SUFFIX],
                                   capture_output=True, timeout=60)
            else:
                p = subprocess.run([tool('ssync_tool'), 'receive', str(devices), 'sdb1', '7', '0',
                                    TEST_HASH_PREFIX, TEST_HASH_SUFFIX],
                                   input=body, capture_output=True, timeout=60)
            assert p.returncode == 0, p.stderr
            answers.append(p.stdout)
        results[who] = (answers, _tree(str(devices)))
    swift_answers, swift_tree = results['swift']
    ours_answers, ours_tree = results['replicant']
    for i, (a, b) in enumerate(zip(swift_answers, ours_answers)):
        assert a == b, 'session %d: swift %r, replicant %r' % (i, a, b)
    assert sorted(swift_tree) == sorted(ours_tree)
    assert len(swift_tree) >= 5
    for path in swift_tree:
        assert swift_tree[path] == ours_tree[path], (
            path, pickle.loads(swift_tree[path][1].get('user.swift.metadata', b'\x80\x02}.')),
            pickle.loads(ours_tree[path][1].get('user.swift.metadata', b'\x80\x02}.')))


# ----------------------------------------------------------------------------------------
# replicant's sender against Swift's object server

def test_replicant_ssync_to_swift_object_server():
    with Cluster(nodes=4, replicas=3, part_power=6,
                 replicator_options={'sync_method': 'ssync', 'concurrency': 4}) as c:
        src = c.nodes[0]
        w = Workload(c, src, 'to-swift')
        replicate(src)
        problems = w.problems()
        assert not problems, problems
        stats = recon(src)
        assert stats['failure'] == 0 and stats['remove'] > 0 and stats['suffix_sync'] > 0, stats
        replicate(src)
        stats = recon(src)
        assert stats['suffix_sync'] == 0 and stats['rsync'] == 0 and stats['failure'] == 0, stats


# ----------------------------------------------------------------------------------------
# senders against `replicant serve`

def test_swift_replicator_to_replicant_serve():
    with Cluster(nodes=4, replicas=3, part_power=6, replication='external',
                 replicator_options={'sync_method': 'ssync'}) as c:
        with replicant_servers(c):
            src = c.nodes[0]
            w = Workload(c, src, 'from-swift')
            c.run_swift_replicator(src)
            problems = w.problems()
            assert not problems, problems
            c.run_swift_replicator(src)
            stats = recon(src)
            assert stats['suffix_sync'] == 0 and stats['failure'] == 0, stats
            # What replicant wrote reads back as the source's metadata.
            compared = 0
            for name, exp in w.expect.items():
                if exp is None:
                    continue
                h = c.object_hash(ACCOUNT, CONTAINER, name)
                mine = {f.filename: f for f in object_files(c, src, h)}
                for p in c.primaries(ACCOUNT, CONTAINER, name):
                    for f in object_files(c, p.node, h):
                        if f.filename in mine and p.node is not src:
                            a = pickle.loads(os.getxattr(f.path, 'user.swift.metadata'))
                            b = pickle.loads(os.getxattr(mine[f.filename].path,
                                                         'user.swift.metadata'))
                            assert a == b, (name, f.filename, a, b)
                            compared += 1
            assert compared >= 4, compared


def test_replicant_to_replicant_serve_with_failures():
    with Cluster(nodes=4, replicas=3, part_power=6, replication='external',
                 replicator_options={'sync_method': 'ssync', 'concurrency': 4}) as c:
        with replicant_servers(c) as procs:
            src = c.nodes[0]
            w = Workload(c, src, 'r2r')
            # Malformed input from a hand-written client: an :ERROR: line, no write.
            target = c.nodes[1]
            dev = target.devices[0]
            junk = [b':MISSING_CHECK: START\r\n', b'../../../etc/passwd 1\r\n']
            resp = ssync_request(target.replication_port, dev, 5, junk)
            assert b':ERROR: 0' in resp and b'invalid object hash' in resp, resp
            name = next(n for n in ('killed-%d' % i for i in range(500))
                        if c.is_primary(target, ACCOUNT, CONTAINER, n))
            part = c.partition(ACCOUNT, CONTAINER, name)
            h = c.object_hash(ACCOUNT, CONTAINER, name)
            bad_len = [b':MISSING_CHECK: START\r\n:MISSING_CHECK: END\r\n:UPDATES: START\r\n',
                       b'PUT /%s/%s/%s\r\nContent-Length: 12x\r\nX-Timestamp: %s\r\n\r\n' % (
                           ACCOUNT.encode(), CONTAINER.encode(), name.encode(),
                           recent_ts(0).encode())]
            resp = ssync_request(target.replication_port, dev, part, bad_len)
            assert b":ERROR: 0 \"invalid literal for int()" in resp, resp
            assert not object_files(c, target, h)

            # A receiver killed in the middle of a PUT body leaves no object file.
            s = socket.create_connection(('127.0.0.1', target.replication_port), timeout=10)
            s.sendall(('SSYNC /%s/%d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
                       'X-Backend-Storage-Policy-Index: 0\r\n\r\n' % (dev, part)).encode())
            head = (b':MISSING_CHECK: START\r\n:MISSING_CHECK: END\r\n:UPDATES: START\r\n'
                    b'PUT /%s/%s/%s\r\nContent-Length: 1000000\r\nContent-Type: x/y\r\n'
                    b'X-Timestamp: %s\r\n\r\n' % (ACCOUNT.encode(), CONTAINER.encode(),
                                                  name.encode(), recent_ts(1).encode()))
            for chunk in (head, b'x' * 300000):
                s.sendall(b'%x\r\n%s\r\n' % (len(chunk), chunk))
            tmp_dir = os.path.join(target.device_path(dev), 'tmp')
            deadline = time.monotonic() + 10
            while not os.listdir(tmp_dir) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert os.listdir(tmp_dir), 'the receiver never started writing'
            os.killpg(procs[target.name].pid, signal.SIGKILL)  # mid-body
            procs[target.name].stop(grace=0)
            s.close()
            assert not object_files(c, target, h)
            procs[target.name] = start_server(c, target)

            # The real object, written on src; then the passes complete and converge.
            body = os.urandom(1000000)
            c.write_object_on(src, ACCOUNT, CONTAINER, name, body, headers={
                'Content-Type': 'x/y', 'X-Object-Meta-Color': 'k'})
            w.expect[name] = (body, {'X-Object-Meta-Color': 'k'}, 'x/y')
            if not c.is_primary(src, ACCOUNT, CONTAINER, name):
                w.handoff_parts.add(part)
            replicate(src)
            problems = w.problems()
            assert not problems, problems
            assert recon(src)['failure'] == 0
            replicate(src)
            stats = recon(src)
            assert stats['suffix_sync'] == 0 and stats['failure'] == 0, stats
