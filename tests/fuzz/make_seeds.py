"""Writes seed inputs for the native fuzz targets: valid sessions (plain and batch,
with a .data body) so that mutations start deep inside the protocol."""
import hashlib
import json
import os
import pickle
import struct
import sys


def frame(obj):
    body = json.dumps(obj).encode()
    return struct.pack('>I', len(body)) + body


def main(out):
    os.makedirs(out, exist_ok=True)
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
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main(sys.argv[1])
