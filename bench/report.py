"""Summaries of bench runs: medians, ratios to Swift's rsync run and to the limit; text,
CSV and Markdown tables; PNG charts (matplotlib, when installed)."""
import csv
import json
import os
import statistics
import time

MB = 1e6

SUMMARY_FIELDS = [
    'scenario', 'method', 'runs', 'converged_runs', 'median_s', 'min_s', 'max_s',
    'median_pass_s', 'passes', 'objects', 'copies', 'bytes', 'objects_per_s', 'copies_per_s',
    'mb_per_s', 'speed_vs_baseline', 'fraction_of_limit', 'fraction_of_tar',
    'cpu_s', 'cpu_vs_baseline',
    'peak_rss_mb', 'cluster_cpu_s', 'notes']


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def is_limit(method):
    """The limit rows: `tar` alone ("of tar"), tar + sync, and the durable parallel
    copies, file by file and batched (the faster is what "of limit" refers to)."""
    return method.startswith('limit')


def summarize(runs, baseline, limit, durable=()):
    """One row (dict) per (scenario, method), in first-seen order. `limit`: the tar row;
    `durable`: the durable parallel copies' rows, the fastest of which is "of limit"."""
    groups = {}
    for r in runs:
        groups.setdefault((r.scenario, r.method), []).append(r)
    rows = []
    for (scenario, method), rs in groups.items():
        ok = [r for r in rs if r.converged] or rs
        wall = _median([r.wall for r in ok])
        row = {
            'scenario': scenario, 'method': method, 'runs': len(rs),
            'converged_runs': sum(r.converged for r in rs),
            'median_s': wall, 'min_s': min(r.wall for r in ok), 'max_s': max(r.wall for r in ok),
            'median_pass_s': _median([r.pass_s for r in ok]),
            'passes': _median([r.passes for r in ok]),
            'objects': ok[0].objects, 'copies': ok[0].copies, 'bytes': ok[0].bytes,
            'cpu_s': _median([r.user_s + r.sys_s for r in ok]),
            'peak_rss_mb': max(r.maxrss_kb for r in ok) / 1024.0,
            'cluster_cpu_s': _median([r.cluster_cpu_s for r in ok]) if not is_limit(method)
            else None,
            'notes': '; '.join(sorted({r.note for r in rs if r.note})),
        }
        if row['copies'] and wall:
            row['objects_per_s'] = row['objects'] / wall
            row['copies_per_s'] = row['copies'] / wall
            row['mb_per_s'] = row['bytes'] / wall / MB
        rows.append(row)
    by_key = {(r['scenario'], r['method']): r for r in rows}
    for row in rows:
        base = by_key.get((row['scenario'], baseline))
        tar = by_key.get((row['scenario'], limit))
        if base and not is_limit(row['method']) and base['median_s'] and row['median_s']:
            row['speed_vs_baseline'] = base['median_s'] / row['median_s']
            if base['cpu_s'] and row['cpu_s'] is not None:
                row['cpu_vs_baseline'] = row['cpu_s'] / base['cpu_s']
        if not row.get('copies_per_s'):
            continue
        if tar and tar.get('copies_per_s'):
            row['fraction_of_tar'] = row['copies_per_s'] / tar['copies_per_s']
        fastest = max([by_key[(row['scenario'], d)].get('copies_per_s') or 0 for d in durable
                       if (row['scenario'], d) in by_key] or [0])
        if fastest:
            row['fraction_of_limit'] = row['copies_per_s'] / fastest
    # the limit's objects/s: its files/s spread over the replica copies an object needs
    for row in rows:
        if is_limit(row['method']) and row.get('copies_per_s'):
            others = [r for r in rows if r['scenario'] == row['scenario'] and
                      not is_limit(r['method']) and r.get('copies')]
            if others:
                per_obj = others[0]['copies'] / float(others[0]['objects'])
                row['objects_per_s'] = row['copies_per_s'] / per_obj
    return rows


def load_runs(out_dir, run_type):
    """(runs, notes, info) as write_all left them in out_dir."""
    runs = []
    with open(os.path.join(out_dir, 'runs.csv'), newline='') as f:
        for rec in csv.DictReader(f):
            vals = []
            for k in run_type._fields:
                v = rec[k]
                if k in ('scenario', 'method', 'note'):
                    vals.append(v)
                elif k == 'converged':
                    vals.append(v == 'True')
                elif k in ('repeat', 'passes', 'rc', 'maxrss_kb', 'objects', 'copies', 'bytes'):
                    vals.append(int(float(v)))
                else:
                    vals.append(float(v) if v not in ('', 'None') else None)
            runs.append(run_type(*vals))
    meta = {'info': {}, 'notes': []}
    try:
        with open(os.path.join(out_dir, 'meta.json')) as f:
            meta = json.load(f)
    except OSError:
        pass
    return runs, meta['notes'], meta['info']


def _fmt(v, kind):
    if v is None or v == '':
        return '–'
    if kind == 's':
        return '%.3g' % v if v < 10 else '%.1f' % v
    if kind == 'rate':
        return '%.0f' % v if v >= 100 else '%.3g' % v
    if kind == 'ratio':
        return '%.2g×' % v if v < 1 else '%.2f×' % v if v < 10 else '%.1f×' % v
    if kind == 'pct':
        return '%.0f%%' % (v * 100) if v >= 0.095 else '%.2g%%' % (v * 100)
    if kind == 'mb':
        return '%.0f' % v
    return str(v)


COLUMNS = [
    ('scenario', 'scenario', None),
    ('method', 'method', None),
    ('median_s', 'median s', 's'),
    ('median_pass_s', 'pass s', 's'),
    ('objects_per_s', 'obj/s', 'rate'),
    ('copies_per_s', 'copies/s', 'rate'),
    ('mb_per_s', 'MB/s', 'rate'),
    ('speed_vs_baseline', 'speed vs swift-rsync', 'ratio'),
    ('fraction_of_limit', 'of limit', 'pct'),
    ('fraction_of_tar', 'of tar', 'pct'),
    ('cpu_s', 'CPU s', 's'),
    ('cpu_vs_baseline', 'CPU vs swift-rsync', 'ratio'),
    ('peak_rss_mb', 'peak RSS MB', 'mb'),
    ('cluster_cpu_s', 'cluster CPU s', 's'),
    ('runs', 'runs', None),
]


def _cells(row):
    out = []
    for key, _, kind in COLUMNS:
        v = row.get(key)
        if key == 'runs':
            v = '%d' % row['runs'] if row['converged_runs'] == row['runs'] else \
                '%d (%d converged)' % (row['runs'], row['converged_runs'])
        out.append(_fmt(v, kind) if kind else str(v))
    return out


def text_table(rows):
    head = [h for _, h, _ in COLUMNS]
    body = [_cells(r) for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)] if body else \
        [len(h) for h in head]
    line = lambda cells: '  '.join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return '\n'.join([line(head), line(['-' * w for w in widths])] + [line(b) for b in body])


def markdown_table(rows):
    head = [h for _, h, _ in COLUMNS]
    out = ['| ' + ' | '.join(head) + ' |', '|' + '|'.join(
        ['---'] * 2 + ['---:'] * (len(head) - 2)) + '|']
    for r in rows:
        out.append('| ' + ' | '.join(_cells(r)) + ' |')
    return '\n'.join(out)


def write_all_runs(out_dir, runs):
    """runs.csv: every run, as load_runs reads it back."""
    write_runs_csv(os.path.join(out_dir, 'runs.csv'), runs)


def write_runs_csv(path, runs):
    with open(path, 'w', newline='') as f:
        if runs:
            w = csv.writer(f)
            w.writerow(runs[0]._fields)
            for r in runs:
                w.writerow(['%.6g' % v if isinstance(v, float) else v for v in r])


# Every timed pass so far, rewritten after each one; write_all's runs.csv replaces it at
# the end of a run. One left behind is an interrupted run's (`mv` it to runs.csv and
# run with --report-only to see its tables).
PARTIAL_RUNS = 'runs-partial.csv'


def write_partial_runs(out_dir, runs):
    os.makedirs(out_dir, exist_ok=True)
    tmp = os.path.join(out_dir, PARTIAL_RUNS + '.tmp')
    write_runs_csv(tmp, runs)
    os.replace(tmp, os.path.join(out_dir, PARTIAL_RUNS))


def drop_partial_runs(out_dir):
    try:
        os.unlink(os.path.join(out_dir, PARTIAL_RUNS))
    except FileNotFoundError:
        pass


def keep_interrupted_runs(out_dir):
    """An interrupted run's passes, moved aside (runs-interrupted-<time>.csv) before a
    new run in the same dir starts its own; the path, or None."""
    path = os.path.join(out_dir, PARTIAL_RUNS)
    if not os.path.exists(path):
        return None
    stamp = time.strftime('%Y%m%d-%H%M%S', time.localtime(os.path.getmtime(path)))
    kept = os.path.join(out_dir, 'runs-interrupted-%s.csv' % stamp)
    os.replace(path, kept)
    return kept


def write_all(out_dir, rows, runs, notes, info, baseline, limit):
    with open(os.path.join(out_dir, 'results.csv'), 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS, extrasaction='ignore')
        w.writeheader()
        for r in rows:
            w.writerow({k: ('%.6g' % v if isinstance(v, float) else v)
                        for k, v in r.items()})
    write_all_runs(out_dir, runs)
    with open(os.path.join(out_dir, 'meta.json'), 'w') as f:
        json.dump({'info': info, 'notes': notes}, f, indent=1)
    charts = draw_charts(out_dir, rows, baseline, limit)
    md = ['# replicant vs Swift replicator: benchmark results', '']
    md += ['- %s: %s' % (k, v) for k, v in info.items()]
    md += ['', markdown_table(rows), '',
           'median s: wall time of the replicator process(es), start-up included, until '
           'converged (median of the runs); pass s: the pass time the replicator logs itself. '
           'obj/s: objects placed on all their primaries per second; copies/s: replica files '
           'written per second (MB/s: their bytes, 1 MB = 10^6 B); for %s, tar\'s files/s, and '
           'obj/s = files/s ÷ copies per object. speed vs %s: its median time ÷ this one '
           '(higher is faster); of limit: copies/s ÷ the copies/s of the faster durable '
           'parallel copy, limit (fsync per file) or limit (batched durable): '
           'bench/durable_copy writing the tree to every receiving node at once, one writer '
           'per node, each file made durable on its own as Swift\'s object server does for a '
           'PUT (temp file, fsync, rename, fsync of its dirs), resp. in batches as the native '
           'receiver does (groups of 64 to 128 files made durable by one syncfs, or by parallel '
           'fsyncs, the dirs once per batch). of tar: copies/s ÷ the tar copy\'s files/s '
           '(not durable; limit (tar + sync): the same copy until a sync of its filesystem '
           'returned). CPU s and peak '
           'RSS: the replicator and its children (rsync) from /usr/bin/time -v; cluster CPU s: '
           'object servers, rsync daemon and `replicant serve` processes during the run.'
           % (limit, baseline), '']
    if notes:
        md += ['Notes:', ''] + ['- ' + n for n in notes] + ['']
    for c in charts:
        md.append('![%s](%s)' % (os.path.splitext(c)[0], c))
    with open(os.path.join(out_dir, 'results.md'), 'w') as f:
        f.write('\n'.join(md) + '\n')


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, or None without matplotlib (no
    charts then; bench/setup.sh installs python3-matplotlib)."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def draw_charts(out_dir, rows, baseline, limit):
    plt = pyplot()
    if plt is None:
        print('matplotlib not installed (bench/setup.sh installs python3-matplotlib): '
              'no charts')
        return []
    made = []

    def bars(ax, title, items, fmt, ylabel, log=False):
        names = [n for n, _, _ in items]
        vals = [v for _, v, _ in items]
        colors = ['#888888' if is_limit(n) else '#d9822b' if n.startswith('swift')
                  else '#2b7bd9' for n in names]
        ax.bar(range(len(vals)), vals, color=colors)
        ax.set_xticks(range(len(vals)))
        ax.set_xticklabels(names, rotation=30, ha='right', fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=9)
        if log:
            ax.set_yscale('log')
        for i, (_, v, label) in enumerate(items):
            ax.annotate(fmt(v) + ('\n' + label if label else ''), (i, v), ha='center',
                        va='bottom', fontsize=7)
        ax.margins(y=0.25)
        if log:
            from matplotlib.ticker import FuncFormatter
            plain = FuncFormatter(lambda v, _: '%g' % v)
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(FuncFormatter(
                lambda v, _: '%g' % v if str('%g' % v)[0] in '1235' else ''))

    def ratio_label(r):
        s = r.get('speed_vs_baseline')
        return '' if s is None or r['method'] == baseline else '×%.2g' % s

    # objects/s per method (initial sync and drain)
    scen = [s for s in dict.fromkeys(r['scenario'] for r in rows)
            if any(r['scenario'] == s and r.get('objects_per_s') for r in rows)]
    if scen:
        fig, axes = plt.subplots(1, len(scen), figsize=(5 * len(scen), 4.5), squeeze=False)
        for ax, s in zip(axes[0], scen):
            items = [(r['method'], r['objects_per_s'], ratio_label(r)) for r in rows
                     if r['scenario'] == s and r.get('objects_per_s')]
            bars(ax, '%s: objects/s' % s, items,
                 lambda v: '%.0f' % v if v >= 100 else '%.3g' % v, 'objects / s (log)',
                 log=True)
        fig.suptitle('objects per second (higher is better; ×N = speed vs %s)' % baseline,
                     fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, 'objects_per_s.png'), dpi=90)
        plt.close(fig)
        made.append('objects_per_s.png')
    # pass time per method (every scenario but the limit)
    scen = list(dict.fromkeys(r['scenario'] for r in rows))
    if scen:
        fig, axes = plt.subplots(1, len(scen), figsize=(4 * len(scen), 4.5), squeeze=False)
        for ax, s in zip(axes[0], scen):
            items = [(r['method'], r['median_s'], ratio_label(r)) for r in rows
                     if r['scenario'] == s and not is_limit(r['method']) and r['median_s']]
            bars(ax, '%s: wall s' % s, items, lambda v: '%.3g' % v, 'seconds (log)',
                 log=True)
        fig.suptitle('pass time per method, end to end (lower is better; ×N = speed vs %s)'
                     % baseline, fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, 'pass_time.png'), dpi=90)
        plt.close(fig)
        made.append('pass_time.png')
    return made
