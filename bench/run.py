#!/usr/bin/python3
"""replicant vs Swift's object replicator, side by side on a loopback cluster.

Scenarios (see docs/bench.md):
  initial-small  N small objects written to node 0; time until every object sits on all its
                 primaries (node 0's replicator, repeated passes until converged)
  initial-large  the same with large objects
  idle           a full pass of node 0 right after convergence, at each --idle-part-powers
  drain          node 3's weight set to 0 (ring change); time until its partitions are
                 drained to their new primaries
  scale          growth curves (bench/scale.py; only when named): idle and full-rehash passes
                 and peak RSS over --scale-objects x --scale-part-powers, fitted
  restore, rebalance  priority replication (bench/priority.py; only when named in
                 --scenarios): time until a replaced empty device, resp. the ~25% of
                 partitions a reweight moved, is complete, every node's replicator running
  limit (tar)    a `tar --xattrs` piped copy of the same tree on the same disk, run inside the
                 initial and drain scenarios as the ceiling for files/s and MB/s
  limit (tar + sync)  the same copy until `sync -f` of its filesystem returns: durable, as a
                 replicator's copies must be before it acknowledges them (shown, not a ratio base)
  limit (fsync per file)  bench/durable_copy: the tree copied once per receiving node at once,
                 each file made durable on its own, as Swift's object server does for a PUT
                 (temp file, fsync, rename, fsync of its dirs): what the disk gives a plain
                 durable copy, without network or protocol; the base of "of fsync copy"
                 (a reference, not a bound: batching durability beats it)
  limit (batched durable)  the same copy made durable in the native receiver's batches;
                 "of limit" is against the faster of the two durable copies
Every method of a scenario runs in the same loop, interleaved (order rotated per repeat);
the median of --repeat runs is reported, as ratios to Swift's rsync run and to the limit.

Methods are pluggable (METHODS in options.py): a method the replicant build does not support yet
(`replicant replicate` rejecting its sync_method, or no `replicant serve`) is skipped with
a note. Stdlib + Swift + matplotlib (optional: no charts without it). Run with Debian's
/usr/bin/python3 (bench/run.sh does).
"""
import collections
import os
import re
import shutil
import subprocess
import sys
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(SOURCE_DIR, 'tests', 'support'))
sys.path.insert(0, BENCH_DIR)

import cluster as cluster_mod  # noqa: E402
import private_etc  # noqa: E402
import replicant_test  # noqa: E402
import report  # noqa: E402
import seed  # noqa: E402
from host import (GNU_TIME, load1, log, machine_info, mount_fs_image,  # noqa: E402
                  parse_gnu_time, parse_pass_seconds, proc_cpu_seconds, unmount_fs_image)
import limits  # noqa: E402
import priority  # noqa: E402
import rtt  # noqa: E402
import scale  # noqa: E402
import scale_report  # noqa: E402
from options import (ALL_SCENARIOS, BASELINE, DURABLE_LIMITS, LIMIT, METHODS,  # noqa: E402
                     SCENARIO_METHODS, Run)
import options  # noqa: E402

SWIFT_REPLICATOR = '/usr/bin/swift-object-replicator'
SOURCE_NODE = 0   # initial sync and idle passes: node 0's replicator
DRAIN_NODE = 3    # drain: node 3 loses its weight


def parse_args(argv):
    return options.parse_args(argv, __doc__)


# ----------------------------------------------------------------------------------------
# processes and measurements

class Bench:
    def __init__(self, args):
        self.args = args
        self.runs = []
        self.notes = []
        self.available = {}     # method name -> (bool, reason)
        self.serve_state = None  # None: untested; (bool, reason)
        self.sync_methods = {}  # sync_method -> (bool, reason) for replicant
        self.run_counter = 0
        os.makedirs(args.workdir, exist_ok=True)
        self.data_dir = mount_fs_image(args) if args.fs_image else args.workdir
        self.templates_dir = os.path.join(self.data_dir, 'templates')
        self.clusters_dir = os.path.join(self.data_dir, 'clusters')
        self.log_dir = os.path.join(args.workdir, 'logs', time.strftime('%Y%m%d-%H%M%S'))
        os.makedirs(self.log_dir, exist_ok=True)
        self.max_load_seen = 0.0
        self.clusters = {}  # (part_power, peers) -> Cluster
        self.part_powers_ahead = []  # part powers that the scenarios still to run use
        self.relays = rtt.Relays(self) if args.rtt_ms is not None else None
        self.scenario_suffix = ''  # '@rttNms' while --rtt-ms runs a round-trip time

    def note(self, msg):
        if msg not in self.notes:
            self.notes.append(msg)
            log('NOTE: ' + msg)

    # -- clusters ------------------------------------------------------------------------

    def cluster(self, part_power, peers):
        """A running cluster of that part power and kind, shared by the scenarios."""
        key = (part_power, peers)
        if key not in self.clusters:
            self.clusters[key] = self.start_cluster('pp%d-%s' % key, part_power, peers)
        return self.clusters[key]

    def retire_cluster(self, c):
        """Stops a cluster whose ring a scenario changed."""
        for k, v in list(self.clusters.items()):
            if v is c:
                del self.clusters[k]
        self.stop_cluster(c)

    def done_with(self, clusters):
        """Stops the clusters that no scenario still to run needs (same part power)."""
        for c in clusters.values():
            if not any(pp == c.bench_part_power for pp in self.part_powers_ahead):
                self.retire_cluster(c)

    def stop_all(self):
        for c in list(self.clusters.values()):
            self.retire_cluster(c)

    def start_cluster(self, name, part_power, peers):
        a = self.args
        base = os.path.join(self.clusters_dir, name)
        if a.scale_resume and peers in a.scale_kinds:
            scale.hold_trees(self.clusters_dir, base)
        shutil.rmtree(base, ignore_errors=True)
        opts = {'concurrency': a.concurrency, 'rsync_timeout': int(a.pass_timeout),
                'rsync_io_timeout': 60, 'http_timeout': 60, 'node_timeout': 60,
                'conn_timeout': 5, 'stats_interval': 3600, **a.replicator_option}
        c = cluster_mod.Cluster(nodes=a.nodes, replicas=a.replicas, part_power=part_power,
                                replication='same' if peers == 'swift' else 'external',
                                replicator_options=opts, base_dir=base, keep=a.keep,
                                replicant_server_options=a.server_option,
                                ring_seed=1, front_ports=self.relays is not None)
        log('starting %s cluster %s (part power %d)' % (peers, name, part_power))
        c.start()
        c.bench_peers = peers
        c.bench_part_power = part_power
        c.bench_base = base
        c.serve_procs = []
        if self.relays is not None:
            self.relays.attach(c)
        if peers == 'serve':
            ok, reason = self.start_serve(c)
            self.serve_state = (ok, reason)
        return c

    def start_serve(self, c):
        for node in c.nodes:
            proc = c._spawn('%s-replicant-serve' % node.name,
                            [self.args.replicant, 'serve', node.conf_path],
                            os.path.join(c.log_dir, '%s-replicant-serve.log' % node.name))
            c.serve_procs.append(proc)
            try:
                cluster_mod.wait_for_port(node.replication_port, timeout=20, proc=proc)
            except (RuntimeError, TimeoutError) as e:
                tail = [l for l in proc.tail(5).splitlines() if l.strip()]
                return False, '`replicant serve` did not start (%s): %s' % (
                    e, tail[1][:160] if len(tail) > 1 else '')
        return True, ''

    def stop_cluster(self, c):
        if self.relays is not None:
            self.relays.detach(c)
        c.stop()
        if not self.args.keep:
            shutil.rmtree(c.bench_base, ignore_errors=True)

    def cluster_cpu(self, c):
        return sum(proc_cpu_seconds(p.pid) for p in c._procs if p.alive())

    # -- availability --------------------------------------------------------------------

    def probe_sync_method(self, c, sync_method):
        """Whether `replicant replicate` accepts the sync_method (one pass over an empty
        devices dir)."""
        if sync_method in self.sync_methods:
            return self.sync_methods[sync_method]
        if not os.access(self.args.replicant, os.X_OK):
            res = (False, 'no replicant binary at %s' % self.args.replicant)
        else:
            node = c.nodes[0]
            probe_dir = os.path.join(self.data_dir, 'probe')
            shutil.rmtree(probe_dir, ignore_errors=True)
            os.makedirs(os.path.join(probe_dir, 'devices'))
            with open(node.conf_path) as f:
                text = f.read()
            text = re.sub(r'(?m)^devices = .*$', 'devices = %s' % os.path.join(
                probe_dir, 'devices'), text)
            text = re.sub(r'(?m)^sync_method = .*$', 'sync_method = %s' % sync_method, text)
            conf = os.path.join(probe_dir, 'probe.conf')
            with open(conf, 'w') as f:
                f.write(text)
            try:
                p = subprocess.run([self.args.replicant, 'replicate', conf, '--once'],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   timeout=60, env=c.env)
                if p.returncode != 0 and 'sync_method' in p.stderr:
                    res = (False, 'replicant: %s' % p.stderr.strip().splitlines()[-1][:200])
                elif p.returncode != 0:
                    res = (False, 'replicant replicate probe exited %d: %s' % (
                        p.returncode, p.stderr.strip()[-200:]))
                else:
                    res = (True, '')
            except subprocess.TimeoutExpired:
                res = (False, 'replicant replicate probe timed out')
            shutil.rmtree(probe_dir, ignore_errors=True)
        self.sync_methods[sync_method] = res
        return res

    def method_available(self, m, clusters):
        if m.name in self.available:
            return self.available[m.name][0]
        if self.args.methods is not None and m.name not in self.args.methods:
            self.available[m.name] = (False, 'not selected')
            return False
        if m.tool == 'swift':
            res = (os.access(SWIFT_REPLICATOR, os.X_OK), 'no ' + SWIFT_REPLICATOR)
        else:
            res = self.probe_sync_method(clusters['swift'], m.sync_method)
            if res[0] and m.peers == 'serve':
                if self.serve_state is None:
                    self.serve_state = (True, '')
                res = self.serve_state
        self.available[m.name] = res
        if not res[0] and res[1] != 'not selected':
            self.note('skipped %s: %s' % (m.name, res[1]))
        return res[0]

    def scenario_methods(self, kind, part_power, name):
        """Starts the clusters a scenario needs; returns (clusters, [Method])."""
        clusters = {'swift': self.cluster(part_power, 'swift')}
        wanted = [m for m in METHODS if m.name in SCENARIO_METHODS[kind]]
        if any(m.peers == 'serve' and self.method_wanted(m) for m in wanted):
            # only worth a cluster when some serve method can run at all
            if any(self.probe_sync_method(clusters['swift'], m.sync_method)[0]
                   for m in wanted if m.peers == 'serve') and \
                    (self.serve_state is None or self.serve_state[0]):
                clusters['serve'] = self.cluster(part_power, 'serve')
        methods = []
        for m in wanted:
            if m.peers == 'serve' and 'serve' not in clusters:
                if m.name not in self.available:
                    reason = (self.serve_state or (False, ''))[1] or \
                        self.probe_sync_method(clusters['swift'], m.sync_method)[1]
                    if not self.method_wanted(m):
                        reason = 'not selected'
                    self.available[m.name] = (False, reason)
                    if reason != 'not selected':
                        self.note('skipped %s: %s' % (m.name, reason))
                continue
            if self.method_available(m, clusters):
                methods.append(m)
        if 'serve' in clusters and not any(m.peers == 'serve' for m in methods):
            self.retire_cluster(clusters.pop('serve'))
        return clusters, methods

    def method_wanted(self, m):
        return self.args.methods is None or m.name in self.args.methods

    # -- resets and checks ---------------------------------------------------------------

    @staticmethod
    def wipe(c):
        for node in c.nodes:
            for dev in node.devices:
                d = node.device_path(dev)
                subprocess.run(['rm', '-rf'] + [os.path.join(d, x) for x in os.listdir(d)],
                               check=True)
                for sub in ['tmp'] + [cluster_mod.data_dir(p) for p in c.policies]:
                    os.makedirs(os.path.join(d, sub), exist_ok=True)

    def primaries_of(self, c):
        """partition -> [(node, device)] of policy 0's primaries in c's current ring."""
        ring = c.ring(0)
        out = {}
        for part in range(2 ** c.bench_part_power):
            out[part] = [(c.node_of(d), d['device']) for d in ring.get_part_nodes(part)]
        return out

    def layout(self, c, template, primaries):
        """Hard-links every template partition onto each of its primaries."""
        self.wipe(c)
        by_node = collections.defaultdict(list)
        for part_name in os.listdir(os.path.join(template, seed.DEVICE, 'objects')):
            for node, dev in primaries[int(part_name)]:
                by_node[(node.index, dev)].append(part_name)
        for (idx, dev), parts in by_node.items():
            seed.link_partitions(template, c.nodes[idx].device_path(dev), parts)

    def check(self, c, manifest, primaries, source):
        """(missing, leftover): object replicas absent from a primary, and .data files of
        objects still on `source` although it is not one of their primaries."""
        missing = leftover = 0
        for name, part, hsh, size in manifest['objects']:
            prims = primaries[part]
            for node, dev in prims:
                d = c.hash_dir(node, dev, 0, part, hsh)
                try:
                    if not any(f.endswith('.data') for f in os.listdir(d)):
                        missing += 1
                except OSError:
                    missing += 1
            if all(node is not source for node, _ in prims):
                d = c.hash_dir(source, source.devices[0], 0, part, hsh)
                try:
                    leftover += any(f.endswith('.data') for f in os.listdir(d))
                except OSError:
                    pass
        return missing, leftover

    def wait_quiet(self):
        a = self.args
        l1 = load1()
        if a.max_load > 0 and l1 >= a.max_load:
            log('load average %.2f >= %.2f: waiting (up to %ds)' % (l1, a.max_load,
                                                                    a.load_wait))
            deadline = time.monotonic() + a.load_wait
            while l1 >= a.max_load and time.monotonic() < deadline:
                time.sleep(10)
                l1 = load1()
            if l1 >= a.max_load:
                self.note('some runs started with the load average above %.1f' % a.max_load)
        self.max_load_seen = max(self.max_load_seen, l1)
        return l1

    # -- one replicator pass -------------------------------------------------------------

    def replicator_pass(self, c, node, m, label):
        """Runs one `once` pass of the method's replicator for node under /usr/bin/time.
        Returns dict(wall, pass_s, rc, user_s, sys_s, maxrss_kb, cluster_cpu_s, log)."""
        c.set_replicator_options(sync_method=m.sync_method)
        self.run_counter += 1
        base = os.path.join(self.log_dir, '%04d-%s-%s' % (
            self.run_counter, label, m.name.replace('/', '_')))
        if m.tool == 'swift':
            cmd = [SWIFT_REPLICATOR, node.conf_path, 'once', '-v']
        else:
            cmd = [self.args.replicant, 'replicate', node.conf_path, '--once']
        env = c.env
        if m.variant == 'nodelay':
            env = dict(env, PATH=self.nodelay_dir() + os.pathsep + env['PATH'])
        cpu0 = self.cluster_cpu(c)
        with open(base + '.log', 'wb') as logf:
            t0 = time.monotonic()
            p = subprocess.Popen([GNU_TIME, '-v', '-o', base + '.time'] + cmd,
                                 stdin=subprocess.DEVNULL, stdout=logf,
                                 stderr=subprocess.STDOUT, env=env, cwd=c.dir,
                                 start_new_session=True)
            # A blocking wait sees the exit at once; Popen.wait(timeout) polls, sleeping up
            # to 50 ms, which skewed sub-second passes by as much. A timer kills overruns.
            killed = threading.Event()

            def kill():
                killed.set()
                os.killpg(p.pid, 9)
            timer = threading.Timer(self.args.pass_timeout, kill)
            timer.start()
            rc = p.wait()
            wall = time.monotonic() - t0
            timer.cancel()
            if killed.is_set():
                self.note('%s: a pass ran over %ds and was killed' % (m.name,
                                                                     self.args.pass_timeout))
        cpu1 = self.cluster_cpu(c)
        with open(base + '.log', 'rb') as f:
            text = f.read().decode('utf-8', 'replace')
        out = parse_gnu_time(base + '.time')
        out.update(wall=wall, pass_s=parse_pass_seconds(text), rc=rc,
                   cluster_cpu_s=cpu1 - cpu0, log=base + '.log')
        return out

    def nodelay_dir(self):
        """A dir with an `rsync` that adds --sockopts=TCP_NODELAY (client side; the cluster's
        rsyncd.conf already sets it on the daemon side)."""
        d = os.path.join(self.args.workdir, 'rsync-nodelay')
        path = os.path.join(d, 'rsync')
        text = '#!/bin/sh\nexec /usr/bin/rsync --sockopts=TCP_NODELAY "$@"\n'
        os.makedirs(d, exist_ok=True)
        if not os.path.exists(path) or open(path).read() != text:
            with open(path, 'w') as f:
                f.write(text)
            os.chmod(path, 0o755)
        return d

    def converge(self, scenario, c, node, m, rep, manifest, primaries, copies, nbytes):
        """Passes of node's replicator until converged (at most --max-passes)."""
        tot = collections.Counter()
        maxrss, passes, rcs, note = 0, 0, [], ''
        missing = leftover = None
        pass_s = 0.0
        l1 = self.wait_quiet()
        for _ in range(self.args.max_passes):
            r = self.replicator_pass(c, node, m, scenario)
            passes += 1
            rcs.append(r['rc'])
            for k in ('wall', 'user_s', 'sys_s', 'cluster_cpu_s'):
                tot[k] += r[k]
            pass_s += r['pass_s'] if r['pass_s'] is not None else r['wall']
            maxrss = max(maxrss, r['maxrss_kb'])
            missing, leftover = self.check(c, manifest, primaries, node)
            if missing == 0 and leftover == 0:
                break
        converged = missing == 0 and leftover == 0
        if not converged:
            note = '%d replicas missing, %d handoff copies left after %d passes (log %s)' % (
                missing, leftover, passes, r['log'])
            self.note('%s %s repeat %d did not converge: %s' % (scenario, m.name, rep, note))
        elif any(rcs):
            note = 'exit codes %s' % rcs
        run = Run(scenario, m.name, rep, tot['wall'], pass_s, passes, converged,
                  max(rcs, key=abs), tot['user_s'], tot['sys_s'], maxrss,
                  tot['cluster_cpu_s'], l1, len(manifest['objects']), copies, nbytes, note)
        self.record(run)
        return run

    def record(self, run):
        self.runs.append(run)
        # On disk at once: a run cut off (a stop, a lost machine) keeps its timed passes.
        report.write_partial_runs(self.args.out, self.runs)
        rate = run.objects / run.wall if run.wall > 0 else 0
        log('  %-14s %-24s #%d %8.2fs  %7.0f obj/s  cpu %.1fs  rss %.0f MB  cluster cpu '
            '%.1fs  passes %d%s' % (run.scenario, run.method, run.repeat, run.wall, rate,
                                    run.user_s + run.sys_s, run.maxrss_kb / 1024.0,
                                    run.cluster_cpu_s, run.passes,
                                    '' if run.converged else '  NOT CONVERGED'))

    def limit_run(self, scenario, template, rep, manifest):
        """The limit rows (limits.py): tar, tar + sync, and the fsync-per-file copy."""
        return limits.run_all(self, scenario, template, rep, manifest)

    # -- scenarios -----------------------------------------------------------------------

    def template(self, count, size, part_power):
        return seed.build_template(self.templates_dir, count, size, part_power, log=log)

    def scenario_initial(self, scenario, count, size):
        a = self.args
        cl, methods = self.scenario_methods('initial', a.part_power, scenario)
        try:
            tpl = self.template(count, size, a.part_power)
            manifest = seed.load_manifest(tpl)
            prims = {k: self.primaries_of(c) for k, c in cl.items()}
            for k, c in cl.items():
                c.bench_prims = prims[k]
            copies = sum(1 for _, part, _, _ in manifest['objects']
                         for node, _ in prims['swift'][part] if node.index != SOURCE_NODE)
            log('%s: %d objects x %d B, %d replica copies to make, methods: %s' % (
                scenario, count, size, copies, ', '.join(m.name for m in methods)))
            order = methods + ([LIMIT] if self.relays is None else [])
            for rep in range(a.repeat):
                for item in rotate(order, rep):
                    if item == LIMIT:
                        self.limit_run(scenario, tpl, rep, manifest)
                        continue
                    c = cl[item.peers]
                    self.wipe(c)
                    seed.link_partitions(tpl, c.nodes[SOURCE_NODE].device_path())
                    subprocess.run(['sync'], check=False)
                    self.converge(scenario, c, c.nodes[SOURCE_NODE], item, rep, manifest,
                                  c.bench_prims, copies, copies * size)
        finally:
            self.done_with(cl)

    def scenario_idle(self, part_power):
        a = self.args
        scenario = 'idle-pp%d%s' % (part_power, self.scenario_suffix)
        cl, methods = self.scenario_methods('idle', part_power, scenario)
        try:
            tpl = self.template(a.idle_objects, a.size, part_power)
            manifest = seed.load_manifest(tpl)
            parts = len(os.listdir(os.path.join(tpl, seed.DEVICE, 'objects')))
            for k, c in cl.items():
                c.bench_prims = self.primaries_of(c)
                self.layout(c, tpl, c.bench_prims)
                subprocess.run(['sync'], check=False)
            n0 = len(os.listdir(os.path.join(
                cl['swift'].nodes[SOURCE_NODE].device_path(), 'objects')))
            log('%s: %d objects in %d partitions, %d of them on node %d; methods: %s' % (
                scenario, len(manifest['objects']), parts, n0, SOURCE_NODE,
                ', '.join(m.name for m in methods)))
            # warm-up: the pass that follows convergence hashes everything once
            for m in methods:
                c = cl[m.peers]
                r = self.replicator_pass(c, c.nodes[SOURCE_NODE], m, scenario + '-warmup')
                missing, leftover = self.check(c, manifest, c.bench_prims,
                                               c.nodes[SOURCE_NODE])
                log('  warm-up %s: %.2fs, rc %d, missing %d' % (m.name, r['wall'], r['rc'],
                                                               missing))
            for rep in range(a.repeat):
                for m in rotate(methods, rep):
                    c = cl[m.peers]
                    self.converge(scenario, c, c.nodes[SOURCE_NODE],
                                  m, rep, manifest, c.bench_prims, 0, 0)
        finally:
            self.done_with(cl)

    def scenario_drain(self):
        a = self.args
        scenario = 'drain'
        cl, methods = self.scenario_methods('drain', a.part_power, scenario)
        try:
            tpl = self.template(a.objects, a.size, a.part_power)
            manifest = seed.load_manifest(tpl)
            for k, c in cl.items():
                c.bench_old_prims = self.primaries_of(c)
                priority.drain_ring(c, DRAIN_NODE)
                c.bench_prims = self.primaries_of(c)
            old, new = cl['swift'].bench_old_prims, cl['swift'].bench_prims
            moved = [o for o in manifest['objects']
                     if any(n.index == DRAIN_NODE for n, _ in old[o[1]])]
            copies = len(moved)
            moved_manifest = dict(manifest, objects=moved)
            log('%s: node %d weight 0: %d of %d objects (%d partitions) to move; methods: '
                '%s' % (scenario, DRAIN_NODE, len(moved), len(manifest['objects']),
                        len({o[1] for o in moved}), ', '.join(m.name for m in methods)))
            assert all(all(n.index != DRAIN_NODE for n, _ in new[p]) for p in new)
            order = methods + [LIMIT]
            for rep in range(a.repeat):
                for item in rotate(order, rep):
                    if item == LIMIT:
                        self.limit_run(scenario, tpl, rep, manifest)
                        continue
                    c = cl[item.peers]
                    self.layout(c, tpl, c.bench_old_prims)
                    subprocess.run(['sync'], check=False)
                    self.converge(scenario, c, c.nodes[DRAIN_NODE], item, rep,
                                  moved_manifest, c.bench_prims, copies, copies * a.size)
        finally:
            for c in cl.values():  # its ring changed: no other scenario may use it
                self.retire_cluster(c)


def rotate(items, k):
    k %= max(1, len(items))
    return items[k:] + items[:k]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.report_only:
        runs, notes, info = report.load_runs(args.out, Run)
        rows = report.summarize(runs, BASELINE, LIMIT, DURABLE_LIMITS)
        report.write_all(args.out, rows, runs, notes, info, BASELINE, LIMIT)
        priority.draw_chart(args.out, runs)
        scale_report.write_report(args.out, runs)
        rtt.write_report(args.out, rows)
        print(report.text_table(rows))
        return 0
    private_etc.reexec_isolated()  # the clusters' swift.conf must not replace the host's
    t0 = time.monotonic()
    cluster_mod.install_swift_conf()
    replicant_test.set_swift_hash()
    report.keep_interrupted_runs(args.out)
    bench = Bench(args)
    log('replicant %s, workdir %s, logs %s, load average %.2f' % (
        args.replicant, args.workdir, bench.log_dir, load1()))
    info = machine_info(args)
    # canonical order: drain changes its cluster's ring, so it goes last
    todo = rtt.plan(args, ALL_SCENARIOS, info)
    try:
        for i, (s, pp, rtt_ms) in enumerate(todo):
            bench.part_powers_ahead = [p for _, p, _ in todo[i + 1:]]
            if rtt_ms is not None:
                rtt.enter(bench, rtt_ms)
            if s == 'initial-small':
                bench.scenario_initial(s + bench.scenario_suffix, args.objects, args.size)
            elif s == 'initial-large':
                bench.scenario_initial(s + bench.scenario_suffix, args.large_objects,
                                       args.large_size)
            elif s == 'idle':
                bench.scenario_idle(pp)
            elif s == 'drain':
                bench.scenario_drain()
            elif s in ('restore', 'rebalance'):
                priority.run_scenario(bench, s, rotate)
            elif s == 'scale':
                scale.run_scenario(bench, rotate)
    except KeyboardInterrupt:
        bench.note('interrupted: partial results')
    finally:
        bench.stop_all()
        if args.fs_image:
            unmount_fs_image(args)
    info['max load1 at run start'] = '%.2f' % bench.max_load_seen
    info['bench wall time'] = '%.0fs' % (time.monotonic() - t0)
    rows = report.summarize(bench.runs, BASELINE, LIMIT, DURABLE_LIMITS)
    os.makedirs(args.out, exist_ok=True)
    report.write_all(args.out, rows, bench.runs, bench.notes, info, BASELINE, LIMIT)
    report.drop_partial_runs(args.out)
    priority.draw_chart(args.out, bench.runs)
    scale_md = scale_report.write_report(args.out, bench.runs)
    rtt.write_report(args.out, rows)
    print()
    print(report.text_table(rows))
    print('\n'.join(scale_md[3:]))
    for n in bench.notes:
        print('note: ' + n)
    print('\nresults in %s (%.0fs)' % (args.out, time.monotonic() - t0))
    return 0 if all(r.converged for r in bench.runs) else 1


if __name__ == '__main__':
    sys.exit(main())
