"""Writes the fuzz seed corpora, one directory per target: OUT/<target>/<seed>.

Seeds are real Swift 2.30 output wherever Swift makes the thing: hashes.pkl and xattr
metadata written by swift.obj.diskfile, REPLICATE and SSYNC exchanges recorded on the
wire between Swift's sender or replicator call and Swift's object server
(swift_sessions.py), rings saved by RingData.save and by swift-ring-builder, confs that
Swift's own readers accept. Run with /usr/bin/python3 (it has Swift):

    /usr/bin/python3 tests/fuzz/make_seeds.py OUT
"""
import array
import hashlib
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import swift_sessions  # first: it monkey-patches with eventlet  # noqa: I100

from swift.common import utils  # noqa: E402
from swift.common.ring import RingBuilder, RingData  # noqa: E402
from swift.common.storage_policy import parse_storage_policies  # noqa: E402
from swift.obj import diskfile  # noqa: E402


class Corpus(object):
    def __init__(self, out):
        self.out = out

    def add(self, target, name, data):
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)


# ---- native (the two existing targets) ----

def frame(obj):
    body = json.dumps(obj).encode()
    return struct.pack('>I', len(body)) + body


def native_seeds(c):
    """Valid native sessions (plain and batch, with a .data body)."""
    h = hashlib.md5(b'seed').hexdigest()
    ts = '1700000000.00000'
    body = b'hello fuzzer' * 10
    md = {b'name': b'/a/c/o', b'X-Timestamp': ts.encode(), b'Content-Type': b'x/y',
          b'ETag': hashlib.md5(body).hexdigest().encode(),
          b'Content-Length': str(len(body)).encode()}
    xattrs = pickle.dumps(md, protocol=2).hex()
    path = 'sdb1/objects/7/%s/%s/%s.data' % (h[-3:], h, ts)
    begin = frame({'Device': 'sdb1', 'Partition': '7', 'NeedHashes': True})
    plain = begin + frame({'Path': path, 'Xattrs': xattrs, 'Size': len(body)}) + body + \
        frame({'Done': True})
    batch = begin + frame({'Files': [{'Path': path, 'Xattrs': xattrs, 'Size': len(body)}]}) + \
        frame({'Size': len(body), 'Delta': False, 'Skip': False}) + body + frame({'Done': True})
    ts_md = pickle.dumps({b'name': b'/a/c/o', b'X-Timestamp': b'1700000001.00000'}, protocol=2)
    tomb = begin + frame({'Files': [{'Path': path.replace(ts + '.data', '1700000001.00000.ts'),
                                     'Xattrs': ts_md.hex(), 'Size': 0}]}) + frame({'Done': True})
    for name, data in (('plain', plain), ('batch', batch), ('tombstone', tomb)):
        c.add('native_frames_fuzz', name, data)
        c.add('native_session_fuzz', name, data)


# ---- recorded Swift traffic ----

def http_seeds(c, sessions):
    for name, (request, response) in sessions.items():
        c.add('http_request_fuzz', name, request)
        c.add('http_response_fuzz', name, response)
        req_head, req_body = swift_sessions.split_head(request)
        resp_head, resp_body = swift_sessions.split_head(response)
        if name.startswith('ssync'):
            if req_body:
                c.add('ssync_receiver_fuzz', name, swift_sessions.dechunk(req_body))
            if b'chunked' in resp_head:
                c.add('ssync_sender_fuzz', name, swift_sessions.dechunk(resp_body))
        else:
            c.add('replicate_answer_fuzz', name, response)
            if resp_body:
                c.add('pickle_fuzz', name, resp_body)
    # A keep-alive connection carrying two requests, as the replicator reuses it.
    c.add('http_request_fuzz', 'keepalive',
          sessions['replicate_hashes'][0] + sessions['replicate_rehash'][0])
    # The same hashes answer at every protocol and chunked, as other peers may send it.
    head, body = swift_sessions.split_head(sessions['replicate_hashes'][1])
    lines = [h for h in head.split(b'\r\n') if h and not h.startswith(b'Content-Length')]
    value = pickle.loads(body)
    for proto in range(0, 6):
        b = pickle.dumps(value, protocol=proto)
        c.add('replicate_answer_fuzz', 'hashes_p%d' % proto,
              b'\r\n'.join(lines + [b'Content-Length: %d' % len(b)]) + b'\r\n\r\n' + b)
    chunked = b'\r\n'.join(lines + [b'Transfer-Encoding: chunked']) + b'\r\n\r\n' + \
        b'%x\r\n%s\r\n0\r\n\r\n' % (len(body), body)
    c.add('replicate_answer_fuzz', 'hashes_chunked', chunked)
    c.add('http_response_fuzz', 'hashes_chunked', chunked)


def disk_seeds(c, tmp):
    """hashes.pkl and object metadata xattrs as Swift left them on both disks."""
    for root, _, files in os.walk(tmp):
        for f in files:
            path = os.path.join(root, f)
            tag = os.path.relpath(path, tmp).replace('/', '_')
            if f == 'hashes.pkl':
                with open(path, 'rb') as fh:
                    data = fh.read()
                c.add('hashes_pkl_fuzz', tag, data)
                c.add('pickle_fuzz', tag, data)
            elif f.endswith(('.data', '.ts', '.meta')):
                data = raw_metadata(path)
                c.add('xattr_metadata_fuzz', tag, data)
                c.add('pickle_fuzz', tag, data)


def raw_metadata(path):
    """The pickle in a file's xattrs: its pieces concatenated, as read_metadata does."""
    data, i = b'', 0
    while True:
        try:
            data += os.getxattr(path, 'user.swift.metadata' + (str(i) if i else ''))
        except OSError:
            return data
        i += 1


def pickle_seeds(c, tmp):
    """write_hashes / write_pickle at every protocol, and metadata as Swift writes it."""
    hashes = {'abc': 'd41d8cd98f00b204e9800998ecf8427e', 'fff': None, 'valid': True}
    part = os.path.join(tmp, 'pickles')
    os.makedirs(part)
    diskfile.write_hashes(part, dict(hashes))
    with open(os.path.join(part, 'hashes.pkl'), 'rb') as f:
        c.add('hashes_pkl_fuzz', 'write_hashes', f.read())
    for proto in range(0, 6):
        dest = os.path.join(part, 'p%d.pkl' % proto)
        utils.write_pickle(dict(hashes, updated=1700000000.25), dest, part, proto)
        with open(dest, 'rb') as f:
            data = f.read()
        c.add('hashes_pkl_fuzz', 'write_pickle_p%d' % proto, data)
        c.add('pickle_fuzz', 'hashes_p%d' % proto, data)
        md = {'name': '/a/c/\u00f6bj', 'X-Timestamp': '1700000000.00000',
              'Content-Length': '12', 'X-Object-Meta-Big': 'x' * 300}
        c.add('xattr_metadata_fuzz', 'metadata_p%d' % proto,
              pickle.dumps(diskfile._encode_metadata(md), protocol=proto))
        nested = [None, True, 1 << 40, -7, 2.5, 'str\u20ac', b'bytes', (1, (2,)), {'k': [1]}]
        c.add('pickle_fuzz', 'values_p%d' % proto, pickle.dumps(nested, protocol=proto))
    # Python 2's cPickle output (protocols 0 and 2), as py2 Swift nodes wrote it.
    c.add('pickle_fuzz', 'py2_p0', b"(dp0\nS'abc'\np1\nS'd41d8cd98f00b204e9800998ecf8427e'\np2\n"
          b"sS'valid'\np3\nI01\nsS'updated'\np4\nF1700000000.25\ns.")
    c.add('pickle_fuzz', 'py2_p2', b"\x80\x02}q\x00(U\x03abcq\x01U d41d8cd98f00b204e9800998ecf8427e"
          b"q\x02U\x05validq\x03\x88u.")
    c.add('xattr_metadata_fuzz', 'py2_p0', b"(dp0\nS'name'\np1\nS'/a/c/o'\np2\nsS'X-Timestamp'\n"
          b"p3\nS'1700000000.00000'\np4\ns.")


# ---- rings ----

def ring_builder(part_power, replicas, devs):
    b = RingBuilder(part_power, replicas, 1)
    for d in devs:
        b.add_dev(d)
    b.rebalance(seed=1)
    return b


def dev(i, region, zone, ip, **kw):
    d = {'id': i, 'region': region, 'zone': zone, 'ip': ip, 'port': 6200 + i,
         'device': 'sd%s' % chr(ord('a') + i), 'weight': 100, 'meta': ''}
    d.update(kw)
    return d


def ring_seeds(c, tmp):
    rings = {
        'p4_r3': ring_builder(4, 3, [dev(i, 1, i % 3, '127.0.0.%d' % (i + 1)) for i in range(4)]),
        'p6_r2_5_regions': ring_builder(6, 2.5, [dev(i, 1 + i % 2, i % 3, '10.0.%d.1' % i)
                                                 for i in range(6)]),
        'p5_ipv6_repl': ring_builder(5, 2, [dev(i, 1, i, 'fe80::%d' % (i + 1),
                                               replication_ip='::%d' % (i + 1),
                                               replication_port=6300 + i) for i in range(3)]),
    }
    hole = ring_builder(4, 2, [dev(i, 1, i, '127.0.0.1') for i in range(4)])
    hole.remove_dev(2)
    hole.rebalance(seed=2)
    rings['p4_hole'] = hole
    for name, b in rings.items():
        path = os.path.join(tmp, name + '.ring.gz')
        b.get_ring().save(path)
        add_ring(c, name, path)
    # swift-ring-builder, as an operator makes a ring.
    builder = os.path.join(tmp, 'object.builder')
    cli = '/usr/bin/swift-ring-builder'
    if os.path.exists(cli):
        cmds = [['create', '6', '3', '1'],
                ['add', 'r1z1-127.0.0.1:6210/sdb1', '100'],
                ['add', 'r1z2-127.0.0.2:6220/sdb2', '100'],
                ['add', 'r2z1-127.0.0.3:6230R127.0.1.3:6231/sdb3', '50'],
                ['rebalance']]
        for args in cmds:
            subprocess.run([sys.executable, cli, builder] + args, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        path = os.path.join(tmp, 'object.ring.gz')
        if os.path.exists(path):
            add_ring(c, 'swift_ring_builder', path)
    # RingData.save of a hand-made ring with a version and next_part_power.
    rd = RingData([array.array('H', [0, 1]), array.array('H', [1, 0])],
                  [dev(0, 1, 1, '127.0.0.1'), dev(1, 1, 2, '127.0.0.2')], 31,
                  next_part_power=2, version=7)
    path = os.path.join(tmp, 'tiny.ring.gz')
    rd.save(path)
    add_ring(c, 'tiny_versioned', path)


def add_ring(c, name, path):
    with open(path, 'rb') as f:
        gz = f.read()
    c.add('ring_fuzz', name + '.gz', gz)
    # Inflated: ring_fuzz compresses any input not starting with the gzip magic.
    c.add('ring_fuzz', name + '.raw', zlib.decompress(gz, 32 + zlib.MAX_WBITS))


# ---- configs ----

OBJECT_SERVER_CONF = """[DEFAULT]
bind_ip = 127.0.0.1
bind_port = 6200
devices = /srv/node
mount_check = false
workers = 2
log_name = %(server)s
server = object-server

[pipeline:main]
pipeline = healthcheck recon object-server

[app:object-server]
use = egg:swift#object
replication_server = true
set log_level = DEBUG
replication_concurrency_per_device = 1
replication_lock_timeout = 15
replication_failure_threshold = 100
replication_failure_ratio = 1.0
fallocate_reserve = 1%%

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:recon]
use = egg:swift#recon
recon_cache_path = /var/cache/swift

[object-replicator]
concurrency = 4
run_pause = 30
rsync_module = {replication_ip}::object
sync_method = ssync
handoffs_first = False
handoff_delete = auto
ring_check_interval = 15.0
reclaim_age = 604800
   # a comment inside, continued value below
stats_interval = 300
rsync_timeout = 900
 continued
"""


def conf_seeds(c):
    from configparser import ConfigParser
    confs = {'object-server.conf': OBJECT_SERVER_CONF,
             'swift.conf': swift_sessions.SWIFT_CONF,
             'swift-ec.conf': swift_sessions.SWIFT_CONF + """
[storage-policy:2]
name = deep
policy_type = erasure_coding
ec_type = liberasurecode_rs_vand
ec_num_data_fragments = 4
ec_num_parity_fragments = 2
deprecated = yes
"""}
    for name, text in confs.items():
        # Only confs Swift's own readers accept.
        with tempfile.NamedTemporaryFile('w', suffix='.conf') as f:
            f.write(text)
            f.flush()
            utils.readconf(f.name, raw=name.startswith('swift'))
        if name.startswith('swift'):
            parser = ConfigParser(strict=False)
            parser.read_string(text)
            parse_storage_policies(parser)
            c.add('swift_conf_fuzz', name, text.encode())
        c.add('config_fuzz', name, text.encode())
    # Chained interpolation, as readconf expands it (what a bomb is made of).
    c.add('config_fuzz', 'interpolation', b'[DEFAULT]\nbase = /srv\nnode = %(base)s/node\n'
          b'[object-replicator]\nrecon = %(node)s:%(node)s\nlog = %(recon)s/%(recon)s\n')
    c.add('config_fuzz', 'conf_d_utf8', '[DEFAULT]\nuser = sw\u00eeft\n'
          '[object-replicator]\nlog_name = r\u00e9plicator\n'.encode())


def main(out):
    os.makedirs(out, exist_ok=True)
    c = Corpus(out)
    native_seeds(c)
    with tempfile.TemporaryDirectory() as tmp:
        sessions = swift_sessions.record(os.path.join(tmp, 'cluster'))
        hashes = sessions.pop('_hashes')
        for name, h in (('o-data', 'ca119be0831e3d10baf94677dbc1c6ec'),
                        ('o-meta', 'dc51914dff8c01f14ecc7a8c648bde2a'),
                        ('o-tomb', '2194b501a267710bf28805d1ae55dcc1')):
            assert hashes[name] == h, 'ssync_sender_fuzz.cc names other hashes'
        http_seeds(c, sessions)
        disk_seeds(c, os.path.join(tmp, 'cluster'))
        pickle_seeds(c, tmp)
        ring_seeds(c, tmp)
    conf_seeds(c)
    shutil.rmtree(os.path.join(out, '__pycache__'), ignore_errors=True)


if __name__ == '__main__':
    main(sys.argv[1])
