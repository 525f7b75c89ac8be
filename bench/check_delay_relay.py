#!/usr/bin/python3
"""Checks bench/delay_relay (CTest bench.delay_relay): the one-way delay in both directions
(steady round trip ~2D; a new connection's first answer ~4D, the handshake included),
bytes intact and in order with half-close forwarded, a refused target closing the client,
the bandwidth cap, bounded memory against a reader that does not read, and its cost at
0 ms against a direct loopback transfer (printed only: a figure, not a check).

    check_delay_relay.py PATH/TO/delay_relay
"""
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time

HOST = '127.0.0.1'


def listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, 0))
    s.listen(64)
    return s


def serve(sock, handler):
    def loop():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(conn,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()


def echo(conn):
    """Greets, then echoes until EOF, then closes (so the client sees EOF after its data)."""
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(b'G')
        while True:
            b = conn.recv(1 << 20)
            if not b:
                return
            conn.sendall(b)


def sink(conn):
    """Reads to EOF, answers the byte count."""
    with conn:
        n = 0
        while True:
            b = conn.recv(1 << 20)
            if not b:
                break
            n += len(b)
        conn.sendall(str(n).encode())


class Relay:
    def __init__(self, binary, target_port, delay_ms, *extra):
        self.proc = subprocess.Popen(
            [binary, '--delay-ms', str(delay_ms)] + list(extra) +
            ['--listen', '%s:0' % HOST, '--to', '%s:%d' % (HOST, target_port)],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()  # listen HOST:PORT -> HOST:PORT
        assert line[0] == 'listen', line
        self.port = int(line[1].rsplit(':', 1)[1])
        assert self.proc.stdout.readline().strip() == 'ready'

    def rss_kb(self):
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def connect(port):
    c = socket.create_connection((HOST, port), timeout=30)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def recv_exact(c, n):
    out = b''
    while len(out) < n:
        b = c.recv(n - len(out))
        assert b, 'EOF after %d of %d bytes' % (len(out), n)
        out += b
    return out


def check_delay(binary, echo_port):
    d = 25.0
    r = Relay(binary, echo_port, d)
    try:
        t0 = time.monotonic()
        c = connect(r.port)
        assert recv_exact(c, 1) == b'G'
        first = (time.monotonic() - t0) * 1000
        rtts = []
        for i in range(5):
            t = time.monotonic()
            c.sendall(b'ping%d' % i)
            assert recv_exact(c, 5) == b'ping%d' % i
            rtts.append((time.monotonic() - t) * 1000)
        c.close()
    finally:
        r.stop()
    print('delay %.0f ms: greeting after %.1f ms (want ~%.0f), round trips %s ms (want ~%.0f)'
          % (d, first, 4 * d, ' '.join('%.1f' % x for x in rtts), 2 * d))
    # Never early (that is exact); late only by what a loaded machine's scheduling adds:
    # the upper bounds catch a delay applied twice, not a busy CI's few milliseconds.
    assert 4 * d - 1 <= first < 6 * d, first
    assert all(2 * d - 1 <= x for x in rtts), rtts
    assert sorted(rtts)[2] < 3 * d, rtts  # the median: no delay added twice


def check_two_relays(binary, echo_port):
    """Chained relays add up: the round trip through both is 2 x (D1 + D2)."""
    inner = Relay(binary, echo_port, 10)
    outer = Relay(binary, inner.port, 5)
    try:
        c = connect(outer.port)
        assert recv_exact(c, 1) == b'G'
        t = time.monotonic()
        c.sendall(b'x')
        assert recv_exact(c, 1) == b'x'
        rtt = (time.monotonic() - t) * 1000
        c.close()
    finally:
        outer.stop()
        inner.stop()
    print('two relays, 10 + 5 ms: round trip %.1f ms (want ~30)' % rtt)
    assert 29 <= rtt < 55, rtt  # 30 expected; a delay counted twice would be 60


def transfer(port, data, greet=True):
    """Sends data, half-closes, reads the echo to EOF. Returns (echo, seconds)."""
    c = connect(port)
    got = []
    t0 = time.monotonic()

    def reader():
        while True:
            b = c.recv(1 << 20)
            if not b:
                return
            got.append(b)
    th = threading.Thread(target=reader)
    th.start()
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    th.join(60)
    assert not th.is_alive(), 'no EOF: half-close not forwarded'
    c.close()
    out = b''.join(got)
    return (out[1:] if greet else out), time.monotonic() - t0


def check_integrity(binary, echo_port):
    data = os.urandom(8 << 20)
    for d in (0, 5):
        r = Relay(binary, echo_port, d)
        try:
            out, secs = transfer(r.port, data)
        finally:
            r.stop()
        assert len(out) == len(data) and hashlib.sha256(out).digest() == \
            hashlib.sha256(data).digest(), 'delay %s: %d of %d bytes, or not the same' % (
                d, len(out), len(data))
        print('delay %d ms: 8 MiB echoed intact, half-close forwarded (%.2fs)' % (d, secs))


def check_refused(binary):
    dead = listener()
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there now
    r = Relay(binary, port, 1)
    try:
        c = connect(r.port)
        c.settimeout(10)
        try:
            b = c.recv(10)
        except ConnectionResetError:
            b = b''
        assert b == b'', b
        c.close()
    finally:
        r.stop()
    print('refused target: the client is reset')


def bulk(port, nbytes):
    """MB/s of nbytes sent to a sink (answers its count)."""
    c = connect(port)
    buf = b'\0' * (1 << 20)
    t0 = time.monotonic()
    for _ in range(nbytes >> 20):
        c.sendall(buf)
    c.shutdown(socket.SHUT_WR)
    n = int(c.recv(64))
    secs = time.monotonic() - t0
    c.close()
    assert n == nbytes, (n, nbytes)
    return nbytes / secs / 1e6


def check_throughput(binary, sink_port):
    n = 512 << 20
    direct = max(bulk(sink_port, n) for _ in range(2))
    r = Relay(binary, sink_port, 0)
    try:
        relayed = max(bulk(r.port, n) for _ in range(2))
    finally:
        r.stop()
    print('bulk at 0 ms: direct %.0f MB/s, through the relay %.0f MB/s (%.0f%%)' % (
        direct, relayed, 100 * relayed / direct))
    # A measurement, not a check: a test cannot hold a loaded machine to a speed (the CI's
    # two parallel jobs once gave 16%). bulk() already checked every byte arrived; the
    # figure is for docs/bench.md.


def check_rate(binary, sink_port):
    r = Relay(binary, sink_port, 0, '--rate-mbit', '80')  # 10 MB/s
    try:
        rate = bulk(r.port, 4 << 20)
    finally:
        r.stop()
    print('--rate-mbit 80: %.1f MB/s (want ~10)' % rate)
    # The cap must hold; below it, a loaded machine may simply be slower.
    assert 3 <= rate <= 10.5, rate


def check_bounded(binary):
    """A server that never reads: the relay stops reading, its memory stays bounded."""
    s = listener()
    held = []
    serve(s, held.append)
    r = Relay(binary, s.getsockname()[1], 1, '--max-queue-kb', '2048')
    try:
        c = connect(r.port)
        c.settimeout(0.5)
        buf = b'\0' * (1 << 20)
        sent = 0
        try:
            for _ in range(256):
                sent += c.send(buf)
        except socket.timeout:
            pass
        time.sleep(0.3)
        rss = r.rss_kb()
        c.close()
    finally:
        r.stop()
        s.close()
    print('unread server: %d MiB accepted from the client, relay RSS %d MiB' % (
        sent >> 20, rss >> 10))
    assert sent < 128 << 20, sent
    assert rss < 32 << 10, rss


def main():
    binary = sys.argv[1]
    e = listener()
    serve(e, echo)
    k = listener()
    serve(k, sink)
    echo_port, sink_port = e.getsockname()[1], k.getsockname()[1]
    check_delay(binary, echo_port)
    check_two_relays(binary, echo_port)
    check_integrity(binary, echo_port)
    check_refused(binary)
    check_rate(binary, sink_port)
    check_bounded(binary)
    check_throughput(binary, sink_port)
    print('ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
