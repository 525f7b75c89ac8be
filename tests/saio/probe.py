#!/usr/bin/python3
"""Swift's probe tests on a SAIO, with Swift's replicator and with replicant (issue 17).

    probe.py [--variants baseline,rsync,ssync,native,mixed|all] [--modules a.py,b.py]
             [--replicant BIN] [--work DIR] [--src-cache DIR] [--table FILE]

Fetches Swift's source (fetch_swift.sh), then runs each variant in a fresh SAIO inside its
own mount, network and pid namespaces (variant.py), one after the other, and prints the
table module x variant. Exit status 0 only when every test passed in every replicant
variant, except tests that skip themselves (Swift's own SkipTest, e.g. a policy the SAIO
lacks) with the same reason in every variant run; and, with the baseline run, every test
that passed in it passed in each replicant variant.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
PRIVATE_ETC = os.path.join(SOURCE, 'tests', 'support', 'private_etc.py')
ALL_VARIANTS = ['baseline', 'rsync', 'ssync', 'native', 'mixed']
MODULES = ['test_object_handoff.py', 'test_empty_device_handoff.py',
           'test_replication_servers_working.py', 'test_object_failures.py',
           'test_object_async_update.py']
VARIANT_TIMEOUT = int(os.environ.get('SAIO_VARIANT_TIMEOUT', '3600'))


def run_variant(variant, args, tree):
    work = os.path.join(args.work, variant)
    subprocess.run(['rm', '-rf', work], check=True)
    os.makedirs(work)
    cmd = ['/usr/bin/python3', PRIVATE_ETC,
           'unshare', '--net', '--pid', '--fork', '--mount-proc', '--kill-child', '--',
           '/usr/bin/python3', os.path.join(HERE, 'variant.py'), '--variant', variant,
           '--swift-tree', tree, '--work', work, '--replicant', args.replicant] + args.modules
    start = time.time()
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        rc = proc.wait(timeout=VARIANT_TIMEOUT)
    except BaseException:
        # --kill-child: the pid namespace's first process, and so all of it, dies too.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    try:
        with open(os.path.join(work, 'results.json')) as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = {'variant': variant, 'modules': {}}
    result['rc'] = rc
    result['seconds'] = round(time.time() - start, 1)
    return result


def cell(test):
    if test is None:
        return 'not run'
    if test['status'] == 'passed':
        return 'passed'
    return '%s: %s' % (test['status'], test['reason'].replace('|', '/'))


def table(results, modules):
    variants = [r['variant'] for r in results]
    lines = ['| module / test | ' + ' | '.join(variants) + ' |',
             '|---' * (len(variants) + 1) + '|']
    for module in modules:
        names = []
        for r in results:
            for name in r['modules'].get(module, {}).get('tests', {}):
                if name not in names:
                    names.append(name)
        secs = ['%.0f s' % r['modules'][module]['seconds'] if module in r['modules'] else '-'
                for r in results]
        lines.append('| **%s** (wall time) | %s |' % (module, ' | '.join(secs)))
        for name in names:
            row = [cell(r['modules'].get(module, {}).get('tests', {}).get(name))
                   for r in results]
            lines.append('| %s | %s |' % (name, ' | '.join(row)))
    lines.append('| `swift-init object-replicator once -c 1` runs the variant\'s replicator | '
                 + ' | '.join(cell(r.get('swift-init')) for r in results) + ' |')
    return '\n'.join(lines)


def problems(results, modules):
    """Why this run fails (empty: it passes)."""
    out = []
    by_variant = {r['variant']: r for r in results}
    baseline = by_variant.get('baseline')
    for r in results:
        if r['rc'] != 0:
            out.append('%s: the variant run exited %s' % (r['variant'], r['rc']))
        if r.get('swift-init', {}).get('status') != 'passed':
            out.append('%s: swift-init check: %s' % (r['variant'], cell(r.get('swift-init'))))
        for module in modules:
            if module not in r['modules']:
                out.append('%s: %s did not run' % (r['variant'], module))
                continue
            for name, t in r['modules'][module]['tests'].items():
                key = '%s %s::%s' % (r['variant'], module, name)
                if t['status'] == 'failed' and r['variant'] != 'baseline':
                    out.append('%s: %s' % (key, cell(t)))
                elif t['status'] == 'skipped':
                    others = {cell(o['modules'].get(module, {}).get('tests', {}).get(name))
                              for o in results if module in o['modules']}
                    if len(others) != 1:
                        out.append('%s skipped, not identically in every variant' % key)
                if baseline and r is not baseline and module in baseline['modules']:
                    b = baseline['modules'][module]['tests'].get(name)
                    if b and b['status'] == 'passed' and t['status'] != 'passed':
                        out.append('%s: passed in the baseline, %s here' % (key, t['status']))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--variants', default='all')
    ap.add_argument('--modules', default=','.join(MODULES))
    ap.add_argument('--replicant', default=os.path.join(SOURCE, 'build', 'replicant'))
    ap.add_argument('--work', default=os.path.join(SOURCE, 'build', 'probe'))
    ap.add_argument('--src-cache', default=os.path.join(SOURCE, 'build', 'saio-src'))
    ap.add_argument('--table', help='also write the table (markdown) here')
    args = ap.parse_args()
    variants = ALL_VARIANTS if args.variants == 'all' else args.variants.split(',')
    bad = [v for v in variants if v not in ALL_VARIANTS]
    args.modules = [m if m.endswith('.py') else m + '.py' for m in args.modules.split(',')]
    if bad or not variants:
        ap.error('unknown variant(s) %s; choose from %s or all' % (bad, ALL_VARIANTS))
    args.replicant = os.path.abspath(args.replicant)
    if not os.access(args.replicant, os.X_OK) or not os.path.islink(
            os.path.join(os.path.dirname(args.replicant), 'swift-object-replicator')):
        ap.error('%s (with its swift-object-replicator link) not built' % args.replicant)
    sys.path.insert(0, os.path.dirname(PRIVATE_ETC))
    import private_etc
    if not private_etc.namespace_possible():
        # The SAIO's fixed ports, /srv and swift-orphans need the namespaces.
        print('probe: skipped: needs root and unshare (mount, net and pid namespaces)')
        return 77
    tree = subprocess.run([os.path.join(HERE, 'fetch_swift.sh'), args.src_cache],
                          check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    results = []
    for variant in variants:
        print('probe: variant %s ...' % variant, flush=True)
        results.append(run_variant(variant, args, tree))
        print('probe: variant %s done in %.0f s' % (variant, results[-1]['seconds']),
              flush=True)
    text = table(results, args.modules)
    text += '\n\nVariant wall times: ' + ', '.join(
        '%s %.0f s' % (r['variant'], r['seconds']) for r in results) + '\n'
    print(text)
    with open(os.path.join(args.work, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    if args.table:
        with open(args.table, 'w') as f:
            f.write(text)
    why = problems(results, args.modules)
    for line in why:
        print('probe: FAIL %s' % line)
    print('probe: %s (logs under %s)' % ('FAILED' if why else 'passed', args.work))
    return 1 if why else 0


if __name__ == '__main__':
    sys.exit(main())
