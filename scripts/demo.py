#!/usr/bin/python3
"""The README's first command: a self-contained loopback Swift cluster (four real
swift-object-server nodes, an rsync daemon, rings from swift-ring-builder), sample objects
written onto node 0 only, one `replicant replicate --once` pass for node 0, and a check
that every object now sits on all of its primaries. Cleans up after itself."""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests',
                                'support'))
import private_etc  # noqa: E402
from cluster import Cluster  # noqa: E402
from objects import ACCOUNT, CONTAINER, check_spread, pick_objects  # noqa: E402
from replicant_test import REPLICANT_BIN, run, seeded_random  # noqa: E402


def census(c):
    return ', '.join('%s: %d' % (n.name, sum(f.ext == '.data' for f in c.list_objects_on(n)))
                     for n in c.nodes)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--objects', type=int, default=60)
    ap.add_argument('--sync-method', default='rsync', choices=['rsync'])
    args = ap.parse_args()
    private_etc.reexec_isolated()  # the cluster's swift.conf must not replace the host's
    rng = seeded_random('demo')
    with Cluster(nodes=4, replicas=3, part_power=8,
                 replicator_options={'sync_method': args.sync_method,
                                     'concurrency': 4}) as c:
        print(c.describe())
        node0 = c.nodes[0]
        objects = pick_objects(rng, c, node0, count=args.objects)
        for name, body, meta in objects:
            c.write_object_on(node0, ACCOUNT, CONTAINER, name, body,
                              headers={'X-Object-Meta-Tag': meta})
        print('\nwrote %d objects onto %s only' % (len(objects), node0.name))
        print('objects (.data files) per node before: ' + census(c))
        t0 = time.time()
        p = run([REPLICANT_BIN, 'replicate', node0.conf_path, '--once'], check=False)
        elapsed = time.time() - t0
        summary = [l for l in p.stderr.splitlines() if 'Replication pass' in l]
        print('\n$ replicant replicate %s --once   (%.2fs, exit %d)' % (
            node0.conf_path, elapsed, p.returncode))
        print('\n'.join(summary))
        print('objects (.data files) per node after:  ' + census(c))
        problems = check_spread(c, objects, node0)
        if p.returncode != 0 or problems:
            print(p.stderr[-4000:])
            print('\nFAILED: %d problems, e.g. %s' % (len(problems), problems[:3]))
            return 1
        print('\nOK: all %d objects sit on their 3 primaries (GET checked body, ETag and '
              'metadata on each), and node 0 kept no handoff copies.' % len(objects))
        return 0


if __name__ == '__main__':
    sys.exit(main())
