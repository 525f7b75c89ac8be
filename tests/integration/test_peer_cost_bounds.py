"""The cost of one peer (docs/reliability.md, "The cost of one peer"): for each receiver
of `replicant serve` (REPLICATE, SSYNC, REPCONN) and for `replicant replicate` reading a
peer's answers, the worst inputs we can build, and the process's own counters checked
against the stated bound.

Server side: a fresh `replicant serve` per test (so its VmHWM is the test's own), warmed
by one ordinary session; then CPU = utime + stime (/proc/PID/stat) and peak RSS growth
(VmHWM, /proc/PID/status) across the hostile session(s). Replicator side: `replicate
--once` against a fake peer, CPU and ru_maxrss from wait4() (getrusage of that process),
compared with the same pass against a peer that refuses at once.

The limits are set small (native_max_frame 1 MiB, native_max_batch 64) and every case sends
several times more bytes than its memory bound, so a receiver that kept what it read
would exceed the bound.
"""
import os
import pickle
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from cluster import Cluster
from interop import ACCOUNT, CONTAINER, replicant_servers
from native_client import frame, read_frame, repconn
from replicant_test import REPLICANT_BIN
from test_hostile_input import hash_bomb, repr_bomb

MiB = 1 << 20
MAX_FRAME = 1 * MiB           # native_max_frame, server and replicator
MAX_BATCH = 64                # native_max_batch
# FrameValueLimit(native_max_batch) (native_wire.h): the JSON values one frame may hold.
MAX_VALUES = 16384 + 32 * MAX_BATCH
CHUNK = 65536                 # network_chunk_size (the default)
MAX_SUBREQUEST_HEADERS = 1000  # ssync_receiver.cc
MAX_REPLICATE_BODY = 4 * MiB  # replicate_client.h: a REPLICATE answer's body
MAX_HEAD = 64 * 1024          # http_request.h / http_response_parser.h: a request/response head
# C: what one session may cost beyond its stated terms (a thread, its buffers, allocator
# slack, logging). A JSON value in a parsed tree: at most VALUE_BYTES.
C = 6 * MiB
VALUE_BYTES = 128
# CPU: linear in the bytes sent. The costliest bytes measured here are tiny frames and
# missing_check lines (~0.25 s/MiB: a syscall or a stat each); CPU_PER_MIB leaves 4x.
CPU_BASE, CPU_PER_MIB = 0.5, 1.0

# A pickle load (Xattrs, a REPLICATE answer): <= kMaxLoadValues (pickle.h) of ~256 bytes.
PICKLE_MEM = 256 * 32768

# Stated memory bounds (docs/reliability.md), each per session:
NATIVE_MEM = 2 * MAX_FRAME + VALUE_BYTES * MAX_VALUES + PICKLE_MEM + C
HEAD_MEM = 2 * MAX_HEAD + C


def cpu_bound(nbytes):
    return CPU_BASE + CPU_PER_MIB * nbytes / MiB


def _cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def _vm_hwm(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no VmHWM')


def _threads(pid):
    """The server's threads other than ParallelFor's parked helpers (named
    `parallel-for`; base/parallel_for.cc), which outlive the session that made them."""
    n = 0
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            with open('/proc/%d/task/%s/comm' % (pid, tid)) as f:
                n += f.read().strip() != 'parallel-for'
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread exited meanwhile (ENOENT, or ESRCH mid-read)
    return n


def _idle_threads(pid, timeout=10):
    """The server's thread count once no session is running: unchanged for 0.3 s."""
    deadline, last, since = time.time() + timeout, _threads(pid), time.time()
    while time.time() < deadline:
        time.sleep(0.02)
        n = _threads(pid)
        if n != last:
            last, since = n, time.time()
        elif time.time() - since >= 0.3:
            return n
    raise AssertionError('replicant serve (pid %d) never went idle' % pid)


class Cost:
    """CPU seconds and peak RSS growth of process `pid` over a `with` block.

    A session runs on its own thread (receiver/server.cc), and a freed arena is handed to
    the next thread only once the last one has exited: `session_over()` waits for that,
    so that sessions meant to follow each other do not overlap on a busy machine."""

    def __init__(self, pid):
        self.pid = pid

    def __enter__(self):
        self.idle = _idle_threads(self.pid)
        self.cpu, self.hwm = _cpu_seconds(self.pid), _vm_hwm(self.pid)
        return self

    def session_over(self, timeout=30):
        deadline = time.time() + timeout
        while _threads(self.pid) > self.idle:
            assert time.time() < deadline, 'a session of pid %d never ended' % self.pid
            time.sleep(0.01)

    def __exit__(self, *exc):
        time.sleep(0.2)  # the server finishes with what it read
        self.cpu = _cpu_seconds(self.pid) - self.cpu
        self.growth = _vm_hwm(self.pid) - self.hwm
        return False

    def check(self, what, nbytes, mem_bound):
        print('%s: %d bytes sent, %.2f s CPU (bound %.2f), peak RSS +%.1f MiB (bound %.1f)' % (
            what, nbytes, self.cpu, cpu_bound(nbytes), self.growth / MiB, mem_bound / MiB))
        assert self.cpu <= cpu_bound(nbytes), (what, self.cpu, nbytes)
        assert self.growth <= mem_bound, (what, self.growth, mem_bound)


@pytest.fixture(scope='module')
def cluster():
    with Cluster(nodes=2, replicas=2, part_power=2, replication='external', rsync=False,
                 replicant_server_options={'native_max_frame': MAX_FRAME,
                                           'native_max_batch': MAX_BATCH,
                                           'client_timeout': 10},
                 replicator_options={'native_max_frame': MAX_FRAME, 'node_timeout': 5,
                                     'http_timeout': 5, 'conn_timeout': 1}) as c:
        yield c


def _local_name(c, node, tag):
    return next(n for n in ('%s-%d' % (tag, i) for i in range(500))
                if c.is_primary(node, ACCOUNT, CONTAINER, n))


@pytest.fixture
def served(cluster):
    """A fresh `replicant serve` on node 1: (node, pid, partition), after one session."""
    node = cluster.nodes[1]
    with replicant_servers(cluster, nodes=[node]) as procs:
        part = cluster.partition(ACCOUNT, CONTAINER, _local_name(cluster, node, 'cost'))
        _ping(node, part)
        yield node, procs[node.name].pid, part
        assert procs[node.name].alive()
        _ping(node, part)  # and it still serves


# ----------------------------------------------------------------------------------------
# REPCONN (native): each frame is read whole (<= native_max_frame) and parsed into a tree
# of <= FrameValueLimit(native_max_batch) values, nested <= 16 deep; nothing is kept
# from one frame to the next.

def _session(node, part):
    s, _ = repconn(node.replication_port, node.devices[0], part, 'batch', timeout=30)
    s.sendall(frame({'Device': node.devices[0], 'Partition': str(part)}))
    read_frame(s)
    return s


def _ping(node, part):
    s = _session(node, part)
    s.sendall(frame({'Ping': True}))
    assert read_frame(s)['Msg'] == 'pong'
    s.sendall(frame({'Done': True}))
    s.close()


def _send_draining(s, data, pieces=1):
    """Sends data (in `pieces` writes) while a thread reads what the server answers, so
    that neither side blocks on a full socket buffer: the bytes answered."""
    got = []

    def drain():
        try:
            while True:
                b = s.recv(1 << 16)
                if not b:
                    return
                got.append(len(b))
        except OSError:
            return
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    step = max(1, len(data) // pieces)
    try:
        for i in range(0, len(data), step):
            s.sendall(data[i:i + step])
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the server closed first (an error frame)
    t.join(60)
    return sum(got)


def _native_case(served, what, frames, sessions=1):
    """Sends `frames` (bytes) in each of `sessions` sessions and checks the native bound."""
    node, pid, part = served
    total = 0
    with Cost(pid) as cost:
        for _ in range(sessions):
            s = _session(node, part)
            _send_draining(s, frames, pieces=max(1, len(frames) // MiB))
            s.close()
            cost.session_over()
            total += len(frames)
    cost.check(what, total, NATIVE_MEM)


def _max_ping(pad_to=MAX_FRAME):
    body = b'{"Ping": true, "Msg": "' + b'x' * (pad_to - 25) + b'"}'
    return frame(body[:pad_to - 2] + b'"}')


def test_repconn_max_size_frames(served):
    # 24 frames of exactly native_max_frame in one session, each answered: 24 MiB read.
    assert len(_max_ping()) == MAX_FRAME + 4
    _native_case(served, 'REPCONN 24 max-size frames', _max_ping() * 24)


def test_repconn_max_size_frames_of_strings(served):
    # A frame of many short strings: the tree's strings and nodes beside the body.
    # 15000 strings: under the value limit, so each frame is answered and the next read.
    body = b'{"Ping": true, "X": [' + b','.join([b'"%s"' % (b'y' * 60)] * 15000) + b']}'
    assert len(body) <= MAX_FRAME
    _native_case(served, 'REPCONN frames of short strings', frame(body) * 8)


def test_repconn_empty_objects_at_max_size(served):
    body = b'{"Files":[' + b'{},' * ((MAX_FRAME - 20) // 3) + b'{}]}'
    _native_case(served, 'REPCONN {} x 350k', frame(body), sessions=8)


def test_repconn_deep_nesting(served):
    half = (MAX_FRAME - 2) // 2
    _native_case(served, 'REPCONN [[[...]]]', frame(b'[' * half + b']' * half), sessions=8)
    _native_case(served, 'REPCONN {"a":{"a":...}}',
                 frame(b'{"a":' * (MAX_FRAME // 6) + b'1' + b'}' * (MAX_FRAME // 6)), sessions=8)


def test_repconn_many_tiny_frames(served):
    # 400k Ping frames of 18 bytes: one answer each; the cost is per frame, not kept.
    _native_case(served, 'REPCONN 400k tiny frames', frame({'Ping': True}) * 400000)


def test_repconn_announced_but_never_sent(served):
    # A length of 4 GiB (refused before anything is allocated) and one of native_max_frame
    # followed by a few bytes and EOF, in many sessions.
    _native_case(served, 'REPCONN 4 GiB announced', struct.pack('>I', 0xFFFFFFFF) + b'{',
                 sessions=50)
    _native_case(served, 'REPCONN max announced, 3 sent', struct.pack('>I', MAX_FRAME) + b'{"a',
                 sessions=50)


def _opcode_flood():
    """The most values a pickle of this size can make: a list of Nones, one a byte."""
    return b'\x80\x02(' + b'N' * ((MAX_FRAME - 400) // 2) + b'l.'


@pytest.mark.parametrize('bomb', ['hash', 'repr', 'flood'])
def test_repconn_pickle_bombs(served, cluster, bomb):
    node, pid, part = served
    name = _local_name(cluster, node, 'bomb')
    h = cluster.object_hash(ACCOUNT, CONTAINER, name)
    path = '%s/objects/%d/%s/%s/%s.data' % (node.devices[0], part, h[-3:], h,
                                            cluster.next_timestamp())
    data = {'hash': hash_bomb, 'repr': repr_bomb, 'flood': _opcode_flood}[bomb]()
    f = frame({'Path': path, 'Xattrs': data.hex(), 'Size': 1})
    _native_case(served, 'REPCONN %s bomb' % bomb, f, sessions=4)


def test_repconn_slow_drip(served):
    # One max-size frame a few hundred bytes at a time: each read is small, the cost is
    # still per byte.
    node, pid, part = served
    data = _max_ping(64 * 1024) * 2
    with Cost(pid) as cost:
        s = _session(node, part)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(data), 256):
            s.sendall(data[i:i + 256])
            time.sleep(0.0005)
        assert read_frame(s)['Msg'] == 'pong' and read_frame(s)['Msg'] == 'pong'
        s.close()
    cost.check('REPCONN drip', len(data), NATIVE_MEM)


# ----------------------------------------------------------------------------------------
# REPLICATE (the HTTP head: <= 8192 bytes a line, <= 100 headers, <= 64 KiB in all)

def _replicate_case(served, what, requests, sessions=1):
    node, pid, _ = served
    total = 0
    with Cost(pid) as cost:
        for _ in range(sessions):
            s = socket.create_connection(('127.0.0.1', node.replication_port), timeout=30)
            _send_draining(s, requests, pieces=max(1, len(requests) // MiB))
            s.close()
            cost.session_over()
            total += len(requests)
    cost.check(what, total, HEAD_MEM)


def _replicate_head(node, part, extra=b''):
    return b'REPLICATE /%s/%d HTTP/1.1\r\nHost: x\r\n%s\r\n' % (node.devices[0].encode(),
                                                                part, extra)


def test_replicate_max_heads_keep_alive(served):
    # 99 headers of 640 bytes (just under 64 KiB a head), 200 requests on one connection.
    node, _, part = served
    headers = b''.join(b'X-H%d: %s\r\n' % (i, b'v' * 630) for i in range(99))
    head = _replicate_head(node, part, headers)
    assert len(head) < MAX_HEAD
    _replicate_case(served, 'REPLICATE 200 max heads', head * 200)


def test_replicate_refused_heads(served):
    node, _, part = served
    _replicate_case(served, 'REPLICATE line > 8192', b'REPLICATE /' + b'a' * (4 * MiB),
                    sessions=4)
    _replicate_case(served, 'REPLICATE 10k headers',
                    _replicate_head(node, part, b'X: y\r\n' * 10000), sessions=20)
    _replicate_case(served, 'REPLICATE 1 MiB of CRLF', b'\r\n' * (MiB // 2), sessions=4)


def test_replicate_body_is_not_kept(served):
    # A REPLICATE with a 1 GiB Content-Length and 16 MiB of it sent.
    node, _, part = served
    head = _replicate_head(node, part, b'Content-Length: %d\r\n' % (1 << 30))
    _replicate_case(served, 'REPLICATE 16 MiB body', head + b'z' * (16 * MiB))


# ----------------------------------------------------------------------------------------
# SSYNC: lines of <= network_chunk_size; the missing_check answer grows with the lines
# offered (as in Swift); a subrequest's headers are kept until its body.

def _ssync_head(node, part):
    return (b'SSYNC /%s/%d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
            b'X-Backend-Storage-Policy-Index: 0\r\n\r\n' % (node.devices[0].encode(), part))


def _chunk(data):
    return b'%x\r\n%s\r\n' % (len(data), data)


def _ssync_case(served, what, body, mem_bound, sessions=1, raw=False):
    node, pid, part = served
    data = _ssync_head(node, part) + (body if raw else _chunk(body) + b'0\r\n\r\n')
    total = 0
    with Cost(pid) as cost:
        for _ in range(sessions):
            s = socket.create_connection(('127.0.0.1', node.replication_port), timeout=30)
            _send_draining(s, data, pieces=max(1, len(data) // MiB))
            s.close()
            cost.session_over()
            total += len(data)
    cost.check(what, total, mem_bound)


def _missing_lines(n):
    return b''.join(b'%032x 1700000000.%05d\r\n' % (i * 7919 + 1, i % 100000) for i in range(n))


def test_ssync_long_missing_check(served):
    # 200k offers, all wanted: the answer is built before it is sent (Swift does the same),
    # so memory is linear in the offers: <= 2 x their bytes + C.
    mc = b':MISSING_CHECK: START\r\n' + _missing_lines(200000) + b':MISSING_CHECK: END\r\n'
    _ssync_case(served, 'SSYNC 200k offers', mc, 2 * len(mc) + C)


def test_ssync_one_byte_chunks(served):
    mc = b':MISSING_CHECK: START\r\n' + _missing_lines(20000) + b':MISSING_CHECK: END\r\n'
    body = b''.join(_chunk(mc[i:i + 1]) for i in range(len(mc))) + b'0\r\n\r\n'
    _ssync_case(served, 'SSYNC 1-byte chunks', body, 2 * len(mc) + C, raw=True)


def test_ssync_refused_framing(served):
    _ssync_case(served, 'SSYNC huge chunk size', b'f' * 64 + b'\r\n' + b'x' * MiB, C,
                sessions=4, raw=True)
    _ssync_case(served, 'SSYNC chunk extension', b'10;' + b'e' * (4 * MiB), C, sessions=4,
                raw=True)
    _ssync_case(served, 'SSYNC line > network_chunk_size',
                b':MISSING_CHECK: START\r\n' + b'a' * (8 * MiB), 4 * CHUNK + C, sessions=4)


def test_ssync_subrequest_headers(served):
    # 999 distinct headers of a network_chunk_size each in one subrequest.
    line = b''.join(b'X-Big-%03d: %s\r\n' % (i, b'v' * (CHUNK - 20)) for i in range(999))
    body = (b':MISSING_CHECK: START\r\n:MISSING_CHECK: END\r\n:UPDATES: START\r\n'
            b'DELETE /a/c/o\r\nX-Timestamp: 1700000000.00000\r\n' + line + b'\r\n')
    _ssync_case(served, 'SSYNC 999 long subrequest headers', body,
                2 * MAX_SUBREQUEST_HEADERS * CHUNK + C, sessions=2)


# ----------------------------------------------------------------------------------------
# `replicant replicate` reading a peer's answers: node 1's replication port is a fake peer.
# REPLICATE answers: head <= 64 KiB, body <= 4 MiB, its pickle <= kMaxLoadValues values;
# SSYNC: lines <= network_chunk_size, at most one want per object offered; native: as
# the receiver, frames <= native_max_frame of <= FrameValueLimit(native_batch_files).

class _Conn:
    def __init__(self, sock):
        self.sock, self.buf = sock, b''

    def read_until(self, sep):
        while sep not in self.buf:
            got = self.sock.recv(1 << 16)
            if not got:
                raise EOFError
            self.buf += got
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            got = self.sock.recv(1 << 16)
            if not got:
                raise EOFError
            self.buf += got
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def chunked_until(self, marker, count=b''):
        """Reads a chunked body up to `marker`: (the first 64 KiB decoded, how many times
        `count` occurred), in time linear in its length."""
        head, tail, n = b'', b'', 0
        while marker not in tail:
            size = int(self.read_until(b'\r\n').split(b';')[0], 16)
            if size == 0:
                raise EOFError
            data = self.read_exact(size)
            self.read_exact(2)
            head += data[:max(0, 65536 - len(head))]
            n += (tail[-len(count):] + data).count(count) if count else 0
            tail = (tail + data)[-2 * len(marker) - len(count):]
        return head, n


EMPTY_HASHES = pickle.dumps({}, protocol=2)  # every suffix differs


def _empty_batch(head):
    """A REPLICATE-BATCH answer of EMPTY_HASHES for each partition the head lists."""
    listed = head.split(b'X-Replicant-Partitions: ')[1].split(b'\r\n')[0].split(b',')
    body = b''.join(b'200 %d\n%s' % (len(EMPTY_HASHES), EMPTY_HASHES) for _ in listed)
    return b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s' % (len(body), body)


class FakePeer:
    """Answers REPLICATE with `replicate` (raw response bytes), REPLICATE-BATCH with
    `batch` (default: empty hashes for each partition) and REPCONN / SSYNC with
    `sync(conn)`; counts the sync sessions and the batches it was asked for."""

    def __init__(self, port, sync, replicate=None, batch=None):
        self.sync, self.syncs, self.batch, self.batches = sync, 0, batch, 0
        self.replicate = replicate or (b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s' % (
            len(EMPTY_HASHES), EMPTY_HASHES))
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(('127.0.0.1', port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()

    def _accept(self):
        while True:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        conn = _Conn(s)
        try:
            while True:
                head = conn.read_until(b'\r\n\r\n')
                if head.startswith(b'REPLICATE-BATCH '):
                    self.batches += 1
                    s.sendall(self.batch if self.batch is not None else _empty_batch(head))
                    continue
                if head.startswith(b'REPLICATE'):
                    s.sendall(self.replicate)
                    continue
                self.syncs += 1
                self.sync(conn)
                while s.recv(1 << 16):  # until the replicator lets go
                    pass
                return
        except (EOFError, OSError, ValueError):
            pass
        finally:
            s.close()


def _refuse(conn):
    conn.sock.sendall(b'HTTP/1.1 507 Full\r\nContent-Length: 0\r\n\r\n')


def _run_replicate(node):
    """`replicate --once`: (CPU seconds, ru_maxrss in bytes, its log) from wait4()."""
    log = open(os.path.join(os.path.dirname(node.conf_path), 'cost-replicate.log'), 'w+')
    p = subprocess.Popen([REPLICANT_BIN, 'replicate', node.conf_path, '--once', '-v'],
                         stdout=log, stderr=subprocess.STDOUT)
    timer = threading.Timer(60, p.kill)
    timer.start()
    _, status, ru = os.wait4(p.pid, 0)
    timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    log.seek(0)
    text = log.read()
    assert p.returncode == 0, text[-3000:]
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, text


@pytest.fixture
def replicator(cluster):
    """node 0 with one object, and its replicator's cost against a peer that refuses."""
    src, peer = cluster.nodes
    cluster.write_object_on(src, ACCOUNT, CONTAINER, _local_name(cluster, src, 'rep'), b'x' * 100)

    def baseline(sync_method):
        cluster.set_replicator_options(nodes=[src], sync_method=sync_method,
                                       native_batch_files=MAX_BATCH)
        with FakePeer(peer.replication_port, _refuse):
            return _run_replicate(src)
    return src, peer, baseline


def _replicator_case(replicator, what, sync_method, nbytes, mem_bound, sync=_refuse,
                     replicate=None, batch=None):
    src, peer, baseline = replicator
    _, base_rss, _ = baseline(sync_method)
    with FakePeer(peer.replication_port, sync, replicate, batch) as fake:
        cpu, rss, log = _run_replicate(src)
    growth = rss - base_rss
    # REPLICATE answers aside, the hostile answer must have been read.
    assert replicate or batch or fake.syncs, log[-2000:]
    print('replicator, %s: %d bytes, %.2f s CPU (bound %.2f), peak RSS +%.1f MiB (bound %.1f)'
          % (what, nbytes, cpu, 1 + cpu_bound(nbytes), growth / MiB, mem_bound / MiB))
    assert cpu <= 1 + cpu_bound(nbytes), (what, cpu)  # 1 s: the pass itself
    assert growth <= mem_bound, (what, growth, mem_bound)
    return fake, log


REPLICATE_MEM = 2 * MAX_REPLICATE_BODY + PICKLE_MEM + C


def _answer(body, extra=b''):
    return b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s' % (len(body), extra, body)


@pytest.mark.parametrize('case', ['flood', 'hash-bomb', 'oversize', 'long-header', 'chunks'])
def test_replicator_reads_replicate_answers(replicator, case):
    if case == 'flood':
        body = b'\x80\x02(' + b'N' * (MAX_REPLICATE_BODY - 100) + b'l.'
        answer = _answer(body)
    elif case == 'hash-bomb':
        answer = _answer(hash_bomb())
    elif case == 'oversize':
        answer = b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % (1 << 30) + b'z' * (16 * MiB)
    elif case == 'long-header':
        answer = b'HTTP/1.1 200 OK\r\nX: ' + b'h' * (8 * MiB) + b'\r\n\r\n'
    else:
        # Every suffix's hash (the largest real answer) in 1-byte chunks with extensions.
        body = pickle.dumps({'%03x' % i: 'a' * 32 for i in range(4096)}, protocol=2)
        answer = (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
                  b''.join(b'1;%s\r\n%s\r\n' % (b'e' * 60, body[i:i + 1])
                           for i in range(len(body))) + b'0\r\n\r\n')
    _replicator_case(replicator, 'REPLICATE answer ' + case, 'ssync', len(answer),
                     REPLICATE_MEM, replicate=answer)


def _one_per_partition(c, node, tag):
    """Names of objects node holds as a primary, one in each of the ring's partitions."""
    names = {}
    for i in range(5000):
        name = '%s-%d' % (tag, i)
        part = c.partition(ACCOUNT, CONTAINER, name)
        if part not in names and c.is_primary(node, ACCOUNT, CONTAINER, name):
            names[part] = name
    return list(names.values())


@pytest.mark.parametrize('case', ['lying-length', 'extra-entries', 'bomb-entries',
                                  'oversize'])
def test_replicator_reads_replicate_batch_answers(cluster, replicator, case):
    # Every partition holds an object, so the pass asks the peer for all of them in
    # one REPLICATE-BATCH; its answer is hostile, each partition's REPLICATE fails.
    src = replicator[0]
    names = _one_per_partition(cluster, src, 'batch')
    assert len(names) >= 3, names
    for name in names:
        cluster.write_object_on(src, ACCOUNT, CONTAINER, name, b'b' * 10)
    if case == 'lying-length':
        answer = _answer(b'200 4000000\n' + b'x' * 100)
    elif case == 'extra-entries':
        answer = _answer(b'200 0\n' * ((MAX_REPLICATE_BODY - 100) // 6))
    elif case == 'bomb-entries':
        bomb = hash_bomb()
        n = max(1, min(len(names), (MAX_REPLICATE_BODY - 100) // (len(bomb) + 20)))
        answer = _answer(b''.join(b'200 %d\n%s' % (len(bomb), bomb) for _ in range(n)))
    else:
        answer = b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % (1 << 30) + b'z' * (16 * MiB)
    try:
        fake, log = _replicator_case(replicator, 'REPLICATE-BATCH answer ' + case, 'ssync',
                                     len(answer), REPLICATE_MEM, batch=answer)
        assert fake.batches >= 1
        assert 'REPLICATE-BATCH' in log, log[-3000:]
    finally:
        # The module's other cases expect the fixture's one object (written again by
        # the fixture for each case): these partitions go whole.
        for part in {cluster.partition(ACCOUNT, CONTAINER, n) for n in names}:
            shutil.rmtree(os.path.join(src.device_path(), 'objects', str(part)),
                          ignore_errors=True)


def _ssync_repeats(n):
    def sync(conn):
        conn.sock.sendall(b'HTTP/1.1 200 OK\r\n\r\n')
        offered = conn.chunked_until(b':MISSING_CHECK: END\r\n')[0].split(b'\r\n')[1]
        h = offered.split()[0]
        conn.sock.sendall(b':MISSING_CHECK: START\r\n' + (h + b' dm\r\n') * n +
                          b':MISSING_CHECK: END\r\n')
        sync.puts = conn.chunked_until(b':UPDATES: END\r\n', b'PUT /')[1]
        conn.sock.sendall(b':UPDATES: START\r\n:UPDATES: END\r\n')
    sync.puts = None
    return sync


def test_replicator_reads_a_repeated_ssync_want(replicator):
    # The one object offered, asked for 500k times: one PUT, no memory per line.
    sync = _ssync_repeats(500000)
    _, log = _replicator_case(replicator, 'SSYNC 500k repeated wants', 'ssync', 500000 * 37, C,
                              sync)
    if sync.puts != 1:
        print(log[-3000:])
    assert sync.puts == 1, sync.puts


def _native_answer(data):
    def sync(conn):
        conn.sock.sendall(b'HTTP/1.1 200 OK\r\n\r\n')
        conn.read_exact(struct.unpack('>I', conn.read_exact(4))[0])  # the Begin frame
        conn.sock.sendall(data)
    return sync


@pytest.mark.parametrize('case', ['max-frame', 'empty-objects', 'deep', '4GiB', 'flood'])
def test_replicator_reads_native_answers(replicator, case):
    half = (MAX_FRAME - 2) // 2
    data = {'max-frame': _max_ping(),
            'empty-objects': frame(b'{"Files":[' + b'{},' * ((MAX_FRAME - 20) // 3) + b'{}]}'),
            'deep': frame(b'[' * half + b']' * half),
            '4GiB': struct.pack('>I', 0xFFFFFFFF) + b'{"Hashes":',
            'flood': frame({'Hashes': {'abc': 'x' * 32}, 'Xattrs': _opcode_flood().hex()}),
            }[case]
    _replicator_case(replicator, 'native answer ' + case, 'native', len(data), NATIVE_MEM,
                     _native_answer(data))
