#!/usr/bin/python3
"""The reliability suite (docs/reliability.md): fault injection into replicant's
sender and receiver, and kill -9 at random moments, on a small loopback Swift cluster.

    run.py [--long] [--out DIR] [--workdir DIR] [--seed N] [--only BACKEND[,..]]

Reduced (default): every kind of call, a few indices each, and a few kills per backend, in
a few minutes. --long: every (kind, errno) class at every index a clean session makes (a
random sample past --max-index), and >= 100 kills per backend. Writes DIR/results.json
(every run) and DIR/table.md; exits 1 if any object was lost, any partial file was visible
under a name Swift reads, or one clean pass did not converge.
"""
import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'support'))
sys.path.insert(0, HERE)

import points  # noqa: E402
import private_etc  # noqa: E402
from scenario import Scenario  # noqa: E402


def build_shim(workdir):
    out = os.path.join(workdir, 'faultinject.so')
    subprocess.run(['cc', '-shared', '-fPIC', '-O2', '-o', out,
                    os.path.join(HERE, 'faultinject.c'),
                    os.path.join(HERE, 'faultinject_calls.c'), '-ldl'], check=True)
    return out


def pick(rng, n, k, always=(1,)):
    """k indices of 1..n: the given ones (the first call, the last) plus random others."""
    if n <= k:
        return list(range(1, n + 1))
    chosen = {i for i in always if 1 <= i <= n}
    while len(chosen) < k:
        chosen.add(rng.randint(1, n))
    return sorted(chosen)


def plan(args, rng, backend, side, peers, counts, sites):
    """The (kind, errno, index, swift_delay) runs for one target. --long: every call site
    (the first call of each, Scenario.call_sites) plus every index up to --max-index (a
    random sample past it). Reduced: --reduced-index sites of each kind, drawn from those
    in the handoff partition (only a handoff revert deletes, so that is where a fault can
    lose data), else from all."""
    runs = []
    classes = points.CLASSES if args.long else \
        [c for i, c in enumerate(points.CLASSES) if c[0] not in
         [k for k, _ in points.CLASSES[:i]]]
    for kind, err in (classes if 'faults' in args.parts else []):
        n, kind_sites = counts[kind], sites.get(kind, {})
        if args.long:
            chosen = {(None, i) for i in pick(rng, n, args.max_index, always=(1, n))} | \
                set(kind_sites.values())
        else:
            handoff = sorted(v for v in kind_sites.values() if v[0] == 'H')
            pool = handoff or sorted(kind_sites.values(), key=lambda v: (v[0] or '', v[1]))
            chosen = rng.sample(pool, min(args.reduced_index, len(pool)))
        runs += [(kind, err, nth, None, scope)
                 for scope, nth in sorted(chosen, key=lambda v: (v[0] or '', v[1]))]
    kills = (args.kills if args.long else args.reduced_kills) if 'kills' in args.parts else 0
    # a backend's kills: native's split over its sender and receiver; rsync's and ssync's
    # over the sender, `replicant serve` and Swift's object server as receivers
    share = -(-kills // {'native': 2, 'native-fsync': 1}.get(backend, 3))
    if side == 'sender' and peers == 'swift':
        for _ in range(share):
            runs.append((None, 'kill', 0, rng.uniform(0, args.clean_secs[(backend, side)]),
                         None))
    for nth in pick(rng, counts['any'], share, always=()):
        runs.append(('any', 'kill', nth, None, None))
    if side == 'sender' and 'races' in args.parts:
        races = args.races if args.long else args.reduced_races
        for nth in pick(rng, counts['any'], races, always=()):
            runs.append(('any', 'hook', nth, None, None))
    return runs


def tally(rows):
    """(class, backend, side) -> counters, for the table."""
    agg = collections.OrderedDict()
    for r in rows:
        if r['errno'] == 'hook':
            cls = 'race: newer PUT to the handoff'
        elif r['errno'] == 'kill':
            cls = 'kill -9 (Swift object server)' if r['kind'] == 'swift-server' else \
                'kill -9 (replicant %s)' % ('replicate' if r['side'] == 'sender' else 'serve')
        else:
            cls = '%s %s' % (r['kind'], r['errno'])
        a = agg.setdefault((cls, r['backend'], r['side']), collections.Counter())
        a['points'] += 1
        a['fired'] += r['fired']
        a['objects checked'] += r['objects_checked']
        a['lost'] += len(r['lost'])
        a['partial'] += len(r['partial']) + len(r['partial_after_clean_pass'])
        a['not converged'] += len(r['not_converged'])
        a['torn (model)'] += len(r['torn_by_power_loss_model'])
        a['degraded (model)'] += len(r['degraded'])
        a['crash/hang'] += (r['rc'] is None or (r['rc'] < 0 and r['errno'] != 'kill') or
                            bool(r['receivers_died'] and r['errno'] != 'kill'))
    return agg


COLS = ['points', 'fired', 'objects checked', 'lost', 'partial', 'not converged',
        'torn (model)', 'degraded (model)', 'crash/hang']


def write_table(path, rows, counts, header):
    agg = tally(rows)
    lines = [header, '', '| fault | backend | side | ' + ' | '.join(COLS) + ' |',
             '|' + '---|' * (3 + len(COLS))]
    for (cls, backend, side), a in agg.items():
        lines.append('| %s | %s | %s | %s |' % (cls, backend, side,
                                                 ' | '.join(str(a[c]) for c in COLS)))
    tot = collections.Counter()
    for a in agg.values():
        tot.update(a)
    lines.append('| **total** | | | %s |' % ' | '.join(str(tot[c]) for c in COLS))
    lines += ['', 'Calls of each kind in a clean session (the index range):', '',
              '| backend | side | ' + ' | '.join(points.CLASSES_KINDS) + ' |',
              '|' + '---|' * (2 + len(points.CLASSES_KINDS))]
    for (backend, side), c in counts.items():
        lines.append('| %s | %s | %s |' % (backend, side, ' | '.join(
            str(c[k]) for k in points.CLASSES_KINDS)))
    bad = [r for r in rows if r['lost'] or r['partial'] or r['partial_after_clean_pass'] or
           r['degraded'] or r['rc'] is None]
    odd = [r for r in rows if r['not_converged'] and r not in bad]
    lines += ['', 'Findings (%d runs with lost or partial objects, %d more not converged '
              'after one clean pass):' % (len(bad), len(odd)), '']
    for r in bad + odd:
        lines.append('- %s %s, %s %s %s#%s (%s): lost %s; partial %s; degraded %s; '
                     'not converged %s' % (
                         r['backend'], r['side'], r['kind'], r['errno'], r['scope'] or '',
                         r['index'], r['call'], r['lost'],
                         r['partial'] + r['partial_after_clean_pass'], r['degraded'],
                         r['not_converged']))
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return tot, bad


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--long', action='store_true')
    ap.add_argument('--out', default=os.path.join(os.getcwd(), 'reliability-results'))
    ap.add_argument('--workdir', help='scratch dir (default: a new temp dir, removed)')
    ap.add_argument('--seed', type=int, default=int(os.environ.get('REPLICANT_SEED', 1)))
    ap.add_argument('--only', default='',
                    help='comma list of BACKEND or BACKEND:SIDE (e.g. native:receiver)')
    ap.add_argument('--max-index', type=int, default=60, help='--long: indices per class')
    ap.add_argument('--reduced-index', type=int, default=3)
    ap.add_argument('--kills', type=int, default=100, help='--long: kills per backend')
    ap.add_argument('--reduced-kills', type=int, default=6)
    ap.add_argument('--races', type=int, default=30, help='--long: races per sender')
    ap.add_argument('--reduced-races', type=int, default=4)
    ap.add_argument('--stop-after', type=float, default=0,
                    help='seconds: shared evenly by the targets; a target starts no run past '
                         'its share (the table says so)')
    ap.add_argument('--parts', default='faults,kills,races',
                    help='comma list of faults, kills, races')
    return ap.parse_args()


def selected(args, backend, side):
    only = [s for s in args.only.split(',') if s]
    return not only or backend in only or '%s:%s' % (backend, side) in only


def save(args, rows, counts, t0, stopped):
    with open(os.path.join(args.out, 'results.json'), 'w') as f:
        json.dump({'seed': args.seed, 'long': args.long, 'stopped_early': stopped,
                   'rows': rows, 'counts': {'%s/%s' % k: v for k, v in counts.items()}},
                  f, indent=1)
    header = '%s run, seed %d, %d runs in %.0f s%s' % (
        '--long' if args.long else 'reduced', args.seed, len(rows), time.monotonic() - t0,
        ' (stopped early by --stop-after: %s)' % stopped if stopped else '')
    return write_table(os.path.join(args.out, 'table.md'), rows, counts, header)


def run_all(args, shim, rows, counts, t0):
    """Runs every selected target's plan; returns what --stop-after cut short ('' if
    nothing)."""
    rng = random.Random(args.seed)
    scenarios, stopped = {}, []
    targets = [t for t in points.TARGETS if selected(args, t[0], t[1])]
    try:
        for done, (backend, side, peers) in enumerate(targets):
            t_start = time.monotonic()
            share = (args.stop_after - (t_start - t0)) / (len(targets) - done)
            if peers not in scenarios:
                scenarios[peers] = Scenario(args.workdir, peers, shim, seed=args.seed)
            scn = scenarios[peers]
            c, secs, sites = points.prepare(scn, backend, side)
            counts[(backend, side)] = c
            args.clean_secs[(backend, side)] = secs
            runs = plan(args, rng, backend, side, peers, c, sites)
            rng.shuffle(runs)  # a run cut short by --stop-after still mixes every class
            print('%s %s (peers %s): %d runs; calls %s' % (
                backend, side, peers, len(runs), dict(c)), flush=True)
            for i, (kind, err, nth, delay, scope) in enumerate(runs):
                if args.stop_after and time.monotonic() - t_start > share:
                    stopped.append('%s %s after %d of %d runs' % (backend, side, i, len(runs)))
                    break
                r = points.run_point(scn, backend, side, kind, err, nth, delay, scope)
                rows.append(r)
                flag = ' LOST %s' % r['lost'] if r['lost'] else ''
                flag += ' PARTIAL %s' % r['partial'] if r['partial'] else ''
                flag += ' DEGRADED %s' % r['degraded'] if r['degraded'] else ''
                flag += ' UNCONVERGED %s' % r['not_converged'] if r['not_converged'] else ''
                print('  %s %s %s#%s fired=%s rc=%s%s' % (r['kind'], err, scope or '', nth,
                                                         r['fired'], r['rc'], flag), flush=True)
            save(args, rows, counts, t0, '; '.join(stopped))
        return '; '.join(stopped)
    finally:
        failed = sys.exc_info()[0] is not None
        for s in scenarios.values():
            s.close()
            if failed:  # the servers' logs say why
                shutil.copytree(s.c.log_dir, os.path.join(args.workdir, 'logs', s.peers),
                                dirs_exist_ok=True)
            shutil.rmtree(s.dir, ignore_errors=True)
        # the logs of runs with findings (points._keep_log)
        if os.path.isdir(os.path.join(args.workdir, 'logs')):
            shutil.move(os.path.join(args.workdir, 'logs'), os.path.join(args.out, 'logs'))


def main():
    args = parse_args()
    private_etc.reexec_isolated()  # the clusters' swift.conf must not replace the host's
    print('reliability: seed %d (--seed to reproduce)' % args.seed, flush=True)
    own_workdir = not args.workdir
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    else:
        args.workdir = tempfile.mkdtemp(prefix='replicant-reliability-')
    os.makedirs(args.out, exist_ok=True)
    shutil.rmtree(os.path.join(args.out, 'logs'), ignore_errors=True)
    shim = build_shim(args.workdir)
    rows, counts, args.clean_secs = [], collections.OrderedDict(), {}
    t0 = time.monotonic()
    try:
        stopped = run_all(args, shim, rows, counts, t0)
    finally:
        if own_workdir:
            shutil.rmtree(args.workdir, ignore_errors=True)
    tot, bad = save(args, rows, counts, t0, stopped)
    with open(os.path.join(args.out, 'table.md')) as f:
        print(f.read())
    # lost or partial fails the run; not converged is reported (see the table)
    print('%d passed, %d failed' % (len(rows) - len(bad), len(bad)))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
