#!/usr/bin/python3
"""A Swift-All-In-One (Swift's doc/saio) built from Debian's swift source, per variant.

The SAIO is Swift's documented one: proxy on 8080, 4 account/container/object servers on
127.0.0.1-127.0.0.4 with remakerings' ports and rings, memcached, an rsync daemon with the
SAIO modules, doc/saio/swift/swift.conf's policies (gold, silver, the ec42 EC policy with
Swift's reconstructor), devices as plain directories under /srv/N/node (mount_check is
false; kill_drive renames them), /etc/swift/test.conf from test/sample.conf. Only what a
variant needs is changed, in the copies this writes to /etc/swift:

  variant   object replicator                   replication endpoint (ring replication ip)
  baseline  Swift's, rsync                      the object servers (as SAIO)
  rsync     replicant, sync_method = rsync      the object servers, rsyncd (as SAIO)
  ssync     replicant, sync_method = ssync      the object servers (as SAIO)
  native    replicant, sync_method = native     `replicant serve` on 127.0.1.N, same port
  mixed     1,3: replicant native; 2,4: Swift   1,3: replicant serve; 2,4: a Swift object
            ssync                                server with replication_server = true

A replication network uses another IP, not another port: Swift's probe tests look servers
up by (ip, replication_port) in a map keyed by (ip, port) (test_object_handoff.py), so the
replication port must equal the port. The EC ring (object-2) keeps SAIO's devices: its
reconstructor talks SSYNC to the object servers, and replicant serve refuses EC policies.

Everything runs inside the namespaces probe.py makes (mount, net, pid): /etc/swift,
/var/run/swift, /var/cache/swift are private tmpfs, /srv is a bind of the work dir, the
fixed ports live on a private loopback. Not thread-safe; one Saio per namespace.
"""
import glob
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading

SAIO_DIR = os.path.dirname(os.path.abspath(__file__))
BIN_DIR = os.path.join(SAIO_DIR, 'bin')
NODES = (1, 2, 3, 4)
VARIANTS = ('baseline', 'rsync', 'ssync', 'native', 'mixed')
REPLICATION_NET = '127.0.1.'   # + node number: the replication ip of nodes with endpoints
RUN_FILES = '/etc/swift/saio'  # per-node replicator kind and endpoint (bin/ reads them)
# replicant's syslog (a unix datagram socket; there is no /dev/log in the namespace)
LOG_SOCKET = '/var/run/swift/saio-log.sock'


def node_plan(variant, node):
    """(replicator, sync_method, endpoint) of one node: replicator 'replicant' or 'swift';
    endpoint None (replication goes to the object server), 'replicant' or 'swift'."""
    if variant == 'baseline':
        return 'swift', 'rsync', None
    if variant in ('rsync', 'ssync'):
        return 'replicant', variant, None
    if variant == 'native' or (variant == 'mixed' and node in (1, 3)):
        return 'replicant', 'native', 'replicant'
    if variant == 'mixed':
        return 'swift', 'ssync', 'swift'
    raise ValueError('unknown variant %r' % variant)


def uses_replication_net(variant):
    return any(node_plan(variant, n)[2] for n in NODES)


def _sub_user(text):
    return text.replace('<your-user-name>', 'root')


def _add_options(text, section, options):
    """Appends `options` (dict) at the end of [section] of an INI text."""
    lines = ''.join('%s = %s\n' % kv for kv in options.items())
    m = re.search(r'^\[%s\]\n' % re.escape(section), text, re.M)
    if not m:
        return text.rstrip('\n') + '\n\n[%s]\n%s' % (section, lines)
    nxt = re.search(r'^\[', text[m.end():], re.M)
    at = m.end() + (nxt.start() if nxt else len(text) - m.end())
    head = text[:at].rstrip('\n') + '\n'
    return head + lines + ('\n' + text[at:] if nxt else '')


class SyslogSink:
    """Swift's daemons log to syslog; without /dev/log they send UDP to localhost:514.
    This collects those datagrams into one file, for the record of a failed test."""

    def __init__(self, path):
        self.socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                      socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)]
        self.socks[0].bind(('127.0.0.1', 514))
        self.socks[1].bind(LOG_SOCKET)
        self.out = open(path, 'ab', buffering=0)
        for sock in self.socks:
            threading.Thread(target=self._run, args=(sock,), daemon=True).start()

    def _run(self, sock):
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            self.out.write(data.rstrip(b'\0\n') + b'\n')

    def close(self):
        for sock in self.socks:
            sock.close()


class Saio:
    def __init__(self, swift_tree, work, variant, replicant_bin):
        self.tree = swift_tree
        self.saio = os.path.join(swift_tree, 'doc', 'saio')
        self.work = work
        self.variant = variant
        self.replicant_bin = replicant_bin
        self.logs = os.path.join(work, 'log')
        self.procs = []
        self.sink = None

    # --- the environment every Swift command of the run gets ---------------------------
    def env(self):
        env = dict(os.environ)
        env['PATH'] = BIN_DIR + ':/usr/bin:/bin:/usr/sbin:/sbin'
        env['SAIO_SWIFT_TREE'] = self.tree
        env['SAIO_REPLICANT'] = self.replicant_bin
        env['SAIO_LOG_DIR'] = self.logs
        env['SWIFT_TEST_CONFIG_FILE'] = '/etc/swift/test.conf'
        env.pop('PYTHONPATH', None)
        return env

    # --- building ------------------------------------------------------------------------
    def build(self):
        """Writes /etc/swift, makes the rings and the device dirs (clean state)."""
        if os.environ.get('REPLICANT_PRIVATE_ETC') is None or \
                not os.path.ismount('/etc/swift'):
            raise RuntimeError('/etc/swift is not private: run through probe.py')
        self._make_private('/var/run/swift')
        # SAIO's recon caches are /var/cache/swift and /var/cache/swift2-4: a tmpfs on
        # /var/cache (this namespace's own) so that none of them is made on the host.
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755,size=64m', 'saio-cache',
                        '/var/cache'], check=True)
        for suffix in ('', '2', '3', '4'):
            os.makedirs('/var/cache/swift' + suffix)
        os.makedirs(self.logs, exist_ok=True)
        srv = os.path.join(self.work, 'srv')
        shutil.rmtree(srv, ignore_errors=True)
        os.makedirs(srv)
        subprocess.run(['mount', '--bind', srv, '/srv'], check=True)
        self._write_etc()
        self._make_rings()
        self.make_devices()

    @staticmethod
    def _make_private(path):
        """A tmpfs on path, or on its parent where the host has no such dir (the mount
        namespace is this run's own: the host sees neither)."""
        if os.path.ismount(path):
            return
        target = path if os.path.isdir(path) else os.path.dirname(path)
        if target in ('/', '/var', '/etc', '/usr') or not os.path.isdir(target):
            raise RuntimeError('no private %s: %s may not be hidden' % (path, target))
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755,size=64m',
                        'saio-private', target], check=True)
        os.makedirs(path, exist_ok=True)

    def make_devices(self):
        for n in NODES:
            for dev in ('sdb%d' % n, 'sdb%d' % (n + 4)):
                os.makedirs('/srv/%d/node/%s' % (n, dev), exist_ok=True)

    def _copy_conf(self, rel, transform=None):
        with open(os.path.join(self.saio, 'swift', rel)) as f:
            text = _sub_user(f.read())
        if transform:
            text = transform(text)
        dst = os.path.join('/etc/swift', rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, 'w') as f:
            f.write(text)

    def _write_etc(self):
        swift_dir = os.path.join(self.saio, 'swift')
        for path in sorted(glob.glob(os.path.join(swift_dir, '**', '*.conf'), recursive=True)):
            rel = os.path.relpath(path, swift_dir)
            if not rel.startswith('object-server/'):
                self._copy_conf(rel)
        for n in NODES:
            self._copy_conf('object-server/%d.conf' % n, lambda t, n=n: self._object_conf(n, t))
        shutil.copy(os.path.join(self.tree, 'test', 'sample.conf'), '/etc/swift/test.conf')
        os.makedirs(RUN_FILES, exist_ok=True)
        for n in NODES:
            replicator, _, endpoint = node_plan(self.variant, n)
            with open(os.path.join(RUN_FILES, '%d.replicator' % n), 'w') as f:
                f.write(replicator + '\n')
            if endpoint:
                self._write_endpoint(n, endpoint)
        with open(os.path.join(self.work, 'rsyncd.conf'), 'w') as f:
            f.write(self._rsyncd_conf())

    def _object_conf(self, n, text):
        replicator, sync_method, endpoint = node_plan(self.variant, n)
        opts = {'sync_method': sync_method}
        if endpoint:
            # The replicator finds its local devices by replication ip and port.
            opts['bind_ip'] = REPLICATION_NET + str(n)
        if replicator == 'replicant':
            # As Swift's daemons under Manager: log to syslog, let go of stdio.
            opts.update(log_to_syslog='true', log_address=LOG_SOCKET)
        text = _add_options(text, 'object-replicator', opts)
        if endpoint == 'replicant':
            text = _add_options(text, 'replicant-server', {
                'bind_ip': REPLICATION_NET + str(n), 'bind_port': 6200 + 10 * n})
        return text

    def _write_endpoint(self, n, kind):
        """bin/swift-object-server starts this beside object server n, as one node."""
        conf = '/etc/swift/object-server/%d.conf' % n
        if kind == 'replicant':
            argv = [self.replicant_bin, 'serve', conf]
        else:
            # A Swift object server answering only replication requests on the node's
            # replication ip (SAIO's replication network, doc/source/replication_network).
            repl_conf = os.path.join(RUN_FILES, '%d-replication.conf' % n)
            with open(conf) as f:
                text = f.read()
            text = text.replace('bind_ip = 127.0.0.%d' % n, 'bind_ip = %s%d' % (REPLICATION_NET, n))
            text = _add_options(text, 'app:object-server', {'replication_server': 'true'})
            with open(repl_conf, 'w') as f:
                f.write(text)
            argv = ['/usr/bin/swift-object-server', repl_conf]
        with open(os.path.join(RUN_FILES, '%d.endpoint' % n), 'w') as f:
            f.write('\n'.join(argv) + '\n')

    def _rsyncd_conf(self):
        with open(os.path.join(self.saio, 'rsyncd.conf')) as f:
            text = _sub_user(f.read())
        text = text.replace('/var/log/rsyncd.log', os.path.join(self.logs, 'rsyncd.log'))
        text = text.replace('/var/run/rsyncd.pid', os.path.join(self.work, 'rsyncd.pid'))
        return re.sub(r'/var/lock/', os.path.join(self.work, 'lock') + '/', text)

    def _make_rings(self):
        with open(os.path.join(self.saio, 'bin', 'remakerings')) as f:
            script = f.read()
        if uses_replication_net(self.variant):
            script = '\n'.join(self._ring_line(line) for line in script.splitlines())
        # 30 swift-ring-builder runs take minutes on a busy machine: the rings of one
        # script are made once and reused by the variants (and reruns) that share it.
        cache = os.path.join(os.path.dirname(self.work), 'rings-' + hashlib.sha1(
            script.encode()).hexdigest()[:12])
        if not os.path.isdir(cache):
            path = os.path.join(self.work, 'remakerings')
            with open(path, 'w') as f:
                f.write(script + '\n')
            subprocess.run(['bash', path], check=True, env=self.env(),
                           stdout=subprocess.DEVNULL)
            # A private temp dir: variants run in parallel may make the same rings at once.
            tmp = tempfile.mkdtemp(dir=os.path.dirname(cache), prefix=os.path.basename(cache))
            for ring in glob.glob('/etc/swift/*.ring.gz') + glob.glob('/etc/swift/*.builder'):
                shutil.copy(ring, tmp)
            try:
                os.rename(tmp, cache)
            except OSError:  # another variant's rings got there first: use ours
                shutil.rmtree(tmp, ignore_errors=True)
                return
        for ring in os.listdir(cache):
            shutil.copy(os.path.join(cache, ring), '/etc/swift')

    def _ring_line(self, line):
        """object and object-1 devices of nodes with an endpoint get the replication ip."""
        m = re.match(r'^(swift-ring-builder object(-1)?\.builder add r1z\d-)'
                     r'127\.0\.0\.(\d):(\d+)(/.*)$', line)
        if not m or not node_plan(self.variant, int(m.group(3)))[2]:
            return line
        n, port = m.group(3), m.group(4)
        return '%s127.0.0.%s:%sR%s%s:%s%s' % (m.group(1), n, port, REPLICATION_NET, n, port,
                                              m.group(5))

    # --- support daemons -----------------------------------------------------------------
    def start_support(self):
        # 127.0.0.0/8 (127.0.0.N and the replication net 127.0.1.N) is all on lo.
        subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
        os.makedirs(os.path.join(self.work, 'lock'), exist_ok=True)
        self.sink = SyslogSink(os.path.join(self.logs, 'syslog'))
        self._spawn(['memcached', '-u', 'root', '-l', '127.0.0.1', '-p', '11211'], 'memcached')
        self._spawn(['rsync', '--daemon', '--no-detach',
                     '--config=' + os.path.join(self.work, 'rsyncd.conf')], 'rsyncd')

    def _spawn(self, argv, name):
        log = open(os.path.join(self.logs, name + '.log'), 'ab')
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=log, env=self.env()))
        log.close()

    def stop(self):
        """Stops every Swift server (through Swift's Manager) and the support daemons."""
        subprocess.run(['/usr/bin/python3', '-c',
                        'from swift.common.manager import Manager; Manager(["all"]).kill()'],
                       env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120)
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.sink:
            self.sink.close()
