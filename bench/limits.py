"""The limit rows of a bench run: a `tar --xattrs` copy of the same tree on the same disk
(`of tar`), the same copy until it is durable, and bench/durable_copy's two durable
copies to every receiving node at once, file by file and in batches as the native
receiver makes them durable (the faster of the two is what `of limit` refers to)."""
import os
import subprocess
import time

import seed
from host import GNU_TIME, parse_gnu_time
from options import LIMIT, LIMIT_BATCHED, LIMIT_FSYNC, LIMIT_SYNCED, Run


def run_all(bench, scenario, template, rep, manifest):
    """`tar --xattrs -cf - | tar --xattrs -xf -` of the template tree, same disk (recorded
    as limit (tar) and, timed until `sync -f` returns, limit (tar + sync)); then
    durable_copy of the same tree, file by file and batched. Returns the tar run."""
    dest = os.path.join(bench.data_dir, 'limit-dest')
    subprocess.run(['rm', '-rf', dest], check=True)
    os.makedirs(dest)
    subprocess.run(['sync'], check=False)
    l1 = bench.wait_quiet()
    src = os.path.join(template, seed.DEVICE)
    tdir = dest + '.time'
    os.makedirs(tdir, exist_ok=True)
    t0 = time.monotonic()
    p = subprocess.run([GNU_TIME, '-v', '-o', os.path.join(tdir, 'limit.time'), 'bash',
                        '-c', 'set -o pipefail; tar --xattrs -C "$1" -cf - objects | '
                        'tar --xattrs -C "$2" -xf -', 'limit', src, dest],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    subprocess.run(['sync', '-f', dest], check=False)
    synced_wall = time.monotonic() - t0
    t = parse_gnu_time(os.path.join(tdir, 'limit.time'))
    files, nbytes = seed.tree_stats(dest)
    ok = p.returncode == 0 and files == len(manifest['objects'])
    note = '' if ok else 'tar exited %d, %d files: %s' % (p.returncode, files, p.stdout[-300:])
    run = Run(scenario, LIMIT, rep, wall, wall, 1, ok, p.returncode, t['user_s'],
              t['sys_s'], t['maxrss_kb'], 0.0, l1, files, files, nbytes, note)
    bench.record(run)
    bench.record(run._replace(method=LIMIT_SYNCED, wall=synced_wall, pass_s=synced_wall))
    subprocess.run(['rm', '-rf', dest, tdir], check=True)
    # alternate which durable copy goes first, as the methods' order rotates
    for batched in ((False, True) if rep % 2 == 0 else (True, False)):
        durable_copy(bench, scenario, src, rep, len(manifest['objects']),
                     sum(o[3] for o in manifest['objects']), batched)
    return run


def durable_copy(bench, scenario, src, rep, nfiles, nbytes_src, batched):
    """bench/durable_copy of the tree to one dir per receiving node, all at once, each
    file made durable on its own or (batched) in the native receiver's batches."""
    name = LIMIT_BATCHED if batched else LIMIT_FSYNC
    tool = os.path.join(os.path.dirname(os.path.abspath(bench.args.replicant)), 'tools',
                        'durable_copy')
    if not os.access(tool, os.X_OK):
        bench.note('%s skipped: no %s (scripts/build.sh builds it)' % (name, tool))
        return
    root = os.path.join(bench.data_dir, 'fsync-copy-dest')
    dests = [os.path.join(root, 'node%d' % i) for i in range(1, bench.args.nodes)]
    subprocess.run(['rm', '-rf', root], check=True)
    subprocess.run(['sync'], check=False)
    l1 = bench.wait_quiet()
    tdir = root + '.time'
    os.makedirs(tdir, exist_ok=True)
    cmd = [tool] + (['--batched'] if batched else []) + [os.path.join(src, 'objects')] + dests
    t0 = time.monotonic()
    p = subprocess.run([GNU_TIME, '-v', '-o', os.path.join(tdir, 'fsync-copy.time')] + cmd,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    t = parse_gnu_time(os.path.join(tdir, 'fsync-copy.time'))
    out = p.stdout.split()
    copies, nbytes = (int(out[0]), int(out[1])) if p.returncode == 0 and len(out) == 2 \
        else (0, 0)
    ok = copies == nfiles * len(dests) and nbytes == nbytes_src * len(dests)
    note = '' if ok else 'durable_copy exited %d: %s' % (p.returncode, p.stdout[-300:])
    bench.record(Run(scenario, name, rep, wall, wall, 1, ok, p.returncode, t['user_s'],
                     t['sys_s'], t['maxrss_kb'], 0.0, l1, nfiles, copies, nbytes, note))
    subprocess.run(['rm', '-rf', root, tdir], check=True)
