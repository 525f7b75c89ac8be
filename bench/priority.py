"""The priority-replication scenarios (issue 19): how long moved partitions wait.

  rebalance  a converged cluster; node 3's weight cut so that about a quarter of the
             partitions get a new primary (swift-ring-builder set_weight + rebalance).
             Done: every object of every moved partition has its .data on all its new
             primaries.
  restore    a converged cluster whose node 1 device was replaced by an empty one.
             Done: every object of that device's partitions is back on it.

Every method runs all four nodes' replicators as daemons with the same `interval`
(PASS_INTERVAL), started together right after the ring change (resp. the wipe), as a
cluster's replicators would be running; the time is from that moment until a poller sees
the done condition on disk. The `+moveparts` / `+restore-device` methods first run that
command (its time counts), then start the same daemons: their queued priority jobs run at
the start of each node's first pass, ahead of the shuffled jobs. Swift's replicator runs
with handoffs_first = true (what an operator sets for a rebalance); replicant with its
defaults. Not thread-safe: one scenario at a time, from the bench's main thread.
"""
import json
import os
import shutil
import signal
import subprocess
import time

import cluster as cluster_mod
import seed
from host import log, proc_cpu_seconds
from options import BASELINE, DURABLE_LIMITS, LIMIT, Run
import report

SWIFT_REPLICATOR = '/usr/bin/swift-object-replicator'
WEIGHT_NODE = 3     # rebalance: this node's weight is cut
NEW_WEIGHT = 60     # of 100: about a quarter of the partitions move (4 nodes, 3 replicas)
WIPED_NODE = 1      # restore: this node's device is replaced by an empty one
PASS_INTERVAL = 1   # seconds between a daemon's passes, every replicator alike
POLL_S = 0.2        # how often the done condition is checked on disk
CHART = 'priority_time_to_done.png'


# ----------------------------------------------------------------------------------------
# rings and placements

def reweight_ring(c, node_index, weight):
    """Sets the node's devices to `weight` and rebalances once (min_part_hours pretended
    passed), in one Python process running swift-ring-builder's main()."""
    node = c.nodes[node_index]
    builder = c.builder_path(0)
    cmds = [[[builder, 'set_weight', 'z%d-%s:%d/%s' % (node.zone, node.ip, node.ring_port, dev),
              str(weight)], [0]] for dev in node.devices]
    cmds += [[[builder, 'pretend_min_part_hours_passed'], [0]],
             [[builder, 'rebalance', '--seed', '1'], [0, 1]]]
    p = subprocess.run([cluster_mod.SWIFT_PYTHON, '-c', cluster_mod._RING_BATCH,
                        json.dumps(cmds)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=c.env, timeout=300)
    if p.returncode != 0:
        raise RuntimeError('swift-ring-builder failed:\n' + p.stdout[-2000:])
    c._rings.clear()


def drain_ring(c, node_index):
    """Sets the node's devices to weight 0 and rebalances until it holds no partition."""
    node = c.nodes[node_index]
    left = None
    for _ in range(6):
        reweight_ring(c, node_index, 0)
        ring = c.ring(0)
        left = sum(1 for part in range(2 ** c.bench_part_power)
                   for d in ring.get_part_nodes(part) if c.node_of(d) is node)
        if left == 0:
            return
    raise RuntimeError('node %d still holds %d partitions after rebalancing' % (node_index,
                                                                                 left))


def pending_copies(c, objects, start, target):
    """[(node, dev, part, hash)]: the replicas the done condition waits for, those on a
    target primary that the start placement lacks (the others are there from the start)."""
    out = []
    for _, part, hsh, _ in objects:
        have = set(map(key, start[part]))
        out += [(node, dev, part, hsh) for node, dev in target[part]
                if (node.index, dev) not in have]
    return out


def still_missing(c, pending):
    """The pending replicas with no .data yet (a primary's .data is never removed, so
    the caller keeps only these for its next look)."""
    out = []
    for node, dev, part, hsh in pending:
        try:
            if any(f.endswith('.data') for f in os.listdir(c.hash_dir(node, dev, 0, part,
                                                                      hsh))):
                continue
        except OSError:
            pass
        out.append((node, dev, part, hsh))
    return out


class Setup:
    """One cluster's state for a scenario: the placement each run starts from, the
    primaries and objects the done condition checks, the copies to make."""

    def __init__(self, start, target, objects, copies, old_ring=None):
        self.start, self.target, self.objects = start, target, objects
        self.copies, self.old_ring = copies, old_ring


def setup_rebalance(bench, c, manifest):
    old = bench.primaries_of(c)
    old_ring = os.path.join(c.bench_base, 'object.ring.gz.before-rebalance')
    shutil.copy(c.ring_path(0), old_ring)
    reweight_ring(c, WEIGHT_NODE, NEW_WEIGHT)
    new = bench.primaries_of(c)
    moved = {p for p in new if set(map(key, new[p])) != set(map(key, old[p]))}
    objects = [o for o in manifest['objects'] if o[1] in moved]
    copies = sum(1 for o in objects for pl in new[o[1]]
                 if key(pl) not in set(map(key, old[o[1]])))
    log('rebalance (%s): node %d weight %d: %d of %d partitions moved, %d of %d objects, '
        '%d copies to make' % (c.bench_peers, WEIGHT_NODE, NEW_WEIGHT, len(moved), len(new),
                               len(objects), len(manifest['objects']), copies))
    return Setup(old, new, objects, copies, old_ring)


def setup_restore(bench, c, manifest):
    prims = bench.primaries_of(c)
    wiped = c.nodes[WIPED_NODE]
    start = {p: [pl for pl in v if pl[0] is not wiped] for p, v in prims.items()}
    objects = [o for o in manifest['objects'] if any(n is wiped for n, _ in prims[o[1]])]
    log('restore (%s): node %d empty: %d of %d partitions, %d objects to restore' % (
        c.bench_peers, WIPED_NODE, sum(1 for p in prims if len(start[p]) < len(prims[p])),
        len(prims), len(objects)))
    return Setup(start, prims, objects, len(objects))


def key(placement):
    node, dev = placement
    return node.index, dev


# ----------------------------------------------------------------------------------------
# one timed run

def daemon_cmd(bench, m, node):
    if m.tool == 'swift':
        return [SWIFT_REPLICATOR, node.conf_path, '-v']
    return [bench.args.replicant, 'replicate', node.conf_path, '-v']


def priority_cmd(bench, c, m, st):
    if m.variant == 'moveparts':
        return [bench.args.replicant, 'moveparts', st.old_ring, '--swift-dir', c.swift_dir]
    node = c.nodes[WIPED_NODE]
    return [bench.args.replicant, 'restore-device', node.replication_ip, node.devices[0],
            '--port', str(node.ring_replication_port), '--swift-dir', c.swift_dir]


def timed_run(bench, scenario, c, m, rep, st, nbytes):
    """Lays the start placement out, starts every node's replicator daemon (after the
    priority command for the +variants) and waits until the done condition holds."""
    a = bench.args
    c.set_replicator_options(sync_method=m.sync_method, interval=PASS_INTERVAL,
                             handoffs_first='true' if m.tool == 'swift' else None)
    bench.layout(c, bench.bench_template, st.start)
    subprocess.run(['sync'], check=False)
    l1 = bench.wait_quiet()
    bench.run_counter += 1
    base = os.path.join(bench.log_dir, '%04d-%s-%s' % (bench.run_counter, scenario,
                                                       m.name.replace('/', '_')))
    procs, note = [], ''
    pending = pending_copies(c, st.objects, st.start, st.target)
    cpu0 = bench.cluster_cpu(c)
    t0 = time.monotonic()
    try:
        if m.variant:
            p = subprocess.run(priority_cmd(bench, c, m, st), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=c.env, timeout=300)
            with open(base + '-%s.log' % m.variant, 'w') as f:
                f.write(p.stdout)
            if p.returncode != 0:
                note = '%s exited %d: %s' % (m.variant, p.returncode, p.stdout.strip()[-200:])
                bench.note('%s %s: %s' % (scenario, m.name, note))
        for node in c.nodes:
            procs.append(cluster_mod.ManagedProcess(
                '%s-%s' % (node.name, m.name), daemon_cmd(bench, m, node),
                '%s-%s.log' % (base, node.name), env=c.env, cwd=c.dir))
        deadline = t0 + a.pass_timeout
        missing = still_missing(c, pending)
        while missing and time.monotonic() < deadline:
            time.sleep(POLL_S)
            missing = still_missing(c, missing)
        wall = time.monotonic() - t0
        cpu = sum(proc_cpu_seconds(p.pid) for p in procs)
        dead = [p.name for p in procs if not p.alive()]
    finally:
        for p in procs:
            p._signal(signal.SIGTERM)  # all at once; stop() waits for each
        for p in procs:
            p.stop()
    cluster_cpu = bench.cluster_cpu(c) - cpu0
    if missing:
        note = (note + '; ' if note else '') + '%d copies still missing after %.0fs' % (
            len(missing), wall)
        bench.note('%s %s repeat %d did not finish: %s (logs %s-*)' % (scenario, m.name, rep,
                                                                      note, base))
    if dead:
        bench.note('%s %s: replicators exited early: %s' % (scenario, m.name, dead))
    run = Run(scenario, m.name, rep, wall, None, 0, not missing, 0, cpu, 0.0, 0,
              cluster_cpu, l1, len(st.objects), st.copies, nbytes, note)
    bench.record(run)
    return run


# ----------------------------------------------------------------------------------------
# the scenarios

def run_scenario(bench, scenario, rotate):
    """rebalance or restore, every method interleaved, the order rotated per repeat."""
    a = bench.args
    cl, methods = bench.scenario_methods(scenario, a.part_power, scenario)
    try:
        bench.bench_template = bench.template(a.objects, a.size, a.part_power)
        manifest = seed.load_manifest(bench.bench_template)
        make = setup_rebalance if scenario == 'rebalance' else setup_restore
        setups = {k: make(bench, c, manifest) for k, c in cl.items()}
        log('%s: %d objects in %d partitions; methods: %s' % (
            scenario, len(manifest['objects']), 2 ** a.part_power,
            ', '.join(m.name for m in methods)))
        for rep in range(a.repeat):
            for m in rotate(methods, rep):
                st = setups[m.peers]
                timed_run(bench, scenario, cl[m.peers], m, rep, st, st.copies * a.size)
    finally:
        if scenario == 'rebalance':
            for c in cl.values():  # its ring changed: no other scenario may use it
                bench.retire_cluster(c)
        else:
            bench.done_with(cl)


# ----------------------------------------------------------------------------------------
# the chart

def draw_chart(out_dir, runs):
    """Median time to done per method, one panel per priority scenario, ×N vs Swift.
    Returns the file name, or None (no matplotlib, or no priority runs)."""
    rows = [r for r in report.summarize(runs, BASELINE, LIMIT, DURABLE_LIMITS)
            if r['scenario'] in ('rebalance', 'restore') and r['median_s']]
    scen = list(dict.fromkeys(r['scenario'] for r in rows))
    if not scen:
        return None
    plt = report.pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, len(scen), figsize=(4.5 * len(scen), 4.5), squeeze=False)
    for ax, s in zip(axes[0], scen):
        rs = [r for r in rows if r['scenario'] == s]
        vals = [r['median_s'] for r in rs]
        ax.bar(range(len(rs)), vals, color=['#d9822b' if r['method'].startswith('swift')
                                            else '#2b7bd9' for r in rs])
        ax.set_xticks(range(len(rs)))
        ax.set_xticklabels([r['method'].replace('replicant-', '') for r in rs],
                           rotation=20, ha='right', fontsize=8)
        for i, r in enumerate(rs):
            sp = r.get('speed_vs_baseline')
            label = '%.3g s' % r['median_s'] + ('' if r['method'] == BASELINE or sp is None
                                                else '\n×%.2g vs swift' % sp)
            ax.annotate(label, (i, r['median_s']), ha='center', va='bottom', fontsize=8)
        ax.set_title('%s: %d objects, %d copies' % (s, rs[0]['objects'], rs[0]['copies']),
                     fontsize=10)
        ax.set_ylabel('seconds until done (median)', fontsize=9)
        ax.margins(y=0.25)
    fig.suptitle('time until every missing copy is on its primary (rebalance: the moved '
                 'partitions; restore: the emptied device); lower is better', fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, CHART), dpi=90)
    plt.close(fig)
    with open(os.path.join(out_dir, 'results.md'), 'a') as f:
        f.write('![%s](%s)\n' % (os.path.splitext(CHART)[0], CHART))
    return CHART
