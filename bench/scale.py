"""Growth curves (issue 20): how node 0's idle pass, its full-rehash pass and the
replicator's peak RSS grow with the objects and the part power.

One cell per (objects N, part power P) of --scale-objects x --scale-part-powers:

  tree        the first N objects of one master template (seed.build_template at the
              largest N and MASTER_PART_POWER, written once and cached), hard-linked
              (os.link, no copy) into each primary of their partition at part power P: a
              converged cluster. An object's partition is the top P bits of its hash, so
              one master serves every part power; only dirs are new per node (inodes: see
              docs/bench.md). With --scale-resume, laid over the tree a kept cluster of
              the same name was left with (a layout cut off midway) instead of anew.
  warm-up     one untimed pass of each method (warm_up_methods): it writes node 0's
              hashes.pkl (and, through REPLICATE, the peers'), as a converged cluster
              that ran before has them.
  scale-idle-nN-ppP    node 0's `once` pass with nothing to do, every hashes.pkl valid.
  scale-rehash-nN-ppP  node 0's `once` pass right after every hashes.pkl and hashes.invalid
              on node 0 was removed: a full rehash of its partitions (the peers keep
              theirs), what the first pass after a restart costs when no hashes survive;
              node 0's tree is listed first (warm_tree), so every method finds it cached.

Wall time (end to end: exec to exit) and peak RSS (/usr/bin/time -v) of the replicator
process; the runs go into runs.csv like every scenario's. The methods of one peers kind
(Swift object servers, `replicant serve`) run on one cluster, laid out for them and wiped
after: two laid-out copies of a 10^6-object tree at part power 18 would not fit the
inodes of a 16M-inode disk. Within a kind the order rotates per repeat; idle and rehash
alternate per method. Swift's replicator runs once per cell (not --repeat times) in
cells of --scale-once-objects objects or more, with a note: its passes there take long.

Per cell the reference for a partition's cost is measured on node 0 right after the
warm-up (partition_reference): one stat of the partition dir and one open + read +
close of its hashes.pkl, by tools/partition_ref (C++; a Python loop when it is not
built), with a warm cache like the passes; a loopback round trip is counted as 0.
scale_report.py fits and charts the runs. Not thread-safe: the bench's main thread only.
"""
import csv
import errno
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import report
import seed
from host import log
from options import Run

SOURCE_NODE = 0
# The master's own part power: any serves every cell (a partition is a prefix of the hash);
# fixed, so that grids run in parts (one --out each) share one cached master.
MASTER_PART_POWER = 10
CELLS_CSV = 'scale_cells.csv'
# os.listdir/mkdir/link drop the GIL: threads give a cold disk a deeper I/O queue
LAYOUT_THREADS = 16
CELL_FIELDS = ['objects', 'part_power', 'partitions', 'node0_partitions', 'node0_objects',
               'ref_us_per_partition', 'ref_how', 'rtt_us']


def scenario_name(kind, objects, part_power):
    return 'scale-%s-n%d-pp%d' % (kind, objects, part_power)


def _data_files(hdirs):
    """The one .data of each of a master's hash dirs."""
    out = []
    for hdir in hdirs:
        files = [f for f in os.listdir(hdir) if f.endswith('.data')]
        if len(files) != 1:
            raise RuntimeError('master template: %s holds %r' % (hdir, files))
        out.append(os.path.join(hdir, files[0]))
    return out


class Master:
    """The master template's objects: (name, hash, size, path of its .data) in seeding
    order, so the first N of them are the N-object tree at any part power."""

    def __init__(self, bench, count):
        self.path = bench.template(count, bench.args.size, MASTER_PART_POWER)
        manifest = seed.load_manifest(self.path)
        objects_dir = os.path.join(self.path, seed.DEVICE, 'objects')
        hdirs = [os.path.join(objects_dir, str(part), hsh[-3:], hsh)
                 for _, part, hsh, _ in manifest['objects']]
        # listed LAYOUT_THREADS at a time: a cold 10^6-dir master is a million disk reads
        chunks = [hdirs[i:i + 1024] for i in range(0, len(hdirs), 1024)]
        with ThreadPoolExecutor(LAYOUT_THREADS) as pool:
            datas = [d for chunk in pool.map(_data_files, chunks) for d in chunk]
        self.objects = [(name, hsh, size, data) for (name, _, hsh, size), data
                        in zip(manifest['objects'], datas)]

    def manifest(self, count, part_power):
        """bench.check's manifest of the first `count` objects at part_power."""
        shift = 32 - part_power
        return {'objects': [[name, int(hsh[:8], 16) >> shift, hsh, size]
                            for name, hsh, size, _ in self.objects[:count]]}


HELD = '.held'  # under the clusters dir: trees kept across a cluster restart (--scale-resume)
HANDED_OVER = 'HANDED-OVER'  # in HELD/<cluster>: "count part_power" of a shared tree


def hold_trees(clusters_dir, base):
    """--scale-resume: moves each node's devices dir of the kept cluster at base aside
    (a rename; the cluster dir itself is then made anew), for lay_out to take back."""
    held = os.path.join(clusters_dir, HELD, os.path.basename(base))
    if not os.path.isdir(base):
        return
    for name in os.listdir(base):
        devices = os.path.join(base, name, 'devices')
        if os.path.isdir(devices) and not os.path.exists(os.path.join(held, name)):
            os.makedirs(held, exist_ok=True)
            os.rename(devices, os.path.join(held, name))


def take_back_trees(bench, c):
    """Puts the trees hold_trees kept back under c's nodes (same cluster name, same
    ring seed: the same partitions on the same nodes); False when there were none."""
    held = os.path.join(bench.clusters_dir, HELD, os.path.basename(c.bench_base))
    found = False
    for node in c.nodes:
        kept = os.path.join(held, node.name)
        if os.path.isdir(kept):
            shutil.rmtree(node.devices_dir)  # the new cluster's empty devices
            os.rename(kept, node.devices_dir)
            found = True
    if os.path.isdir(held):
        os.rmdir(held)  # only a node no longer in the cluster would leave it non-empty
    return found


def _lay_out_partition(part, objects, primaries, resume):
    """Links one partition's objects onto each of its primaries. resume: the dirs and
    links may exist already (kept), and a hashes.pkl there is stale."""
    for node, dev in primaries:
        pdir = os.path.join(node.device_path(dev), 'objects', str(part))
        os.makedirs(pdir, exist_ok=resume)
        if resume:
            for name in ('hashes.pkl', 'hashes.invalid'):
                try:
                    os.unlink(os.path.join(pdir, name))
                except FileNotFoundError:
                    pass
        for hsh, src in objects:
            sdir = os.path.join(pdir, hsh[-3:])
            os.makedirs(os.path.join(sdir, hsh), exist_ok=True)
            try:
                os.link(src, os.path.join(sdir, hsh, os.path.basename(src)))
            except FileExistsError:
                if not resume:
                    raise


def hand_over_tree(bench, src, dst, count, part_power):
    """--scale-share-tree: moves src's tree, which its passes left converged, with its
    hashes.pkl, to where dst's lay_out takes it back (a rename per node: the same ring
    seed puts the same partitions on the same nodes in every kind's cluster), and notes
    for which cell it is, so no other cell takes it as laid out."""
    held = os.path.join(bench.clusters_dir, HELD, os.path.basename(dst.bench_base))
    os.makedirs(held, exist_ok=True)
    for node in src.nodes:
        os.rename(node.devices_dir, os.path.join(held, node.name))
        os.makedirs(node.devices_dir)  # src's servers still run: leave them an empty dir
    with open(os.path.join(held, HANDED_OVER), 'w') as f:
        f.write('%d %d\n' % (count, part_power))


def _take_handover_note(bench, c):
    """(count, part_power) of a tree handed over to c (the note is removed), or None."""
    path = os.path.join(bench.clusters_dir, HELD, os.path.basename(c.bench_base),
                        HANDED_OVER)
    try:
        with open(path) as f:
            count, part_power = (int(x) for x in f.read().split())
    except FileNotFoundError:
        return None
    os.unlink(path)
    return count, part_power


def lay_out(bench, c, master, count, manifest, primaries):
    """Hard-links the first `count` master objects onto every primary of their partition:
    c wiped first, or, with --scale-resume, over the tree a kept cluster held. A tree the
    previous kind handed over for this very cell is taken as it is. Returns how the tree
    came: 'new', 'resumed' or 'handed over'."""
    handed = _take_handover_note(bench, c)
    found = (handed is not None or bench.args.scale_resume) and take_back_trees(bench, c)
    if found and handed == (count, c.bench_part_power):
        return 'handed over'
    resume = found and bench.args.scale_resume
    if not resume:
        bench.wipe(c)  # also a tree handed over for another cell (a run cut off)
    by_part = {}
    for (_, part, hsh, _), (_, _, _, src) in zip(manifest['objects'], master.objects[:count]):
        by_part.setdefault(part, []).append((hsh, src))
    with ThreadPoolExecutor(LAYOUT_THREADS) as pool:
        for f in [pool.submit(_lay_out_partition, part, objs, primaries[part], resume)
                  for part, objs in by_part.items()]:
            f.result()
    return 'resumed' if resume else 'new'


def remove_hashes(objects_dir):
    """Removes every partition's hashes.pkl and hashes.invalid; returns how many."""
    n = 0
    for part in os.listdir(objects_dir):
        for name in ('hashes.pkl', 'hashes.invalid'):
            try:
                os.unlink(os.path.join(objects_dir, part, name))
                n += 1
            except FileNotFoundError:
                pass
    return n


def warm_tree(objects_dir):
    """Lists every directory under objects_dir (untimed), so that every method's rehash
    pass starts with node 0's dentries cached, whichever method ran before it. Without it
    a pass found the tree as the previous one left it: at 10^6 objects, part power 10, the
    two kinds' trees did not both stay cached, and native's rehash read 3.4M blocks from
    disk (sys 40 s) where replicant-rsync's, run right after Swift's, read 0.5M (sys 21 s)."""
    subprocess.run(['find', objects_dir, '-mindepth', '1'], stdout=subprocess.DEVNULL,
                   check=False)


def partition_reference(bench, objects_dir, rounds=5):
    """(microseconds, how) per partition for one stat of its dir + one open/read/close of
    its hashes.pkl: tools/partition_ref (C++) when built next to the replicant binary,
    else the same loop in Python (the interpreter's overhead included); the fastest of
    `rounds` loops over every partition with a hashes.pkl. (None, why) when neither ran.
    Also the tool's loopback round trip (µs; None without the tool) as a third item."""
    tool = os.path.join(os.path.dirname(os.path.abspath(bench.args.replicant)), 'tools',
                        'partition_ref')
    if os.access(tool, os.X_OK):
        p = subprocess.run([tool, objects_dir, str(rounds)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode == 0:
            f = p.stdout.split()
            rtt = float(f[2]) if len(f) > 2 and float(f[2]) >= 0 else None
            return float(f[0]), 'C++', rtt
        return None, p.stdout.strip()[-200:], None
    parts = [os.path.join(objects_dir, p) for p in os.listdir(objects_dir)
             if os.path.exists(os.path.join(objects_dir, p, 'hashes.pkl'))]
    if not parts:
        return None, 'no hashes.pkl', None
    per = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for p in parts:
            os.stat(p)
            fd = os.open(p + '/hashes.pkl', os.O_RDONLY)
            while os.read(fd, 65536):
                pass
            os.close(fd)
        per.append((time.perf_counter() - t0) / len(parts) * 1e6)
    return min(per), 'Python', None


def timed_pass(bench, c, m, scenario, rep, objects, note=''):
    node = c.nodes[SOURCE_NODE]
    l1 = bench.wait_quiet()
    r = bench.replicator_pass(c, node, m, scenario)
    if r['rc'] != 0:
        note = (note + '; ' if note else '') + 'exit code %d (log %s)' % (r['rc'], r['log'])
        bench.note('%s %s repeat %d: %s' % (scenario, m.name, rep, note))
    run = Run(scenario, m.name, rep, r['wall'], r['pass_s'], 1, r['rc'] == 0, r['rc'],
              r['user_s'], r['sys_s'], r['maxrss_kb'], r['cluster_cpu_s'], l1, objects, 0, 0,
              note)
    bench.record(run)
    return run


def run_kind(bench, c, methods, master, count, part_power, cell, rotate):
    """Lays the cell's tree out on c, warms up, times idle and rehash passes of methods."""
    a = bench.args
    manifest = master.manifest(count, part_power)
    prims = bench.primaries_of(c)
    t0 = time.monotonic()
    try:
        how = lay_out(bench, c, master, count, manifest, prims)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # With --keep a cut-off tree is worth keeping: finishing it costs less than
        # laying it out again.
        st = os.statvfs(c.bench_base)
        then = ('the tree so far stays in %s: free space, then run again with --keep '
                '--scale-resume' % c.bench_base if a.keep else 'free space and run again')
        raise SystemExit('scale n=%d pp%d: laying out the tree: %s (now %.1f GB and %d '
                         'inodes available); %s' % (count, part_power, e,
                                                    st.f_bavail * st.f_frsize / 1e9,
                                                    st.f_favail, then))
    if how == 'handed over':
        bench.note('scale n=%d pp%d (%s peers): the tree and its hashes.pkl are the ones '
                   'the previous kind of peers left converged (--scale-share-tree)' % (
                       count, part_power, c.bench_peers))
    subprocess.run(['sync'], check=False)
    node = c.nodes[SOURCE_NODE]
    objects_dir = os.path.join(node.device_path(), 'objects')
    parts0 = {int(p) for p in os.listdir(objects_dir)}
    cell.update(partitions=len({o[1] for o in manifest['objects']}),
                node0_partitions=len(parts0),
                node0_objects=sum(1 for o in manifest['objects'] if o[1] in parts0))
    log('scale n=%d pp%d (%s peers): tree %s in %.0fs; node 0 holds %d partitions, %d '
        'objects; methods %s' % (count, part_power, c.bench_peers, how, time.monotonic() - t0,
                                 cell['node0_partitions'], cell['node0_objects'],
                                 ', '.join(m.name for m in methods)))
    once = count >= a.scale_once_objects
    for m in warm_up_methods(methods, once):
        r = bench.replicator_pass(c, node, m, 'scale-warmup')
        log('  warm-up %s: %.2fs, rc %d' % (m.name, r['wall'], r['rc']))
    missing, leftover = bench.check(c, manifest, prims, node)
    if missing or leftover:
        bench.note('scale n=%d pp%d (%s peers): the warm-up left %d replicas missing, %d '
                   'left over' % (count, part_power, c.bench_peers, missing, leftover))
    if cell.get('ref_us_per_partition') is None:
        cell['ref_us_per_partition'], cell['ref_how'], cell['rtt_us'] = partition_reference(
            bench, objects_dir)
        if cell['ref_us_per_partition'] is None:
            bench.note('scale n=%d pp%d: no partition reference: %s' % (
                count, part_power, cell['ref_how']))
    first = len(bench.runs)
    for rep in range(a.repeat):
        for m in rotate(methods, rep):
            if rep and once and m.tool == 'swift':
                continue
            note = 'run once: >= %d objects' % a.scale_once_objects \
                if once and m.tool == 'swift' and a.repeat > 1 else ''
            timed_pass(bench, c, m, scenario_name('idle', count, part_power), rep, count, note)
            removed = remove_hashes(objects_dir)
            subprocess.run(['sync'], check=False)
            warm_tree(objects_dir)
            run = timed_pass(bench, c, m, scenario_name('rehash', count, part_power), rep,
                             count, note)
            if not removed:
                bench.note('%s: no hashes.pkl to remove before the rehash pass' % run.scenario)
    missing, leftover = bench.check(c, manifest, prims, node)
    if missing or leftover:
        # an idle pass must leave a converged tree alone: these runs measured something else
        note = '%d replicas missing, %d left over after the passes' % (missing, leftover)
        bench.note('scale n=%d pp%d (%s peers): %s' % (count, part_power, c.bench_peers, note))
        bench.runs[first:] = [r._replace(converged=False, note=note) for r in bench.runs[first:]]
    return not (missing or leftover)


def warm_up_methods(methods, once):
    """Every method warms up; in cells where Swift runs once, one replicant method does it
    for all: the hashes.pkl it leaves (node 0's, and the peers' through REPLICATE) are
    Swift's format, which every method finds valid, and Swift's own warm-up there is a full
    rehash of ~20 minutes at part power 18."""
    if not once:
        return methods
    ours = [m for m in methods if m.tool != 'swift']
    return ours[:1] or methods[:1]


def run_scenario(bench, rotate):
    """Every cell, part power by part power (one cluster pair each), objects inner."""
    a = bench.args
    master = Master(bench, max(a.scale_objects))
    os.makedirs(a.out, exist_ok=True)
    cells = []
    for part_power in a.scale_part_powers:
        cl, methods = bench.scenario_methods('scale', part_power, 'scale-pp%d' % part_power)
        try:
            for count in a.scale_objects:
                cell = {'objects': count, 'part_power': part_power,
                        'ref_us_per_partition': None}
                kinds = [(peers, [m for m in methods if m.peers == peers])
                         for peers in a.scale_kinds]
                kinds = [(peers, ms) for peers, ms in kinds if ms]
                for i, (peers, ms) in enumerate(kinds):
                    converged = run_kind(bench, cl[peers], ms, master, count, part_power,
                                         cell, rotate)
                    after = kinds[i + 1][0] if i + 1 < len(kinds) else None
                    if a.scale_share_tree and after and converged:
                        hand_over_tree(bench, cl[peers], cl[after], count, part_power)
                    elif not a.keep:  # --keep: the trees stay for profiling
                        bench.wipe(cl[peers])  # its dirs cost inodes the next layout needs
                cells.append(cell)
                # Each finished cell is on disk at once: a run cut off (a stop, a lost
                # machine) keeps its cells, and `--report-only` reports them.
                write_cells(a.out, cells)
                report.write_all_runs(a.out, bench.runs)
        finally:
            for c in list(cl.values()):
                bench.retire_cluster(c)
    return cells


def write_cells(out_dir, cells):
    with open(os.path.join(out_dir, CELLS_CSV), 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=CELL_FIELDS, extrasaction='ignore')
        w.writeheader()
        for c in cells:
            w.writerow({k: _cell_value(v) for k, v in c.items()})


def _cell_value(v):
    """Counts stay exact (read_cells gives floats back); measurements get 4 digits."""
    if isinstance(v, float):
        return int(v) if v.is_integer() else '%.4g' % v
    return v


def read_cells(out_dir):
    """{(objects, part_power): cell dict} from write_cells' CSV ({} when absent)."""
    try:
        with open(os.path.join(out_dir, CELLS_CSV), newline='') as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return {}
    out = {}
    for r in rows:
        cell = {k: (v if k == 'ref_how' else float(v) if v not in ('', 'None') else None)
                for k, v in r.items()}
        out[(int(cell['objects']), int(cell['part_power']))] = cell
    return out
