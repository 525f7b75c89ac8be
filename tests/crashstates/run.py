#!/usr/bin/python3
"""Crash states in the spirit of ALICE (docs/reliability.md, "Crash states"): records the
file-system calls of replication sessions under strace, generates every crash state the
persistence model (model.py) allows after each call, and checks each through Swift's
DiskFile.

    run.py [--long] [--ops native-batch,ssync,...] [--out DIR] [--workdir DIR] [--seed N]

Reduced (default): the native batch and SSYNC sessions, 4 objects per partition. --long:
every operation (native batch, native batch with per-file fsyncs, native plain, SSYNC),
with 4, 12 and 40 objects per partition (a batch of 8+ small files takes the
syncfs path). Writes DIR/table.md and DIR/results.json; exits 1 on any violation.
"""
import argparse
import collections
import copy
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'support'))
sys.path.insert(0, os.path.join(HERE, '..', 'reliability'))
sys.path.insert(0, HERE)

import private_etc  # noqa: E402
from check import Checker  # noqa: E402
from explore import Explorer  # noqa: E402
from feed import Feeder  # noqa: E402
from model import ALL_SUBSETS_MAX, NodeModel, snapshot  # noqa: E402
from record import OPERATIONS, Session  # noqa: E402
from strace_log import read_calls  # noqa: E402
from verify import model_matches_disk  # noqa: E402

CATEGORIES = ['receive', 'handoff revert (deletes)', 'hashes.pkl rewrite', 'sender, other']


def explore_op(session, op, workdir, selfcheck=False):
    """Records op, explores its crash states; returns a result dict. selfcheck: the same
    recording is explored again with the directory syncs, then the file syncs, dropped
    (as if the code did not make them), which must show violations."""
    t0 = time.monotonic()
    roots = session.roots()
    session.scn.reset()
    initial = {name: snapshot(root) for name, root in roots.items()}
    logdir = os.path.join(workdir, 'strace-' + op)
    shutil.rmtree(logdir, ignore_errors=True)
    logs = session.record(op, logdir)
    t_rec = time.monotonic() - t0
    calls = [(src, read_calls(path)) for src, path in sorted(logs.items())]
    r = explore(session, calls, initial, workdir)
    r.update(op=op, record_seconds=round(t_rec, 1))
    if selfcheck:
        r['selfcheck'] = {}
        for drop in (('dir-fsync', 'syncfs'), ('file-fsync', 'syncfs')):
            m = explore(session, calls, initial, workdir, drop)
            r['selfcheck'][' + '.join(drop)] = sum(n for _, _, n in m['violations'])
    r['seconds'] = round(time.monotonic() - t0, 1)
    return r


def explore(session, calls, initial, workdir, drop=()):
    roots = session.roots()
    models = {name: NodeModel(name, *copy.deepcopy(initial[name])) for name in roots}
    scratch = os.path.join(workdir, 'scratch')
    shutil.rmtree(scratch, ignore_errors=True)
    checker = Checker(scratch, session.expects)
    ex = Explorer(models, roots, checker, session.expects, sender_nodes=['node0'])
    feeder = Feeder(models, roots, session.scn.dir)
    feeder.drop = set(drop)
    feeder.on_step = ex.on_step
    steps = feeder.run(calls)
    violations = ex.finish()
    # the model must end where the disks did, or it modelled something else
    mismatch = [] if drop else [m for name in models
                                for m in model_matches_disk(models[name], roots[name])]
    return {
        'calls_modelled': len(steps),
        'stats': {k: dict(v) for k, v in ex.stats.items()},
        'violations': [[cat, msg, n] for msg, (cat, n) in violations.items()],
        'first_state': {msg: ex.first[msg]() for msg in violations if msg in ex.first},
        'bounded_points': ex.bounded, 'max_pending': ex.max_pending,
        'hash_dirs_read': checker.materialized,
        'relied_upon': {what: sum(1 for w, _ in feeder.relied if w == what)
                        for what, _ in feeder.relied},
        'model_mismatch': mismatch[:20],
    }


def table(results, header):
    lines = [header, '', '| operation | part | calls | crash points | states checked | '
             'most pending (2^n node states) | violations |', '|---|---|---|---|---|---|---|']
    tot = collections.Counter()
    for r in results:
        viol = collections.Counter(cat for cat, _, _ in r['violations'])
        for cat in CATEGORIES:
            s = r['stats'].get(cat)
            if not s:
                continue
            lines.append('| %s | %s | %d | %d | %d | %d | %d |' % (
                r['label'], cat, s.get('ops', 0), s.get('crash points', 0),
                s.get('states', 0), s.get('most pending', 0), viol[cat]))
            tot.update({'ops': s.get('ops', 0), 'points': s.get('crash points', 0),
                        'states': s.get('states', 0), 'viol': viol[cat]})
            tot['covered'] = max(tot['covered'], s.get('most pending', 0))
    lines.append('| **total** | | %d | %d | %d | %d | %d |' % (
        tot['ops'], tot['points'], tot['states'], tot['covered'], tot['viol']))
    lines += ['', 'Crash points where some target had more than %d pending items (bounded '
              'enumeration there): %s; most pending items on a node at one point: %s.' % (
                  ALL_SUBSETS_MAX, ', '.join('%s %d' % (r['label'], r['bounded_points'])
                                             for r in results),
                  max(r['max_pending'] for r in results))]
    relied = collections.Counter()
    for r in results:
        relied.update(r['relied_upon'])
    lines += ['', 'Orderings relied upon beyond POSIX: %s' % ('none found' if not relied
                                                             else '')]
    lines += ['- %s: %d calls' % x for x in sorted(relied.items())]
    bad = [(r['label'], v, r['first_state']) for r in results for v in r['violations']]
    lines += ['', 'Violations: %d' % len(bad)] + \
        ['- %s [%s] %s (%d states); first: %s' % (label, cat, msg, n, first.get(msg, '?'))
         for label, (cat, msg, n), first in bad[:60]]
    checks = [(r['label'], k, n) for r in results for k, n in r.get('selfcheck', {}).items()]
    if checks:
        lines += ['', 'Self-check (the same recordings with syncs dropped must fail):'] + \
            ['- %s, without %s: %d violating states%s' % (label, k, n, '' if n else
                                                           ' -- THE CHECKS CANNOT FAIL')
             for label, k, n in checks]
    mism = [(r['label'], m) for r in results for m in r['model_mismatch']]
    if mism:
        lines += ['', 'MODEL DOES NOT MATCH THE DISK (the recording is not trustworthy):'] + \
            ['- %s %s' % x for x in mism]
    return '\n'.join(lines) + '\n', len(bad) + len(mism) + sum(1 for c in checks if not c[2])


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--long', action='store_true')
    ap.add_argument('--ops', default='', help='comma list of ' + ', '.join(OPERATIONS))
    ap.add_argument('--sizes', default='', help='objects per partition, comma list')
    ap.add_argument('--out', default=os.path.join(os.getcwd(), 'crashstates-results'))
    ap.add_argument('--workdir', help='scratch dir (default: a new temp dir, removed)')
    ap.add_argument('--seed', type=int, default=1)
    return ap.parse_args()


def main():
    args = parse_args()
    if not shutil.which('strace'):
        sys.exit('crashstates: strace is needed to record the sessions (scripts/install-deps.sh)')
    private_etc.reexec_isolated()  # the cluster's swift.conf must not replace the host's
    ops = [o for o in args.ops.split(',') if o] or \
        (list(OPERATIONS) if args.long else ['native-batch', 'ssync'])
    sizes = [int(s) for s in args.sizes.split(',') if s] or ([4, 12, 40] if args.long else [4])
    own = not args.workdir
    workdir = args.workdir or tempfile.mkdtemp(prefix='replicant-crashstates-')
    os.makedirs(workdir, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.monotonic()
    results = []
    try:
        for size in sizes:
            session = Session(workdir, args.seed, size)
            try:
                for op in ops:
                    r = explore_op(session, op, workdir, selfcheck=not results)
                    r['label'] = '%s, %d objects/partition' % (op, size)
                    results.append(r)
                    print('%s: %d calls, %s, %d violations, %.0f s' % (
                        r['label'], r['calls_modelled'],
                        {k: v.get('states') for k, v in r['stats'].items()},
                        len(r['violations']), r['seconds']), flush=True)
            finally:
                session.close()
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    header = '%s run, seed %d, %d sessions in %.0f s' % (
        '--long' if args.long else 'reduced', args.seed, len(results), time.monotonic() - t0)
    text, bad = table(results, header)
    with open(os.path.join(args.out, 'table.md'), 'w') as f:
        f.write(text)
    with open(os.path.join(args.out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    print(text)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
