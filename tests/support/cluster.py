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
Its parts: ports.py (free ports, waiting for a listener), processes.py (process groups),
swift_conf.py (swift.conf and where Swift is), cluster_rings.py (the rings and placement)
and cluster_objects.py (the on-disk layout and the object server's API), mixed in here.
"""
import atexit
import collections
import getpass
import grp
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref

import replicant_test
# What the tests and benchmarks import from here lives in these modules now; re-exported so
# `cluster.X` stays the one name for each (Swift's daemons load cluster.swift_logging_hook).
from cluster_objects import (  # noqa: F401
    OBJECT_FILE_EXTS, ClusterObjects, ObjectFile, Response, data_dir)
from cluster_rings import _RING_BATCH, ClusterRings, Placement, ring_name  # noqa: F401
from ports import LOOPBACK, free_port, shut_down, wait_for_port  # noqa: F401
from processes import ManagedProcess, _set_pdeathsig, tail  # noqa: F401
from swift_conf import (  # noqa: F401
    SWIFT_BIN_DIR, SWIFT_CONF_POLICIES, SWIFT_PYTHON, _atomic_write, install_swift_conf,
    swift_conf_text, swift_logging_hook)

POLICY_NAMES = {0: 'gold', 1: 'silver'}

# Result of one `swift-object-replicator ... once` run.
ReplicatorRun = collections.namedtuple('ReplicatorRun', 'returncode output log_path elapsed')

_live_clusters = weakref.WeakSet()


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


class Cluster(ClusterRings, ClusterObjects):
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
