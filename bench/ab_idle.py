#!/usr/bin/python3
"""Idle passes of two (or more) replicant binaries, alternated on one kept native/serve
cluster: an A/B of one change on the same tree, page cache and hour.

    bench/ab_idle.py --cluster DIR --binary old=PATH --binary new=PATH [--repeat 3]
                     [--swift SWIFT_DIR] [--max-load 1.5] [--out DIR]

DIR is a cluster the bench kept (`--keep`; e.g. the scale scenario's
/var/tmp/replicant-bench/clusters/pp18-serve, converged and warmed up by its run). For each
repeat, in an order that rotates, each binary: `replicant serve` started on every node
with it, the 1-minute load awaited under --max-load, then node 0's `replicate --once`
under GNU time; then the serves are stopped. Wall time end to end (exec to exit), the
replicator's CPU and peak RSS, and the peers' CPU, per pass, into --out/ab_idle.csv, and
a table (median per binary, ratio to the first) into --out/ab_idle.md. Main thread only.

--swift SWIFT_DIR adds Swift's replicator as one more contender, 'swift', on the same tree:
SWIFT_DIR is the Swift-peers cluster of the same cell, kept by the same run (`--keep`; the
same ring seed, so the same partitions on the same nodes). For its pass the tree (each
node's devices dir) is renamed into SWIFT_DIR, every node's `swift-object-server` started
there, and node 0's `swift-object-replicator ... once` timed the same way; then the servers
are stopped and the tree renamed back. No rsync daemon runs: an idle pass has nothing to
push, and one that tried would count failures in its log.
"""
import argparse
import configparser
import csv
import glob
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, '..', 'tests', 'support')]
import private_etc  # noqa: E402
import cluster as cluster_mod  # noqa: E402
import swift_conf  # noqa: E402
from host import GNU_TIME, load1, log, parse_gnu_time, proc_cpu_seconds  # noqa: E402

FIELDS = ['binary', 'repeat', 'wall_s', 'rc', 'user_s', 'sys_s', 'maxrss_kb', 'peers_cpu_s',
          'load1']


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cluster', required=True, help='a cluster dir kept by the bench')
    ap.add_argument('--binary', action='append', required=True, metavar='NAME=PATH')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--swift', metavar='SWIFT_DIR',
                    help="also time Swift's replicator on the same tree, with this kept "
                         'Swift-peers cluster of the same cell')
    ap.add_argument('--max-load', type=float, default=1.5, help='0: do not wait')
    ap.add_argument('--load-wait', type=int, default=1800)
    ap.add_argument('--out', required=True)
    a = ap.parse_args(argv)
    a.binaries = []
    for b in a.binary:
        name, _, path = b.partition('=')
        if not name or not os.access(path, os.X_OK):
            ap.error('--binary %r: want NAME=PATH of an executable' % b)
        a.binaries.append((name, path))
    if a.swift:
        if any(name == 'swift' for name, _ in a.binaries):
            ap.error("--binary: the name 'swift' is --swift's")
        a.binaries.append(('swift', os.path.join(swift_conf.SWIFT_BIN_DIR,
                                                 'swift-object-replicator')))
    return a


def node_confs(cluster):
    confs = sorted(glob.glob(os.path.join(cluster, 'node*', 'object-server.conf')))
    if not confs:
        raise SystemExit('ab_idle: no node*/object-server.conf under %s' % cluster)
    return confs


def conf_port(conf, section):
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.read(conf)
    return int(cp[section]['bind_port'])


def move_tree(confs, to_confs):
    """Renames each node's devices dir from the cluster of confs to that of to_confs."""
    for conf, to in zip(confs, to_confs):
        os.rename(os.path.join(os.path.dirname(conf), 'devices'),
                  os.path.join(os.path.dirname(to), 'devices'))


def start_servers(confs, log_dir, command, name, port_section, env=None):
    """One server per node conf (command + [conf], its output in log_dir), each awaited
    on its conf's bind_port in port_section; all stopped if one fails to start."""
    procs = []
    try:
        for conf in confs:
            with open(os.path.join(log_dir, os.path.basename(os.path.dirname(conf)) +
                                   '-%s.log' % name), 'ab') as logf:
                procs.append(subprocess.Popen(command(conf), stdout=logf, env=env,
                                              stderr=subprocess.STDOUT, start_new_session=True))
            cluster_mod.wait_for_port(conf_port(conf, port_section), timeout=60,
                                      proc=procs[-1])
    except BaseException:
        stop(procs)
        raise
    return procs


def stop(procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def one_pass(name, binary, rep, confs, a):
    log_dir = os.path.join(a.out, 'logs')
    swift = name == 'swift' and a.swift
    if swift:
        swift_confs = node_confs(a.swift)
        move_tree(confs, swift_confs)
        try:
            server = os.path.join(swift_conf.SWIFT_BIN_DIR, 'swift-object-server')
            procs = start_servers(swift_confs, log_dir, lambda c: [server, c, '-v'],
                                  'object-server', 'DEFAULT', procs_env(swift=True))
        except BaseException:
            move_tree(swift_confs, confs)
            raise
        command = [binary, swift_confs[0], 'once', '-v']
    else:
        # `replicant serve` listens on [replicant-server] bind_port
        procs = start_servers(confs, log_dir, lambda c: [binary, 'serve', c], 'serve',
                              'replicant-server')
        command = [binary, 'replicate', confs[0], '--once']
    try:
        l1 = load1()
        deadline = time.monotonic() + a.load_wait
        while a.max_load > 0 and l1 >= a.max_load and time.monotonic() < deadline:
            time.sleep(10)
            l1 = load1()
        cpu0 = sum(proc_cpu_seconds(p.pid) for p in procs)
        base = os.path.join(log_dir, '%d-%s' % (rep, name))
        with open(base + '.log', 'wb') as logf:
            t0 = time.monotonic()
            rc = subprocess.call([GNU_TIME, '-v', '-o', base + '.time'] + command,
                                 stdout=logf, stderr=subprocess.STDOUT,
                                 env=procs_env(swift))
            wall = time.monotonic() - t0
        peers_cpu = sum(proc_cpu_seconds(p.pid) for p in procs) - cpu0
    finally:
        stop(procs)
        if swift:
            move_tree(swift_confs, confs)
    row = dict(binary=name, repeat=rep, wall_s=round(wall, 3), rc=rc,
               peers_cpu_s=round(peers_cpu, 2), load1=round(l1, 2), **parse_gnu_time(base + '.time'))
    log('%s repeat %d: %.2fs (rc %d, CPU %.1f s, peers %.1f s, RSS %d KB, load %.2f)' % (
        name, rep, wall, rc, row['user_s'] + row['sys_s'], peers_cpu, row['maxrss_kb'], l1))
    return row


def procs_env(swift):
    """Swift's replicator loads the daemons' logging hook (cluster.swift_logging_hook)."""
    if not swift:
        return None
    return dict(os.environ, EVENTLET_NO_GREENDNS='yes',
                PYTHONPATH=os.path.join(HERE, '..', 'tests', 'support'))


def write_table(a, rows):
    with open(os.path.join(a.out, 'ab_idle.csv'), 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    lines = ['| binary | idle passes (s) | median (s) | speed-up vs %s | replicator CPU (s) | '
             'peers CPU (s) | peak RSS (MB) |' % a.binaries[0][0], '|---|---|---:|---:|---:|---:|---:|']
    first = None
    for name, _ in a.binaries:
        mine = [r for r in rows if r['binary'] == name]
        if not mine:
            continue
        med = statistics.median(r['wall_s'] for r in mine)
        first = first or med
        lines.append('| %s | %s | %.2f | %.2f× | %.1f | %.1f | %.1f |' % (
            name, ', '.join('%.2f' % r['wall_s'] + ('' if r['rc'] == 0 else ' (rc %d)' % r['rc'])
                            for r in mine),
            med, first / med, statistics.median(r['user_s'] + r['sys_s'] for r in mine),
            statistics.median(r['peers_cpu_s'] for r in mine),
            max(r['maxrss_kb'] for r in mine) / 1024))
    with open(os.path.join(a.out, 'ab_idle.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    private_etc.reexec_isolated()  # the cluster's swift.conf must not replace the host's
    with open(os.path.join(a.cluster, 'swift', 'swift.conf')) as f:
        cluster_mod.install_swift_conf(text=f.read())
    os.makedirs(os.path.join(a.out, 'logs'), exist_ok=True)
    confs = node_confs(a.cluster)
    rows = []
    for rep in range(a.repeat):
        k = rep % len(a.binaries)
        for name, binary in a.binaries[k:] + a.binaries[:k]:
            rows.append(one_pass(name, binary, rep, confs, a))
            write_table(a, rows)  # on disk after every pass: a stop loses nothing
    return 0 if all(r['rc'] == 0 for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
