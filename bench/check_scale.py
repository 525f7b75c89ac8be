#!/usr/bin/python3
"""CTest bench.scale_checks: the pieces of the growth curves and the durable-copy limits
whose numbers go into the docs, checked without a cluster (a few seconds).

  fit        scale_report.fit recovers a, b, c of value = a*P + b*N + c from exact points,
             uses a smaller model when the points cannot separate the terms, and gives
             nothing without points
  hashes     scale.remove_hashes removes every partition's hashes.pkl and hashes.invalid
             and nothing else
  merge      scale_merge joins the cells of two runs with their counts exact, lists both
             sources, and refuses a cell that two runs measured
  partial    each timed pass is on disk as it ends (runs-partial.csv, read back whole);
             a new run moves an interrupted one's aside; a finished run drops it
  handover   --scale-share-tree: a converged tree goes to the next kind's cluster with
             its hashes.pkl, for its own cell only; one for another cell is wiped
  copy       durable_copy (file by file, and --batched with batches small enough that
             both syncfs groups and fsync groups, large files and the per-batch dir syncs
             all happen) leaves in every DEST exactly SRC's files, bodies and xattrs, and
             no temp file

  check_scale.py DURABLE_COPY_BINARY
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import scale  # noqa: E402
import scale_merge  # noqa: E402
import scale_report  # noqa: E402
from options import Run  # noqa: E402

XATTR = 'user.swift.metadata'


def check_fit():
    a, b, c = 2.5e-4, 3e-6, 0.12
    pts = [(p, n, a * p + b * n + c) for p, n in
           [(768, 7500), (5400, 7500), (768, 75000), (12000, 75000), (190000, 750000)]]
    name, fa, fb, fc = scale_report.fit(pts)
    assert name == 'a*P + b*N + c', name
    for want, got in ((a, fa), (b, fb), (c, fc)):
        assert abs(got - want) <= 1e-6 * abs(want), (want, got)
    # two cells of one object count: partitions and objects are not separable
    two = [(768, 7500, a * 768 + c), (5400, 7500, a * 5400 + c)]
    name, fa, fb, fc = scale_report.fit(two)
    assert name == 'a*P + c' and fb is None, (name, fb)
    assert abs(fa - a) <= 1e-6 * a and abs(fc - c) <= 1e-6 * c, (fa, fc)
    assert scale_report.fit([]) is None


def check_remove_hashes(tmp):
    objects = os.path.join(tmp, 'objects')
    keep = []
    for part in range(5):
        pdir = os.path.join(objects, str(part))
        os.makedirs(os.path.join(pdir, 'abc', 'f' * 29 + 'abc'))
        for name in ('hashes.pkl', 'hashes.invalid', '.lock'):
            if part % 2 == 0 or name != 'hashes.invalid':
                open(os.path.join(pdir, name), 'w').close()
        keep.append(os.path.join(pdir, '.lock'))
    assert scale.remove_hashes(objects) == 5 + 3
    left = sorted(os.path.join(r, f) for r, _, fs in os.walk(objects) for f in fs)
    assert left == sorted(keep), left


def fake_source(path, cells, tree):
    """A bench --out dir with one idle and one rehash run per method and cell."""
    os.makedirs(path)
    runs, rows = [], []
    for n, pp, parts in cells:
        rows.append({'objects': n, 'part_power': pp, 'partitions': parts * 4 // 3,
                     'node0_partitions': parts, 'node0_objects': n * 3 // 4 + 1,
                     'ref_us_per_partition': 11.5, 'ref_how': 'C++', 'rtt_us': 28.0})
        for method, per in (('swift-rsync', 4e-3), ('replicant-native/serve', 1.5e-4)):
            for kind in ('idle', 'rehash'):
                wall = per * parts * (1 if kind == 'idle' else 1.5)
                runs.append(Run(scale.scenario_name(kind, n, pp), method, 0, wall, wall, 1,
                                True, 0, 0.1, 0.1, 20000, 0.5, 0.3, n, 0, 0, ''))
    report.write_all_runs(path, runs)
    scale.write_cells(path, rows)
    with open(os.path.join(path, 'meta.json'), 'w') as f:
        f.write('{"info": {"date": "today", "replicant": "tree %s"}, "notes": []}' % tree)


def check_merge(tmp):
    a, b, out = (os.path.join(tmp, x) for x in ('run-a', 'run-b', 'merged'))
    fake_source(a, [(10000, 10, 767), (100000, 14, 12254)], 'aaaa')
    fake_source(b, [(1000000, 18, 196611)], 'bbbb')
    runs, cells, prov = scale_merge.merge([a, b])
    assert sorted(cells) == [(10000, 10), (100000, 14), (1000000, 18)], sorted(cells)
    assert len(runs) == 12 and [p['replicant'] for p in prov] == ['tree aaaa', 'tree bbbb']
    scale_merge.write(out, runs, cells, prov)
    back = scale.read_cells(out)
    assert back[(100000, 14)]['node0_objects'] == 75001, back[(100000, 14)]
    assert back[(1000000, 18)]['node0_partitions'] == 196611
    with open(os.path.join(out, 'scale.md')) as f:
        md = f.read()
    assert 'tree aaaa' in md and 'tree bbbb' in md and '| 1000000 | 18 | 196611 |' in md, md
    try:
        scale_merge.merge([a, b, a])
    except ValueError as e:
        assert 'in both' in str(e), e
    else:
        raise AssertionError('a cell measured twice was merged')


def check_partial(tmp):
    out = os.path.join(tmp, 'partial')
    runs = [Run('scale-idle-n10-pp6', 'swift-rsync', 0, 12.5 + k, 12.5 + k, 1, True, 0, 0.1,
                0.1, 20000, 0.5, 0.3, 10, 0, 0, '') for k in range(3)]
    for k in range(1, 4):
        report.write_partial_runs(out, runs[:k])
    os.rename(os.path.join(out, report.PARTIAL_RUNS), os.path.join(out, 'runs.csv'))
    back, _, _ = report.load_runs(out, Run)
    assert back == runs, back
    report.write_partial_runs(out, runs[:1])
    kept = report.keep_interrupted_runs(out)
    assert kept and os.path.exists(kept) and report.keep_interrupted_runs(out) is None
    assert not os.path.exists(os.path.join(out, report.PARTIAL_RUNS))
    report.write_partial_runs(out, runs)
    report.drop_partial_runs(out)
    report.drop_partial_runs(out)  # none: no error
    assert sorted(os.listdir(out)) == sorted(['runs.csv', os.path.basename(kept)])


class FakeNode:
    def __init__(self, base, name):
        self.name = name
        self.devices_dir = os.path.join(base, name, 'devices')

    def device_path(self, dev):
        return os.path.join(self.devices_dir, dev)


def check_resume(tmp):
    """A layout cut off midway is finished over the kept tree (--scale-resume)."""
    clusters = os.path.join(tmp, 'clusters')
    base = os.path.join(clusters, 'pp8-serve')
    nodes = [FakeNode(base, 'node%d' % i) for i in range(3)]
    src = []
    for i in range(5):
        path = os.path.join(tmp, 'master', 'o%d.data' % i)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, 'w').close()
        src.append(('%029x%03x' % (i, 0xa00 + i), path))
    prims = [(n, 'sdb1') for n in nodes]
    scale._lay_out_partition(7, src, prims, resume=False)

    def linked():
        return sorted(os.path.relpath(os.path.join(d, f), base)
                      for d, _, fs in os.walk(base) for f in fs)
    full = linked()
    assert len(full) == 15 and all(os.stat(os.path.join(base, f)).st_nlink == 4 for f in full)
    # cut off: a hash dir gone from one node, a link from another; a stale hashes.pkl
    p0 = os.path.join(nodes[0].device_path('sdb1'), 'objects', '7')
    shutil.rmtree(os.path.join(p0, src[2][0][-3:], src[2][0]))
    os.unlink(os.path.join(base, full[-1]))
    open(os.path.join(p0, 'hashes.pkl'), 'w').close()
    try:
        scale._lay_out_partition(7, src, prims, resume=False)
        raise AssertionError('a fresh layout over a tree must fail')
    except FileExistsError:
        pass
    scale.hold_trees(clusters, base)  # the kept cluster's trees, moved aside...
    assert not any(os.path.exists(n.devices_dir) for n in nodes)
    for n in nodes:  # ... while the new cluster starts with empty devices
        os.makedirs(n.device_path('sdb1'))
    bench = type('B', (), {'clusters_dir': clusters})()
    c = type('C', (), {'bench_base': base, 'nodes': nodes})()
    assert scale.take_back_trees(bench, c)
    assert not os.path.exists(os.path.join(clusters, scale.HELD, 'pp8-serve'))
    scale._lay_out_partition(7, src, prims, resume=True)
    assert linked() == full, linked()
    assert not scale.take_back_trees(bench, c)  # nothing held any more


def check_handover(tmp):
    """--scale-share-tree: a converged tree goes from one kind's cluster to the next with
    its hashes.pkl and is taken as laid out for that cell only; a tree handed over for
    another cell (a run cut off) is taken back and wiped, not used."""
    clusters = os.path.join(tmp, 'share')
    kinds = {}
    for kind in ('serve', 'swift'):
        base = os.path.join(clusters, 'pp8-' + kind)
        nodes = [FakeNode(base, 'node%d' % i) for i in range(2)]
        for n in nodes:
            os.makedirs(n.device_path('sdb1'))
        kinds[kind] = type('C', (), {'bench_base': base, 'nodes': nodes,
                                     'bench_part_power': 8})()
    for n in kinds['serve'].nodes:
        part = os.path.join(n.device_path('sdb1'), 'objects', '7')
        os.makedirs(os.path.join(part, 'abc', 'x' * 29 + 'abc'))
        open(os.path.join(part, 'hashes.pkl'), 'w').close()
    wiped = []
    bench = type('B', (), {'clusters_dir': clusters,
                           'args': type('A', (), {'scale_resume': False})(),
                           'wipe': staticmethod(wiped.append)})()
    master = type('M', (), {'objects': []})()
    scale.hand_over_tree(bench, kinds['serve'], kinds['swift'], 5, 8)
    assert all(os.listdir(n.devices_dir) == [] for n in kinds['serve'].nodes)
    how = scale.lay_out(bench, kinds['swift'], master, 5, {'objects': []}, {})
    assert how == 'handed over' and not wiped, (how, wiped)
    for n in kinds['swift'].nodes:
        assert os.path.exists(os.path.join(n.device_path('sdb1'), 'objects', '7',
                                           'hashes.pkl'))
    assert not os.path.exists(os.path.join(clusters, scale.HELD, 'pp8-swift'))
    scale.hand_over_tree(bench, kinds['swift'], kinds['serve'], 5, 8)
    how = scale.lay_out(bench, kinds['serve'], master, 6, {'objects': []}, {})
    assert how == 'new' and wiped == [kinds['serve']], (how, wiped)
    assert all(os.path.exists(os.path.join(n.device_path('sdb1'), 'objects'))
               for n in kinds['serve'].nodes)  # taken back, for the wipe to remove


def make_tree(src):
    rng = random.Random(7)
    files = {}
    for i in range(300):
        size = 3 << 20 if i % 97 == 5 else rng.randrange(0, 9000)
        rel = os.path.join('objects', str(i % 11), '%03x' % (i % 23), 'h%04d' % i,
                           '17000%05d.00000.data' % i)
        path = os.path.join(src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        body = rng.randbytes(size)
        with open(path, 'wb') as f:
            f.write(body)
        meta = ('meta-%d' % i).encode() * (1 + i % 40)
        os.setxattr(path, XATTR, meta)
        files[rel] = (body, meta)
    return files


def check_copy(tool, tmp):
    src = os.path.join(tmp, 'src')
    files = make_tree(src)
    for flags in ([], ['--batched', '--batch-files', '50'], ['--batched', '--batch-files',
                                                              '1000', '--batch-bytes', '100000']):
        dests = [os.path.join(tmp, 'dest%d' % i) for i in range(3)]
        for d in dests:
            shutil.rmtree(d, ignore_errors=True)
        p = subprocess.run([tool] + flags + [os.path.join(src, 'objects')] +
                           [os.path.join(d, 'objects') for d in dests],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        total = sum(len(b) for b, _ in files.values())
        assert p.returncode == 0, (flags, p.stdout)
        assert p.stdout.split() == [str(len(files) * 3), str(total * 3)], (flags, p.stdout)
        for d in dests:
            found = {os.path.relpath(os.path.join(r, f), d)
                     for r, _, fs in os.walk(d) for f in fs}
            assert found == set(files), (flags, sorted(found ^ set(files))[:5])
            for rel, (body, meta) in files.items():
                path = os.path.join(d, rel)
                with open(path, 'rb') as f:
                    assert f.read() == body, (flags, rel)
                assert os.getxattr(path, XATTR) == meta, (flags, rel)
    p = subprocess.run([tool, '--batch-files', '0', src, os.path.join(tmp, 'x')],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 2 and 'positive' in p.stdout, p.stdout


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    check_fit()
    print('fit: ok')
    with tempfile.TemporaryDirectory(prefix='check-scale-', dir='/var/tmp') as tmp:
        check_remove_hashes(tmp)
        print('hashes: ok')
        check_merge(tmp)
        print('merge: ok')
        check_partial(tmp)
        print('partial: ok')
        check_resume(tmp)
        print('resume: ok')
        check_handover(tmp)
        print('handover: ok')
        check_copy(os.path.abspath(argv[1]), tmp)
        print('copy: ok')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
