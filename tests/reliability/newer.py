#!/usr/bin/python3
"""The race hook of the reliability suite: PUTs a newer version of each object named in
SPEC (JSON: {"port", "device", "objects": [[partition, account, container, name], ...]})
to node0's Swift object server, as a client write landing on a handoff while the replicator
works on it. Body and tag are derived from the name (newer_version), so the driver knows
what must survive. It runs in the background (the replicator may hold the partition lock
the object server waits for) and writes SPEC.done: {"ok": all PUTs answered 201}."""
import http.client
import json
import os
import sys
import time
import urllib.parse


def newer_version(name):
    """(body, X-Object-Meta-Tag) of the racing write."""
    return ('newer-%s-' % name).encode() * 300, 'v3-' + name


def main(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    try:
        put_all(spec)
        result = {'ok': True}
    except Exception as e:  # the driver then accepts either version
        result = {'ok': False, 'error': repr(e)}
    with open(spec_path + '.tmp', 'w') as f:
        json.dump(result, f)
    os.rename(spec_path + '.tmp', spec_path + '.done')


def put_all(spec):
    for part, account, container, name in spec['objects']:
        body, tag = newer_version(name)
        conn = http.client.HTTPConnection('127.0.0.1', spec['port'], timeout=10)
        conn.request('PUT', urllib.parse.quote('/%s/%d/%s/%s/%s' % (
            spec['device'], part, account, container, name)), body=body, headers={
                'X-Timestamp': '%016.05f' % time.time(), 'Content-Type': 'app/newer',
                'Content-Length': str(len(body)), 'X-Object-Meta-Tag': tag,
                'X-Backend-Storage-Policy-Index': '0'})
        status = conn.getresponse().status
        conn.close()
        if status != 201:
            raise RuntimeError('PUT %s: %d' % (name, status))


if __name__ == '__main__':
    main(sys.argv[1])
