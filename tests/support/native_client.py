"""A hand-written client of the native protocol (REPCONN), for tests that speak it as a
plain Hummingbird peer would, or as a hostile one: frames are a 4-byte big-endian length
and JSON (or any bytes a test wants to send)."""
import json
import socket
import struct


def frame(obj):
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return struct.pack('>I', len(body)) + body


def recv_exact(s, n):
    data = b''
    while len(data) < n:
        got = s.recv(min(n - len(data), 1 << 20))
        if not got:
            raise EOFError('closed after %d of %d bytes' % (len(data), n))
        data += got
    return data


def read_frame(s):
    (n,) = struct.unpack('>I', recv_exact(s, 4))
    return json.loads(recv_exact(s, n))


def repconn(port, device, part, extensions=None, timeout=10):
    """Opens `REPCONN /device/part` and checks for a 200: (socket, response head)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    head = 'REPCONN /%s/%s HTTP/1.1\r\nHost: x\r\nX-Backend-Storage-Policy-Index: 0\r\n' % (
        device, part)
    if extensions is not None:
        head += 'X-Replicant-Native: %s\r\n' % extensions
    s.sendall((head + '\r\n').encode())
    resp = b''
    while b'\r\n\r\n' not in resp:
        got = s.recv(1)
        assert got, resp
        resp += got
    assert resp.startswith(b'HTTP/1.1 200'), resp
    return s, resp.decode()
