"""The growth curves' report (bench/scale.py's runs): per cell and method the idle pass,
the full-rehash pass and peak RSS; a least-squares fit per method and metric of
value = a * partitions + b * objects + c (node 0's partitions and objects: what its pass
walks); log-log charts, one per metric. Appended to results.md as its own section and
written alone to scale.md. Pure functions of runs.csv and scale_cells.csv."""
import os
import re
import statistics

import report
import scale

SCENARIO_RE = re.compile(r'^scale-(idle|rehash)-n(\d+)-pp(\d+)$')
# metric: (title, unit, pass kind it is taken from (None: both), the value of a run,
# charted). The CPU metrics split an idle pass's wall time on this machine, where node 0's
# replicator and its peers share the cores: what one node spends, and what its peers do.
METRICS = [
    ('idle', 'idle pass, end to end', 's', 'idle', lambda r: r.wall, True),
    ('rehash', 'first pass after every hashes.pkl was removed (full rehash)', 's', 'rehash',
     lambda r: r.wall, True),
    ('rss', 'peak RSS of the replicator (idle and rehash passes)', 'MB', None,
     lambda r: r.maxrss_kb / 1024.0, True),
    ('idle_cpu', "the replicator's CPU (user + sys) in the idle pass", 's', 'idle',
     lambda r: (r.user_s or 0.0) + (r.sys_s or 0.0), False),
    ('idle_peers_cpu', "the peers' CPU (servers, rsync daemon) during the idle pass", 's',
     'idle', lambda r: r.cluster_cpu_s or 0.0, False),
]
BASELINE = 'swift-rsync'


def collect(runs):
    """{(method, metric): {(objects, part_power): median value}} of the scale runs."""
    vals = {}
    for r in runs:
        m = SCENARIO_RE.match(r.scenario)
        if not m or not r.converged:
            continue
        kind, n, pp = m.group(1), int(m.group(2)), int(m.group(3))
        for metric, _, _, from_kind, get, _ in METRICS:
            if from_kind in (kind, None):
                vals.setdefault((r.method, metric), {}).setdefault((n, pp), []).append(get(r))
    out = {}
    for key, cells in vals.items():
        agg = max if key[1] == 'rss' else statistics.median
        out[key] = {c: agg(v) for c, v in cells.items()}
    return out


def solve(xs, ys):
    """Least squares coefficients for rows xs (lists) and values ys, by the normal
    equations with column scaling; None when the columns are (nearly) dependent."""
    k = len(xs[0])
    scale_ = [max(abs(x[j]) for x in xs) or 1.0 for j in range(k)]
    rows = [[x[j] / scale_[j] for j in range(k)] for x in xs]
    a = [[sum(r[i] * r[j] for r in rows) for j in range(k)] +
         [sum(r[i] * y for r, y in zip(rows, ys))] for i in range(k)]
    for col in range(k):
        piv = max(range(col, k), key=lambda i: abs(a[i][col]))
        if abs(a[piv][col]) < 1e-9 * max(1.0, max(abs(v) for row in a for v in row[:k])):
            return None
        a[col], a[piv] = a[piv], a[col]
        for i in range(k):
            if i != col:
                f = a[i][col] / a[col][col]
                a[i] = [v - f * w for v, w in zip(a[i], a[col])]
    return [a[i][k] / a[i][i] / scale_[i] for i in range(k)]


# Models tried in order; the first the points determine is used (a grid of a few cells
# may not separate partitions from objects).
MODELS = [('a*P + b*N + c', (1, 1, 1)), ('a*P + c', (1, 0, 1)), ('b*N + c', (0, 1, 1)),
          ('a*P + b*N', (1, 1, 0)), ('a*P', (1, 0, 0))]


def fit(points):
    """points: [(partitions, objects, value)]. Returns (model, a, b, c) (absent terms
    None) or None."""
    for name, use in MODELS:
        if len(points) < sum(use):
            continue
        xs = [[v for v, u in zip((p, n, 1.0), use) if u] for p, n, _ in points]
        coef = solve(xs, [v for _, _, v in points]) if points else None
        if coef is None:
            continue
        it = iter(coef)
        return (name,) + tuple(next(it) if u else None for u in use)
    return None


def fits(values, cells):
    out = {}
    for (method, metric), by_cell in values.items():
        pts = [(cells[c]['node0_partitions'], cells[c]['node0_objects'], v)
               for c, v in sorted(by_cell.items()) if c in cells]
        f = fit(pts)
        if f:
            out[(method, metric)] = f + (len(pts),)
    return out


def _g(v, digits=3):
    return '–' if v is None else '%.*g' % (digits, v)


def _cost(v, unit):
    """A per-item cost: seconds as µs, MB as KB."""
    if v is None:
        return '–'
    return '%.3g µs' % (v * 1e6) if unit == 's' else '%.3g KB' % (v * 1024)


def tables(values, cells, fitted):
    methods = list(dict.fromkeys(m for m, _ in values))
    md = ['| objects | part power | node 0 partitions | node 0 objects | ref µs/partition '
          '| loopback RTT µs | method | idle s | idle vs swift | idle µs/partition '
          '| idle CPU µs/partition: replicator + peers | rehash s | rehash vs swift '
          '| peak RSS MB |', '|' + '---:|' * 6 + '---|' + '---:|' * 7]
    for key in sorted(cells):
        c = cells[key]
        for m in methods:
            idle = values.get((m, 'idle'), {}).get(key)
            rehash = values.get((m, 'rehash'), {}).get(key)
            rss = values.get((m, 'rss'), {}).get(key)
            if idle is None and rehash is None:
                continue
            bi = values.get((BASELINE, 'idle'), {}).get(key)
            br = values.get((BASELINE, 'rehash'), {}).get(key)
            cpu = values.get((m, 'idle_cpu'), {}).get(key)
            peers = values.get((m, 'idle_peers_cpu'), {}).get(key)
            per = c['node0_partitions'] / 1e6
            md.append('| %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s '
                      '| %s |' % (
                key[0], key[1], c['node0_partitions'], c['node0_objects'],
                _g(c.get('ref_us_per_partition')) + (
                    ' (%s)' % c['ref_how'] if c.get('ref_how') == 'Python' else ''),
                _g(c.get('rtt_us')), m, _g(idle),
                '%.1f×' % (bi / idle) if bi and idle else '–',
                _g(idle / per) if idle else '–',
                '%s + %s' % (_g(cpu / per), _g(peers / per)) if cpu is not None else '–',
                _g(rehash),
                '%.1f×' % (br / rehash) if br and rehash else '–', _g(rss)))
    # The reference: one stat + one hashes.pkl read + one round trip.
    refs = [c['ref_us_per_partition'] + (c.get('rtt_us') or 0) for c in cells.values()
            if c.get('ref_us_per_partition')]
    ref = statistics.median(refs) * 1e-6 if refs else None
    md += ['', '| method | metric | model | per partition (a) | a ÷ ref | per object (b) '
           '| constant (c) | cells |', '|---|---|---|---:|---:|---:|---:|---:|']
    for metric, _, unit, _, _, _ in METRICS:
        for m in methods:
            f = fitted.get((m, metric))
            if f:
                name, a, b, c, n = f
                md.append('| %s | %s | %s | %s | %s | %s | %s | %d |' % (
                    m, metric, name, _cost(a, unit),
                    '%.2g' % (a / ref) if unit == 's' and a is not None and ref else '–',
                    _cost(b, unit),
                    '–' if c is None else '%.3g %s' % (c, unit), n))
    return md


def charts(out_dir, values, cells, fitted):
    plt = report.pyplot()
    if plt is None:
        return []
    made = []
    methods = list(dict.fromkeys(m for m, _ in values))
    colors = {m: c for m, c in zip(methods, ['#d9822b', '#7b3fd9', '#2b7bd9', '#2bb07b'])}
    styles = ['-', '--', ':', '-.']
    for metric, title, unit, _, _, charted in METRICS:
        if not charted:
            continue
        fig, ax = plt.subplots(figsize=(7, 7))
        drawn = False
        for m in methods:
            by_cell = values.get((m, metric), {})
            counts = sorted({n for n, _ in by_cell})
            for i, n in enumerate(counts):
                pts = sorted((cells[(n, pp)]['node0_partitions'], v)
                             for (nn, pp), v in by_cell.items() if nn == n and (n, pp) in cells)
                if not pts:
                    continue
                f = fitted.get((m, metric))
                label = '%s, %s objects' % (m, '{:,}'.format(n))
                if i == 0 and f:
                    terms = ['%s=%s/%s' % (k, _cost(v, unit), what) for k, v, what in
                             (('a', f[1], 'partition'), ('b', f[2], 'object')) if v is not None]
                    label += ' (%s; %s)' % (f[0], ', '.join(terms))
                ax.plot([p for p, _ in pts], [v for _, v in pts], styles[i % len(styles)],
                        marker='o', color=colors.get(m, 'k'), label=label)
                drawn = True
        if not drawn:
            plt.close(fig)
            continue
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.set_xlabel("node 0's partitions (log)")
        ax.set_ylabel('%s (log)' % ('seconds' if unit == 's' else 'MB'))
        ax.set_title(title, fontsize=10)
        # below the axes: inside, it hid the small cells' points
        ax.legend(fontsize=6, loc='upper center', bbox_to_anchor=(0.5, -0.12))
        fig.tight_layout()
        name = 'scale_%s.png' % metric
        fig.savefig(os.path.join(out_dir, name), dpi=90)
        plt.close(fig)
        made.append(name)
    return made


def write_report(out_dir, runs):
    """scale.md, charts and a section of results.md; returns the Markdown lines (empty
    when there are no scale runs)."""
    values = collect(runs)
    cells = scale.read_cells(out_dir)
    if not values or not cells:
        return []
    fitted = fits(values, cells)
    md = ['', '## Growth curves (scale)', '',
          'Per cell: node 0\'s idle pass and its first pass after every hashes.pkl on it was '
          'removed (full rehash), end to end (median of the runs), and the replicator\'s peak '
          'RSS (max). ref µs/partition: one stat of a partition dir + one open/read/close of '
          'its hashes.pkl on node 0, the fastest of 5 loops over its partitions, by '
          'tools/partition_ref (C++; "(Python)" when measured by the fallback loop); '
          'loopback RTT µs: one 100-byte request and answer over loopback TCP, by the same '
          'tool (the fastest of 5 means of 1,000; counted as 0 when not measured); a ÷ ref '
          'compares a fitted time per partition with the median of the cells\' ref + RTT. '
          'Fit per method and metric over the cells, least squares: value = a × node 0\'s '
          'partitions (P) + b × node 0\'s objects (N) + c (fewer terms when the cells do not '
          'determine all three).', '']
    md += tables(values, cells, fitted) + ['']
    for c in charts(out_dir, values, cells, fitted):
        md.append('![%s](%s)' % (os.path.splitext(c)[0], c))
    with open(os.path.join(out_dir, 'scale.md'), 'w') as f:
        f.write('\n'.join(md[1:]) + '\n')
    with open(os.path.join(out_dir, 'results.md'), 'a') as f:
        f.write('\n'.join(md) + '\n')
    return md
