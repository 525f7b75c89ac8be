"""The reliability suite's session: a small loopback cluster whose node0 holds one handoff
partition and one primary partition missing a replica, a template of its disks to reset
to, the replicant processes under test (optionally with the fault-injection shim), and the
invariant checks, all read through Swift's own DiskFile code.

A Scenario serves one peer kind: 'swift' (Swift's object servers answer REPLICATE and
SSYNC, an rsync daemon takes rsync pushes) or 'serve' (`replicant serve` on each node's
replication port). Not thread-safe: one run at a time.
"""
import collections
import copy
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import time

from cluster import Cluster, ManagedProcess, wait_for_port
from objects import object_file_problem  # noqa: F401 (tests/crashstates imports it here)
from replicant_test import REPLICANT_BIN

ACCOUNT = 'AUTH_rel'
CONTAINER = 'c'
PER_PARTITION = 4
KINDS = ('open', 'read', 'write', 'fsync', 'rename', 'dir', 'unlink', 'mkdir', 'xattr',
         'fallocate', 'net', 'any')
_STATE = struct.Struct('<12Q Q 4Q 256s')
# Names Swift reads as object files (replication policies): <ts>[_offset][-ctype delta].ext
_SWIFT_NAME = re.compile(r'^\d{10}\.\d{5}(_[0-9a-f]{16})?(-[0-9a-f]+)?\.(data|meta|ts)$')


class _NullLogger:
    """DiskFileManager's logger: these checks log nothing."""

    def __getattr__(self, name):
        return lambda *a, **k: None


class Obj:
    """One object of the session and the state every copy of it must read back as."""

    def __init__(self, name, part, where, body, tag):
        self.name, self.part, self.where, self.body, self.tag = name, part, where, body, tag

    @property
    def etag(self):
        return hashlib.md5(self.body).hexdigest()


class RunState:
    """What the shim recorded in its state file."""

    def __init__(self, raw):
        vals = _STATE.unpack_from(raw.ljust(_STATE.size, b'\0'))
        self.counts = dict(zip(KINDS, vals[:12]))
        self.fired = vals[12]
        self.hook_failed = vals[16]
        self.fired_desc = vals[17].split(b'\0', 1)[0].decode('utf-8', 'replace')


class Scenario:
    def __init__(self, workdir, peers, shim, seed=1, per_partition=PER_PARTITION):
        self.workdir, self.peers, self.shim = workdir, peers, shim
        self.dir = os.path.join(workdir, 'cluster-' + peers)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.c = Cluster(nodes=4, replicas=3, part_power=4, base_dir=self.dir, keep=True, ring_seed=seed,
                         replication='same' if peers == 'swift' else 'external',
                         replicator_options={'concurrency': 1, 'node_timeout': 5,
                                             'http_timeout': 10, 'rsync_io_timeout': 10,
                                             'rsync_timeout': 60, 'lockup_timeout': 60})
        self.c.start()
        self.src = self.c.nodes[0]
        self.servers = {}  # node name -> ManagedProcess of `replicant serve`
        self.state_path = os.path.join(self.dir, 'fault.state')
        self.lost_path = os.path.join(self.dir, 'fault.lost')
        self.objects = self._write_objects(seed, per_partition)
        self.template = os.path.join(self.dir, 'template')
        os.makedirs(self.template)
        for node in self.c.nodes:
            subprocess.run(['cp', '-a', node.devices_dir,
                            os.path.join(self.template, node.name)], check=True)
        from swift.common.storage_policy import POLICIES
        from swift.obj.diskfile import DiskFileManager
        self.policy = POLICIES[0]
        self.mgrs = {n.name: DiskFileManager({'devices': n.devices_dir, 'mount_check': 'false'},
                                             _NullLogger()) for n in self.c.nodes}

    def close(self):
        self.stop_servers()
        self.c.stop()

    # -- the session's objects --------------------------------------------------------------

    def _write_objects(self, seed, per_partition):
        """per_partition objects in one partition where node0 is a handoff (on node0 only)
        and as many in one where it is a primary (on node0 and one other primary: the third
        replica is missing). One of each gets a POST (.meta) on node0 only."""
        c, src = self.c, self.src
        by_part = {}
        for i in range(2000):
            name = 'o%04d' % i
            by_part.setdefault(c.partition(ACCOUNT, CONTAINER, name), []).append(name)
        hand = next(p for p, ns in sorted(by_part.items()) if len(ns) >= per_partition and
                    not c.is_primary(src, ACCOUNT, CONTAINER, ns[0]))
        prim = next(p for p, ns in sorted(by_part.items()) if len(ns) >= per_partition and
                    c.is_primary(src, ACCOUNT, CONTAINER, ns[0]))
        sizes = [0, 1, 5000, 70000 + seed]
        objs = []
        for part, where in ((hand, 'handoff'), (prim, 'primary')):
            for k, name in enumerate(by_part[part][:per_partition]):
                body = hashlib.sha256(b'%s-%d' % (name.encode(), seed)).digest() * (
                    sizes[k % 4] // 32 + 1)
                o = Obj(name, part, where, body[:sizes[k % 4]], 'v1-' + name)
                ts = c.next_timestamp()
                nodes = [src]
                if where == 'primary':
                    nodes.append(next(p.node for p in c.primaries(ACCOUNT, CONTAINER, name)
                                      if p.node is not src))
                for node in nodes:
                    c.put_object(node, ACCOUNT, CONTAINER, name, o.body, timestamp=ts,
                                 headers={'X-Object-Meta-Tag': o.tag})
                if k == 1:
                    o.tag = 'v2-' + name
                    c.post_object(src, ACCOUNT, CONTAINER, name,
                                  headers={'X-Object-Meta-Tag': o.tag})
                objs.append(o)
        return objs

    # -- processes -------------------------------------------------------------------------

    def fault_env(self, call=None, nth=0, err='EIO', trace=None, scope=None):
        """The environment that loads the shim (count-only without `call`); err 'hook'
        races newer versions of the handoff objects in (newer.py). Calls count under the
        nodes' devices (a fault reading a conf or ring would just stop the start), or with
        scope 'H'/'P' only in that partition's dirs, where the order of calls does not
        depend on the order of jobs."""
        if scope:
            part = next(o.part for o in self.objects if o.where == ('handoff' if scope == 'H'
                                                                     else 'primary'))
            dirs = [os.path.join(n.devices_dir, n.devices[0], 'objects', str(part))
                    for n in self.c.nodes]
        else:
            dirs = [n.devices_dir for n in self.c.nodes]
        env = dict(self.c.env, LD_PRELOAD=self.shim, FAULT_STATE_FILE=self.state_path,
                   FAULT_PATH_PREFIX=':'.join(dirs), FAULT_LOST_FILE=self.lost_path,
                   FAULT_MODEL_PREFIX=':'.join(n.devices_dir for n in self.c.nodes))
        env.pop('FAULT_OWNER_PID', None)
        if trace:
            env['FAULT_TRACE_FILE'] = trace
        if call:
            env.update(FAULT_CALL=call, FAULT_NTH=str(nth), FAULT_ERRNO=err)
        if err == 'hook':
            spec = os.path.join(self.dir, 'newer.json')
            with open(spec, 'w') as f:
                json.dump({'port': self.src.port, 'device': self.src.devices[0],
                           'objects': [[o.part, ACCOUNT, CONTAINER, o.name]
                                       for o in self.objects if o.where == 'handoff']}, f)
            for stale in (spec + '.done',):
                if os.path.exists(stale):
                    os.unlink(stale)
            # in the background, in its own session: the replicator may hold the lock the
            # object server waits for, and its process group is killed after the pass
            env['FAULT_HOOK'] = 'setsid /usr/bin/python3 %s %s >/dev/null 2>&1 &' % (
                os.path.join(os.path.dirname(os.path.abspath(__file__)), 'newer.py'), spec)
        return env

    def start_servers(self, env=None, tries=5, wrap=None):
        """`replicant serve` on nodes 1-3, the ones node0 sends to (peers 'serve' only); env
        loads the shim. Started together, then waited for; a clean one that fails to start
        (its port briefly held, e.g. by a connection of the one just stopped) is retried.
        wrap(node name) gives a command prefix (tests/crashstates: strace -D, which keeps
        the serve the direct child)."""
        if self.peers != 'serve':
            return
        started = []
        for node in self.c.nodes[1:]:
            if node.name in self.servers and self.servers[node.name].alive():
                continue
            log = os.path.join(self.c.log_dir, '%s-replicant-serve.log' % node.name)
            p = ManagedProcess('%s-serve' % node.name,
                               list(wrap(node.name) if wrap else []) +
                               [REPLICANT_BIN, 'serve', node.conf_path, '-v'], log,
                               env=env or self.c.env, cwd=self.dir)
            self.servers[node.name] = p
            started.append((node, p))
        failed = []
        for node, p in started:
            try:
                wait_for_port(node.replication_port, timeout=20, proc=p)
            except RuntimeError:
                failed.append(p)
        if failed and env is None:
            if tries <= 1:
                raise RuntimeError('replicant serve does not start:\n' + failed[0].tail(20))
            time.sleep(1)
            self.start_servers(None, tries - 1, wrap)
        # with the shim, a fault may stop a start: that run goes on with the peer down

    def dead_servers(self):
        """Names of serves that died (and are forgotten, to be started again)."""
        died = [n for n, p in self.servers.items() if not p.alive()]
        for n in died:
            self.servers.pop(n).stop(grace=0)
        return died

    def stop_servers(self):
        """Stops every serve; returns the names of those that had died on their own."""
        died = [n for n, p in self.servers.items() if not p.alive()]
        for p in self.servers.values():
            p.stop(grace=2)
        self.servers.clear()
        return died

    def swift_servers_restart(self):
        """Restarts Swift object servers that are down (after a kill -9)."""
        for node in self.c.nodes:
            if node.server is not None and not node.server.alive():
                self.c.restart_server(node)

    def replicate(self, env=None, log_name=None, timeout=120, on_start=None, wrap=()):
        """One `replicant replicate --once` pass of node0 (`wrap`: a command prefix).
        Returns (returncode, seconds, log path); returncode None means it ran over
        `timeout` (killed)."""
        log = os.path.join(self.c.log_dir, log_name or 'replicate.log')
        t0 = time.monotonic()
        with open(log, 'wb') as f:
            argv = [REPLICANT_BIN, 'replicate', self.src.conf_path, '--once', '-v']
            p = subprocess.Popen(list(wrap) + argv, stdout=f, stderr=subprocess.STDOUT,
                                 env=env or self.c.env, cwd=self.dir, start_new_session=True)
            if on_start:
                on_start(p)
            try:
                rc = p.wait(timeout)
            except subprocess.TimeoutExpired:
                rc = None
            try:
                os.killpg(p.pid, signal.SIGKILL)  # rsync children of a killed sender
            except ProcessLookupError:
                pass
            p.wait()
        return rc, time.monotonic() - t0, log

    # -- state -----------------------------------------------------------------------------

    def reset(self):
        """Disks back to the template; the shim's state and loss log cleared."""
        for node in self.c.nodes:
            shutil.rmtree(node.devices_dir)
            subprocess.run(['cp', '-a', os.path.join(self.template, node.name),
                            node.devices_dir], check=True)
        with open(self.state_path, 'wb') as f:
            f.write(b'\0' * 4096)
        open(self.lost_path, 'w').close()

    def call_sites(self, trace):
        """kind -> {site: (scope, index)}, from a FAULT_TRACE_FILE: the first call of each
        site, counted within its partition (scope 'H': the handoff partition, 'P': the
        primary one; see fault_env) or, elsewhere, over all (scope None). A site is the
        function and the path with node, partition, suffix, hash and file names reduced
        to their kind."""
        roles = {str(o.part): ('H' if o.where == 'handoff' else 'P') for o in self.objects}
        sites, seen = {}, collections.Counter()
        with open(trace) as f:
            for line in f:
                kind, index, fn, path = line.rstrip('\n').split('\t', 3)
                path = re.sub(r'^.*/node\d+/devices/[^/]+', '', path)
                m = re.match(r'/objects/(\d+)(/|$)', path)
                scope = roles.get(m.group(1)) if m else None
                if scope:
                    path = '/objects/%s%s' % (scope, path[m.end(1):])
                seen[kind, scope] += 1
                path = re.sub(r'/[0-9a-f]{32}', '/HASH', path)
                path = re.sub(r'/[0-9a-f]{3}(?=/|$)', '/SUF', path)
                path = re.sub(r'/\d{10}\.\d{5}[^/]*?(\.\w+)$', r'/TS\1', path)
                path = re.sub(r'/tmp/[^/]+$', '/tmp/TMPFILE', path)
                path = re.sub(r'/tmp\w{6}\.tmp$', '/tmpXXXXXX.tmp', path)
                sites.setdefault(kind, {}).setdefault(
                    (fn, path), (scope, seen[kind, scope] if scope else int(index)))
        return sites

    def race_result(self, timeout=30):
        """Waits for the race hook's PUTs; True if all were acknowledged."""
        done = os.path.join(self.dir, 'newer.json.done')
        deadline = time.monotonic() + timeout
        while not os.path.exists(done) and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            with open(done) as f:
                return json.load(f)['ok']
        except (OSError, ValueError, KeyError):
            return False

    def expected(self, raced, either=False):
        """The objects as they must read back: after a race, the handoff objects' newer
        versions; with `either` (a racing PUT not acknowledged), old or newer."""
        from newer import newer_version
        out = []
        for o in self.objects:
            o = copy.copy(o)
            o.alts = []
            if raced and o.where == 'handoff':
                if either:
                    o.alts = [(o.body, o.tag)]
                o.body, o.tag = newer_version(o.name)
            out.append(o)
        return out

    def run_state(self):
        with open(self.state_path, 'rb') as f:
            return RunState(f.read())

    def apply_power_loss(self):
        """Does to the files the shim logged what a machine crash at that moment would:
        truncates those whose data was not durable when a sync of them failed or their
        writer was killed, and removes names given by a rename whose directory was not yet
        synced. Returns the paths changed."""
        lost, unrenamed = set(), set()
        with open(self.lost_path) as f:
            for line in f:
                what, _, rest = line.rstrip('\n').partition(' ')
                if what == 'lost':
                    lost.add(rest)
                elif what == 'unrenamed':
                    unrenamed.add(rest)
                elif what == 'rename':
                    a, _, b = rest.partition('\t')
                    for s in (lost, unrenamed):
                        moved = a in s
                        s.discard(a)
                        s.discard(b)  # replaced, by a file whose writer answers for it
                        if moved:
                            s.add(b)
                elif what == 'unlink':
                    lost.discard(rest)
                    unrenamed.discard(rest)
        open(self.lost_path, 'w').close()  # applied: a later call starts afresh
        torn = []
        for path in sorted(lost):
            if os.path.isfile(path) and os.path.getsize(path) > 0:
                os.truncate(path, 0)
                torn.append(path)
        for path in sorted(unrenamed):
            if os.path.isfile(path):
                os.unlink(path)
                torn.append(path)
        return torn

    # -- checks ----------------------------------------------------------------------------

    def partial_files(self):
        """Files under a name Swift reads as an object file whose metadata does not unpickle,
        or (.data) whose size or MD5 disagrees with its metadata."""
        bad = []
        for node in self.c.nodes:
            for f in self.c.list_objects_on(node):
                if not _SWIFT_NAME.match(f.filename):
                    continue
                why = object_file_problem(f.path)
                if why:
                    bad.append('%s: %s' % (os.path.relpath(f.path, self.dir), why))
        return bad

    def read_copy(self, node, o):
        """Whether node holds o with its body, ETag and metadata, through Swift's DiskFile
        (which quarantines what it finds corrupt, as a GET would)."""
        got = read_object(self.mgrs[node.name], node.devices[0], o.part, o.name, self.policy)
        return got is not None and got != 'deleted' and any(
            got == (b, hashlib.md5(b).hexdigest(), t)
            for b, t in [(o.body, o.tag)] + getattr(o, 'alts', []))

    def lost_objects(self, objects=None):
        """Objects with no good copy on any node."""
        return [o.name for o in (objects or self.objects)
                if not any(self.read_copy(n, o) for n in self.c.nodes)]

    def degraded(self, objects):
        """Handoff objects whose handoff copy is gone although a primary holds no good copy
        (run after apply_power_loss): the sender was told a copy was safe that was not."""
        out = []
        for o in objects:
            if o.where != 'handoff':
                continue
            h = self.c.object_hash(ACCOUNT, CONTAINER, o.name)
            if any(f.hash == h for f in self.c.list_objects_on(self.src)):
                continue
            prims = [p.node for p in self.c.primaries(ACCOUNT, CONTAINER, o.name)]
            bad = [n.name for n in prims if not self.read_copy(n, o)]
            if bad:
                out.append('%s (not on %s)' % (o.name, ', '.join(bad)))
        return out

    def not_converged(self, objects=None):
        """Objects missing (or wrong) on a primary, or still on node0 where it is a
        handoff."""
        out = []
        for o in objects or self.objects:
            prims = [p.node for p in self.c.primaries(ACCOUNT, CONTAINER, o.name)]
            why = ['missing on %s' % n.name for n in prims if not self.read_copy(n, o)]
            h = self.c.object_hash(ACCOUNT, CONTAINER, o.name)
            # only node0's handoff copy must be gone: a copy on another non-primary is a
            # handoff made when a primary failed, which that node's replicator reverts
            if self.src not in prims and any(f.hash == h
                                             for f in self.c.list_objects_on(self.src)):
                why.append('left on %s' % self.src.name)
            if why:
                out.append('%s (%s)' % (o.name, ', '.join(why)))
        return out


def read_object(mgr, device, part, name, policy):
    """The object as Swift's DiskFile reads it: (body, ETag, X-Object-Meta-Tag), 'deleted'
    (its newest file is a tombstone), or None (absent or not readable; DiskFile quarantines
    what it finds corrupt, as a GET would)."""
    from swift.common.exceptions import DiskFileDeleted, DiskFileError, DiskFileNotExist
    df = mgr.get_diskfile(device, str(part), ACCOUNT, CONTAINER, name, policy)
    try:
        with df.open():
            meta = df.get_metadata()
            reader = df.reader()
            body = b''.join(reader)
            reader.close()
    except DiskFileDeleted:
        return 'deleted'
    except (DiskFileError, DiskFileNotExist):
        return None
    return body, meta.get('ETag'), meta.get('X-Object-Meta-Tag')
