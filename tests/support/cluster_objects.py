"""The objects half of the test Cluster (a mixin): where objects are on a node's disks
(Swift's layout), and the object server's HTTP API (PUT/POST/DELETE/GET/HEAD, REPLICATE)
as the tests and benchmarks use it. Uses the Cluster's nodes and ring placement."""
import collections
import http.client
import os
import re
import time
import urllib.parse

from ports import LOOPBACK

# An HTTP answer: status int, headers (email.message.Message, case-insensitive), body bytes.
Response = collections.namedtuple('Response', 'status headers body')
# One .data/.ts/.meta file found on a node's disks.
ObjectFile = collections.namedtuple(
    'ObjectFile', 'node device policy partition suffix hash filename ext timestamp path')
OBJECT_FILE_EXTS = ('.data', '.ts', '.meta')


def data_dir(policy):
    """`objects` for policy 0, `objects-N` otherwise."""
    return 'objects' if int(policy) == 0 else 'objects-%d' % int(policy)


class ClusterObjects:
    """On-disk layout and object-server requests; mixed into Cluster."""

    def hash_dir(self, node, device, policy, partition, hsh):
        """DEVICES/device/objects[-N]/part/suffix/hash of a node."""
        return os.path.join(node.devices_dir, device or node.devices[0], data_dir(policy),
                            str(partition), hsh[-3:], hsh)

    def object_dir(self, node, account, container, obj, policy=0, device=None):
        """hash_dir of an object on a node (the primary's device, or the given one)."""
        device = device or self._device_for(node, account, container, obj, policy)
        return self.hash_dir(node, device, policy, self.partition(account, container, obj,
                                                                  policy),
                             self.object_hash(account, container, obj))

    def list_objects_on(self, node, policy=None):
        """[ObjectFile] for every .data/.ts/.meta under the node's devices (sorted)."""
        out = []
        for dev in sorted(os.listdir(node.devices_dir)):
            dpath = os.path.join(node.devices_dir, dev)
            if not os.path.isdir(dpath):
                continue
            for dd in sorted(os.listdir(dpath)):
                m = re.fullmatch(r'objects(?:-(\d+))?', dd)
                if not m:
                    continue
                pol = int(m.group(1) or 0)
                if policy is not None and pol != int(policy):
                    continue
                for root, dirs, files in os.walk(os.path.join(dpath, dd)):
                    dirs.sort()
                    rel = os.path.relpath(root, os.path.join(dpath, dd)).split(os.sep)
                    if len(rel) != 3:
                        continue
                    part, suffix, hsh = rel
                    for fn in sorted(files):
                        stem, ext = os.path.splitext(fn)
                        if ext in OBJECT_FILE_EXTS:
                            out.append(ObjectFile(node, dev, pol, int(part), suffix, hsh, fn,
                                                  ext, stem, os.path.join(root, fn)))
        return out

    def partitions_on(self, node, policy=0, device=None):
        """Sorted partition numbers that have a directory on the node's device(s)."""
        parts = set()
        for dev in ([device] if device else node.devices):
            d = os.path.join(node.devices_dir, dev, data_dir(policy))
            if os.path.isdir(d):
                parts.update(int(p) for p in os.listdir(d) if p.isdigit())
        return sorted(parts)

    # -- object server HTTP API ----------------------------------------------------------

    def next_timestamp(self):
        """A Swift Timestamp internal string, strictly increasing within this cluster."""
        from swift.common.utils import Timestamp
        with self._ts_lock:
            t = max(time.time(), self._last_ts + 0.00002)
            self._last_ts = t
        return Timestamp(t).internal

    def request(self, node, method, path, headers=None, body=b'', port=None, timeout=30):
        """One HTTP request to a node's object server; returns Response."""
        conn = http.client.HTTPConnection(LOOPBACK, port or node.port, timeout=timeout)
        try:
            conn.request(method, urllib.parse.quote(path), body=body, headers=headers or {})
            resp = conn.getresponse()
            return Response(resp.status, resp.msg, resp.read())
        finally:
            conn.close()

    def _obj_request(self, node, method, account, container, obj, headers, body, policy,
                     device, partition, timestamp):
        device = device or self._device_for(node, account, container, obj, policy)
        if partition is None:
            partition = self.partition(account, container, obj, policy)
        h = {'X-Backend-Storage-Policy-Index': str(int(policy))}
        if timestamp is not False:
            h['X-Timestamp'] = timestamp or self.next_timestamp()
        h.update(headers or {})
        path = '/%s/%d/%s/%s/%s' % (device, int(partition), account, container, obj)
        return self.request(node, method, path, h, body)

    def put_object(self, node, account, container, obj, body=b'', headers=None, policy=0,
                   device=None, partition=None, timestamp=None, check=True):
        """PUT straight to a node's object server (no container updates). Returns Response;
        raises unless 201 when check. Partition defaults to the ring's, device to the node's
        device for it; X-Timestamp defaults to next_timestamp()."""
        if isinstance(body, str):
            body = body.encode()
        h = {'Content-Type': 'application/octet-stream', 'Content-Length': str(len(body))}
        h.update(headers or {})
        r = self._obj_request(node, 'PUT', account, container, obj, h, body, policy, device,
                              partition, timestamp)
        if check and r.status != 201:
            raise AssertionError('PUT %s/%s/%s on %s: %d %r' % (
                account, container, obj, node.name, r.status, r.body[:200]))
        return r

    def write_object_on(self, node, account, container, obj, body=b'', headers=None,
                        policy=0, device=None, timestamp=None):
        """Places an object on a chosen node whether or not it is a primary there (in the
        object's ring partition: a handoff copy otherwise). Returns Response (201)."""
        return self.put_object(node, account, container, obj, body, headers, policy=policy,
                               device=device, timestamp=timestamp)

    def post_object(self, node, account, container, obj, headers=None, policy=0, device=None,
                    partition=None, timestamp=None, check=True):
        """POST metadata (X-Object-Meta-*, Content-Type...) to one node; 202 expected."""
        r = self._obj_request(node, 'POST', account, container, obj, headers, b'', policy,
                              device, partition, timestamp)
        if check and r.status != 202:
            raise AssertionError('POST %s/%s/%s on %s: %d %r' % (
                account, container, obj, node.name, r.status, r.body[:200]))
        return r

    def delete_object(self, node, account, container, obj, headers=None, policy=0,
                      device=None, partition=None, timestamp=None, check=True):
        """DELETE on one node (writes a .ts; 204, or 404 when it had no object)."""
        r = self._obj_request(node, 'DELETE', account, container, obj, headers, b'', policy,
                              device, partition, timestamp)
        if check and r.status not in (204, 404):
            raise AssertionError('DELETE %s/%s/%s on %s: %d %r' % (
                account, container, obj, node.name, r.status, r.body[:200]))
        return r

    def get_object(self, node, account, container, obj, headers=None, policy=0, device=None,
                   partition=None, method='GET'):
        """GET (or HEAD) from one node's object server: Response(status, headers, body)."""
        return self._obj_request(node, method, account, container, obj, headers, b'', policy,
                                 device, partition, timestamp=False)

    def head_object(self, node, account, container, obj, **kw):
        return self.get_object(node, account, container, obj, method='HEAD', **kw)

    def replicate(self, node, device, partition, suffixes=(), policy=0):
        """REPLICATE /device/partition[/suf-suf] on the node's replication port: the
        unpickled hashes dict (or raises on a non-200 answer)."""
        import pickle
        path = '/%s/%d' % (device, int(partition))
        if suffixes:
            path += '/' + '-'.join(suffixes)
        r = self.request(node, 'REPLICATE', path,
                         {'X-Backend-Storage-Policy-Index': str(int(policy))},
                         port=node.replication_port)
        if r.status != 200:
            raise AssertionError('REPLICATE %s on %s: %d %r' % (path, node.name, r.status,
                                                                r.body[:200]))
        return pickle.loads(r.body)
