"""systemd integration: `replicant replicate` (daemon) and `replicant serve` speak the
sd_notify protocol to a NOTIFY_SOCKET the test owns (READY=1, STATUS=, WATCHDOG=1 only
while a pass makes progress, STOPPING=1); the units in etc/systemd pass
`systemd-analyze verify`; `cmake --install` lays out binary, units and samples."""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from cluster import Cluster
from objects import ACCOUNT, CONTAINER, pick_objects
from replicant_test import BUILD_DIR, REPLICANT_BIN, SOURCE_DIR, run, seeded_random

UNITS_DIR = os.path.join(SOURCE_DIR, 'etc', 'systemd')
WATCHDOG_SECONDS = 1.0
STOP_TIMEOUT = 3.0


class NotifySocket:
    """A unix datagram socket standing in for systemd's notify socket, read all the time
    by a thread (as systemd does: a full socket would block the daemon's sd_notify)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.messages = []  # (monotonic time, {key: value}) per datagram
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536).decode()
            except socket.timeout:
                continue
            except OSError:
                return
            kv = dict(line.split('=', 1) for line in data.splitlines() if '=' in line)
            with self._lock:
                self.messages.append((time.monotonic(), kv))

    def since(self, t):
        with self._lock:
            return [kv for when, kv in self.messages if when >= t]

    def wait_for(self, pred, timeout, what, since=0.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for kv in self.since(since):
                if pred(kv):
                    return kv
            time.sleep(0.05)
        raise AssertionError('no %s within %ss; got %r' % (what, timeout, self.messages))

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.sock.close()


class HangingPeer:
    """Listens on a port, accepts every connection and never answers."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', port))
        self.sock.listen(64)
        self.conns = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                self.conns.append(self.sock.accept()[0])
            except socket.timeout:
                pass
            except OSError:
                return

    def wait_for_connection(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.conns:
            assert time.monotonic() < deadline, 'nobody connected to the hanging peer'
            time.sleep(0.05)

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.sock.close()  # connections still in the backlog are reset
        for conn in self.conns:
            conn.close()


def notify_env(c, notify):
    env = dict(c.env)
    env['NOTIFY_SOCKET'] = notify.path
    env['WATCHDOG_USEC'] = str(int(WATCHDOG_SECONDS * 1e6))
    env.pop('WATCHDOG_PID', None)
    return env


def spawn(c, name, args, env):
    from cluster import ManagedProcess
    p = ManagedProcess(name, args, os.path.join(c.log_dir, name + '.log'), env=env, cwd=c.dir)
    c._procs.append(p)
    return p


@pytest.fixture
def cluster(tmp_path):
    with Cluster(nodes=4, replicas=3, part_power=5,
                 replicator_options={'concurrency': 1, 'interval': 1}) as c:
        rng = seeded_random('test_ops_systemd')
        for name, body, _ in pick_objects(rng, c, c.nodes[0], count=12):
            c.write_object_on(c.nodes[0], ACCOUNT, CONTAINER, name, body)
        yield c


def test_replicator_notifies_and_watchdog_follows_progress(cluster, tmp_path):
    c = cluster
    node0, victim = c.nodes[0], c.nodes[1]
    notify = NotifySocket(str(tmp_path / 'notify.sock'))
    proc = spawn(c, 'replicant-notify', [REPLICANT_BIN, 'replicate', node0.conf_path],
                 notify_env(c, notify))
    hang = None
    try:
        ready = notify.wait_for(lambda kv: kv.get('READY') == '1', 30, 'READY=1')
        assert 'object replicator started' in ready.get('STATUS', '')
        notify.wait_for(lambda kv: 'complete' in kv.get('STATUS', ''), 60, 'a pass summary')
        # Between passes (interval = 1) the main thread keeps the watchdog fed.
        notify.wait_for(lambda kv: kv.get('WATCHDOG') == '1', 5, 'WATCHDOG=1')

        # Now a peer that accepts and never answers: the pass stalls on it, and the
        # pings must stop although the daemon's other threads are alive.
        victim.server.stop()
        hang = HangingPeer(victim.port)
        c.set_replicator_options(nodes=[node0], http_timeout=60, stop_timeout=STOP_TIMEOUT)
        os.kill(proc.pid, signal.SIGHUP)  # reload: the next pass uses http_timeout 60
        hang.wait_for_connection(60)
        time.sleep(0.3)  # pings sent before the stall was reached may still arrive
        t_stall = time.monotonic()
        time.sleep(4 * WATCHDOG_SECONDS)
        stalled = notify.since(t_stall)
        pings = [kv for kv in stalled if kv.get('WATCHDOG') == '1']
        assert not pings, 'watchdog pinged while the pass was stuck: %r' % stalled
        assert proc.alive()
        t_resume = time.monotonic()
        hang.close()  # the peer dies: the pass moves on, the pings come back
        notify.wait_for(lambda kv: kv.get('WATCHDOG') == '1', 30, 'WATCHDOG=1 after the stall',
                        since=t_resume)

        # SIGTERM while a job is stuck on the silent peer again (a later pass reaches it):
        # the daemon gives the job stop_timeout seconds, not http_timeout, and exits 0.
        hang = HangingPeer(victim.port)
        hang.wait_for_connection(60)
        t_term = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        notify.wait_for(lambda kv: kv.get('STOPPING') == '1', 10, 'STOPPING=1')
        assert proc.popen.wait(30) == 0
        waited = time.monotonic() - t_term
        assert STOP_TIMEOUT - 0.5 <= waited < STOP_TIMEOUT + 10, waited
        with open(proc.log_path) as f:
            assert 'stop_timeout reached: exiting with jobs in flight' in f.read()
    finally:
        if hang is not None:
            hang.close()
        proc.stop()
        notify.close()


def test_serve_notifies_ready_and_stopping(cluster, tmp_path):
    c = cluster
    node = c.nodes[0]
    conf = str(tmp_path / 'serve.conf')
    from cluster import free_port
    port = free_port()
    with open(node.conf_path) as f:
        text = f.read()
    with open(conf, 'w') as f:
        f.write(re.sub(r'(\[replicant-server\][^\[]*?bind_port = )\d+', r'\g<1>%d' % port, text))
    notify = NotifySocket(str(tmp_path / 'notify.sock'))
    proc = spawn(c, 'serve-notify', [REPLICANT_BIN, 'serve', conf], notify_env(c, notify))
    try:
        ready = notify.wait_for(lambda kv: kv.get('READY') == '1', 30, 'READY=1')
        assert ':%d' % port in ready.get('STATUS', ''), ready
        # READY=1 comes after the socket is bound: a connection succeeds at once.
        socket.create_connection(('127.0.0.1', port), timeout=2).close()
        os.kill(proc.pid, signal.SIGTERM)
        notify.wait_for(lambda kv: kv.get('STOPPING') == '1', 10, 'STOPPING=1')
        assert proc.popen.wait(30) == 0
    finally:
        proc.stop()
        notify.close()


def test_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which('systemd-analyze')
    # scripts/install-deps.sh installs Debian's systemd package for this test.
    assert analyze, 'systemd-analyze is not installed (Debian package systemd)'
    # The units name /usr/bin/replicant, which verify checks is executable: point
    # them at the built binary instead, in a copy.
    units = sorted(os.listdir(UNITS_DIR))
    assert {'replicant-replicator.service', 'replicant-server.service',
            'replicant-replicator-once@.service', 'replicant-replicator-once@.timer'} <= set(units)
    for u in units:
        with open(os.path.join(UNITS_DIR, u)) as f:
            text = f.read()
        with open(tmp_path / u, 'w') as f:
            f.write(text.replace('/usr/bin/replicant', REPLICANT_BIN))
    for name in ('replicant-replicator.service', 'replicant-server.service'):
        with open(tmp_path / name) as f:
            text = f.read()
        assert re.search(r'^Type=notify$', text, re.M), name
        for opt in ('NoNewPrivileges=yes', 'ProtectSystem=strict',
                    'ReadWritePaths=/srv/node /var/cache/swift'):
            assert opt in text, (name, opt)
    assert re.search(r'^WatchdogSec=\S+', open(tmp_path / 'replicant-replicator.service').read(),
                     re.M)
    args = [str(tmp_path / u) for u in units if not u.endswith('@.service')]
    args.append(str(tmp_path / 'replicant-replicator-once@sdb1.service'))
    shutil.copy(tmp_path / 'replicant-replicator-once@.service', args[-1])
    p = subprocess.run([analyze, 'verify'] + args, cwd=str(tmp_path), text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if p.returncode != 0 and re.search(r'Failed to (initialize|connect|create)', p.stdout) \
            and 'replicant' not in p.stdout:
        pytest.skip('systemd-analyze cannot run here: %s' % p.stdout.strip()[:300])
    problems = [l for l in p.stdout.splitlines() if 'replicant' in l]
    assert p.returncode == 0 and not problems, p.stdout


def test_cmake_install_layout(tmp_path):
    prefix = tmp_path / 'prefix'
    p = run(['cmake', '--install', BUILD_DIR, '--prefix', str(prefix)], check=True)
    binary = prefix / 'bin' / 'replicant'
    assert binary.is_file() and os.access(binary, os.X_OK), p.stdout
    for u in os.listdir(UNITS_DIR):
        assert (prefix / 'lib' / 'systemd' / 'system' / u).is_file(), u
    doc = prefix / 'share' / 'doc' / 'replicant'
    for f in ('object-server.conf-sample', 'rsyncd.conf-sample', 'crontab-sample', 'README.md'):
        assert (doc / f).is_file(), f
    out = run([str(binary), '--help'], check=True).stdout
    assert 'status' in out


def test_sample_config_documents_every_option_read():
    """Every option the replicator, the server, logging and statsd read appears in
    etc/object-server.conf-sample."""
    with open(os.path.join(SOURCE_DIR, 'etc', 'object-server.conf-sample')) as f:
        sample = f.read()
    read = set()
    for src in ('replicator/replicator_config.cc', 'receiver/server_config.cc',
                'ops/log_setup.cc', 'replicator/statsd.cc'):
        with open(os.path.join(SOURCE_DIR, src)) as f:
            code = f.read()
        read |= set(re.findall(r'(?:Get\w*|Has|Int|IntOr|PositiveSeconds)\("([a-z_]+)"', code))
    assert len(read) > 30, read
    missing = sorted(o for o in read if not re.search(r'^#? ?%s\b' % o, sample, re.M))
    assert not missing, missing
