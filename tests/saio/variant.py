#!/usr/bin/python3
"""Runs Swift's probe test modules on a fresh SAIO in one variant; writes results.json.

Started by probe.py as the first process (pid 1) of its own mount, network and pid
namespaces (private_etc.py, then `unshare --net --pid --fork --mount-proc`): every process
the run starts lives in that pid namespace, and dies with this one, whatever happens.

    variant.py --variant V --swift-tree DIR --work DIR --replicant BIN MODULE.py...
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from saio import Saio, node_plan

MODULE_TIMEOUT = int(os.environ.get('SAIO_MODULE_TIMEOUT', '1500'))


def _stop_on_signal(signum, frame):
    # pid 1 has no default action for SIGTERM: exit through the finally below.
    raise SystemExit('variant.py: signal %d' % signum)


def check_swift_init(saio):
    """`swift-init object-replicator once -c 1` runs the variant's replicator on node 1:
    replicant leaves its progress file in the recon cache, Swift's replicator does not."""
    progress = '/var/cache/swift/replicant-progress.json'
    if os.path.exists(progress):
        os.unlink(progress)
    p = subprocess.run(['swift-init', 'object-replicator', 'once', '-c', '1'],
                       env=saio.env(), capture_output=True, text=True, timeout=300)
    ran_replicant = os.path.exists(progress)
    want = node_plan(saio.variant, 1)[0] == 'replicant'
    ok = p.returncode == 0 and ran_replicant == want
    return {'status': 'passed' if ok else 'failed',
            'reason': '' if ok else 'rc=%d replicant ran: %s; output: %s' % (
                p.returncode, ran_replicant, (p.stdout + p.stderr)[-2000:])}


def parse_junit(path):
    results = {}
    root = ET.parse(path).getroot()
    for case in root.iter('testcase'):
        name = '%s::%s' % (case.get('classname').rsplit('.', 1)[-1], case.get('name'))
        status, reason = 'passed', ''
        for tag in ('failure', 'error', 'skipped'):
            el = case.find(tag)
            if el is not None:
                status = 'skipped' if tag == 'skipped' else 'failed'
                reason = (el.get('message') or '').strip().splitlines()[0:1]
                reason = reason[0][:300] if reason else tag
                break
        results[name] = {'status': status, 'reason': reason,
                         'seconds': round(float(case.get('time', 0)), 1)}
    return results


def run_module(saio, shim, module):
    xml = os.path.join(saio.work, 'junit-%s.xml' % module[:-3])
    log = os.path.join(saio.work, 'log', 'pytest-%s.log' % module[:-3])
    start = time.time()
    with open(log, 'w') as out:
        try:
            p = subprocess.run(
                ['/usr/bin/python3', '-m', 'pytest', '-v', '-p', 'no:cacheprovider',
                 '-W', 'ignore::DeprecationWarning', '--junitxml', xml,
                 os.path.join('test', 'probe', module)],
                cwd=shim, env=saio.env(), stdout=out, stderr=subprocess.STDOUT,
                timeout=MODULE_TIMEOUT)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = 'timeout after %d s' % MODULE_TIMEOUT
    seconds = round(time.time() - start, 1)
    tests = parse_junit(xml) if os.path.exists(xml) else {}
    if not tests:
        tests = {'(module)': {'status': 'failed', 'reason': 'pytest: %s (%s)' % (rc, log),
                              'seconds': seconds}}
    return {'seconds': seconds, 'tests': tests, 'log': log}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--variant', required=True)
    ap.add_argument('--swift-tree', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--replicant', required=True)
    ap.add_argument('modules', nargs='+')
    args = ap.parse_args()
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _stop_on_signal)
    saio = Saio(args.swift_tree, args.work, args.variant, args.replicant)
    result = {'variant': args.variant, 'modules': {}}
    out = os.path.join(args.work, 'results.json')
    try:
        saio.build()
        saio.start_support()
        result['swift-init'] = check_swift_init(saio)
        # The probe tests import `test.probe` from Swift's tree, and `swift` from Debian's
        # python3-swift: a dir holding only a link to test/ keeps the tree's swift/ away.
        shim = os.path.join(args.work, 'shim')
        os.makedirs(shim, exist_ok=True)
        link = os.path.join(shim, 'test')
        if not os.path.islink(link):
            os.symlink(os.path.join(args.swift_tree, 'test'), link)
        for module in args.modules:
            result['modules'][module] = run_module(saio, shim, module)
            print('variant %s: %s done in %.0f s' % (
                args.variant, module, result['modules'][module]['seconds']), flush=True)
            with open(out, 'w') as f:
                json.dump(result, f, indent=1)
    finally:
        saio.stop()
        with open(out, 'w') as f:
            json.dump(result, f, indent=1)
    return 0


def init():
    """As the pid namespace's first process: run main() in a child and reap every orphan
    (killed servers' workers), as init does: an unreaped zombie looks alive to Swift's
    Manager, which then waits its kill timeout for it."""
    child = os.fork()
    if child == 0:
        sys.exit(main())
    signal.signal(signal.SIGTERM, lambda signum, frame: os.kill(child, signum))
    signal.signal(signal.SIGINT, lambda signum, frame: os.kill(child, signum))
    while True:
        pid, status = os.wait()
        if pid == child:
            return os.waitstatus_to_exitcode(status)


if __name__ == '__main__':
    sys.exit(init() if os.getpid() == 1 else main())
