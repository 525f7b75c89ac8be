#!/usr/bin/python3
"""Joins the growth-curve cells of several bench runs into one report (scale.md, the
charts and a fit over all of them).

The full grid (10^4..10^6 objects x part power 10..18) takes longer than one quiet
stretch of this machine, so it runs in parts, one --out each. Every cell is still one run's
side-by-side comparison (Swift and replicant on the same tree, one after the other); the
merge only puts the cells next to each other. A cell measured by two sources is an error,
so nothing is silently averaged across runs; each source's date and replicant tree are
listed, since a fit over cells of different builds compares those builds too.

  bench/scale_merge.py --out bench/results/scale-grid bench/results/scale-a scale-b ...
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import scale  # noqa: E402
import scale_report  # noqa: E402
from options import Run  # noqa: E402


def load_source(path):
    """(scale runs, cells, info) of one bench --out dir."""
    runs, _, info = report.load_runs(path, Run)
    runs = [r for r in runs if scale_report.SCENARIO_RE.match(r.scenario)]
    return runs, scale.read_cells(path), info


def merge(sources):
    """(runs, cells, provenance) over sources; ValueError when a cell is in two."""
    runs, cells, owner, provenance = [], {}, {}, []
    for path in sources:
        src_runs, src_cells, info = load_source(path)
        if not src_cells:
            raise ValueError('%s: no scale_cells.csv with cells' % path)
        for key, cell in src_cells.items():
            if key in owner:
                raise ValueError('cell n=%d pp%d is in both %s and %s' % (
                    key[0], key[1], owner[key], path))
            owner[key] = path
            cells[key] = cell
        runs += src_runs
        provenance.append({'source': path, 'date': info.get('date'),
                           'replicant': info.get('replicant'),
                           'cells': ['n=%d pp%d' % k for k in sorted(src_cells)]})
    return runs, cells, provenance


def write(out_dir, runs, cells, provenance):
    os.makedirs(out_dir, exist_ok=True)
    scale.write_cells(out_dir, [cells[k] for k in sorted(cells)])
    report.write_all_runs(out_dir, runs)
    with open(os.path.join(out_dir, 'meta.json'), 'w') as f:
        json.dump({'merged_from': provenance}, f, indent=1)
    lines = ['# Growth curves: cells merged from %d bench runs' % len(provenance), '']
    for p in provenance:
        lines.append('- `%s` (%s; replicant %s): %s' % (
            p['source'], p['date'], p['replicant'], ', '.join(p['cells'])))
    with open(os.path.join(out_dir, 'results.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    md = scale_report.write_report(out_dir, runs)
    with open(os.path.join(out_dir, 'scale.md'), 'w') as f:
        f.write('\n'.join(lines + md[2:]) + '\n')


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', required=True, help='the merged report\'s dir')
    ap.add_argument('sources', nargs='+', help='bench --out dirs holding scale cells')
    a = ap.parse_args(argv)
    try:
        runs, cells, provenance = merge(a.sources)
    except (OSError, ValueError) as e:
        print('scale_merge: %s' % e, file=sys.stderr)
        return 2
    write(a.out, runs, cells, provenance)
    print('merged %d cells (%d runs) into %s' % (len(cells), len(runs), a.out))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
