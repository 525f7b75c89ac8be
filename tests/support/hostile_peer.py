"""Fake replication peers that misbehave, for the hostile-peer integration tests.

A HostilePeer listens on 127.0.0.1:<port> (a node's replication port in the ring) and
speaks just enough of REPLICATE, REPCONN (the native protocol, plain Hummingbird flow:
no extensions accepted) and SSYNC to misbehave in one chosen way:

  liar      REPLICATE answers empty hashes; REPCONN and SSYNC ask for every file, read
            it whole and acknowledge it, and write nothing (`acked` lists the paths, for
            SSYNC the object hashes);
  status    REPCONN and SSYNC answer `status` (507, 503, ...); REPLICATE answers it too
            when replicate_status is set, else empty hashes;
  garbage   REPCONN and SSYNC answer bytes that are not HTTP, then close;
  garbage-frame  REPCONN is accepted (200), then a frame header announcing 4 GiB;
  slow      REPCONN and SSYNC answer a valid 200 head one byte per second, forever;
  stall-body  REPCONN: asks for the first file, reads half of its body, then stops
            reading (the connection stays open); SSYNC: asks for everything, reads the
            first 64 KiB of the updates, then stops reading;
  stall-ack REPCONN: reads the first body whole, then never answers.

It records what it saw (methods, files acknowledged, bytes read) for the test to check.
Each connection is served on its own thread; stop() closes everything.
"""
import json
import pickle
import socket
import struct
import threading
import time

from cluster import shut_down


class _Conn:
    """A buffered reader over a socket (lines, exact reads, chunked bodies)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b''

    def _fill(self):
        got = self.sock.recv(65536)
        if not got:
            raise EOFError
        self.buf += got

    def read_until(self, sep):
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


class _Chunked:
    """Lines and bytes of a chunked request body (SSYNC)."""

    def __init__(self, conn):
        self.conn, self.buf, self.eof = conn, b'', False

    def _more(self):
        size = int(self.conn.read_until(b'\r\n').split(b';')[0], 16)
        if size == 0:
            self.eof = True
            raise EOFError
        self.buf += self.conn.read_exact(size)
        self.conn.read_exact(2)

    def readline(self):
        while b'\n' not in self.buf:
            self._more()
        i = self.buf.index(b'\n') + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack('>I', len(data)) + data


def _read_frame(conn):
    (n,) = struct.unpack('>I', conn.read_exact(4))
    return json.loads(conn.read_exact(n))


class HostilePeer:
    def __init__(self, port, mode, status=507, replicate_status=None):
        self.port, self.mode, self.status = port, mode, status
        self.replicate_status = replicate_status
        self.methods = []        # request methods, in arrival order
        self.acked = []          # file paths acknowledged without writing them
        self.body_bytes = 0      # object bytes read
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks = []
        self._threads = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # A small receive window, so a sender whose body is not read blocks soon.
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self._listener.bind(('127.0.0.1', port))
        self._listener.listen(64)
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        self._stop.set()
        shut_down(self._listener)
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            shut_down(s)
        for t in self._threads:
            t.join(5)

    def _accept(self):
        while not self._stop.is_set():
            try:
                s, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._socks.append(s)
            t = threading.Thread(target=self._serve, args=(s,), daemon=True)
            t.start()
            self._threads.append(t)

    def _wait_forever(self):
        self._stop.wait()

    def _serve(self, sock):
        conn = _Conn(sock)
        try:
            while not self._stop.is_set():
                head = conn.read_until(b'\r\n\r\n').decode('latin-1')
                method = head.split(' ', 1)[0]
                headers = {}
                for line in head.split('\r\n')[1:]:
                    if ':' in line:
                        k, v = line.split(':', 1)
                        headers[k.strip().lower()] = v.strip()
                with self._lock:
                    self.methods.append(method)
                if method == 'REPLICATE':
                    conn.read_exact(int(headers.get('content-length', '0')))
                    self._replicate(sock)
                    continue
                if method == 'REPCONN':
                    self._repconn(sock, conn)
                elif method == 'SSYNC':
                    self._ssync(sock, conn)
                else:
                    sock.sendall(b'HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n')
                return
        except (EOFError, OSError, ValueError):
            pass
        finally:
            sock.close()

    def _replicate(self, sock):
        if self.replicate_status:
            sock.sendall(b'HTTP/1.1 %d Nope\r\nContent-Length: 0\r\n\r\n' % self.replicate_status)
            return
        body = pickle.dumps({}, protocol=2)  # nothing here: every suffix differs
        sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s' % (len(body), body))

    def _refuse_or_misbehave(self, sock):
        """Handles the modes that never get past the response head; True if handled."""
        if self.mode == 'status':
            sock.sendall(b'HTTP/1.1 %d Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
                         % self.status)
            return True
        if self.mode == 'garbage':
            sock.sendall(b'\x00\xff\xfeNOT HTTP AT ALL\r\n\r\n' + bytes(range(256)))
            return True
        if self.mode == 'slow':
            for b in b'HTTP/1.1 200 OK\r\n' + b'X-Slow: ' + b'z' * 100000:
                if self._stop.wait(1.0):
                    return True
                sock.sendall(bytes([b]))
            return True
        return False

    def _repconn(self, sock, conn):
        if self._refuse_or_misbehave(sock):
            return
        sock.sendall(b'HTTP/1.1 200 OK\r\n\r\n')
        if self.mode == 'garbage-frame':
            sock.sendall(struct.pack('>I', 0xFFFFFFFF) + b'{"Hashes":')
            self._wait_forever()
            return
        _read_frame(conn)  # BeginReplicationRequest
        sock.sendall(_frame({'Hashes': None}))
        while True:
            req = _read_frame(conn)
            if req.get('Done'):
                return
            go = not req.get('Check') and not req.get('Ping')
            sock.sendall(_frame({'Exists': False, 'NewerExists': False, 'GoAhead': go,
                                 'Msg': 'go ahead' if go else 'pong'}))
            if not go:
                continue
            size = req['Size']
            if self.mode == 'stall-body':
                conn.read_exact(size // 2)
                self._count(size // 2)
                self._wait_forever()
                return
            conn.read_exact(size)
            self._count(size)
            if self.mode == 'stall-ack':
                self._wait_forever()
                return
            with self._lock:
                self.acked.append(req['Path'])
            sock.sendall(_frame({'Success': True, 'Msg': 'YAY'}))

    def _count(self, n):
        with self._lock:
            self.body_bytes += n

    def _ssync(self, sock, conn):
        if self._refuse_or_misbehave(sock):
            return
        if self.mode not in ('liar', 'stall-body'):
            raise ValueError('mode %s has no SSYNC flavour' % self.mode)
        body = _Chunked(conn)
        sock.sendall(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n\r\n')
        assert body.readline().strip() == b':MISSING_CHECK: START'
        wanted = []
        while True:
            line = body.readline().strip()
            if line == b':MISSING_CHECK: END':
                break
            wanted.append(line.split()[0] + b' dm')
        sock.sendall(b':MISSING_CHECK: START\r\n' + b''.join(w + b'\r\n' for w in wanted) +
                     b':MISSING_CHECK: END\r\n')
        if self.mode == 'stall-body':
            body.read(65536)
            self._count(65536)
            self._wait_forever()
            return
        assert body.readline().strip() == b':UPDATES: START'
        while True:
            line = body.readline().strip()
            if line == b':UPDATES: END':
                break
            length = 0
            while True:
                h = body.readline().strip()
                if not h:
                    break
                k, v = h.split(b':', 1)
                if k.strip().lower() == b'content-length':
                    length = int(v)
            body.read(length)
            self._count(length)
        sock.sendall(b':UPDATES: START\r\n:UPDATES: END\r\n')
        with self._lock:  # every wanted object, by hash, as now "in sync"
            self.acked += [w.split()[0].decode() for w in wanted]


def wait_until(pred, timeout, step=0.05):
    """True once pred() holds, False after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
