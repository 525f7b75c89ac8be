"""Bounds on one peer's input (docs/reliability.md), against a real `replicant serve`
and a real `replicant replicate --once`.

A peer that has not authenticated in any way sends, over REPCONN:
* a ~1 KB pickle in Xattrs whose dict keys are a doubling tuple (2^25 values each time
  it is walked): hashing it once per key held the session, and its locks, for 30 s+;
* a 55-byte pickle whose repr() is ~200 MB, quoted in the {"Error": ...} frame;
* an 8 MiB frame {"Files":[{},{},...]}: 2.8 million JSON objects, ~230 MB as a tree.
The server's CPU time (utime + stime from /proc/PID/stat) and peak RSS (VmHWM) must stay
within stated bounds, the Error frame short, and the server must answer afterwards.
A fake peer answering REPLICATE with the hash bomb must not hold the replicator either.
"""
import os
import resource
import socket
import threading

import pytest

from cluster import Cluster
from native_client import frame as _frame, read_frame as _read_frame
from native_client import repconn
from interop import ACCOUNT, CONTAINER, replicate, replicant_servers

MAX_FRAME = 16 << 20
# Stated bounds (docs/reliability.md): RSS growth of the server over all the bombs, CPU
# per bomb, and the longest Error text (4096 bytes and " (truncated)").
RSS_BOUND = 2 * MAX_FRAME + (64 << 20)
CPU_BOUND = 2.0
MAX_ERROR = 4096 + len(' (truncated)')


def doubling_tuple(levels):
    """Ops for t0 = (), t(i) = (t(i-1), t(i-1)): 2^(levels+1) - 1 values in 2 bytes a level."""
    return b')' + b'2\x86' * levels


def hash_bomb(dicts=180):
    """t24 memoized, then `dicts` fresh dicts (kept until a POP_MARK) with t24 as their
    key: about 1 KB, and 2^25 values hashed per dict where keys are not cached."""
    return b'\x80\x02' + doubling_tuple(24) + b'q\x00(' + b'}h\x00Ns' * dicts + b'1.'


def repr_bomb():
    """55 bytes whose repr() is about 200 MB; not a dict, so quoted in the error."""
    return b'\x80\x02' + doubling_tuple(25) + b'.'


def _session(node, part, extensions='batch'):
    dev = node.devices[0]
    s, _ = repconn(node.replication_port, dev, part, extensions, timeout=30)
    s.sendall(_frame({'Device': dev, 'Partition': str(part)}))
    _read_frame(s)
    return s


def _cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')  # utime + stime


def _vm_hwm(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no VmHWM')


def _target(c, node):
    name = next(n for n in ('bomb-%d' % i for i in range(500))
                if c.is_primary(node, ACCOUNT, CONTAINER, n))
    part, h = c.partition(ACCOUNT, CONTAINER, name), c.object_hash(ACCOUNT, CONTAINER, name)
    path = '%s/objects/%d/%s/%s/%s.data' % (node.devices[0], part, h[-3:], h,
                                            c.next_timestamp())
    return part, path


def _error_after(s, frame):
    """Sends `frame`; the server must answer with a short Error frame and close."""
    s.sendall(frame)
    answer = _read_frame(s)
    assert set(answer) == {'Error'}, answer
    return answer['Error']


def _still_answers(node, part):
    """A new session is served: its Ping is answered."""
    s = _session(node, part)
    s.sendall(_frame({'Ping': True}))
    assert _read_frame(s)['Msg'] == 'pong'
    s.sendall(_frame({'Done': True}))
    s.close()


@pytest.fixture(scope='module')
def cluster():
    with Cluster(nodes=2, replicas=2, part_power=4, replication='external', rsync=False,
                 replicant_server_options={'native_max_frame': MAX_FRAME}) as c:
        yield c


@pytest.fixture
def served(cluster):
    """A fresh `replicant serve` on node 1 (so VmHWM is this test's own), its pid, and a
    partition and .data path there; after one ordinary session."""
    node = cluster.nodes[1]
    with replicant_servers(cluster, nodes=[node]) as procs:
        part, path = _target(cluster, node)
        _still_answers(node, part)
        yield node, procs[node.name].pid, part, path
        log = open(os.path.join(cluster.log_dir, '%s-replicant-serve.log' % node.name)).read()
        assert max(len(line) for line in log.splitlines()) < 2 * MAX_ERROR


def _bomb(served, frame):
    """Sends `frame` in a new session: the Error text, the CPU seconds and the peak RSS
    growth it cost the server; then checks that the server still answers."""
    node, pid, part, _ = served
    rss, cpu = _vm_hwm(pid), _cpu_seconds(pid)
    s = _session(node, part)
    err = _error_after(s, frame)
    s.close()
    cpu, growth = _cpu_seconds(pid) - cpu, _vm_hwm(pid) - rss
    _still_answers(node, part)
    print('%d-byte frame: %.2f s CPU, peak RSS +%.1f MiB, Error of %d bytes' % (
        len(frame), cpu, growth / 2**20, len(err)))
    assert len(err) <= MAX_ERROR, err[:200]
    assert cpu < CPU_BOUND, cpu
    assert growth < RSS_BOUND, (growth, RSS_BOUND)
    return err


def test_hash_bomb_in_xattrs(served):
    assert len(hash_bomb()) < 1200
    err = _bomb(served, _frame({'Path': served[3], 'Xattrs': hash_bomb().hex(), 'Size': 1}))
    assert 'not a dict' in err, err[:200]  # loaded completely, then refused


def test_repr_bomb_in_xattrs(served):
    err = _bomb(served, _frame({'Path': served[3], 'Xattrs': repr_bomb().hex(), 'Size': 1}))
    assert 'not a dict' in err and err.endswith('(truncated)'), err[:200]


def test_opcode_flood_in_xattrs(served):
    # 4 MiB of `N` opcodes once cost ~340 MB in one load; Xattrs is capped at 1 MiB of
    # pickle, refused before it is decoded.
    err = _bomb(served, _frame({'Path': served[3], 'Xattrs': (b'N' * (4 << 20)).hex(),
                                'Size': 1}))
    assert 'exceed' in err, err[:200]


def test_frame_of_many_json_values(served):
    body = b'{"Files":[' + b'{},' * ((8 << 20) // 3) + b'{}]}'
    err = _bomb(served, _frame(body))
    assert 'JSON values' in err, err[:200]


class _FakeReplicatePeer:
    """Answers every request on (ip, port) with `body` as a 200: what a hostile peer
    could say to REPLICATE."""

    def __init__(self, port, body):
        self.body, self.requests = body, []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', port))
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                head = b''
                try:
                    while b'\r\n\r\n' not in head:
                        got = conn.recv(4096)
                        if not got:
                            break
                        head += got
                    self.requests.append(head.split(b' ', 1)[0])
                    conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n'
                                 b'Connection: close\r\n\r\n' % len(self.body) + self.body)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def test_replicate_answer_bomb_does_not_hold_the_replicator():
    with Cluster(nodes=2, replicas=2, part_power=2, replication='external', rsync=False,
                 replicator_options={'sync_method': 'ssync'}) as c:
        src, peer = c.nodes
        c.write_object_on(src, ACCOUNT, CONTAINER, 'o', b'x' * 100)
        fake = _FakeReplicatePeer(peer.replication_port, hash_bomb())
        try:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            p = replicate(src, check=False)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        finally:
            fake.close()
        assert b'REPLICATE' in fake.requests, fake.requests
        print('replicate --once against the bomb: %.2f s CPU' % (
            after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # The whole pass: start-up, the job, and the REPLICATE answer parsed.
        assert cpu < CPU_BOUND + 1.0, (cpu, p.stderr[-2000:])
        assert 'not a dict' in p.stderr, p.stderr[-2000:]
