"""swift-object-replicator (replicant) in daemon mode lets go of its stdio, as Swift's
daemons do (capture_stdio), when it logs to syslog and was not asked for `verbose`.

Swift's Manager (`swift-init object-replicator start`, and Swift's probe tests through
it) spawns a daemon with stdout (and stderr) on a pipe and reads that pipe until it
closes: a daemon holding it makes the start hang forever (found by Swift's
test_replication_servers_working.py on the SAIO, tests/saio/). Without syslog, stderr is
the log (systemd's journal) and stays.
"""
import os
import select
import socket
import subprocess
import time

from cluster import Cluster
from replicant_test import REPLICANT_BIN

ENTRY = os.path.join(os.path.dirname(REPLICANT_BIN), 'swift-object-replicator')


def _spawn_like_manager(conf, *words):
    # swift.common.manager.Server.spawn with wait=True
    return subprocess.Popen([ENTRY, conf] + list(words), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def _read_to_eof(proc, seconds):
    """What Manager's wait() does (proc.stdout.read()), bounded: the output, or None if
    the pipe is still open after `seconds`."""
    out, deadline = b'', time.time() + seconds
    while time.time() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return out
            out += chunk
    return None


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_daemon_logging_to_syslog_closes_the_managers_pipe(tmp_path):
    sock_path = str(tmp_path / 'log.sock')
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(sock_path)
    sink.settimeout(60)
    opts = {'log_to_syslog': 'true', 'log_address': sock_path, 'interval': '1'}
    with Cluster(nodes=2, replicas=2, part_power=4, replicator_options=opts) as c:
        proc = _spawn_like_manager(c.nodes[0].conf_path)
        try:
            out = _read_to_eof(proc, 20)
            assert out is not None, 'the daemon still holds the pipe Manager reads'
            assert proc.poll() is None, 'the daemon exited: %r' % out
            # and it still logs, to syslog
            assert sink.recv(65536)
        finally:
            _stop(proc)
            sink.close()


def test_daemon_logging_to_stderr_or_verbose_keeps_it(tmp_path):
    """The console is the log here: the daemon keeps it (the journal, or -v)."""
    sock_path = str(tmp_path / 'log.sock')
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(sock_path)
    with Cluster(nodes=2, replicas=2, part_power=4, replicator_options={'interval': '1'}) as c:
        cases = [(c.nodes[0].conf_path, ())]
        with open(c.nodes[0].conf_path) as f:
            text = f.read()
        syslog_conf = str(tmp_path / 'syslog.conf')
        with open(syslog_conf, 'w') as f:
            f.write(text.replace('[object-replicator]\n', '[object-replicator]\n'
                                 'log_to_syslog = true\nlog_address = %s\n' % sock_path))
        with open(syslog_conf) as f:
            assert 'log_to_syslog = true' in f.read()
        cases += [(syslog_conf, ('verbose',)), (syslog_conf, ('-v',))]
        for conf, words in cases:
            proc = _spawn_like_manager(conf, *words)
            try:
                assert _read_to_eof(proc, 3) is None, (conf, words)
                assert proc.poll() is None
            finally:
                _stop(proc)
    sink.close()
