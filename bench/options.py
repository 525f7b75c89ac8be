"""What a bench run compares and how it is asked for: the methods (replicator, sync
method, peers), the scenarios and which methods each compares, and the command line."""
import argparse
import collections
import os

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(BENCH_DIR)

BASELINE = 'swift-rsync'
LIMIT = 'limit (tar)'
# tar, then `sync -f` of the destination's filesystem: the same copy made durable, which
# a replicator must do before it acknowledges a file (and tar alone never does)
LIMIT_SYNCED = 'limit (tar + sync)'
# bench/durable_copy: every file written to each receiving node's share of the disk and
# made durable on its own, as Swift's object server does for a PUT (temp file, fsync,
# rename, fsync of its dirs), one writer per receiving node: a plain durable copy without
# network or hashing, for reference
LIMIT_FSYNC = 'limit (fsync per file)'
# the same copy made durable in the native receiver's batches (durable_copy --batched)
LIMIT_BATCHED = 'limit (batched durable)'
# the durable parallel copies; "of limit" is against the fastest of them
DURABLE_LIMITS = (LIMIT_FSYNC, LIMIT_BATCHED)

# One measured run of a method (or a limit row) in a scenario.
Run = collections.namedtuple(
    'Run', 'scenario method repeat wall pass_s passes converged rc user_s sys_s maxrss_kb '
           'cluster_cpu_s load1 objects copies bytes note')

# name, tool (swift | replicant), sync_method, peers (swift: Swift object servers answer
# REPLICATE/SSYNC; serve: `replicant serve` on each node's replication port), variant
# ('nodelay': a what-if, the replicator's `rsync` is a PATH wrapper adding
# --sockopts=TCP_NODELAY; see docs/bench.md)
Method = collections.namedtuple('Method', 'name tool sync_method peers variant',
                                defaults=('',))
METHODS = [
    Method('swift-rsync', 'swift', 'rsync', 'swift'),
    Method('swift-ssync', 'swift', 'ssync', 'swift'),
    Method('replicant-rsync', 'replicant', 'rsync', 'swift'),
    Method('swift-rsync+nodelay', 'swift', 'rsync', 'swift', 'nodelay'),
    Method('replicant-rsync+nodelay', 'replicant', 'rsync', 'swift', 'nodelay'),
    Method('replicant-ssync', 'replicant', 'ssync', 'swift'),
    Method('replicant-rsync/serve', 'replicant', 'rsync', 'serve'),
    Method('replicant-ssync/serve', 'replicant', 'ssync', 'serve'),
    Method('replicant-native/serve', 'replicant', 'native', 'serve'),
    # priority replication (bench/priority.py): the command runs right after the ring
    # change (resp. the device's wipe), then the same daemons as replicant-native/serve
    Method('replicant-native/serve+moveparts', 'replicant', 'native', 'serve', 'moveparts'),
    Method('replicant-native/serve+restore-device', 'replicant', 'native', 'serve',
           'restore-device'),
]
# which methods each scenario compares
SCENARIO_METHODS = {
    'initial': ['swift-rsync', 'swift-ssync', 'replicant-rsync', 'replicant-ssync',
                'replicant-ssync/serve', 'replicant-native/serve', 'swift-rsync+nodelay',
                'replicant-rsync+nodelay'],
    'idle': ['swift-rsync', 'replicant-rsync', 'replicant-rsync/serve',
             'replicant-native/serve'],
    'drain': ['swift-rsync', 'swift-ssync', 'replicant-rsync', 'replicant-ssync',
              'replicant-ssync/serve', 'replicant-native/serve', 'swift-rsync+nodelay',
              'replicant-rsync+nodelay'],
    'rebalance': ['swift-rsync', 'replicant-native/serve', 'replicant-native/serve+moveparts'],
    'restore': ['swift-rsync', 'replicant-native/serve',
                'replicant-native/serve+restore-device'],
    'scale': ['swift-rsync', 'replicant-rsync', 'replicant-native/serve'],
}
# what --rtt-ms runs at each round-trip time (bench/rtt.py), unless --methods / --scenarios
RTT_METHODS = ('swift-rsync', 'replicant-rsync', 'replicant-native/serve')
RTT_SCENARIOS = ('initial-small', 'initial-large', 'idle')
# in the order they run (rebalance and drain change their clusters' rings)
ALL_SCENARIOS = ('initial-small', 'initial-large', 'idle', 'scale', 'restore', 'rebalance',
                 'drain')
# what runs without --scenarios (the priority ones and scale are asked for by name)
DEFAULT_SCENARIOS = ('initial-small', 'initial-large', 'idle', 'drain')


def default_replicant_bin():
    env = os.environ.get('REPLICANT_BIN')
    if env:
        return env
    for d in ('build-bench', 'build'):
        p = os.path.join(SOURCE_DIR, d, 'replicant')
        if os.access(p, os.X_OK):
            return p
    return os.path.join(SOURCE_DIR, 'build-bench', 'replicant')


def parse_args(argv, description=None):
    ap = argparse.ArgumentParser(description=description,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_size_args(ap)
    _add_run_args(ap)
    _add_scale_args(ap)
    a = ap.parse_args(argv)
    quick = dict(repeat=1, objects=60, size=4096, large_objects=2, large_size=1 << 20,
                 part_power=3, idle_part_powers='3,5')
    full = dict(repeat=3, objects=20000, size=4096, large_objects=200, large_size=4 << 20,
                part_power=10, idle_part_powers='10,14')
    for k, v in (quick if a.quick else full).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.idle_objects is None:
        a.idle_objects = a.objects
    a.idle_part_powers = [int(x) for x in a.idle_part_powers.split(',') if x]
    _check_scale_args(ap, a)
    _check_scenarios_and_methods(ap, a)
    if a.out is None:
        a.out = os.path.join(BENCH_DIR, 'results', 'quick' if a.quick else '')
    a.out = os.path.abspath(a.out)
    return a


def _add_size_args(ap):
    """What is measured: sizes, part powers, round-trip times, scenarios and methods."""
    ap.add_argument('--quick', action='store_true',
                    help='smoke size (CI): 1 repeat, 60 x 4 KiB + 2 x 1 MiB objects, part '
                         'power 3 (idle 3 and 5); results under bench/results/quick')
    ap.add_argument('--repeat', type=int, help='runs per method (median quoted); default 3')
    ap.add_argument('--objects', type=int, help='small objects (default 20000)')
    ap.add_argument('--size', type=int, help='small object size in bytes (default 4096)')
    ap.add_argument('--large-objects', type=int, help='large objects (default 200)')
    ap.add_argument('--large-size', type=int, help='large object size (default 4 MiB)')
    ap.add_argument('--part-power', type=int, help='initial sync and drain (default 10)')
    ap.add_argument('--idle-part-powers', help='comma list (default 10,14)')
    ap.add_argument('--idle-objects', type=int, help='objects in the idle tree '
                                                     '(default --objects)')
    ap.add_argument('--rtt-ms', metavar='L',
                    help='comma list of round-trip times in ms (e.g. 0,1,5): the scenarios '
                         '(default %s) run once per RTT with every server port behind '
                         'bench/delay_relay (one-way delay RTT/2); methods default to %s'
                         % (','.join(RTT_SCENARIOS), ','.join(RTT_METHODS)))
    ap.add_argument('--rate-mbit', type=float, default=0,
                    help='with --rtt-ms: also cap each relayed link direction to this rate')
    ap.add_argument('--scenarios',
                    help='comma list of %s (default: all but scale, restore and rebalance)'
                         % ', '.join(ALL_SCENARIOS))
    ap.add_argument('--methods', help='comma list of method names (default: all available; '
                                      '%s always runs)' % BASELINE)
    ap.add_argument('--concurrency', type=int, default=1,
                    help='[object-replicator] concurrency for every replicator (default 1, '
                         "Swift's default)")
    ap.add_argument('--replicator-option', action='append', default=[], metavar='KEY=VALUE',
                    help='extra [object-replicator] option for every node (repeatable), e.g. '
                         'replicate_window=32 (Swift ignores replicant-only ones)')
    ap.add_argument('--server-option', action='append', default=[], metavar='KEY=VALUE',
                    help='extra [replicant-server] option for every `replicant serve` '
                         '(repeatable), e.g. replication_concurrency_per_device=2')


def _add_run_args(ap):
    """How a run goes: the cluster, the passes, the load gate, where things are."""
    ap.add_argument('--nodes', type=int, default=4)
    ap.add_argument('--replicas', type=int, default=3)
    ap.add_argument('--max-passes', type=int, default=3,
                    help='passes allowed to converge (their times add up)')
    ap.add_argument('--pass-timeout', type=float, default=3600)
    ap.add_argument('--max-load', type=float, default=0,
                    help='before each timed run wait (up to --load-wait s) until the 1-minute '
                         'load average is below this (0: do not wait)')
    ap.add_argument('--load-wait', type=float, default=900)
    ap.add_argument('--replicant', default=default_replicant_bin(),
                    help='replicant binary (default build-bench/replicant, $REPLICANT_BIN)')
    ap.add_argument('--workdir', default='/var/tmp/replicant-bench',
                    help='clusters, cached object templates, logs (needs room for the trees)')
    ap.add_argument('--fs-image', metavar='SIZE',
                    help='put the clusters, templates and the limit copy on a fresh ext4 '
                         '(with journal) loop-mounted image of SIZE (e.g. 16G) under '
                         '--workdir, made and removed by the run (needs root); the loop '
                         'device does direct I/O')
    ap.add_argument('--loop-buffered', action='store_true',
                    help='with --fs-image: a buffered loop device, as in results before '
                         'the seventh round: a second page cache under the image, whose '
                         'fsyncs also fsync the image file')
    ap.add_argument('--out', help='results dir (default bench/results, quick: '
                                  'bench/results/quick)')
    ap.add_argument('--keep', action='store_true',
                    help='keep cluster dirs and logs (scale: with their trees)')
    ap.add_argument('--report-only', action='store_true',
                    help='only redo the tables and charts from --out/runs.csv')


def _add_scale_args(ap):
    """The growth curves' grid (bench/scale.py)."""
    ap.add_argument('--scale-objects', default='1e4,1e5,1e6',
                    help='scale (growth curves, bench/scale.py): objects per cell, comma list')
    ap.add_argument('--scale-part-powers', default='10,14,16,18',
                    help='scale: part powers, comma list')
    ap.add_argument('--scale-once-objects', type=float, default=1e6,
                    help="scale: from this many objects on, Swift's replicator runs once per "
                         'cell instead of --repeat times')
    ap.add_argument('--scale-kinds', default='swift,serve',
                    help="scale: each cell's kinds of peers, in this order: 'swift' (Swift's "
                         "object servers: Swift's replicator, replicant-rsync) and 'serve' "
                         '(replicant serve: native); each kind is laid out, warmed up and '
                         'timed in turn')
    ap.add_argument('--scale-resume', action='store_true',
                    help="scale: lay a cell's tree out over the one a kept (--keep) cluster "
                         'of the same name holds (a layout cut off midway), not anew: on a '
                         'slow disk, deleting a 10^6-object tree costs far more than '
                         'finishing it. Its hashes.pkl are removed; the convergence check '
                         'after the warm-up counts anything left over')
    ap.add_argument('--scale-share-tree', action='store_true',
                    help="scale: a cell's tree is laid out once: the first kind of peers "
                         'hands it, with its hashes.pkl, to the next (a rename per node) '
                         'when its passes left it converged, instead of the next kind '
                         'wiping and laying it out again; so both kinds fit the disk and '
                         'one run at 10^6 objects')


def _check_scale_args(ap, a):
    try:
        a.scale_objects = [int(float(x)) for x in a.scale_objects.split(',') if x]
        a.scale_part_powers = [int(x) for x in a.scale_part_powers.split(',') if x]
    except ValueError as e:
        ap.error('--scale-objects / --scale-part-powers: %s' % e)
    if not a.scale_objects or not a.scale_part_powers or \
            min(a.scale_objects) < 1 or not all(1 <= p <= 32 for p in a.scale_part_powers):
        ap.error('--scale-objects needs counts >= 1, --scale-part-powers powers in 1..32')
    a.scale_kinds = [k for k in a.scale_kinds.split(',') if k]
    if not a.scale_kinds or set(a.scale_kinds) - {'swift', 'serve'}:
        ap.error('--scale-kinds: a comma list of swift and serve')


def _check_scenarios_and_methods(ap, a):
    rtt = a.rtt_ms is not None
    try:
        a.rtt_ms = None if not rtt else [float(x) for x in a.rtt_ms.split(',') if x]
    except ValueError:
        ap.error('--rtt-ms: a comma list of round-trip times in ms, e.g. 0,1,5')
    if a.scenarios is None:
        a.scenarios = ','.join(RTT_SCENARIOS if rtt else DEFAULT_SCENARIOS)
    a.scenarios = [s for s in a.scenarios.split(',') if s]
    for s in a.scenarios:
        if s not in ALL_SCENARIOS:
            ap.error('unknown scenario %r' % s)
        if rtt and s not in RTT_SCENARIOS:
            ap.error('--rtt-ms runs only %s, not %r' % (', '.join(RTT_SCENARIOS), s))
    if rtt and (not a.rtt_ms or any(x < 0 for x in a.rtt_ms)):
        ap.error('--rtt-ms: a comma list of round-trip times >= 0')
    if rtt and not a.methods:
        a.methods = ','.join(RTT_METHODS)
    a.methods = None if not a.methods else [m for m in a.methods.split(',') if m]
    if any('=' not in o for o in a.replicator_option):
        ap.error('--replicator-option: KEY=VALUE')
    a.replicator_option = dict(o.split('=', 1) for o in a.replicator_option)
    if any('=' not in o for o in a.server_option):
        ap.error('--server-option: KEY=VALUE')
    a.server_option = dict(o.split('=', 1) for o in a.server_option)
    if a.methods is not None:
        known = {m.name for m in METHODS}
        for m in a.methods:
            if m not in known:
                ap.error('unknown method %r (known: %s)' % (m, ', '.join(sorted(known))))
        if BASELINE not in a.methods:
            a.methods.insert(0, BASELINE)
