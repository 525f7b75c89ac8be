"""Turns the calls of strace logs (strace_log.Call) into operations on the nodes' models
(model.NodeModel), in one time order across processes, and finds the acknowledgements a
receiver sends.

A Step is one call that changed a model, synced it or acknowledged files: the crash
points are after each step. Not thread-safe.
"""
import heapq
import posixpath
import re

from strace_log import Fd

# names Swift reads as object files (as tests/reliability/scenario.py's _SWIFT_NAME)
SWIFT_NAME = re.compile(r'^\d{10}\.\d{5}(_[0-9a-f]{16})?(-[0-9a-f]+)?\.(data|meta|ts)$')
ACK_MARKERS = (b'"Success":true', b':UPDATES: END')


class Step:
    __slots__ = ('time', 'node', 'what', 'path', 'acked', 'source')

    def __init__(self, time, node, what, path, source, acked=()):
        self.time, self.node, self.what, self.path = time, node, what, path
        self.source, self.acked = source, list(acked)


class Feeder:
    """Feeds the calls of several logs (one per process) into NodeModels. roots: node name
    -> its devices dir; cwd: the processes' working directory (relative paths)."""

    def __init__(self, models, roots, cwd):
        self.models, self.roots, self.cwd = models, roots, cwd
        self.steps = []
        self.renamed_since_ack = {n: [] for n in models}
        self.relied = []  # (what, where) orderings relied upon beyond POSIX
        self.on_step = None  # called with each Step, the models as of just after it
        # self-check: syncs of these kinds ('dir-fsync', 'file-fsync', 'syncfs') are
        # dropped, as if the code did not make them; the explorer must then find violations
        self.drop = set()

    def node_of(self, path):
        for name, root in self.roots.items():
            if path == root or path.startswith(root + '/'):
                return name
        return None

    def _path(self, dirfd, p):
        if isinstance(p, bytes):
            p = p.decode('utf-8', 'surrogateescape')
        if not isinstance(p, str):
            return None
        if not p.startswith('/'):
            base = dirfd.ann if isinstance(dirfd, Fd) and dirfd.ann.startswith('/') else self.cwd
            p = posixpath.join(base, p)
        return posixpath.normpath(p)

    def run(self, logs):
        """logs: list of (source name, [Call]); merged by completion time."""
        fds = {src: {} for src, _ in logs}
        merged = heapq.merge(*[[(c.time, i, j, src, c) for j, c in enumerate(calls)]
                               for i, (src, calls) in enumerate(logs)])
        for _, _, _, src, c in merged:
            self._call(src, fds[src], c)
        return self.steps

    def _step(self, c, node, what, path, src, acked=()):
        st = Step(c.time, node, what, path, src, acked)
        self.steps.append(st)
        if self.on_step:
            self.on_step(st)

    def _fd_file(self, table, fd):
        """(node, ino, model) of a file fd, or None."""
        if not isinstance(fd, Fd):
            return None
        ent = table.get(fd.num)
        if ent and ent[0] == 'file':
            return ent[1], ent[2], self.models[ent[1]]
        path = fd.ann if fd.ann.startswith('/') else None
        node = self.node_of(path) if path else None
        if node is None:
            return None
        ino = self.models[node].ino_at(path)
        return (node, ino, self.models[node]) if ino is not None else None

    # syscall -> handler (each changes the models and records a Step where it matters)
    _HANDLERS = {
        'open': '_on_open',
        'openat': '_on_open',
        'creat': '_on_open',
        'close': '_on_close',
        'lseek': '_on_lseek',
        'write': '_write',
        'pwrite64': '_write',
        'writev': '_write',
        'pwritev': '_write',
        'sendto': '_write',
        'sendmsg': '_write',
        'ftruncate': '_on_ftruncate',
        'fallocate': '_on_fallocate',
        'fsetxattr': '_on_xattr',
        'setxattr': '_on_xattr',
        'lsetxattr': '_on_xattr',
        'fsync': '_on_fsync',
        'fdatasync': '_on_fsync',
        'syncfs': '_on_syncfs',
        'rename': '_on_rename',
        'renameat': '_on_rename',
        'renameat2': '_on_rename',
        'link': '_on_rename',
        'linkat': '_on_rename',
        'unlink': '_on_entry',
        'unlinkat': '_on_entry',
        'rmdir': '_on_entry',
        'mkdir': '_on_entry',
        'mkdirat': '_on_entry',
    }

    def _call(self, src, table, c):
        handler = self._HANDLERS.get(c.name)
        if handler:
            getattr(self, handler)(src, table, c)

    def _on_open(self, src, table, c):
        n, a = c.name, c.args
        dirfd, p, flags = (a[0], a[1], a[2]) if n == 'openat' else (None, a[0], a[1] if
                                                                     len(a) > 1 else '')
        if n == 'creat':
            flags = 'O_CREAT|O_TRUNC|O_WRONLY'
        path = self._path(dirfd, p)
        node = self.node_of(path) if path else None
        if node is None:
            table.pop(str(c.ret), None)
            return
        m = self.models[node]
        flags = str(flags)
        if 'O_DIRECTORY' in flags or path in m.dirs:
            table[str(c.ret)] = ('dir', node, path)
            return
        ino = m.ino_at(path)
        if ino is None and 'O_CREAT' in flags:
            ino = m.creat(path, c.time)
            self._step(c, node, 'creat', path, src)
        elif ino is not None and 'O_TRUNC' in flags and m.inodes[ino].data:
            m.truncate(ino, 0)
            self._step(c, node, 'truncate', path, src)
        if ino is not None:
            table[str(c.ret)] = ('file', node, ino, 0, 'O_APPEND' in flags)

    def _on_close(self, src, table, c):
        a = c.args
        if isinstance(a[0], Fd):
            table.pop(a[0].num, None)

    def _on_lseek(self, src, table, c):
        a = c.args
        ent = table.get(a[0].num) if isinstance(a[0], Fd) else None
        if ent and ent[0] == 'file':
            table[a[0].num] = ent[:3] + (c.ret, ent[4])

    def _on_ftruncate(self, src, table, c):
        a = c.args
        f = self._fd_file(table, a[0])
        if f:
            f[2].truncate(f[1], a[1])
            self._step(c, f[0], 'truncate', a[0].ann, src)

    def _on_fallocate(self, src, table, c):
        a = c.args
        f = self._fd_file(table, a[0])
        if f and 'KEEP_SIZE' not in str(a[1]):
            size = a[2] + a[3]
            if size > len(f[2].inodes[f[1]].data):
                f[2].truncate(f[1], size)
                self._step(c, f[0], 'fallocate', a[0].ann, src)

    def _on_xattr(self, src, table, c):
        n, a = c.name, c.args
        if n == 'fsetxattr':
            f = self._fd_file(table, a[0])
        else:
            path = self._path(None, a[0])
            node = self.node_of(path) if path else None
            ino = self.models[node].ino_at(path) if node else None
            f = (node, ino, self.models[node]) if ino is not None else None
        if f:
            name = a[1].decode() if isinstance(a[1], bytes) else str(a[1])
            f[2].setxattr(f[1], name, a[2])
            self._step(c, f[0], 'setxattr', getattr(a[0], 'ann', a[0]), src)

    def _on_fsync(self, src, table, c):
        n, a = c.name, c.args
        ent = table.get(a[0].num) if isinstance(a[0], Fd) else None
        path = a[0].ann if isinstance(a[0], Fd) else None
        node = self.node_of(path) if path else None
        if node is None:
            return
        m = self.models[node]
        is_dir = (ent and ent[0] == 'dir') or path in m.dirs
        if ('dir-fsync' if is_dir else 'file-fsync') in self.drop:
            return
        if is_dir:
            m.fsync_dir(ent[2] if ent and ent[0] == 'dir' else path)
            self._step(c, node, 'fsync dir', path, src)
        else:
            f = self._fd_file(table, a[0])
            if f:
                m.fsync_file(f[1], data_only=(n == 'fdatasync'))
                self._step(c, node, n, path, src)

    def _on_syncfs(self, src, table, c):
        a = c.args
        node = self.node_of(a[0].ann) if isinstance(a[0], Fd) else None
        if node and 'syncfs' not in self.drop:
            if self.models[node].dirty():
                self.relied.append(('syncfs(2) (Linux, not POSIX) as the barrier that '
                                    'makes files and entries durable', node))
            self.models[node].syncfs()
            self._step(c, node, 'syncfs', a[0].ann, src)

    def _on_rename(self, src, table, c):
        n, a = c.name, c.args
        if n in ('rename', 'link'):
            old, new = self._path(None, a[0]), self._path(None, a[1])
        else:
            old, new = self._path(a[0], a[1]), self._path(a[2], a[3])
        node = self.node_of(new) if new else None
        if node is None or self.node_of(old) != node:
            return
        m = self.models[node]
        if n.startswith('rename'):
            ino = m.ino_at(old)
            if ino is not None and SWIFT_NAME.match(posixpath.basename(new)):
                inode = m.inodes[ino]
                if inode.dv != inode.dur_dv or inode.xv != inode.dur_xv:
                    self.relied.append(('rename of a file whose data or xattrs were '
                                        'not durable onto a Swift name (auto_da_alloc)',
                                        _short(new)))
                self.renamed_since_ack[node].append(new)
            m.rename(old, new, c.time)
        else:
            m.link(old, new, c.time)
        self._step(c, node, n, new, src)

    def _on_entry(self, src, table, c):
        n, a = c.name, c.args
        if n in ('unlinkat', 'mkdirat'):
            path = self._path(a[0], a[1])
        else:
            path = self._path(None, a[0])
        node = self.node_of(path) if path else None
        if node is None:
            return
        m = self.models[node]
        if n == 'rmdir' or (n == 'unlinkat' and 'AT_REMOVEDIR' in str(a[2])):
            m.rmdir(path, c.time)
            what = 'rmdir'
        elif n.startswith('unlink'):
            m.unlink(path, c.time)
            what = 'unlink'
        else:
            m.mkdir(path, c.time)
            what = 'mkdir'
        self._step(c, node, what, path, src)

    def _write(self, src, table, c):
        n, a = c.name, c.args
        fd = a[0]
        if not isinstance(fd, Fd):
            return
        data = b''.join(c.strings())[:c.ret]
        if len(data) < c.ret:
            raise RuntimeError('strace cut the data of %s (raise -s)' % c.line[:200])
        if fd.ann.startswith('socket:') or fd.ann.startswith('TCP'):
            if any(m in data for m in ACK_MARKERS) and b'"Success":false' not in data:
                node = self._source_node(src)
                if node:
                    acked, self.renamed_since_ack[node] = self.renamed_since_ack[node], []
                    self._step(c, node, 'ack', fd.ann, src, acked)
            return
        f = self._fd_file(table, fd)
        if not f:
            return
        node, ino, m = f
        ent = table.get(fd.num)
        if n in ('pwrite64', 'pwritev'):
            off = a[-1]
        elif ent and ent[0] == 'file':
            off = len(m.inodes[ino].data) if ent[4] else ent[3]
        else:
            off = len(m.inodes[ino].data)
        m.write(ino, off, data)
        if ent and ent[0] == 'file' and n not in ('pwrite64', 'pwritev'):
            table[fd.num] = ent[:3] + (off + len(data), ent[4])
        self._step(c, node, 'write', fd.ann, src)

    def _source_node(self, src):
        """The node whose receiver wrote log src (named '<node>-serve')."""
        name, _, role = src.partition('-')
        return name if role == 'serve' and name in self.models else None


def _short(path):
    return re.sub(r'^.*/(node\d+)/devices/', r'\1:', path)
