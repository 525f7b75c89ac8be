"""The checks of one crash state of one node, through Swift's own code.

Each hash directory of the state is written out (files, data, xattrs) under a scratch
device and read with Swift's DiskFile (tests/reliability/scenario.read_object) and
read_metadata (scenario.object_file_problem); results are cached by the directory's
content, which few states change. A state's verdict: the test objects it holds whole (a
version the session wrote, or a tombstone where the session deleted), the files under a
name Swift reads that are not whole (partial), a hashes.pkl that does not unpickle, and
acknowledged files that are missing. Not thread-safe.
"""
import hashlib
import os
import pickle
import posixpath
import re
import shutil

from feed import SWIFT_NAME
from scenario import _NullLogger, object_file_problem, read_object

_HASHDIR = re.compile(r'^(.*)/(objects(?:-\d+)?)/(\d+)/([0-9a-f]{3})/([0-9a-f]{32})$')


class Expect:
    """What an object may read back as: (body, ETag, tag) versions, and 'deleted' if the
    session deletes it."""

    def __init__(self, name, part, hsh, versions, may_be_deleted=False):
        self.name, self.part, self.hash = name, part, hsh
        self.ok = {(b, hashlib.md5(b).hexdigest(), t) for b, t in versions}
        if may_be_deleted:
            self.ok.add('deleted')


class Checker:
    def __init__(self, scratch, expects):
        from swift.common.storage_policy import POLICIES
        from swift.obj.diskfile import DiskFileManager
        self.scratch = scratch
        self.devices = os.path.join(scratch, 'devices')
        os.makedirs(os.path.join(self.devices, 'dev'), exist_ok=True)
        self.mgr = DiskFileManager({'devices': self.devices, 'mount_check': 'false'},
                                   _NullLogger())
        self.policy = POLICIES[0]
        self.by_hash = {e.hash: e for e in expects}
        self.cache = {}
        self.pkl_cache = {}
        self.materialized = 0

    def _hashdir(self, part, suf, hsh, files):
        """(object whole?, [partial file names]) of a hash dir holding files: a tuple of
        (name, data, xattrs)."""
        d = os.path.join(self.devices, 'dev', 'objects', part, suf, hsh)
        os.makedirs(d)
        self.materialized += 1
        try:
            for name, data, x in files:
                p = os.path.join(d, name)
                with open(p, 'wb') as f:
                    f.write(data)
                for k, v in x.items():
                    os.setxattr(p, k, v)
            partial = sorted(name for name, _, _ in files if SWIFT_NAME.match(name) and
                             object_file_problem(os.path.join(d, name)))
            e = self.by_hash.get(hsh)
            whole = None
            if e is not None:
                got = read_object(self.mgr, 'dev', part, e.name, self.policy)
                whole = got in e.ok
            return whole, partial
        finally:
            shutil.rmtree(os.path.join(self.devices, 'dev'))
            os.makedirs(os.path.join(self.devices, 'dev'))

    def check(self, root, ents, dirs, content, acked, only=None):
        """Verdict on one state of the node whose devices dir is root: (set of whole
        object names, [violation strings]). acked: [(path, timestamp)] that must be there
        whole (or superseded by a newer whole .data/.ts). only: check just this hash dir
        or hashes.pkl."""
        groups = {}
        pkls = []
        for path, ino in ents.items():
            d, name = posixpath.split(path)
            if only is not None and d != only and path != only:
                continue
            if name == 'hashes.pkl':
                pkls.append((path, ino))
                continue
            if SWIFT_NAME.match(name) or _HASHDIR.match(d):
                groups.setdefault(d, []).append((name, ino))
        whole, bad = set(), []
        results = {}
        for d, files in groups.items():
            m = _HASHDIR.match(d)
            if not m:
                bad.append('partial: %s outside a hash dir' % d)
                continue
            vers = []
            for name, ino in sorted(files):
                data, x, dv, xv = content(ino)
                vers.append((name, ino, dv, xv, data, x))
            key = (m.group(3), m.group(5), tuple(v[:4] for v in vers))
            r = self.cache.get(key)
            if r is None:
                r = self.cache[key] = self._hashdir(
                    m.group(3), m.group(4), m.group(5),
                    tuple((v[0], v[4], v[5]) for v in vers))
            results[d] = (r, {v[0] for v in vers})
            ok, partial = r
            if ok:
                whole.add(self.by_hash[m.group(5)].name)
            for name in partial:
                bad.append('partial: %s/%s' % (_short(d), name))
        for path, ino in pkls:
            data, _, dv, _ = content(ino)
            key = (ino, dv)
            if key not in self.pkl_cache:
                try:
                    pickle.loads(data)
                    self.pkl_cache[key] = True
                except Exception:
                    self.pkl_cache[key] = False
            if not self.pkl_cache[key]:
                bad.append('partial: %s (%d bytes do not unpickle)' % (_short(path), len(data)))
        for path, ts in acked:
            d, name = posixpath.split(path)
            if only is not None and d != only:
                continue
            r = results.get(d)
            if r and name in r[1] and name not in r[0][1]:
                continue
            names = r[1] - set(r[0][1]) if r else set()
            if any(n.endswith(('.data', '.ts')) and file_ts(n) > ts for n in names):
                continue
            bad.append('acknowledged %s missing or partial' % _short(path))
        return whole, bad


def file_ts(name):
    """The timestamp part of an object file name, comparable as a string."""
    return name.split('.')[0] + '.' + name.split('.')[1][:5]


def _short(path):
    return re.sub(r'^.*/(node\d+)/devices/', r'\1:', path)
