"""Options an operator sets, checked at start-up and honoured as Swift honours them:
one warning line per unknown or unimplemented option in [object-replicator] and
[replicant-server] (never for [DEFAULT], which serves every daemon), Swift's run_pause
deprecation lines, [replicant-server] replication_failure_threshold / _ratio in the
SSYNC receiver, and log_udp_host / log_udp_port / log_max_line_length as Swift's logger
reads them (the truncated line compared with Swift's own SwiftLogFormatter)."""
import os
import socket
import subprocess
import time

from cluster import SWIFT_PYTHON, Cluster
from interop import recent_ts, ssync_request, start_server
from replicant_test import REPLICANT_BIN, run


def _replicate(node, *args):
    return run([REPLICANT_BIN, 'replicate', node.conf_path, '--once'] + list(args),
               check=True, timeout=300)


def _warnings(text):
    return [line for line in text.splitlines() if ' warning: ' in line]


def test_replicator_warns_once_per_unused_option():
    with Cluster(nodes=2, replicas=2, part_power=3) as c:
        node = c.nodes[0]
        c.set_replicator_options(nodes=[node], concurreny='4', eventlet_debug='true',
                                 run_pause='10')
        p = _replicate(node, '-p', '0')
        w = _warnings(p.stderr)
        assert any('[object-replicator] concurreny' in x and 'unknown option' in x for x in w), w
        assert any('[object-replicator] eventlet_debug' in x and
                   'does not implement' in x for x in w), w
        assert any('run_pause is deprecated and will be removed' in x for x in w), w
        # Each once, and nothing for the options replicant reads.
        assert len(w) == 3, w
        c.set_replicator_options(nodes=[node], interval='5')
        w = _warnings(_replicate(node, '-p', '0').stderr)
        assert any('interval is already configured' in x for x in w), w
        c.set_replicator_options(nodes=[node], concurreny=None, eventlet_debug=None,
                                 run_pause=None, interval=None)
        assert _warnings(_replicate(node, '-p', '0').stderr) == []


def _bad_etag_puts(count):
    out = b''
    for i in range(count):
        out += (b'PUT /a/c/bad-%d\r\nContent-Length: 3\r\nContent-Type: x/y\r\n'
                b'ETag: 00000000000000000000000000000000\r\nX-Timestamp: %s\r\n\r\nabc'
                % (i, recent_ts(i).encode()))
    return [b':MISSING_CHECK: START\r\n:MISSING_CHECK: END\r\n:UPDATES: START\r\n', out,
            b':UPDATES: END\r\n']


def test_serve_reads_failure_threshold_and_warns():
    opts = {'replication_failure_threshold': '2', 'replication_failure_ratio': '0',
            'max_clientz': '5'}
    with Cluster(nodes=2, replicas=2, part_power=3, replication='external',
                 replicant_server_options=opts) as c:
        node = c.nodes[1]
        p = start_server(c, node)
        try:
            resp = ssync_request(node.replication_port, node.devices[0], 5, _bad_etag_puts(3))
        finally:
            p.stop(grace=2)
        # Swift's receiver with the same options stops at the second failure.
        assert b":ERROR: 0 'Too many 2 failures to 0 successes'" in resp, resp
        with open(os.path.join(c.log_dir, '%s-replicant-serve.log' % node.name)) as f:
            w = _warnings(f.read())
        assert any('[replicant-server] max_clientz' in x and 'unknown option' in x
                   for x in w), w
        assert not any('replication_failure' in x for x in w), w


SWIFT_TRUNCATE = r'''
import logging, sys
from swift.common.utils import SwiftLogFormatter
f = SwiftLogFormatter(fmt='%(server)s: %(message)s', max_line_length=int(sys.argv[1]))
r = logging.LogRecord('x', logging.INFO, 'x.py', 0, sys.argv[3], None, None)
r.server = sys.argv[2]
sys.stdout.write(f.format(r))
'''


def test_log_udp_host_and_max_line_length():
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(('127.0.0.1', 0))
    listener.settimeout(0.5)
    got = []

    def read():
        while True:
            try:
                got.append(listener.recv(65536))
            except socket.timeout:
                return
    with Cluster(nodes=2, replicas=2, part_power=3) as c:
        node = c.nodes[0]
        c.set_replicator_options(nodes=[node], log_udp_host='127.0.0.1',
                                 log_udp_port=str(listener.getsockname()[1]),
                                 log_max_line_length='40', log_name='repl-test')
        p = _replicate(node, '-p', '0')
        read()  # the datagrams wait in the socket's buffer
    listener.close()
    message = 'Running object replicator in script mode.'
    assert message not in p.stderr  # syslog only, as with log_to_syslog
    expected = subprocess.run([SWIFT_PYTHON, '-c', SWIFT_TRUNCATE, '40', 'repl-test', message],
                              check=True, capture_output=True, text=True).stdout
    assert ' ... ' in expected and len(expected) <= 40
    lines = [d.decode() for d in got]
    # LOG_LOCAL0 = 16, info = 6: <134>; Swift's SysLogHandler appends a NUL.
    assert '<134>' + expected + '\x00' in lines, lines[:5]
    assert all(len(x) <= len('<134>') + 40 + 1 for x in lines), lines


def _nice_of(pid):
    """Nice value of every thread of pid (field 19 of /proc/PID/task/TID/stat)."""
    out = []
    for tid in os.listdir('/proc/%d/task' % pid):
        with open('/proc/%d/task/%s/stat' % (pid, tid)) as f:
            out.append(int(f.read().rsplit(')', 1)[1].split()[16]))
    return out


def test_nice_ionice_and_user_as_swift(tmp_path):
    """nice_priority, ionice_class/_priority and user, as Swift's modify_priority and
    drop_privileges apply them: every thread of the daemon inherits them."""
    if os.geteuid() != 0:
        import pytest
        pytest.skip('dropping privileges needs root')
    with Cluster(nodes=2, replicas=2, part_power=3) as c:
        node = c.nodes[0]
        c.set_replicator_options(nodes=[node], nice_priority='7',
                                 ionice_class='IOPRIO_CLASS_IDLE', user='nobody',
                                 interval='3600', concurrency='2')
        # nobody must read the configs and rings (mkdtemp made the tree 0700).
        subprocess.run(['chmod', '-R', 'a+rX', c.dir], check=True)
        log = tmp_path / 'daemon.log'
        with open(log, 'w') as out:
            p = subprocess.Popen([REPLICANT_BIN, 'replicate', node.conf_path], stdout=out,
                                 stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while 'Object replication complete' not in log.read_text():
                assert p.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            with open('/proc/%d/status' % p.pid) as f:
                uids = next(line for line in f if line.startswith('Uid:')).split()[1:]
            assert set(uids) == {'65534'}, uids
            assert set(_nice_of(p.pid)) == {7}, _nice_of(p.pid)
            io = subprocess.run(['ionice', '-p', str(p.pid)], capture_output=True,
                                text=True, check=True).stdout
            assert io.strip() == 'idle', io
            assert 'Running as user nobody' in log.read_text()
        finally:
            p.kill()
            p.wait()
