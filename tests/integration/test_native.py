"""The native backend (REPCONN), on loopback clusters of real Swift object servers.

* replicant -> `replicant serve` converges with all extensions, without each one, and with
  none (Hummingbird's plain protocol); a second pass moves nothing;
* replicant -> Swift object servers (they answer REPCONN with 405): falls back to ssync,
  logged once per peer, and converges;
* a large object with a small change travels as a librsync delta: far fewer bytes;
* a peer that stops taking batches, then stops speaking REPCONN, in the middle of a
  daemon's run: the session that sent ahead fails, the next asks plainly, nothing is lost;
* concurrent and pipelined jobs wait for a free session on a peer device
  (native_sessions_per_device, 1 or 2) and are never turned away by receivers that allow
  that many; a replicator that opens more than they allow is turned away, counts a
  failure and loses nothing;
* a session costs two round trips (REPCONN with Begin and the first offer; the bodies
  with Done), four for the first one to a peer (Begin after the 200), counted by a relay;
* a hand-written plain Hummingbird client is served (hashes, GoAhead, upload), and what it
  wrote reads back through Swift's object server;
* hostile frames (huge length, truncated JSON, traversal paths, wrong Size, early close)
  end their session only; the server answers the next one and wrote nothing partial.

Correctness is checked through Swift's object server GET on every primary.
"""
import hashlib
import os
import pickle
import re
import socket
import struct
import subprocess

import pytest

from cluster import Cluster
from hostile_peer import wait_until
from native_client import frame as _frame, read_frame as _read_frame
from native_client import repconn as _repconn
from turn_proxy import TurnProxy
from interop import (ACCOUNT, CONTAINER, Workload, object_files, recon, replicate,
                     replicant_servers, start_server, trouble)
from replicant_test import REPLICANT_BIN


def _log(c, node):
    with open(os.path.join(c.log_dir, '%s-replicant-serve.log' % node.name)) as f:
        return f.read()


def _batch_syncs(served):
    """(files, syncfs, fsyncs) of every native session in serve logs."""
    return [tuple(map(int, m)) for m in re.findall(
        r'(\d+) files, \d+ bytes received \(\d+ by delta\), batches synced by (\d+) '
        r'syncfs \+ (\d+) fsyncs', served)]


def _write_on(c, node, bodies):
    """Writes each name -> body on `node` only, with Swift's DiskFile."""
    for name, body in bodies.items():
        c.write_object_on(node, ACCOUNT, CONTAINER, name, body)


def _on_every_primary(c, bodies):
    try:
        _check_on_every_primary(c, bodies)
        return True
    except AssertionError:
        return False


def _replicate_new_objects(c, src, bodies):
    """Writes `bodies` on src only, runs one pass there, and checks that every primary
    serves them; the pass's process."""
    _write_on(c, src, bodies)
    p = replicate(src)
    assert recon(src)['failure'] == 0, trouble(p)
    _check_on_every_primary(c, bodies)
    return p


def _check_on_every_primary(c, bodies):
    """Every primary serves each body, through Swift's object server."""
    for name, body in bodies.items():
        for prim in c.primaries(ACCOUNT, CONTAINER, name):
            r = c.get_object(prim.node, ACCOUNT, CONTAINER, name, device=prim.device)
            assert r.status == 200 and r.body == body, (name, prim.node.name, r.status)


@pytest.mark.parametrize('extensions', ['batch,delta,md5', 'delta,md5', 'batch,md5',
                                        'batch,delta', ''])
def test_native_to_replicant_serve_converges(extensions):
    with Cluster(nodes=4, replicas=3, part_power=6, replication='external',
                 replicator_options={'sync_method': 'native', 'concurrency': 2,
                                     'native_extensions': extensions,
                                     'native_batch_files': 4}) as c:
        with replicant_servers(c):
            src = c.nodes[0]
            w = Workload(c, src, 'native')
            p = replicate(src)
            problems = w.problems()
            assert not problems, (problems, recon(src), trouble(p, c.nodes[1:]))
            stats = recon(src)
            assert stats['failure'] == 0 and stats['suffix_sync'] > 0, stats
            assert 'native sync of' in p.stderr
            assert 'ssync' not in p.stderr.split('Starting replication pass')[1]
            served = ''.join(_log(c, n) for n in c.nodes[1:])
            assert 'REPCONN' in served
            # The server accepts what was offered; delta alone rides on batches.
            if extensions:
                assert 'extensions ' + extensions in served
            else:
                assert 'extensions' not in served
            # Batches of at most 4 files: fsyncs in either mode, none without batches.
            sessions = _batch_syncs(served)
            assert sum(f for f, _, _ in sessions) > 0
            assert all(sfs == 0 for _, sfs, _ in sessions), sessions
            if 'batch' not in extensions:
                assert all(fs == 0 for _, _, fs in sessions), sessions
            p = replicate(src)
            stats = recon(src)
            assert stats['suffix_sync'] == 0 and stats['failure'] == 0, stats


@pytest.mark.parametrize('batch_sync', ['syncfs', 'fsync'])
def test_batches_of_small_files_are_made_durable_together(batch_sync):
    # syncfs mode: a batch of many small files costs one syncfs before its renames and
    # one after, instead of an fsync per file and per directory (fsync mode). One
    # partition, so each peer's session gets all 100 files: groups of 64 would cost a
    # third syncfs, but a batch's tail of 64 or fewer joins the group before it.
    with Cluster(nodes=4, replicas=3, part_power=0, replication='external',
                 replicator_options={'sync_method': 'native'},
                 replicant_server_options={'native_batch_sync': batch_sync}) as c:
        with replicant_servers(c):
            src = c.nodes[0]
            _replicate_new_objects(c, src, {'small-%03d' % i: os.urandom(100 + i)
                                            for i in range(100)})
            sessions = _batch_syncs(''.join(_log(c, n) for n in c.nodes[1:]))
            big = [s for s in sessions if s[0] >= 8]
            assert big and all(files == 100 for files, _, _ in big), sessions
            for files, sfs, fsyncs in big:
                if batch_sync == 'syncfs':
                    assert (sfs, fsyncs) == (2, 0), sessions
                else:
                    assert sfs == 0 and fsyncs >= 2 * files, sessions


@pytest.mark.parametrize('depth,batch_files,sessions', [(1, 256, 1), (3, 256, 1), (3, 4, 1),
                                                        (3, 256, 2), (3, 4, 2)])
def test_concurrent_and_pipelined_jobs_never_meet_on_a_peer_device(depth, batch_files, sessions):
    # Receivers that refuse one session more than `sessions` on a device at once (lock
    # timeout 0): four workers, each with `depth` partitions in flight, must still never
    # be turned away, since sessions to one device wait for a free one in the replicator
    # (native_sessions_per_device). With batches of 4 files, sessions stay open across
    # batches: jobs must not deadlock.
    with Cluster(nodes=4, replicas=3, part_power=3, replication='external',
                 replicator_options={'sync_method': 'native', 'concurrency': 4,
                                     'pipeline_depth': depth,
                                     'native_batch_files': batch_files,
                                     'native_sessions_per_device': sessions},
                 replicant_server_options={'replication_lock_timeout': 0,
                                           'replication_concurrency_per_device': sessions}) as c:
        with replicant_servers(c):
            src = c.nodes[0]
            w = Workload(c, src, 'gate')
            bodies = {'many-%02d' % i: os.urandom(64 + i) for i in range(60)}
            _write_on(c, src, bodies)
            p = replicate(src)
            served = ''.join(_log(c, n) for n in c.nodes[1:])
            assert 'device busy' not in served and 'device busy' not in p.stderr
            problems = w.problems()
            assert not problems, (problems, recon(src), trouble(p, c.nodes[1:]))
            stats = recon(src)
            assert stats['failure'] == 0 and stats['suffix_sync'] > 0, stats
            _check_on_every_primary(c, bodies)
            replicate(src)
            assert recon(src)['suffix_sync'] == 0


def test_more_sessions_than_the_receivers_allow_are_turned_away_and_lose_nothing():
    # The replicator opens two sessions per peer device, the receivers take one (and
    # refuse a second at once): the second fails as a busy device and counts a
    # failure; later passes finish the job, and nothing is lost on the way.
    with Cluster(nodes=4, replicas=3, part_power=3, replication='external',
                 replicator_options={'sync_method': 'native', 'concurrency': 4,
                                     'pipeline_depth': 3, 'native_sessions_per_device': 2},
                 replicant_server_options={'replication_lock_timeout': 0}) as c:
        with replicant_servers(c):
            src = c.nodes[0]
            w = Workload(c, src, 'busy')
            p = replicate(src)
            served = ''.join(_log(c, n) for n in c.nodes[1:])
            assert 'device busy' in served or 'device busy' in p.stderr, trouble(p, c.nodes[1:])
            assert recon(src)['failure'] > 0, recon(src)
            for _ in range(8):
                if not w.problems():
                    break
                replicate(src)
            problems = w.problems()
            assert not problems, (problems, recon(src), trouble(p, c.nodes[1:]))


def test_a_session_costs_two_round_trips():
    # Every replication connection crosses a relay that counts the sender's turns. The
    # first session to a peer sends Begin after REPCONN's 200 (a server that refuses
    # REPCONN might reset the connection over a pipelined frame and lose its 405); later
    # ones pipeline it and the first offer, and the last batch's Done goes with its
    # bodies. Without those, a session that uploads costs five: REPCONN, Begin, offer,
    # bodies, Done.
    with Cluster(nodes=4, replicas=3, part_power=3, replication='external', front_ports=True,
                 replicator_options={'sync_method': 'native', 'concurrency': 1,
                                     'pipeline_depth': 1}) as c:
        with replicant_servers(c), TurnProxy(c.front_map()) as proxy:
            src = c.nodes[0]
            p = _replicate_new_objects(c, src, {'turn-%02d' % i: os.urandom(200 + i)
                                                for i in range(40)})
            sessions = proxy.sessions('REPCONN')
            by_peer = {}
            for s in sessions:
                by_peer.setdefault(s.front_port, []).append(s.turns)
            assert len(by_peer) == 3, by_peer
            for port, turns in by_peer.items():
                assert len(turns) >= 2 and turns[0] <= 4, by_peer
                assert all(t <= 2 for t in turns[1:]), by_peer
            assert 'files sent' in p.stderr and 'failed' not in p.stderr.split('Starting')[1]


def test_a_peer_that_changes_mid_run_loses_nothing():
    # A daemon pipelines its sessions' openings to a peer that took REPCONN (and batches)
    # before. That peer's serve is restarted without batches, then replaced by Swift's
    # object server (REPCONN: 405): the session that sent an offer ahead fails and is
    # counted, the next asks the plain way (then falls back to ssync), and every object
    # still reaches every primary.
    with Cluster(nodes=4, replicas=3, part_power=3, replication='external',
                 replicator_options={'sync_method': 'native', 'concurrency': 1,
                                     'interval': 1}) as c:
        with replicant_servers(c) as procs:
            src, peer = c.nodes[0], c.nodes[1]
            # Objects whose primaries are src and the peer: no handoff job (whose sessions
            # would run between the steps) and a session to the peer for each.
            names = [n for n in ('mid-%03d' % i for i in range(400))
                     if c.is_primary(src, ACCOUNT, CONTAINER, n) and
                     c.is_primary(peer, ACCOUNT, CONTAINER, n)]
            log = os.path.join(c.log_dir, 'replicator-daemon.log')
            with open(log, 'w') as out:
                daemon = subprocess.Popen([REPLICANT_BIN, 'replicate', src.conf_path, '-v'],
                                          stdout=out, stderr=subprocess.STDOUT)
            try:
                for step in range(3):
                    if step == 1:
                        procs[peer.name].stop()
                        c.replicant_server_options['native_extensions'] = 'delta,md5'
                        c.write_node_conf(peer)
                        procs[peer.name] = start_server(c, peer)
                    elif step == 2:
                        procs[peer.name].stop()
                        c.start_swift_replication_server(peer)
                    bodies = {n: os.urandom(100 + i) for i, n in enumerate(names[step::3][:8])}
                    _write_on(c, src, bodies)
                    assert wait_until(lambda: _on_every_primary(c, bodies), 120, step=0.5), (
                        step, open(log).read()[-4000:])
            finally:
                daemon.terminate()
                daemon.wait(timeout=60)
            text = open(log).read()
            assert 'the peer no longer accepts batches; a batch went ahead' in text, text[-4000:]
            assert re.search(r':%d does not speak the native protocol' % peer.replication_port,
                             text), text[-4000:]


def test_bodies_past_the_preload_budget_are_read_when_sent():
    # ~100 bodies of 60,000 bytes per partition: one batch, of which the sender
    # preloads 4 MiB during the walk and reads the rest as it sends them.
    with Cluster(nodes=4, replicas=3, part_power=1, replication='external',
                 replicator_options={'sync_method': 'native'}) as c:
        with replicant_servers(c):
            src = c.nodes[0]
            _replicate_new_objects(c, src, {'mid-%03d' % i: os.urandom(60000)
                                            for i in range(200)})


def test_native_falls_back_to_ssync_for_swift_object_servers():
    with Cluster(nodes=4, replicas=3, part_power=6,
                 replicator_options={'sync_method': 'native', 'concurrency': 2}) as c:
        src = c.nodes[0]
        w = Workload(c, src, 'fallback')
        p = replicate(src)
        problems = w.problems()
        assert not problems, (problems, recon(src), trouble(p, c.nodes[1:]))
        notes = re.findall(r'(\S+) does not speak the native protocol', p.stderr)
        assert notes and len(notes) == len(set(notes)), notes  # once per peer
        assert recon(src)['failure'] == 0
        replicate(src)
        assert recon(src)['suffix_sync'] == 0


def test_delta_sends_far_fewer_bytes_than_the_object():
    size = 4 << 20
    with Cluster(nodes=4, replicas=3, part_power=4, replication='external',
                 replicator_options={'sync_method': 'native'}) as c:
        with replicant_servers(c):
            src = c.nodes[0]
            name = next(n for n in ('big-%d' % i for i in range(200))
                        if c.is_primary(src, ACCOUNT, CONTAINER, n))
            old = os.urandom(size)
            ts = c.next_timestamp()
            for p in c.primaries(ACCOUNT, CONTAINER, name):
                c.put_object(p.node, ACCOUNT, CONTAINER, name, old, device=p.device,
                             headers={'Content-Type': 'x/old'}, timestamp=ts)
            new = bytearray(old)
            new[size // 2:size // 2 + 100] = os.urandom(100)
            new = bytes(new)
            c.write_object_on(src, ACCOUNT, CONTAINER, name, new,
                              headers={'Content-Type': 'x/new', 'X-Object-Meta-V': '2'})
            p = replicate(src)
            for prim in c.primaries(ACCOUNT, CONTAINER, name):
                r = c.get_object(prim.node, ACCOUNT, CONTAINER, name, device=prim.device)
                assert r.status == 200 and r.body == new, prim.node.name
                assert r.headers['Etag'].strip('"') == hashlib.md5(new).hexdigest()
                assert r.headers['X-Object-Meta-V'] == '2'
            sent = [(int(b), int(d)) for b, d in re.findall(
                r'native sync of \S+ to \S+: 1 files sent \((\d+) bytes, (\d+) by delta\)',
                p.stderr)]
            assert len(sent) == 2, trouble(p)
            for wire, deltas in sent:
                assert deltas == 1 and wire < size // 20, (wire, size)


# ----------------------------------------------------------------------------------------
# hand-written clients

def _closed(s):
    s.settimeout(10)
    try:
        while True:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def _metadata(name, body, ts):
    return {b'name': ('/%s/%s/%s' % (ACCOUNT, CONTAINER, name)).encode(),
            b'X-Timestamp': ts.encode(), b'Content-Type': b'application/x-test',
            b'ETag': hashlib.md5(body).hexdigest().encode(),
            b'Content-Length': str(len(body)).encode(), b'X-Object-Meta-Who': b'hummingbird'}


def _pick(c, node, tag):
    name = next(n for n in ('%s-%d' % (tag, i) for i in range(500))
                if c.is_primary(node, ACCOUNT, CONTAINER, n))
    return name, c.partition(ACCOUNT, CONTAINER, name), c.object_hash(ACCOUNT, CONTAINER, name)


@pytest.fixture(scope='module')
def served():
    with Cluster(nodes=4, replicas=3, part_power=6, replication='external') as c:
        with replicant_servers(c, nodes=[c.nodes[1]]) as procs:
            yield c, c.nodes[1], procs[c.nodes[1].name]


def test_plain_hummingbird_client_is_served(served):
    c, node, _ = served
    dev = node.devices[0]
    name, part, h = _pick(c, node, 'hb')
    body = os.urandom(70000)
    ts = c.next_timestamp()
    s, head = _repconn(node.replication_port, dev, part)
    assert 'X-Replicant-Native' not in head  # a plain peer gets the plain protocol
    s.sendall(_frame({'Device': dev, 'Partition': str(part), 'NeedHashes': True}))
    begin = _read_frame(s)
    assert isinstance(begin['Hashes'], dict)
    path = '%s/objects/%d/%s/%s/%s.data' % (dev, part, h[-3:], h, ts)
    xattrs = pickle.dumps(_metadata(name, body, ts), protocol=2).hex()
    s.sendall(_frame({'Path': path, 'Xattrs': xattrs, 'Size': len(body), 'Check': False,
                      'Ping': False, 'Done': False}))
    r = _read_frame(s)
    assert r['GoAhead'] and not r['Exists'], r
    s.sendall(body)
    assert _read_frame(s)['Success']
    s.sendall(_frame({'Path': path, 'Xattrs': xattrs, 'Size': len(body)}))
    assert _read_frame(s)['Exists']  # the same file again
    s.sendall(_frame({'Ping': True}))
    assert not _read_frame(s)['GoAhead']
    s.sendall(_frame({'Done': True}))
    assert _closed(s)
    r = c.get_object(node, ACCOUNT, CONTAINER, name, device=dev)
    assert r.status == 200 and r.body == body
    assert r.headers['X-Object-Meta-Who'] == 'hummingbird'


def _hostile(node, part, frames, raw=b''):
    s, _ = _repconn(node.replication_port, node.devices[0], part, extensions='batch')
    s.sendall(_frame({'Device': node.devices[0], 'Partition': str(part)}))
    _read_frame(s)
    for f in frames:
        s.sendall(f)
    if raw:
        s.sendall(raw)
    return s


def test_hostile_frames_end_only_their_session(served):
    c, node, proc = served
    dev = node.devices[0]
    name, part, h = _pick(c, node, 'hostile')
    ts = c.next_timestamp()
    body = b'x' * 5000
    xattrs = pickle.dumps(_metadata(name, body, ts), protocol=2).hex()
    good = '%s/objects/%d/%s/%s/%s.data' % (dev, part, h[-3:], h, ts)
    cases = {
        'huge length': [struct.pack('>I', 0xFFFFFFF0)],
        'truncated JSON': [struct.pack('>I', 30) + b'{"Path": "abc'],
        'not JSON': [_frame('x')[:4] + b'x' * 3],
        'wrong types': [_frame({'Path': 5, 'Size': 'big'})],
        'traversal': [_frame({'Path': '%s/objects/%d/../../../etc/passwd.data' % (dev, part),
                              'Xattrs': xattrs, 'Size': 1})],
        'absolute': [_frame({'Path': '/etc/%s.data' % ts, 'Xattrs': xattrs, 'Size': 1})],
        'other partition': [_frame({'Path': good.replace('/%d/' % part, '/%d/' % (part + 1)),
                                    'Xattrs': xattrs, 'Size': len(body)})],
        'bad xattrs': [_frame({'Path': good, 'Xattrs': 'zz', 'Size': len(body)})],
        'negative size': [_frame({'Path': good, 'Xattrs': xattrs, 'Size': -1})],
        'batch body too long': [_frame({'Files': [{'Path': good, 'Xattrs': xattrs,
                                                   'Size': len(body)}]}),
                                _frame({'Size': len(body) + 10})],
    }
    for what, frames in cases.items():
        s = _hostile(node, part, frames)
        if what == 'truncated JSON':
            s.shutdown(socket.SHUT_WR)  # the rest never comes
        assert _closed(s), what
        s.close()
    # Early close in the middle of a body: nothing left in the hash dir or tmp.
    s = _hostile(node, part, [_frame({'Path': good, 'Xattrs': xattrs, 'Size': len(body)})])
    assert _read_frame(s)['GoAhead']
    s.sendall(body[:1000])
    s.close()
    # A batch whose body is shorter than announced, then a close.
    s = _hostile(node, part, [_frame({'Files': [{'Path': good, 'Xattrs': xattrs,
                                                 'Size': len(body)}]})])
    assert _read_frame(s)['Files'][0]['GoAhead']
    s.sendall(_frame({'Size': len(body)}) + body[:10])
    s.close()
    assert proc.alive()
    import time
    deadline = time.monotonic() + 10
    tmp = os.path.join(node.device_path(dev), 'tmp')
    while time.monotonic() < deadline and os.path.isdir(tmp) and os.listdir(tmp):
        time.sleep(0.05)
    assert not os.path.isdir(tmp) or not os.listdir(tmp), (os.listdir(tmp), proc.tail(40))
    assert not object_files(c, node, h)
    assert not os.path.exists(os.path.join(node.device_path(dev), 'etc'))
    # The server still answers a correct session.
    s = _hostile(node, part, [_frame({'Files': [{'Path': good, 'Xattrs': xattrs,
                                                 'Size': len(body)}]})])
    assert _read_frame(s)['Files'][0]['GoAhead']
    s.sendall(_frame({'Size': len(body)}) + body)
    assert _read_frame(s)['Files'][0]['Success']
    s.sendall(_frame({'Done': True}))
    assert _closed(s)
    r = c.get_object(node, ACCOUNT, CONTAINER, name, device=dev)
    assert r.status == 200 and r.body == body
    log = _log(c, node)
    for needle in ('exceeds the limit', 'not valid JSON', 'bad file path', 'bad xattrs'):
        assert needle in log, needle


def test_bodies_that_do_not_match_their_etag_are_refused(served):
    # Small bodies are hashed as they arrive; large ones (1 MiB or more) while their
    # fsync runs. Either way a corrupt body is refused and never published; good ones
    # of both sizes are.
    c, node, _ = served
    dev = node.devices[0]
    files, bodies = [], {}
    for tag, size, corrupt in (('small-bad', 5000, True), ('large-bad', 1500000, True),
                               ('large-good', 1500000, False), ('small-good', 5000, False)):
        name, part, h = _pick(c, node, tag)
        body = os.urandom(size)
        ts = c.next_timestamp()
        md = _metadata(name, body, ts)
        sent = body[:-1] + bytes([body[-1] ^ 1]) if corrupt else body
        files.append((name, part, h, sent, {
            'Path': '%s/objects/%d/%s/%s/%s.data' % (dev, part, h[-3:], h, ts),
            'Xattrs': pickle.dumps(md, protocol=2).hex(), 'Size': size}))
        bodies[name] = (body, corrupt)
    results = []
    for name, part, h, sent, offer in files:  # one partition each: a session each
        s = _hostile(node, part, [_frame({'Files': [offer]})])
        assert _read_frame(s)['Files'][0]['GoAhead']
        s.sendall(_frame({'Size': len(sent)}) + sent)
        results.append(_read_frame(s)['Files'][0])
        s.sendall(_frame({'Done': True}))
        assert _closed(s)
    for (name, _, h, _, _), r in zip(files, results):
        body, corrupt = bodies[name]
        if corrupt:
            assert not r['Success'] and 'ETag mismatch' in r['Msg'], (name, r)
            assert not object_files(c, node, h), name
            assert c.get_object(node, ACCOUNT, CONTAINER, name, device=dev).status == 404
        else:
            assert r['Success'], (name, r)
            got = c.get_object(node, ACCOUNT, CONTAINER, name, device=dev)
            assert got.status == 200 and got.body == body, name
    tmp = os.path.join(node.device_path(dev), 'tmp')
    assert not os.listdir(tmp)
