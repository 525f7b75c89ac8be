#!/usr/bin/python3
"""The race hook of the reliability suite: PUTs a newer version of each object named in
SPEC (JSON: {"port", "device", "objects": [[partition, account, container, name], ...]})
to node0's Swift object server, as a client write landing on a handoff while the replicator
works on it. Body and tag are derived from the name (newer_version), so the driver knows
what must survive. Stdlib only: it runs inside the replicator's call, so it must be quick."""
import http.client
import json
import sys
import time
import urllib.parse


def newer_version(name):
    """(body, X-Object-Meta-Tag) of the racing write."""
    return ('newer-%s-' % name).encode() * 300, 'v3-' + name


def main(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
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
            sys.exit('PUT %s: %d' % (name, status))


if __name__ == '__main__':
    main(sys.argv[1])
