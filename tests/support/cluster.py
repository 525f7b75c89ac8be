"""A loopback OpenStack Swift cluster for replicant's integration tests, demo and benchmarks.

Builds, in a temp dir (or a given one), N "nodes" on 127.0.0.1. Each node has its own devices
dir, object-server.conf and `swift-object-server` process (workers = 0, one process); rings
for policies 0 and 1 are built with the real `swift-ring-builder`; one rsync daemon serves a
module per node, `object{replication_port}`, so Swift's replicator (and replicant) can push
with `rsync_module = cluster.rsync_module_template`.

    from cluster import Cluster
    with Cluster(nodes=4, replicas=3) as c:
        c.write_object_on(c.nodes[0], 'AUTH_t', 'c', 'o', b'body')
        c.run_swift_replicator(c.nodes[0])
        for r in c.primaries('AUTH_t', 'c', 'o'):
            assert c.get_object(r.node, 'AUTH_t', 'c', 'o', device=r.device).status == 200

Swift daemons always read /etc/swift/swift.conf; start() writes it there atomically with the
test hash prefix/suffix and policies 0 and 1 (identical content for every test, so parallel
clusters don't conflict), and the same file into the cluster's own swift_dir. That /etc/swift
is a private tmpfs (tests/support/private_etc.py, which CTest and the scripts run through):
start() refuses to change the host's.

Everything started is killed by stop(), by the context manager (also on exceptions), by an
atexit hook, and (via PR_SET_PDEATHSIG) when the Python process that started it dies.
Stdlib + swift only; swift is imported lazily, after swift.conf is in place.
"""
import atexit
import collections
import ctypes
import fcntl
import getpass
import grp
import hashlib
import http.client
import json
import logging
import logging.handlers
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import weakref

import private_etc
import replicant_test

SWIFT_BIN_DIR = '/usr/bin'
SWIFT_PYTHON = '/usr/bin/python3'  # Debian's Python, with swift
LOOPBACK = '127.0.0.1'
POLICY_NAMES = {0: 'gold', 1: 'silver'}
SWIFT_CONF_POLICIES = ((0, 'gold', True), (1, 'silver', False))
OBJECT_FILE_EXTS = ('.data', '.ts', '.meta')

# One per replica on a node: where an object lives (or would live) in the ring.
Placement = collections.namedtuple('Placement', 'node device dev')
# An HTTP answer: status int, headers (email.message.Message, case-insensitive), body bytes.
Response = collections.namedtuple('Response', 'status headers body')
# One .data/.ts/.meta file found on a node's disks.
ObjectFile = collections.namedtuple(
    'ObjectFile', 'node device policy partition suffix hash filename ext timestamp path')
# Result of one `swift-object-replicator ... once` run.
ReplicatorRun = collections.namedtuple('ReplicatorRun', 'returncode output log_path elapsed')

_live_clusters = weakref.WeakSet()

# Runs swift-ring-builder's main() for each [argv, ok_exit_codes] in sys.argv[1] (JSON).
_RING_BATCH = r"""
import json, sys, traceback
from swift.cli.ringbuilder import main
for argv, ok in json.loads(sys.argv[1]):
    print('$ swift-ring-builder ' + ' '.join(argv), flush=True)
    try:
        rc = main(['swift-ring-builder'] + argv) or 0
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except Exception:
        traceback.print_exc()
        rc = 2
    sys.stdout.flush()
    if rc not in ok:
        print('exit code %d' % rc, flush=True)
        sys.exit(rc or 2)
"""


# ----------------------------------------------------------------------------------------
# small utilities

_CLAIMED_PORTS = {}  # port -> open lock file, held for this process's life
_PORT_RNG = random.SystemRandom()  # unseeded: tests that seed random must not pick alike


def _port_pool():
    """Ports no connect() takes by itself: below (or else above) the kernel's ephemeral range.
    A port from bind(0) lies inside that range, where any outgoing connection of a parallel
    test may hold it as its local port by the time our server binds it (EADDRINUSE)."""
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return None
    if low - 10000 >= 4096:
        return range(10000, low)
    if 65535 - high >= 4096:
        return range(high + 1, 65536)
    return None


def _claim(port):
    """Claims port for this process among every process using free_port (an flock on a file
    per port under /tmp); False if another live process holds it."""
    d = '/tmp/replicant-test-ports'  # fixed: every test process must meet in one place
    try:
        if not os.path.isdir(d):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o1777)  # every user's tests meet here (umask would narrow it)
        f = open(os.path.join(d, str(port)), 'a')
    except OSError:
        return False
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return False
    _CLAIMED_PORTS[port] = f
    return True


def free_port(host=LOOPBACK):
    """A free TCP port on host, outside the ephemeral range and claimed for this process so
    that parallel tests never pick the same one (falls back to bind port 0)."""
    pool = _port_pool()
    for _ in range(200 if pool else 0):
        port = _PORT_RNG.choice(pool)
        if port in _CLAIMED_PORTS or not _claim(port):
            continue
        # Without SO_REUSEADDR: a port that still has TIME_WAIT connections is skipped,
        # so a server that binds without it gets the port too.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
                return port
            except OSError:
                continue  # held by something that is not ours: keep the claim, skip it
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def shut_down(sock):
    """shutdown(), then close: shutdown wakes a thread blocked in accept() or recv() on
    it, where close alone would leave a listener's port open until that call returned."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def wait_for_port(port, host=LOOPBACK, timeout=20.0, proc=None):
    """Waits until a TCP connect to host:port succeeds. If proc (a Popen or ManagedProcess)
    is given, fails early when it exits, and only succeeds once that process itself holds the
    listening socket (so a foreign server that grabbed the port is not mistaken for ours)."""
    deadline = time.monotonic() + timeout
    pid = getattr(proc, 'pid', None)
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError('process %s exited (rc %s) before listening on %s:%d' % (
                pid, proc.poll(), host, port))
        try:
            with socket.create_connection((host, port), timeout=0.5):
                pass
            if pid is None or _pid_listens_on(pid, port) is not False:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError('nothing listening on %s:%d after %.1fs' % (host, port, timeout))


def _pid_listens_on(pid, port):
    """True/False whether pid holds a LISTEN socket on port; None if /proc can't tell."""
    try:
        inodes = set()
        for path in ('/proc/net/tcp', '/proc/net/tcp6'):
            if not os.path.exists(path):
                continue
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == '0A' and int(fields[1].rsplit(':', 1)[1], 16) == port:
                        inodes.add(fields[9])
        fd_dir = '/proc/%d/fd' % pid
        for fd in os.listdir(fd_dir):
            try:
                link = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if link.startswith('socket:[') and link[8:-1] in inodes:
                return True
        return False
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def _set_pdeathsig():
    """preexec_fn: the child gets SIGKILL when the thread that started it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def tail(path, lines=40):
    """The last `lines` lines of a text file ('' if missing)."""
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * lines))
            data = f.read().decode('utf-8', 'replace')
    except OSError:
        return ''
    return '\n'.join(data.splitlines()[-lines:])


def _atomic_write(path, text):
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix='.' + os.path.basename(path) + '.')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def swift_conf_text(prefix=replicant_test.TEST_HASH_PREFIX,
                    suffix=replicant_test.TEST_HASH_SUFFIX, policies=SWIFT_CONF_POLICIES):
    """swift.conf content as replicant_test.write_swift_conf writes it."""
    d = tempfile.mkdtemp(prefix='replicant-swiftconf-')
    try:
        with open(replicant_test.write_swift_conf(d, prefix, suffix, policies)) as f:
            return f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def install_swift_conf(swift_dir=None, text=None):
    """Writes swift.conf atomically (temp + rename) to /etc/swift and, if given, swift_dir.
    /etc/swift must be private (private_etc): HostEtcError before the host's is changed."""
    text = text if text is not None else swift_conf_text()
    private_etc.check_may_write(text)
    for d in ('/etc/swift',) + ((swift_dir,) if swift_dir else ()):
        path = os.path.join(d, 'swift.conf')
        try:
            with open(path) as f:
                if f.read() == text:
                    continue
        except OSError:
            pass
        try:
            _atomic_write(path, text)
        except PermissionError as e:
            raise RuntimeError('cannot write %s (Swift daemons always read '
                               '/etc/swift/swift.conf): %s' % (path, e))


def swift_logging_hook(conf, name, log_to_console, log_route, fmt, logger, adapted_logger):
    """`log_custom_handlers = cluster.swift_logging_hook`: drops Swift's syslog handler, so
    daemons log only to the console (stderr, enabled by -v), i.e. to their log file."""
    for h in list(logger.handlers):
        if isinstance(h, logging.handlers.SysLogHandler):
            logger.removeHandler(h)
            try:
                h.close()
            except Exception:
                pass



def data_dir(policy):
    """`objects` for policy 0, `objects-N` otherwise."""
    return 'objects' if int(policy) == 0 else 'objects-%d' % int(policy)


def ring_name(policy):
    return 'object' if int(policy) == 0 else 'object-%d' % int(policy)


def _conf_section(name, options):
    lines = ['[%s]' % name]
    for k, v in options.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = 'true' if v else 'false'
        lines.append('%s = %s' % (k, v))
    return '\n'.join(lines) + '\n'


# ----------------------------------------------------------------------------------------
# processes

class ManagedProcess:
    """A child in its own process group (killed as a group), output to a log file."""

    def __init__(self, name, args, log_path, env=None, cwd=None):
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        self._log = open(log_path, 'ab')
        self._log.write(('=== %s: %s\n' % (time.strftime('%H:%M:%S'), ' '.join(self.args)))
                        .encode())
        self._log.flush()
        self.popen = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, start_new_session=True, preexec_fn=_set_pdeathsig)
        self.pid = self.popen.pid

    def poll(self):
        return self.popen.poll()

    def alive(self):
        return self.popen.poll() is None

    def stop(self, grace=3.0):
        """SIGTERM to the whole group, SIGKILL after `grace` seconds. Idempotent."""
        if self.popen.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # the leader may be gone while children (rsync, forked workers) linger
        self._signal(signal.SIGKILL)
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if not self._log.closed:
            self._log.close()
        return self.popen.returncode

    def _signal(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def tail(self, lines=40):
        return tail(self.log_path, lines)

    def __repr__(self):
        return '<%s pid=%s rc=%s>' % (self.name, self.pid, self.popen.returncode)


# ----------------------------------------------------------------------------------------
# the cluster

class Node:
    """One storage node: its own devices dir, conf, object server and ports."""

    def __init__(self, cluster, index, devices):
        self.cluster = cluster
        self.index = index
        self.name = 'node%d' % index
        self.region = 1
        self.zone = index + 1
        self.ip = LOOPBACK
        self.replication_ip = LOOPBACK
        self.port = None
        self.replication_port = None
        # with Cluster(front_ports=True): the ports the ring names (see ring_port)
        self.front_port = None
        self.front_replication_port = None
        self.dir = os.path.join(cluster.dir, self.name)
        self.devices_dir = os.path.join(self.dir, 'devices')
        self.devices = list(devices)
        self.conf_path = os.path.join(self.dir, 'object-server.conf')
        self.replication_conf_path = os.path.join(self.dir, 'object-replication-server.conf')
        self.recon_cache_path = os.path.join(self.dir, 'recon')
        self.log_path = os.path.join(cluster.log_dir, '%s-object-server.log' % self.name)
        self.replication_log_path = os.path.join(
            cluster.log_dir, '%s-replication-server.log' % self.name)
        self.replicator_options = {}
        self.server = None              # ManagedProcess: swift-object-server on port
        self.replication_server = None  # ManagedProcess on replication_port (mode 'swift')
        self.replicator = None          # ManagedProcess: a daemon-mode swift-object-replicator

    @property
    def ring_port(self):
        """The port the ring names: the front port if any, else the one the server binds."""
        return self.front_port or self.port

    @property
    def ring_replication_port(self):
        return self.front_replication_port or self.replication_port

    @property
    def rsync_module(self):
        """This node's rsync module URL, e.g. rsync://127.0.0.1:40123/object6201."""
        return 'rsync://%s:%d/object%d' % (LOOPBACK, self.cluster.ring_rsync_port,
                                           self.ring_replication_port)

    def device_path(self, device=None):
        return os.path.join(self.devices_dir, device or self.devices[0])

    def __repr__(self):
        return '<%s port=%s replication_port=%s devices=%s>' % (
            self.name, self.port, self.replication_port, ','.join(self.devices))


class Cluster:
    """A loopback Swift cluster; see the module docstring.

    nodes, devices_per_node: topology; device names come from device_name.format(n=node, d=k)
        with k counting from 1 (default `sdb1`, `sdb2`, ... on every node, as on real hosts).
    replicas, part_power: ring parameters; policy1_replicas defaults to replicas.
    replication: 'same' (replication_port == port, one server per node), 'swift' (a second
        swift-object-server per node with replication_server = true on its own port; the main
        one gets replication_server = false), or 'external' (a separate port is reserved and
        written to the ring and to [replicant-server], but nothing is started there).
    replicator_options: [object-replicator] options for every node (sync_method, concurrency,
        handoffs_first, interval, reclaim_age, ...); rsync_module defaults to the template.
    object_server_options: extra [app:object-server] options; default_options: extra [DEFAULT].
    replicant_server_options: extra [replicant-server] options (bind_port = replication_port).
    regions: each node's ring region, in node order (default: all in region 1).
    recon: put Swift's recon middleware in front of each object server (it serves
        /recon/... from the node's recon_cache_path, for swift-recon).
    base_dir: build there (created; never deleted); default a fresh temp dir, removed by stop()
        unless keep=True, $REPLICANT_KEEP_CLUSTER is set, or the `with` body raised.
    front_ports: every server port (each node's port and replication port, the rsync
        daemon's) gets a second, "front" port: the ring, [object-replicator] bind_port (local
        device matching) and the rsync module names carry the front ones, the servers bind
        the real ones, so every replication connection goes to a front port. The caller puts
        something there that forwards to the real port (front_map(); bench/rtt.py runs a
        delay relay); test helpers (request, replicate) still talk to the real ports.
    """

    def __init__(self, nodes=4, devices_per_node=1, replicas=3, part_power=8,
                 policy1_replicas=None, replication='same', replicator_options=None,
                 object_server_options=None, default_options=None,
                 replicant_server_options=None, log_level='INFO', base_dir=None, keep=False,
                 device_name='sdb{d}', rsync=True, rsync_max_connections=32, ring_seed=None,
                 precreate_datadirs=True, start_timeout=30.0, recon=False, regions=None,
                 front_ports=False):
        if replication not in ('same', 'swift', 'external'):
            raise ValueError('replication must be same, swift or external')
        self.num_nodes = nodes
        self.replicas = replicas
        self.policy1_replicas = policy1_replicas if policy1_replicas is not None else replicas
        self.part_power = part_power
        self.replication = replication
        self.log_level = log_level
        self.rsync_enabled = rsync
        self.rsync_max_connections = rsync_max_connections
        self.ring_seed = ring_seed
        self.precreate_datadirs = precreate_datadirs
        self.recon = recon
        self.start_timeout = start_timeout
        self.base_replicator_options = dict(replicator_options or {})
        self.object_server_options = dict(object_server_options or {})
        self.default_options = dict(default_options or {})
        self.replicant_server_options = dict(replicant_server_options or {})
        self.policies = sorted(POLICY_NAMES)
        self.user = getpass.getuser()
        self.group = grp.getgrgid(os.getgid()).gr_name
        self._own_dir = base_dir is None
        self.keep = keep or bool(os.environ.get('REPLICANT_KEEP_CLUSTER'))
        self.dir = os.path.abspath(base_dir) if base_dir else tempfile.mkdtemp(
            prefix='replicant-cluster-')
        os.makedirs(self.dir, exist_ok=True)
        self.swift_dir = os.path.join(self.dir, 'swift')
        self.log_dir = os.path.join(self.dir, 'logs')
        self.rsyncd_conf_path = os.path.join(self.dir, 'rsyncd.conf')
        self.rsync_port = None
        self.front_ports = front_ports
        self.front_rsync_port = None
        self.rsyncd = None
        self.nodes = [Node(self, i, [device_name.format(n=i, d=k + 1)
                                     for k in range(devices_per_node)])
                      for i in range(nodes)]
        for node, region in zip(self.nodes, regions or ()):
            node.region = region
        self._procs = []
        self._rings = {}
        self._ts_lock = threading.Lock()
        self._last_ts = 0.0
        self._replicator_runs = 0
        self._started = False
        self._stopped = False
        self.env = dict(os.environ)
        support_dir = os.path.dirname(os.path.abspath(__file__))
        self.env['PYTHONPATH'] = os.pathsep.join(
            [support_dir] + [p for p in self.env.get('PYTHONPATH', '').split(os.pathsep) if p])
        self.env['PATH'] = SWIFT_BIN_DIR + os.pathsep + self.env.get('PATH', '')
        # eventlet's green DNS pulls in dnspython+httpx: ~0.5 s per Swift process, unneeded
        # on loopback IPs
        self.env.setdefault('EVENTLET_NO_GREENDNS', 'yes')
        _live_clusters.add(self)

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            sys.stderr.write('cluster %s: stopping after %s: %s\n%s\n' % (
                self.dir, exc_type.__name__, exc, self.dump_logs()))
            self.stop(keep=True)
        else:
            self.stop()
        return False

    @property
    def rsync_module_template(self):
        """The rsync_module value for Swift's replicator (and replicant) in this cluster."""
        return 'rsync://{replication_ip}:%d/object{replication_port}' % self.ring_rsync_port

    @property
    def ring_rsync_port(self):
        """The rsync port replicators use: the front port if any, else rsyncd's."""
        return self.front_rsync_port or self.rsync_port

    def front_map(self):
        """[(front port, real port)] with front_ports (every server port once), else []."""
        out = []
        for n in self.nodes:
            out.append((n.front_port, n.port))
            if n.front_replication_port != n.front_port:
                out.append((n.front_replication_port, n.replication_port))
        if self.front_rsync_port:
            out.append((self.front_rsync_port, self.rsync_port))
        return out if self.front_ports else []

    def start(self):
        """Writes swift.conf, dirs, confs and rings; starts servers and rsyncd. Returns self."""
        if self._started:
            return self
        self._started = True
        try:
            self._start()
        except BaseException:
            sys.stderr.write('cluster %s failed to start:\n%s\n' % (self.dir, self.dump_logs()))
            self.stop(keep=True)
            raise
        return self

    def _start(self):
        install_swift_conf(self.swift_dir)
        replicant_test.set_swift_hash()
        os.makedirs(self.log_dir, exist_ok=True)
        for node in self.nodes:
            os.makedirs(node.recon_cache_path, exist_ok=True)
            for dev in node.devices:
                dpath = node.device_path(dev)
                os.makedirs(os.path.join(dpath, 'tmp'), exist_ok=True)
                if self.precreate_datadirs:
                    # rsync creates only the last path component of its destination, so a
                    # device needs objects[-N]/ before anything is pushed to it (on real hosts
                    # the local replicator creates it on its first pass).
                    for p in self.policies:
                        os.makedirs(os.path.join(dpath, data_dir(p)), exist_ok=True)
        self._check_xattrs(self.nodes[0].device_path())
        if self.rsync_enabled:
            self.rsync_port = free_port()
        taken = set()
        for node in self.nodes:
            node.port = self._pick_port(taken)
            node.replication_port = (node.port if self.replication == 'same'
                                     else self._pick_port(taken))
        if not self.rsync_enabled:
            self.rsync_port = 0
        if self.front_ports:
            for node in self.nodes:
                node.front_port = self._pick_port(taken)
                node.front_replication_port = (node.front_port if self.replication == 'same'
                                               else self._pick_port(taken))
            if self.rsync_enabled:
                self.front_rsync_port = self._pick_port(taken)
        self._taken = taken
        for node in self.nodes:
            self.write_node_conf(node)
        # servers don't need rings to start: build rings while they import swift
        self._ring_error, self._ring_ports = None, None
        rings = threading.Thread(target=self._build_rings_safe, daemon=True)
        rings.start()
        self._start_servers()
        rings.join()
        if self._ring_error is not None or self._ring_ports != self._port_map():
            self._build_rings()  # a port moved on a bind collision (or the build failed)
        if self.rsync_enabled:
            self._start_rsyncd()

    def stop(self, keep=None):
        """Kills every process this cluster started; removes its temp dir unless kept."""
        if self._stopped:
            return
        self._stopped = True
        for p in reversed(self._procs):
            try:
                p.stop()
            except Exception as e:  # keep going: every process must be stopped
                sys.stderr.write('cluster: stopping %s: %s\n' % (p.name, e))
        keep = self.keep if keep is None else (keep or self.keep)
        if keep or not self._own_dir:
            if keep:
                sys.stderr.write('cluster: kept %s\n' % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _spawn(self, name, args, log_path):
        p = ManagedProcess(name, args, log_path, env=self.env, cwd=self.dir)
        self._procs.append(p)
        return p

    def _pick_port(self, taken):
        while True:
            port = free_port()
            if port not in taken and port != self.rsync_port:
                taken.add(port)
                return port

    def _port_map(self):
        return [(n.port, n.replication_port) for n in self.nodes]

    def _ports_in_use(self):
        """Every port this cluster holds or names (a moved server must avoid them)."""
        return set(p for pm in self._port_map() for p in pm) | getattr(self, '_taken', set())

    @staticmethod
    def _check_xattrs(path):
        probe = os.path.join(path, '.xattr-probe')
        with open(probe, 'w'):
            pass
        try:
            os.setxattr(probe, 'user.swift.probe', b'1')
        except OSError as e:
            raise RuntimeError('%s does not support user xattrs (Swift needs them): %s'
                               % (path, e))
        finally:
            os.unlink(probe)

    # -- configuration -------------------------------------------------------------------

    def replicator_options_for(self, node):
        """The effective [object-replicator] options of a node."""
        opts = {
            # Swift matches local devices on replication_ip/replication_port against
            # bind_ip/bind_port, and a section's own option beats [DEFAULT]:
            'bind_port': node.ring_replication_port,
            'sync_method': 'rsync',
            'rsync_module': self.rsync_module_template if self.rsync_enabled else None,
            'recon_cache_path': node.recon_cache_path,
            'rsync_io_timeout': 10,
            'rsync_timeout': 120,
        }
        opts.update(self.base_replicator_options)
        opts.update(node.replicator_options)
        return opts

    def set_replicator_options(self, nodes=None, **options):
        """Updates [object-replicator] options (None removes one) on nodes (default all) and
        rewrites their confs; takes effect on the next replicator run."""
        for node in (self.nodes if nodes is None else nodes):
            for k, v in options.items():
                if v is None:
                    node.replicator_options.pop(k, None)
                else:
                    node.replicator_options[k] = v
            self.write_node_conf(node)

    def _default_section(self, node, bind_port):
        opts = {
            'devices': node.devices_dir,
            'bind_ip': node.ip,
            'bind_port': bind_port,
            'swift_dir': self.swift_dir,
            'mount_check': 'false',
            'workers': 0,
            'user': self.user,
            'bind_timeout': 3,  # fail fast on a port collision; start() then picks another
            'fallocate_reserve': 0,
            'log_level': self.log_level,
            'log_custom_handlers': 'cluster.swift_logging_hook',
            'recon_cache_path': node.recon_cache_path,
        }
        opts.update(self.default_options)
        return _conf_section('DEFAULT', opts)

    def write_node_conf(self, node):
        """(Re)writes the node's object-server.conf (and replication server conf)."""
        app = {'use': 'egg:swift#object'}
        if self.replication != 'same':
            app['replication_server'] = 'false'
        app.update(self.object_server_options)
        replicant = {'bind_ip': node.replication_ip, 'bind_port': node.replication_port}
        replicant.update(self.replicant_server_options)
        pipeline = ('[pipeline:main]\npipeline = recon object-server\n'
                    '[filter:recon]\nuse = egg:swift#recon\n' if self.recon
                    else '[pipeline:main]\npipeline = object-server\n')
        text = '\n'.join([
            self._default_section(node, node.port),
            pipeline,
            _conf_section('app:object-server', app),
            _conf_section('object-replicator', self.replicator_options_for(node)),
            _conf_section('replicant-server', replicant),
        ])
        _atomic_write(node.conf_path, text)
        if self.replication == 'swift':
            self._write_replication_conf(node)

    def _write_replication_conf(self, node):
        """Swift's replication server's conf: an object server on replication_port."""
        app = {'use': 'egg:swift#object', 'replication_server': 'true'}
        app.update(self.object_server_options)
        text = '\n'.join([
            self._default_section(node, node.replication_port),
            '[pipeline:main]\npipeline = object-server\n',
            _conf_section('app:object-server', app),
            _conf_section('object-replicator', self.replicator_options_for(node)),
        ])
        _atomic_write(node.replication_conf_path, text)

    # -- servers -------------------------------------------------------------------------

    def _server_specs(self, node):
        specs = [('server', node.conf_path, node.log_path, 'port')]
        if self.replication == 'swift':
            specs.append(('replication_server', node.replication_conf_path,
                          node.replication_log_path, 'replication_port'))
        return specs

    def _start_servers(self):
        pending = []
        for node in self.nodes:
            for attr, conf, log, port_attr in self._server_specs(node):
                pending.append((node, attr, conf, log, port_attr, 0))
        started = [(n, a, c, l, pa, tries, self._start_server(n, a, c, l))
                   for n, a, c, l, pa, tries in pending]
        deadline = time.monotonic() + self.start_timeout
        while started:
            retry = []
            for node, attr, conf, log, port_attr, tries, proc in started:
                port = getattr(node, port_attr)
                try:
                    wait_for_port(port, timeout=max(0.1, deadline - time.monotonic()),
                                  proc=proc)
                except RuntimeError:
                    # most likely a port collision with another test: move and retry
                    if tries >= 5:
                        raise
                    proc.stop()
                    new_port = self._pick_port(self._ports_in_use())
                    if port_attr == 'port' and node.replication_port == node.port:
                        node.replication_port = new_port
                    setattr(node, port_attr, new_port)
                    self.write_node_conf(node)
                    retry.append((node, attr, conf, log, port_attr, tries + 1))
            started = [(n, a, c, l, pa, t, self._start_server(n, a, c, l))
                       for n, a, c, l, pa, t in retry]

    def _start_server(self, node, attr, conf, log):
        proc = self._spawn('%s-%s' % (node.name, attr.replace('_', '-')),
                           [os.path.join(SWIFT_BIN_DIR, 'swift-object-server'), conf, '-v'],
                           log)
        setattr(node, attr, proc)
        return proc

    def restart_server(self, node):
        """(Re)starts a node's object server on its port, e.g. after a test stopped it to
        simulate a node being down."""
        if node.server is not None and node.server.alive():
            node.server.stop()
        proc = self._start_server(node, 'server', node.conf_path, node.log_path)
        wait_for_port(node.port, timeout=self.start_timeout, proc=proc)
        return proc

    def start_swift_replication_server(self, node):
        """Swift's object server on a node's replication port (whatever served it before
        must be stopped): a peer that answers REPCONN with 405."""
        self._write_replication_conf(node)
        proc = self._start_server(node, 'replication_server', node.replication_conf_path,
                                  node.replication_log_path)
        wait_for_port(node.replication_port, timeout=self.start_timeout, proc=proc)
        return proc

    def _start_rsyncd(self):
        for attempt in range(6):
            self._write_rsyncd_conf()
            self.rsyncd = self._spawn('rsyncd', [
                'rsync', '--daemon', '--no-detach', '--config=' + self.rsyncd_conf_path,
                '--address=' + LOOPBACK, '--port=%d' % self.rsync_port],
                os.path.join(self.log_dir, 'rsyncd.log'))
            try:
                wait_for_port(self.rsync_port, timeout=10, proc=self.rsyncd)
                return
            except RuntimeError:
                if attempt == 5:
                    raise
                self.rsyncd.stop()
                self.rsync_port = self._pick_port(self._ports_in_use())
                # the template changed: the confs carry rsync_module
                for node in self.nodes:
                    self.write_node_conf(node)

    def _write_rsyncd_conf(self):
        lines = [
            'uid = %s' % self.user,
            'gid = %s' % self.group,
            'use chroot = no',
            'reverse lookup = no',
            'socket options = TCP_NODELAY',
            'log file = %s' % os.path.join(self.log_dir, 'rsyncd-transfers.log'),
            'pid file = %s' % os.path.join(self.dir, 'rsyncd.pid'),
            '',
        ]
        for node in self.nodes:
            module = 'object%d' % node.ring_replication_port
            lines += [
                '[%s]' % module,
                'path = %s' % node.devices_dir,
                'read only = no',
                'max connections = %d' % self.rsync_max_connections,
                'lock file = %s' % os.path.join(self.dir, '%s.lock' % module),
                '',
            ]
        _atomic_write(self.rsyncd_conf_path, '\n'.join(lines))

    # -- rings ---------------------------------------------------------------------------

    def builder_path(self, policy=0):
        return os.path.join(self.swift_dir, '%s.builder' % ring_name(policy))

    def ring_path(self, policy=0):
        return os.path.join(self.swift_dir, '%s.ring.gz' % ring_name(policy))

    def ring_builder(self, policy, *args, ok=(0,)):
        """Runs `swift-ring-builder <policy's builder> ARGS...`; returns its output. Calls
        that change the ring must be followed by a 'rebalance' or 'write_ring'."""
        p = subprocess.run([os.path.join(SWIFT_BIN_DIR, 'swift-ring-builder'),
                            self.builder_path(policy)] + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=self.env, timeout=120)
        if p.returncode not in ok:
            raise RuntimeError('swift-ring-builder %s %s exited %d:\n%s' % (
                self.builder_path(policy), ' '.join(map(str, args)), p.returncode, p.stdout))
        self._rings.pop(int(policy), None)
        return p.stdout

    def _build_rings_safe(self):
        try:
            self._build_rings()
            self._ring_error = None
        except Exception as e:
            self._ring_error = e

    def _build_rings(self):
        os.makedirs(self.swift_dir, exist_ok=True)
        self._ring_ports = self._port_map()

        # One Python process runs swift-ring-builder's own main() (what /usr/bin/
        # swift-ring-builder calls) for every command: ~3x faster than a process each.
        cmds = []
        for policy in self.policies:
            replicas = self.replicas if policy == 0 else self.policy1_replicas
            for path in (self.builder_path(policy), self.ring_path(policy)):
                if os.path.exists(path):
                    os.unlink(path)
            builder = self.builder_path(policy)
            add = []
            for node in self.nodes:
                for dev in node.devices:
                    add += ['r%dz%d-%s:%dR%s:%d/%s' % (
                        node.region, node.zone, node.ip, node.ring_port,
                        node.replication_ip, node.ring_replication_port, dev), '100']
            seed = ['--seed', str(self.ring_seed)] if self.ring_seed is not None else []
            cmds += [([builder, 'create', str(self.part_power), str(replicas), '1'], [0]),
                     ([builder, 'add'] + add, [0]),
                     ([builder, 'rebalance'] + seed, [0, 1])]
        p = subprocess.run([SWIFT_PYTHON, '-c', _RING_BATCH, json.dumps(cmds)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=self.env, timeout=300)
        with open(os.path.join(self.log_dir, 'ring-builder.log'), 'a') as f:
            f.write(p.stdout)
        if p.returncode != 0:
            raise RuntimeError('building rings failed (exit %d):\n%s' % (p.returncode,
                                                                          p.stdout[-4000:]))
        self._rings.clear()

    def ring(self, policy=0):
        """swift.common.ring.Ring for the policy (reloaded after ring_builder calls)."""
        policy = int(policy)
        if policy not in self._rings:
            from swift.common.ring import Ring
            replicant_test.set_swift_hash()
            self._rings[policy] = Ring(self.swift_dir, ring_name=ring_name(policy))
        return self._rings[policy]

    def node_of(self, dev):
        """The Node owning a ring device dict (matched on ip and port)."""
        for node in self.nodes:
            if dev['ip'] == node.ip and dev['port'] == node.ring_port:
                return node
        raise KeyError('no node for device %r' % (dev,))

    def partition(self, account, container, obj, policy=0):
        return self.ring(policy).get_part(account, container, obj)

    def object_hash(self, account, container, obj):
        """Swift's hash_path hex digest (the hash dir name)."""
        from swift.common.utils import hash_path
        replicant_test.set_swift_hash()
        return hash_path(account, container, obj)

    def primaries(self, account, container, obj, policy=0):
        """[Placement(node, device, dev)] of the object's primary replicas, in ring order."""
        ring = self.ring(policy)
        part, devs = ring.get_nodes(account, container, obj)
        return [Placement(self.node_of(d), d['device'], d) for d in devs]

    def handoffs(self, account, container, obj, policy=0, limit=None):
        """[Placement] in Swift's get_more_nodes order (all of them unless limit)."""
        ring = self.ring(policy)
        part = ring.get_part(account, container, obj)
        out = []
        for d in ring.get_more_nodes(part):
            if limit is not None and len(out) >= limit:
                break
            out.append(Placement(self.node_of(d), d['device'], d))
        return out

    def is_primary(self, node, account, container, obj, policy=0):
        return any(p.node is node for p in self.primaries(account, container, obj, policy))

    def _device_for(self, node, account, container, obj, policy):
        """The node's device for this object: a primary's, else its first handoff's."""
        if len(node.devices) == 1:
            return node.devices[0]
        for p in self.primaries(account, container, obj, policy) + \
                self.handoffs(account, container, obj, policy):
            if p.node is node:
                return p.device
        return node.devices[0]

    # -- on-disk layout ------------------------------------------------------------------

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

    # -- Swift's replicator --------------------------------------------------------------

    def _replicator_conf(self, node):
        # [object-replicator] bind_port = replication_port makes the main conf work in
        # every replication mode
        return node.conf_path

    def run_swift_replicator(self, node, once=True, extra_args=(), timeout=120, check=True):
        """Runs `swift-object-replicator CONF once -v EXTRA` for the node synchronously;
        returns ReplicatorRun(returncode, output, log_path, elapsed). The whole process
        group is killed on timeout. once=False starts it as a daemon instead and returns
        the ManagedProcess (stopped by stop())."""
        self._replicator_runs += 1
        log_path = os.path.join(self.log_dir, '%s-replicator-%d.log' % (
            node.name, self._replicator_runs))
        args = [os.path.join(SWIFT_BIN_DIR, 'swift-object-replicator'),
                self._replicator_conf(node)] + (['once'] if once else []) + ['-v'] + \
            [str(a) for a in extra_args]
        proc = self._spawn('%s-replicator' % node.name, args, log_path)
        if not once:
            node.replicator = proc
            return proc
        t0 = time.monotonic()
        try:
            proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.stop()
            raise TimeoutError('swift-object-replicator on %s ran over %ss; log:\n%s' % (
                node.name, timeout, proc.tail(80)))
        finally:
            # kill leftovers (rsync children) and close the log
            proc.stop(grace=0)
            self._procs.remove(proc)
        elapsed = time.monotonic() - t0
        with open(log_path, 'rb') as f:
            output = f.read().decode('utf-8', 'replace')
        run = ReplicatorRun(proc.popen.returncode, output, log_path, elapsed)
        if check and run.returncode != 0:
            raise AssertionError('swift-object-replicator on %s exited %d:\n%s' % (
                node.name, run.returncode, output[-4000:]))
        return run

    # -- diagnostics ---------------------------------------------------------------------

    def dump_logs(self, lines=40):
        """Tails of every log in the cluster's log dir, plus process states."""
        out = ['cluster dir: %s' % self.dir]
        for p in self._procs:
            out.append('process %s pid %s rc %s' % (p.name, p.pid, p.popen.poll()))
        try:
            names = sorted(os.listdir(self.log_dir))
        except OSError:
            names = []
        for name in names:
            out.append('----- %s (last %d lines) -----' % (name, lines))
            out.append(tail(os.path.join(self.log_dir, name), lines))
        return '\n'.join(out)

    def describe(self):
        """A short text of nodes, ports and the rsync template (for test output)."""
        lines = ['cluster %s: part_power %d, replicas %s, rsync port %s' % (
            self.dir, self.part_power, self.replicas, self.rsync_port)]
        for n in self.nodes:
            lines.append('  %s port %s replication_port %s devices %s conf %s' % (
                n.name, n.port, n.replication_port, ','.join(n.devices), n.conf_path))
        lines.append('  rsync_module = %s' % (self.rsync_module_template
                                              if self.rsync_port else None))
        return '\n'.join(lines)


def etag_of(body):
    return hashlib.md5(body).hexdigest()


@atexit.register
def _stop_all_clusters():
    for c in list(_live_clusters):
        try:
            c.stop()
        except Exception:
            pass
