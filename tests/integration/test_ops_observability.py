"""What operators watch, on a loopback Swift cluster after real replicant passes:
recon (read back by Swift's own `swift-recon` through the object servers' recon
middleware), StatsD datagrams with Swift's metric names, the progress file,
`replicant serve`'s GET /metrics (parsed as Prometheus text) and /progress,
`replicant status --json`, and logging to a syslog socket."""
import http.client
import json
import os
import re
import socket
import threading
import time

import pytest

from cluster import Cluster, wait_for_port
from objects import ACCOUNT, CONTAINER, pick_objects
from replicant_test import REPLICANT_BIN, run, seeded_random


def without_empty_failures(stats):
    """Swift's dump_recon_cache drops an empty nested dict (failure_nodes {}) on merge."""
    return {k: v for k, v in stats.items() if not (k == 'failure_nodes' and not v)}


def replicate_once(node, *args):
    return run([REPLICANT_BIN, 'replicate', node.conf_path, '--once'] + list(args),
               check=True, timeout=300)


class UdpListener:
    """Collects every datagram sent to 127.0.0.1:<port> in a background thread."""

    def __init__(self, family=socket.AF_INET, address=('127.0.0.1', 0)):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.datagrams = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def port(self):
        return self.sock.getsockname()[1]

    def _run(self):
        while not self._stop:
            try:
                self.datagrams.append(self.sock.recv(65536))
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.sock.close()


def parse_prometheus(text):
    """{(name, frozenset(labels.items())): value}; checks HELP/TYPE precede samples."""
    samples, typed = {}, set()
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            name, kind = line.split()[2:4]
            assert kind in ('gauge', 'counter'), line
            typed.add(name)
            continue
        if not line or line.startswith('#'):
            continue
        m = line_re.match(line)
        assert m, 'not a Prometheus sample line: %r' % line
        name, labels, value = m.groups()
        assert name in typed, 'sample before its # TYPE: %r' % line
        lab = frozenset(label_re.findall(labels or ''))
        samples[(name, lab)] = float(value)
    return samples


def http_get(port, path):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        conn.request('GET', path)
        r = conn.getresponse()
        return r.status, r.getheader('Content-Type'), r.read()
    finally:
        conn.close()


@pytest.fixture(scope='module')
def cluster():
    with Cluster(nodes=4, replicas=3, part_power=6, recon=True,
                 replicator_options={'concurrency': 2}) as c:
        rng = seeded_random('test_ops_observability')
        node0 = c.nodes[0]
        objects = pick_objects(rng, c, node0, count=20)
        for name, body, meta in objects:
            c.write_object_on(node0, ACCOUNT, CONTAINER, name, body)
        c.test_objects = objects
        yield c


@pytest.fixture(scope='module')
def first_pass(cluster):
    """One statsd-instrumented pass of node0: (statsd datagrams, recon, progress)."""
    c = cluster
    node0 = c.nodes[0]
    listener = UdpListener()
    try:
        c.set_replicator_options(nodes=[node0], log_statsd_host='127.0.0.1',
                                 log_statsd_port=listener.port,
                                 log_statsd_metric_prefix='testprefix')
        replicate_once(node0)
        time.sleep(0.5)  # the datagrams are on loopback; let the thread read them
    finally:
        listener.close()
        c.set_replicator_options(nodes=[node0], log_statsd_host=None, log_statsd_port=None,
                                 log_statsd_metric_prefix=None)
    with open(os.path.join(node0.recon_cache_path, 'object.recon')) as f:
        recon = json.load(f)
    with open(os.path.join(node0.recon_cache_path, 'replicant-progress.json')) as f:
        progress = json.load(f)
    return [d.decode() for d in listener.datagrams], recon, progress


def test_recon_has_swift_keys_and_per_disk(cluster, first_pass):
    _, recon, _ = first_pass
    for key in ('replication_stats', 'replication_time', 'replication_last',
                'object_replication_time', 'object_replication_last'):
        assert key in recon, key
    dev = cluster.nodes[0].devices[0]
    per_disk = recon['object_replication_per_disk'][dev]
    assert without_empty_failures(per_disk['replication_stats']) == \
        without_empty_failures(recon['replication_stats'])
    assert per_disk['object_replication_last'] == recon['object_replication_last']
    assert recon['replication_stats']['attempted'] > 0
    assert abs(recon['replication_last'] - time.time()) < 120


def test_swift_recon_reports_replicants_numbers(cluster, first_pass):
    _, recon, _ = first_pass
    c = cluster
    p = run(['/usr/bin/swift-recon', 'object', '-r', '-v', '--swiftdir', c.swift_dir,
             '--timeout', '10'], check=True, timeout=120, env=c.env)
    out = p.stdout
    node0 = c.nodes[0]
    # -v prints each host's raw answer: node0's is replicant's recon entry.
    m = re.search(r'-> http://127\.0\.0\.1:%d/recon/replication/object: (\{.*\})' % node0.port,
                  out)
    assert m, out
    import ast
    answer = ast.literal_eval(m.group(1))
    assert answer['replication_stats']['attempted'] == recon['replication_stats']['attempted']
    assert answer['replication_last'] == recon['replication_last']
    s = recon['replication_stats']
    # Only node0 ran a replicator, so the cluster-wide low/high/total are its numbers.
    m = re.search(r'\[replication_attempted\] low: (\d+), high: (\d+), avg: [\d.]+, '
                  r'total: (\d+),.*reported: 1', out)
    assert m, out
    assert [int(x) for x in m.groups()] == [s['attempted']] * 3
    m = re.search(r'\[replication_success\] low: (\d+), high: (\d+)', out)
    assert m and int(m.group(1)) == s['success'], out


def test_statsd_metrics_match_the_pass(cluster, first_pass):
    datagrams, recon, progress = first_pass
    dev = cluster.nodes[0].devices[0]
    prefix = 'testprefix.object-replicator.'
    assert datagrams and all(d.startswith(prefix) for d in datagrams), datagrams[:5]
    counts = {}
    timings = {}
    for d in datagrams:
        name, rest = d[len(prefix):].split(':', 1)
        value, kind = rest.split('|')[:2]
        if kind == 'c':
            counts[name] = counts.get(name, 0) + int(value)
        else:
            assert kind == 'ms', d
            timings.setdefault(name, []).append(float(value))
    handoffs = progress['devices'][dev]['handoffs_total']
    total = progress['devices'][dev]['partitions_total']
    assert counts.get('partition.delete.count.' + dev, 0) == handoffs
    assert counts.get('partition.update.count.' + dev, 0) == total - handoffs
    assert len(timings.get('partition.update.timing', [])) == total - handoffs
    assert len(timings.get('partition.delete.timing', [])) == handoffs
    assert all(t >= 0 for ts in timings.values() for t in ts)
    s = recon['replication_stats']
    assert counts.get('suffix.hashes', 0) == s['suffix_hash']
    assert counts.get('suffix.syncs', 0) == s['suffix_sync'] > 0


def test_progress_file_after_a_pass(cluster, first_pass):
    _, recon, progress = first_pass
    dev = cluster.nodes[0].devices[0]
    assert progress['version'] == 1 and progress['state'] == 'idle'
    assert progress['pass'] is None
    d = progress['devices'][dev]
    assert d['partitions_done'] == d['partitions_total'] > 0
    assert sum(p['partitions_total'] for p in d['policies'].values()) == d['partitions_total']
    last = progress['last_pass']
    # Beyond Swift's keys: what rsync sent, a .data per object to each primary but node0.
    files_sent, bytes_sent = last['stats'].pop('files_sent'), last['stats'].pop('bytes_sent')
    assert last['stats'].pop('lockups') == 0  # replicant's lockup_timeout count
    want_files = want_bytes = 0
    for name, body, _ in cluster.test_objects:
        _, nodes = cluster.ring(0).get_nodes(ACCOUNT, CONTAINER, name)
        copies = sum(1 for n in nodes if cluster.node_of(n) is not cluster.nodes[0])
        want_files += copies
        want_bytes += copies * len(body)
    assert (files_sent, bytes_sent) == (want_files, want_bytes)
    assert without_empty_failures(last['stats']) == \
        without_empty_failures(recon['replication_stats'])
    assert last['partitions'] == d['partitions_total'] and last['aborted'] is False


def test_status_json_and_view(cluster, first_pass):
    node0 = cluster.nodes[0]
    dev = node0.devices[0]
    _, recon, _ = first_pass
    p = run([REPLICANT_BIN, 'status', node0.conf_path, '--json'], check=True)
    st = json.loads(p.stdout)
    d = st['devices'][dev]
    assert d['percent'] == 100.0 and d['eta_seconds'] == 0
    assert d['rate'] > 0
    assert st['last_pass']['stats']['attempted'] == recon['replication_stats']['attempted']
    p = run([REPLICANT_BIN, 'status', node0.conf_path, '--once'], check=True)
    assert re.search(r'^%s +\[#+\] 100\.0%% ' % dev, p.stdout, re.M), p.stdout
    assert 'attempted %d' % recon['replication_stats']['attempted'] in p.stdout, p.stdout


def test_status_during_a_stuck_pass_and_metrics(cluster, first_pass, tmp_path):
    """A peer that accepts connections and never answers keeps the pass running: the
    status shows a pass in progress, and serve's /metrics and /progress tell the same."""
    c = cluster
    node0, victim = c.nodes[0], c.nodes[1]
    victim.server.stop()
    hang = socket.socket()
    hang.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hang.bind(('127.0.0.1', victim.port))
    hang.listen(64)
    serve_port = None
    daemon = serve = None
    try:
        c.set_replicator_options(nodes=[node0], http_timeout=60, concurrency=1)
        daemon = c._spawn('node0-replicant-daemon',
                          [REPLICANT_BIN, 'replicate', node0.conf_path],
                          os.path.join(c.log_dir, 'node0-replicant-daemon.log'))
        hang.settimeout(60)
        conn, _ = hang.accept()  # the pass is now stuck on this peer
        deadline = time.time() + 10
        while True:
            st = json.loads(run([REPLICANT_BIN, 'status', node0.conf_path, '--json']).stdout)
            if st['state'] == 'running' or time.time() > deadline:
                break
            time.sleep(0.2)
        assert st['state'] == 'running' and st['pass'] is not None, st
        d = st['devices'][node0.devices[0]]
        assert d['partitions_done'] < d['partitions_total'], d
        assert st['pass']['number'] == 1

        # replicant serve on a free port, reading the same progress file.
        from cluster import free_port
        serve_port = free_port()
        conf = str(tmp_path / 'serve.conf')
        with open(node0.conf_path) as f:
            text = f.read()
        text = re.sub(r'(\[replicant-server\][^\[]*?bind_port = )\d+', r'\g<1>%d' % serve_port,
                      text)
        with open(conf, 'w') as f:
            f.write(text)
        serve = c._spawn('node0-serve-metrics', [REPLICANT_BIN, 'serve', conf],
                         os.path.join(c.log_dir, 'node0-serve-metrics.log'))
        wait_for_port(serve_port, proc=serve)
        status, ctype, body = http_get(serve_port, '/progress')
        assert status == 200 and ctype == 'application/json'
        prog = json.loads(body)
        assert prog['state'] == 'running' and prog['pid'] == daemon.pid
        # Object paths still answer GET as a Swift replication server does.
        assert http_get(serve_port, '/sdb1/1/a/c/o')[0] == 405
        http_get(serve_port, '/metrics')
        status, ctype, body = http_get(serve_port, '/metrics')
        assert status == 200 and ctype.startswith('text/plain; version=0.0.4')
        m = parse_prometheus(body.decode())
        dev = node0.devices[0]
        assert m[('replicant_replicator_pass_running', frozenset())] == 1
        done = sum(v for (n, l), v in m.items() if n == 'replicant_replicator_partitions_done'
                   and ('device', dev) in l)
        total = sum(v for (n, l), v in m.items() if n == 'replicant_replicator_partitions_total'
                    and ('device', dev) in l)
        # The pass is stuck: nothing finished since the status above.
        assert done == d['partitions_done'], (done, d)
        assert total == d['partitions_total']
        # The daemon's tracker starts fresh, so no pass of it has finished yet.
        assert ('replicant_replicator_last_pass_duration_seconds', frozenset()) not in m
        assert m[('replicant_server_requests_total',
                  frozenset({('method', 'GET'), ('status', '200')}))] >= 2
        assert m[('replicant_server_requests_total',
                  frozenset({('method', 'GET'), ('status', '405')}))] == 1
        assert m[('replicant_server_received_bytes_total', frozenset())] > 0
        assert m[('replicant_server_requests_in_flight', frozenset())] == 1
        conn.close()
    finally:
        hang.close()
        for p in (daemon, serve):
            if p is not None:
                p.stop()
        c.set_replicator_options(nodes=[node0], http_timeout=None, concurrency=None)
        c.restart_server(victim)


def test_log_to_syslog_socket(cluster, tmp_path):
    node0 = cluster.nodes[0]
    addr = str(tmp_path / 'log.sock')
    listener = UdpListener(socket.AF_UNIX, addr)
    try:
        cluster.set_replicator_options(nodes=[node0], log_to_syslog='true', log_address=addr,
                                       log_facility='LOG_LOCAL3', log_name='repl-test')
        p = replicate_once(node0, '-p', '0')
        time.sleep(0.3)
    finally:
        listener.close()
        cluster.set_replicator_options(nodes=[node0], log_to_syslog=None, log_address=None,
                                       log_facility=None, log_name=None)
    lines = [d.decode() for d in listener.datagrams]
    assert 'Running object replicator in script mode.' not in p.stderr
    # LOG_LOCAL3 = 19, info = 6: <158>; Swift's SysLogHandler format with a trailing NUL.
    assert '<158>repl-test: Running object replicator in script mode.\x00' in lines, lines[:5]


def test_log_rsync_transfers(cluster):
    """rsync's per-file "<f+++..." lines are logged (at debug) only with
    log_rsync_transfers, as in Swift."""
    c = cluster
    node0 = c.nodes[0]
    rng = seeded_random('test_log_rsync_transfers')
    seen = {}
    try:
        for flag in ('false', 'true'):
            for name, body, _ in pick_objects(rng, c, node0, count=8):
                c.write_object_on(node0, ACCOUNT, CONTAINER, '%s-%s' % (flag, name), body)
            # -v is Swift's "log to the console as well"; DEBUG comes from log_level.
            c.set_replicator_options(nodes=[node0], log_rsync_transfers=flag, log_level='DEBUG')
            p = run([REPLICANT_BIN, 'replicate', node0.conf_path, '--once', '-v'], timeout=300)
            assert 'Successful rsync' in p.stderr
            seen[flag] = re.findall(r'debug: <f\S* ', p.stderr)
    finally:
        c.set_replicator_options(nodes=[node0], log_rsync_transfers=None, log_level=None)
    assert seen['false'] == [] and seen['true'], seen


def test_statsd_lock_failure_count(cluster):
    """A handoff partition locked by someone else (an incoming SSYNC holds the same lock)
    is skipped and counted as Swift's object-replicator.partition.lock-failure.count."""
    import fcntl
    c = cluster
    node0 = c.nodes[0]
    name = next(n for n in ('locked-%d' % i for i in range(1000))
                if not c.is_primary(node0, ACCOUNT, CONTAINER, n))
    c.write_object_on(node0, ACCOUNT, CONTAINER, name, b'held')
    part = c.partition(ACCOUNT, CONTAINER, name)
    part_dir = next(os.path.join(node0.devices_dir, d, 'objects', str(part))
                    for d in node0.devices
                    if os.path.isdir(os.path.join(node0.devices_dir, d, 'objects', str(part))))
    listener = UdpListener()
    lock = open(os.path.join(part_dir, '.lock-replication'), 'a')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        c.set_replicator_options(nodes=[node0], log_statsd_host='127.0.0.1',
                                 log_statsd_port=listener.port)
        replicate_once(node0, '-p', str(part))
        time.sleep(0.5)
    finally:
        lock.close()
        listener.close()
        c.set_replicator_options(nodes=[node0], log_statsd_host=None, log_statsd_port=None)
    grams = [d.decode() for d in listener.datagrams]
    assert 'object-replicator.partition.lock-failure.count:1|c' in grams, grams
    assert os.path.isdir(part_dir)  # kept for the next pass
    replicate_once(node0, '-p', str(part))
    assert not os.path.isdir(part_dir)
