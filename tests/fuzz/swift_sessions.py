"""Real Swift replication traffic for the fuzz seeds, recorded on the wire.

A Swift 2.30 object server (ObjectController under eventlet's wsgi server with Swift's
SwiftHttpProtocol) listens on 127.0.0.1 behind a recording proxy. Swift's own
ssync_sender.Sender syncs a partition to it and Swift's replicator REPLICATE call
(bufferedhttp.http_connect) asks it for hashes; the proxy keeps both directions of
every connection byte for byte. Nothing here is written by replicant.

Runs in-process with a private swift.conf (utils.SWIFT_CONF_FILE points at a temp
file; /etc/swift is never read or written) and a fixed hash path salt: prefix '' and
suffix 'fuzz', the salt tests/fuzz/ssync_receiver_fuzz.cc gives the receiver.
"""
import logging
import os

import eventlet
eventlet.monkey_patch()
logging.disable(logging.CRITICAL)  # Swift's quarantine messages go to the root logger

from swift.common import bufferedhttp, storage_policy, utils  # noqa: E402
from swift.common.http_protocol import SwiftHttpProtocol  # noqa: E402
from swift.common.utils import Timestamp  # noqa: E402
from swift.obj import diskfile, server as object_server, ssync_sender  # noqa: E402

HASH_PREFIX = b''
HASH_SUFFIX = b'fuzz'
SWIFT_CONF = """[swift-hash]
swift_hash_path_prefix =
swift_hash_path_suffix = fuzz

[storage-policy:0]
name = gold
aliases = yellow, orange
default = yes

[storage-policy:1]
name = silver
"""
# The sender's objects: (name, kind, timestamp). Their hashes under this salt are the
# ones ssync_sender_fuzz.cc puts on its own disk (SENDER_HASHES checks they agree).
SENDER_OBJECTS = (('o-data', 'data', 1900000000.0),
                  ('o-meta', 'data', 1900000000.0),
                  ('o-meta', 'meta', 1900000001.0),
                  ('o-tomb', 'ts', 1900000002.0))


class NullLogger(object):
    """A logger that drops everything (Swift's daemons want one)."""
    def __getattr__(self, name):
        if name in ("exception", "error") and os.environ.get("SEED_DEBUG"):
            import traceback
            return lambda *a, **kw: (print(name, a), traceback.print_exc())
        return lambda *a, **kw: None

    def get_prefixed_logger(self, *a, **kw):
        return self


class Recorder(object):
    """A loopback TCP proxy that keeps every connection's bytes, both ways."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.sock = eventlet.listen(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self.conns = []  # [client->server bytearray, server->client bytearray]
        self.pool = eventlet.GreenPool()
        self.pool.spawn_n(self._accept)

    def _pump(self, src, dst, buf):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b''
            if not data:
                try:
                    dst.shutdown(2 if buf is None else 1)
                except OSError:
                    pass
                return
            buf.extend(data)
            dst.sendall(data)

    def _accept(self):
        while True:
            client, _ = self.sock.accept()
            upstream = eventlet.connect(('127.0.0.1', self.target_port))
            rec = [bytearray(), bytearray()]
            self.conns.append(rec)
            self.pool.spawn_n(self._pump, client, upstream, rec[0])
            self.pool.spawn_n(self._pump, upstream, client, rec[1])

    def take(self):
        """The connections recorded since the last call, once they are quiet."""
        eventlet.sleep(0.2)
        out, self.conns = self.conns, []
        return [(bytes(a), bytes(b)) for a, b in out]


def dechunk(data):
    """The body of a chunked HTTP message body (framing removed)."""
    out, pos = bytearray(), 0
    while pos < len(data):
        eol = data.index(b'\r\n', pos)
        size = int(data[pos:eol].split(b';')[0], 16)
        pos = eol + 2
        if size == 0:
            break
        out += data[pos:pos + size]
        pos += size + 2
    return bytes(out)


def split_head(message):
    i = message.index(b'\r\n\r\n') + 4
    return message[:i], message[i:]


def write_object(mgr, device, name, kind, ts, policy):
    """A .data, a tombstone or a fast-POST .meta, as Swift's object server makes them."""
    df = mgr.get_diskfile(device, '7', 'a', 'c', name, policy=policy)
    stamp = Timestamp(ts)
    if kind == 'meta':
        df.write_metadata({'X-Timestamp': stamp.internal, 'X-Object-Meta-Color': 'blue'})
    elif kind == 'ts':
        df.delete(stamp)
    else:
        body = b'hello fuzzer'
        with df.create() as writer:
            writer.write(body)
            writer.put({'name': '/a/c/' + name, 'X-Timestamp': stamp.internal,
                        'Content-Length': str(len(body)), 'Content-Type': 'text/plain',
                        'ETag': utils.md5(body, usedforsecurity=False).hexdigest(),
                        'X-Object-Meta-Shape': 'round'})
            writer.commit(stamp)
    return df


class Cluster(object):
    """Two devices dirs: the sender's and the object server's."""

    def __init__(self, tmp):
        os.makedirs(tmp, exist_ok=True)
        conf_path = os.path.join(tmp, 'swift.conf')
        with open(conf_path, 'w') as f:
            f.write(SWIFT_CONF)
        utils.SWIFT_CONF_FILE = conf_path
        storage_policy.reload_storage_policies()
        utils.HASH_PATH_PREFIX, utils.HASH_PATH_SUFFIX = HASH_PREFIX, HASH_SUFFIX
        self.policy = storage_policy.POLICIES[0]
        self.send_devices = os.path.join(tmp, 'send')
        self.recv_devices = os.path.join(tmp, 'recv')
        for d in (self.send_devices + '/sda1', self.recv_devices + '/sdb1'):
            os.makedirs(d)
        conf = {'devices': self.send_devices, 'mount_check': 'false'}
        self.router = diskfile.DiskFileRouter(conf, NullLogger())
        self.mgr = self.router[self.policy]
        app_conf = {'devices': self.recv_devices, 'mount_check': 'false',
                    'replication_server': 'true'}
        self.app = object_server.ObjectController(app_conf, logger=NullLogger())
        self.recv_mgr = self.app._diskfile_router[self.policy]
        listen = eventlet.listen(('127.0.0.1', 0))
        self.server_port = listen.getsockname()[1]
        self.server = eventlet.spawn(eventlet.wsgi.server, listen, self.app,
                                     protocol=SwiftHttpProtocol, log=NullLogger(),
                                     log_output=False)
        self.proxy = Recorder(self.server_port)
        self.sender_hashes = {}
        for name, kind, ts in SENDER_OBJECTS:
            df = write_object(self.mgr, 'sda1', name, kind, ts, self.policy)
            self.sender_hashes[name] = utils.hash_path('a', 'c', name)

    def stop(self):
        self.server.kill()

    # ---- SSYNC ----

    def ssync(self, device='sdb1'):
        """One Swift ssync session to the object server: [(request, response)]."""
        daemon = type('Daemon', (), {})()
        daemon._df_router = self.router
        daemon.conn_timeout = daemon.node_timeout = daemon.http_timeout = 10
        daemon.network_chunk_size = 65536
        daemon.logger = NullLogger()
        node = {'replication_ip': '127.0.0.1', 'replication_port': self.proxy.port,
                'device': device, 'index': 0}
        part_dir = os.path.join(self.send_devices, 'sda1', 'objects', '7')
        suffixes = sorted(os.listdir(part_dir))
        suffixes = [s for s in suffixes if len(s) == 3]
        job = {'device': 'sda1', 'partition': '7', 'policy': self.policy}
        ssync_sender.Sender(daemon, node, job, suffixes)()
        return self.proxy.take()

    def sender_write(self, name, kind, ts):
        write_object(self.mgr, 'sda1', name, kind, ts, self.policy)

    def receiver_write(self, name, kind, ts):
        write_object(self.recv_mgr, 'sdb1', name, kind, ts, self.policy)

    # ---- REPLICATE ----

    def replicate(self, device='sdb1', suffixes=''):
        """Swift's replicator's REPLICATE call (update() and the suffix rehash)."""
        headers = {'X-Backend-Storage-Policy-Index': '0',
                   'User-Agent': 'object-replicator %s' % os.getpid()}
        conn = bufferedhttp.http_connect('127.0.0.1', self.proxy.port, device, '7',
                                         'REPLICATE', '/' + suffixes if suffixes else '',
                                         headers=headers)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return self.proxy.take()


def record(tmp):
    """Every recorded exchange, by name: {name: (request bytes, response bytes)}."""
    c = Cluster(tmp)
    out = {}
    try:
        out['replicate_empty'] = c.replicate()[0]
        out['ssync_fresh'] = c.ssync()[0]               # receiver wants everything
        out['ssync_in_sync'] = c.ssync()[0]             # wants nothing
        out['replicate_hashes'] = c.replicate()[0]
        suffix = c.sender_hashes['o-data'][-3:]
        out['replicate_rehash'] = c.replicate(suffixes=suffix)[0]
        c.sender_write('o-data', 'meta', 1900000003.0)    # a fast POST: wants meta
        out['ssync_meta_only'] = c.ssync()[0]
        c.receiver_write('o-meta', 'meta', 1900000005.0)  # newer meta there: wants data
        c.receiver_write('o-data', 'ts', 1900000009.0)    # newer tombstone: nothing
        out['ssync_partial'] = c.ssync()[0]
        # A hash dir that is a file: the PUT fails, the receiver ends with ":ERROR: 500".
        os.makedirs(os.path.join(c.recv_devices, 'sdb2', 'objects', '7',
                                 c.sender_hashes['o-data'][-3:]))
        open(os.path.join(c.recv_devices, 'sdb2', 'objects', '7',
                          c.sender_hashes['o-data'][-3:], c.sender_hashes['o-data']),
             'w').close()
        out['ssync_put_fails'] = c.ssync(device='sdb2')[0]
        out['ssync_no_device'] = c.ssync(device='sdz9')[0]
        out['replicate_no_device'] = c.replicate(device='sdz9')[0]
    finally:
        c.stop()
    out['_hashes'] = c.sender_hashes
    return out


if __name__ == '__main__':
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for k, v in record(d).items():
            if k == '_hashes':
                print(v)
                continue
            print('==', k, len(v[0]), len(v[1]))
            print(v[0][:600])
            print(v[1][:600])
    sys.exit(0)
