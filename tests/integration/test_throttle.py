"""bytes_per_second and files_per_second (issue 19) honoured by every backend, on loopback
clusters of real Swift object servers (and `replicant serve` for native).

Three nodes, three replicas: node0 holds objects its two peers lack, so one pass puts
every object on the wire twice (ssync and native count per peer; rsync runs one process
per peer). Each case replicates with a limit and checks that the pass took at least what
the limit implies (less the one-second burst the bucket starts with) and not wildly more,
and that every object arrived (a pass that fails fast would be quick too). Unthrottled,
every case finishes in a second or two, far under its lower bound.

A daemon stopped (SIGTERM) while its syncs wait on the throttle exits at once, well
inside stop_timeout: the waits are cancelled, not slept through.
"""
import os
import signal
import subprocess
import time

import pytest

from cluster import Cluster
from interop import ACCOUNT, CONTAINER, replicant_servers, replicate
from replicant_test import REPLICANT_BIN

BODY_KIB = 128
BYTE_OBJECTS = 8             # 8 x 128 KiB x 2 peers = 2 MiB on the wire
BYTE_RATE = 256 * 1024       # -> 8 s, 7 s after the burst
FILE_OBJECTS = 30            # 60 files on the wire
FILE_RATE = 10               # -> 6 s, 5 s after the burst
PEERS = 2


def _cluster(method, **opts):
    base = {'sync_method': method, 'concurrency': 2}
    base.update(opts)
    return Cluster(nodes=3, replicas=3, part_power=3,
                   replication='external' if method == 'native' else 'same',
                   replicator_options=base)


def _write(c, count, size, tag):
    bodies = {}
    for i in range(count):
        name = '%s-%03d' % (tag, i)
        bodies[name] = (name.encode() * size)[:size]
        c.write_object_on(c.nodes[0], ACCOUNT, CONTAINER, name, bodies[name])
    return bodies


def _check_converged(c, bodies, log):
    for name, body in bodies.items():
        for prim in c.primaries(ACCOUNT, CONTAINER, name):
            r = c.get_object(prim.node, ACCOUNT, CONTAINER, name, device=prim.device)
            assert r.status == 200 and r.body == body, (name, prim.node.name, r.status,
                                                        log[-3000:])


def _timed_pass(c, method, **limits):
    c.set_replicator_options(nodes=[c.nodes[0]], **limits)
    t0 = time.monotonic()
    p = replicate(c.nodes[0])
    return time.monotonic() - t0, p.stderr


def _run(method, limits, count, size, expected, slack):
    """One pass under `limits`; `expected`: seconds the limit implies after the burst."""
    with _cluster(method) as c:
        ctx = replicant_servers(c) if method == 'native' else _nothing()
        with ctx:
            bodies = _write(c, count, size, method)
            took, log = _timed_pass(c, method, **limits)
            print('%s %s: %.2fs (at least %.2fs)' % (method, limits, took, expected))
            _check_converged(c, bodies, log)
            assert took >= expected, ('%s %s: %.2fs < %.2fs' % (method, limits, took, expected),
                                      log[-3000:])
            assert took <= expected * slack + 10, ('%s %s: %.2fs' % (method, limits, took),
                                                   log[-3000:])
            return log


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize('method', ['ssync', 'native', 'rsync'])
def test_bytes_per_second(method):
    total = BYTE_OBJECTS * BODY_KIB * 1024 * PEERS
    expected = total / BYTE_RATE - 1.0
    # rsync: each process gets bytes_per_second / concurrency (--bwlimit), so a pass
    # where only one runs at a time takes up to twice as long (~17 s here).
    slack = 3.0 if method == 'rsync' else 1.5
    _run(method, {'bytes_per_second': BYTE_RATE}, BYTE_OBJECTS, BODY_KIB * 1024,
         expected, slack)


@pytest.mark.parametrize('method', ['ssync', 'native', 'rsync'])
def test_files_per_second(method):
    expected = FILE_OBJECTS * PEERS / FILE_RATE - 1.0
    _run(method, {'files_per_second': FILE_RATE}, FILE_OBJECTS, 100, expected, 1.5)


def test_sigterm_cancels_throttled_syncs():
    # 8 KiB/s: a 64 KiB body chunk takes 8 s, a job in flight has far more than
    # stop_timeout left.
    with _cluster('ssync', bytes_per_second=8 * 1024, stop_timeout=20) as c:
        _write(c, BYTE_OBJECTS, BODY_KIB * 1024, 'stop')
        log = os.path.join(c.log_dir, 'throttle-daemon.log')
        with open(log, 'w') as out:
            proc = subprocess.Popen([REPLICANT_BIN, 'replicate', c.nodes[0].conf_path, '-v'],
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            end = time.monotonic() + 30
            while 'Starting object replication pass' not in open(log).read():
                assert time.monotonic() < end and proc.poll() is None, open(log).read()[-3000:]
                time.sleep(0.1)
            time.sleep(3)  # the burst is spent: the syncs now sleep on the bucket
        finally:
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=60)
            took = time.monotonic() - t0
        text = open(log).read()
        print('exited %.2fs after SIGTERM' % took)
        assert rc == 0, text[-3000:]
        assert 'stop_timeout reached' not in text, text[-3000:]
        assert took < 5, (took, text[-3000:])
        assert 'throttle cancelled' in text, text[-3000:]
