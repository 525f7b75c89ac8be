"""The persistence model: one node's device tree as a sequence of file-system operations,
and the crash states POSIX (plus what ext4's ordered mode is usually trusted for, and
nothing more) allows at each point of it.

Rules (docs/reliability.md, "Crash states"):
- a directory entry operation (create, rename, link, unlink, mkdir, rmdir) is durable once
  each directory it changed was fsynced after it (both, for a rename across directories),
  or a syncfs of the node's filesystem ran; a rename is atomic;
- a file's data (and size) is durable after fsync or fdatasync of it, its xattrs after
  fsync (fdatasync need not write them); syncfs makes everything durable;
- before that, a crash may keep or drop each pending entry operation independently
  (applied in their order), and may leave each file's data and xattrs at their durable
  version or the current one. Data written before a rename is NOT assumed flushed with
  the rename (ext4's auto_da_alloc does that; POSIX does not promise it).

A crash state is (crash point k, subset S of the items pending at k). explore.py
enumerates the subsets per check target (subsets()): every subset when at most
ALL_SUBSETS_MAX items can change the target; otherwise none, all, each single one
dropped, each single one kept, and each prefix in time order (3n+2 states).
Not thread-safe.
"""
import itertools
import os
import posixpath

ALL_SUBSETS_MAX = 12


def parent(p):
    return posixpath.dirname(p)


def ignored(path):
    """Names nothing reads back after a crash: lock files, the hashes.invalid journal (a lost
    entry there is a stale suffix hash, not a lost object), temp files (in a device's tmp
    dir, or a partition's tmpXXXXXX.tmp for hashes.pkl: unreferenced, they are only
    litter). Their entry operations are applied in every state, as the process saw them,
    not enumerated; a temp file's content is enumerated once it is renamed to a name that
    is read."""
    b = posixpath.basename(path)
    d = posixpath.basename(parent(path))
    return b.startswith('.lock') or b == 'hashes.invalid' or (
        b.startswith('tmp') and (d == 'tmp' or d.startswith('tmp-') or b.endswith('.tmp')))


class Inode:
    __slots__ = ('ino', 'data', 'x', 'dv', 'xv', 'dur_data', 'dur_x', 'dur_dv', 'dur_xv',
                 'stamp', 'names_ignored')

    def __init__(self, ino, data=b'', x=None, durable=False):
        self.ino = ino
        self.data, self.x = data, dict(x or {})
        self.dv = self.xv = 0
        if durable:
            self.dur_data, self.dur_x, self.dur_dv, self.dur_xv = self.data, dict(self.x), 0, 0
        else:  # a new file: empty, no xattrs, until made durable
            self.dur_data, self.dur_x, self.dur_dv, self.dur_xv = b'', {}, -1, -1
        self.stamp = 0
        self.names_ignored = True


class EntryOp:
    """A pending or durable directory entry operation."""
    __slots__ = ('kind', 'a', 'b', 'ino', 'need', 'seq', 'time', 'relevant')

    def __init__(self, kind, a, b=None, ino=None, seq=0, time=0.0):
        self.kind, self.a, self.b, self.ino, self.seq, self.time = kind, a, b, ino, seq, time
        self.need = {parent(a)} | ({parent(b)} if b is not None else set())  # dirs to sync
        self.relevant = not (ignored(a) and (b is None or ignored(b)))


def apply_entry(ents, dirs, op):
    """Applies op to a namespace (ents: path -> ino, dirs: set of paths) as far as the
    state allows: an operation whose directory is absent in this state has no effect."""
    k = op.kind
    if k == 'add':  # a name for an inode: create, link, or the new half of a rename
        if parent(op.a) in dirs:
            ents[op.a] = op.ino
    elif k == 'del':  # unlink, or the old half of a rename: that entry, if still there
        if op.ino is not None and ents.get(op.a) == op.ino:
            del ents[op.a]
    elif k == 'mkdir':
        if parent(op.a) in dirs:
            dirs.add(op.a)
    elif k == 'rmdir':
        pre = op.a + '/'
        if op.a in dirs and not any(p.startswith(pre) for p in ents) and \
                not any(d.startswith(pre) for d in dirs):
            dirs.discard(op.a)
    elif k == 'rendir':  # a directory (quarantine): moves its subtree, atomically
        if parent(op.b) not in dirs or op.a not in dirs:
            return
        pre, npre = op.a + '/', op.b + '/'
        for d in [d for d in dirs if d == op.a or d.startswith(pre)]:
            dirs.discard(d)
            dirs.add(op.b + d[len(op.a):])
        for p in [p for p in ents if p.startswith(pre)]:
            ents[npre + p[len(pre):]] = ents.pop(p)


class NodeModel:
    """One node's namespace and inodes, fed operation by operation."""

    def __init__(self, name, ents, dirs, inodes):
        self.name = name
        self.ents, self.dirs = dict(ents), set(dirs)  # current (the running process's view)
        self.inodes = inodes  # ino -> Inode
        self.base_ents, self.base_dirs = dict(ents), set(dirs)  # durable prefix applied
        self.ops = []  # EntryOp, in order; ops[:self.m] are durable and in base
        self.m = 0
        self.seq = 0
        self.next_ino = max(inodes, default=0) + 1

    # -- feeding -------------------------------------------------------------------------

    def _entry(self, kind, a, b=None, ino=None, time=0.0):
        self.seq += 1
        op = EntryOp(kind, a, b, ino, self.seq, time)
        apply_entry(self.ents, self.dirs, op)
        self.ops.append(op)
        return op

    def creat(self, path, time):
        ino = self.next_ino
        self.next_ino += 1
        node = self.inodes[ino] = Inode(ino)
        node.names_ignored = ignored(path)
        self._entry('add', path, ino=ino, time=time)
        return ino

    def mkdir(self, path, time):
        self._entry('mkdir', path, time=time)

    def rmdir(self, path, time):
        self._entry('rmdir', path, time=time)

    def unlink(self, path, time):
        self._entry('del', path, ino=self.ents.get(path), time=time)

    def link(self, a, b, time):
        ino = self.ents.get(a)
        if ino is None:
            return
        if not ignored(b):
            self.inodes[ino].names_ignored = False
        self._entry('add', b, ino=ino, time=time)

    def rename(self, a, b, time):
        """A file's rename is two entry operations, each durable with its own directory:
        the new name (replacing what it named), then the old name's removal. A directory's
        is one (only quarantine renames one)."""
        ino = self.ents.get(a)
        if ino is None:
            if a in self.dirs:
                self._entry('rendir', a, b, time=time)
            return
        if not ignored(b):
            self.inodes[ino].names_ignored = False
        self._entry('add', b, ino=ino, time=time)
        self._entry('del', a, ino=ino, time=time)

    def write(self, ino, off, data):
        n = self.inodes[ino]
        d = n.data
        if off > len(d):
            d = d + b'\0' * (off - len(d))
        n.data = d[:off] + data + d[off + len(data):]
        n.dv += 1
        self.seq += 1
        n.stamp = self.seq

    def truncate(self, ino, size):
        n = self.inodes[ino]
        n.data = n.data[:size] + b'\0' * max(0, size - len(n.data))
        n.dv += 1
        self.seq += 1
        n.stamp = self.seq

    def setxattr(self, ino, name, value):
        n = self.inodes[ino]
        n.x[name] = value
        n.xv += 1
        self.seq += 1
        n.stamp = self.seq

    def fsync_file(self, ino, data_only=False):
        n = self.inodes[ino]
        n.dur_data, n.dur_dv = n.data, n.dv
        if not data_only:
            n.dur_x, n.dur_xv = dict(n.x), n.xv

    def fsync_dir(self, path):
        for op in self.ops[self.m:]:
            op.need.discard(path)
        self._advance()

    def syncfs(self):
        for op in self.ops[self.m:]:
            op.need.clear()
        for n in self.inodes.values():
            n.dur_data, n.dur_dv, n.dur_x, n.dur_xv = n.data, n.dv, dict(n.x), n.xv
        self._advance()

    def _advance(self):
        while self.m < len(self.ops) and not self.ops[self.m].need:
            apply_entry(self.base_ents, self.base_dirs, self.ops[self.m])
            self.m += 1

    def dirty(self):
        """Whether anything (file content or entry, read back or not) is not durable."""
        return any(op.need for op in self.ops[self.m:]) or any(
            n.dv != n.dur_dv or n.xv != n.dur_xv for n in self.inodes.values())

    def ino_at(self, path):
        return self.ents.get(path)

    # -- crash states --------------------------------------------------------------------

    def pending(self):
        """The items a crash at this point may keep or drop, in time order: ('e', EntryOp),
        ('d', ino) for data, ('x', ino) for xattrs. Items nothing reads back are left out
        (kept as the running process saw them: entries applied, content current)."""
        items = [(op.seq, 'e', op) for op in self.ops[self.m:] if op.need and op.relevant]
        for n in self.inodes.values():
            if n.names_ignored:
                continue
            if n.dv != n.dur_dv:
                items.append((n.stamp, 'd', n.ino))
            if n.xv != n.dur_xv:
                items.append((n.stamp + 0.5, 'x', n.ino))
        items.sort(key=lambda t: t[0])
        return [(k, v) for _, k, v in items]

    @staticmethod
    def subsets(items):
        """The subsets of items to apply (as sets of indices into items) and whether all
        were enumerated."""
        n = len(items)
        if n <= ALL_SUBSETS_MAX:
            return (set(c) for r in range(n + 1)
                    for c in itertools.combinations(range(n), r)), True
        full = set(range(n))
        out = [set(), full]
        out += [full - {i} for i in range(n)]
        out += [{i} for i in range(n)]
        out += [set(range(i)) for i in range(1, n)]
        return out, False

    def view(self, target):
        """The part of the model a check of target reads: (durable entries in or at it,
        durable ancestor dirs, pending-window operations that can change it), for
        state(..., view=)."""
        ents = {p: i for p, i in self.base_ents.items()
                if p == target or parent(p) == target}
        dirs = {d for d in self.base_dirs if d == target or target.startswith(d + '/')}
        return ents, dirs, [op for op in self.ops[self.m:] if affects(op, target)]

    def state(self, items, chosen, view=None):
        """The namespace and content versions of one crash state: (ents, dirs, content)
        where content(ino) -> (data, xattrs, data version, xattr version)."""
        keep_ops = {id(items[i][1]) for i in chosen if items[i][0] == 'e'}
        if view is not None:
            ents, dirs, ops = dict(view[0]), set(view[1]), view[2]
        else:
            ents, dirs, ops = dict(self.base_ents), set(self.base_dirs), self.ops[self.m:]
        for op in ops:
            # durable, or pending and chosen, or pending but not enumerated (ignored names:
            # as the process saw them)
            if not op.need or id(op) in keep_ops or not op.relevant:
                apply_entry(ents, dirs, op)
        cur_d = {items[i][1] for i in chosen if items[i][0] == 'd'}
        cur_x = {items[i][1] for i in chosen if items[i][0] == 'x'}
        inodes = self.inodes

        def content(ino):
            n = inodes[ino]
            if n.names_ignored:
                return n.data, n.x, n.dv, n.xv
            d, dv = (n.data, n.dv) if (ino in cur_d or n.dv == n.dur_dv) else \
                (n.dur_data, n.dur_dv)
            x, xv = (n.x, n.xv) if (ino in cur_x or n.xv == n.dur_xv) else \
                (n.dur_x, n.dur_xv)
            return d, x, dv, xv
        return ents, dirs, content


def affects(op, target):
    """Whether entry operation op can change what a check of target (a directory, or one
    file's path) reads: an entry in it, the target itself, or one of its ancestors."""
    if op.kind == 'rendir':
        return True
    return any(p and (p == target or parent(p) == target or target.startswith(p + '/'))
               for p in (op.a, op.b))


def snapshot(root, first_ino=1):
    """(ents, dirs, inodes) of a directory tree on disk (the initial state, durable)."""
    ents, dirs, inodes = {}, set(), {}
    ino = first_ino
    dirs.add(root)
    for d, subdirs, files in os.walk(root):
        for s in subdirs:
            dirs.add(os.path.join(d, s))
        for f in files:
            p = os.path.join(d, f)
            with open(p, 'rb') as fp:
                data = fp.read()
            x = {}
            for name in os.listxattr(p):
                x[name] = os.getxattr(p, name)
            inodes[ino] = Inode(ino, data, x, durable=True)
            inodes[ino].names_ignored = ignored(p)
            ents[p] = ino
            ino += 1
    # the parents of root exist (they are outside the model)
    d = root
    while d not in ('/', ''):
        d = parent(d)
        dirs.add(d)
    return ents, dirs, inodes
