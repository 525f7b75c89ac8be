"""Object trees for the benchmarks: written once with Swift's own DiskFile API into a
template dir (cached across runs), then hard-linked into a cluster's nodes for each run.

A template holds one device, `sdb1/objects/<part>/<suffix>/<hash>/<ts>.data` with Swift's
pickled metadata xattrs, plus `manifest.json` ([name, partition, hash, size] per object).
The partition of an object depends only on its name, the hash prefix/suffix and the part
power, so one template serves every cluster of that part power, whatever its ring.

Templates hold no hashes.pkl / hashes.invalid / .lock files, so a hard-linked copy never
shares a file that Swift or replicant rewrite in place (hashes.invalid is truncated in place
by Swift's consolidate_hashes); object files are only ever created by temp + rename and
removed by unlink, which leaves the template's link intact.
"""
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
import traceback

ACCOUNT = 'AUTH_bench'
CONTAINER = 'bench'
DEVICE = 'sdb1'
MANIFEST = 'manifest.json'
TEMPLATE_VERSION = 1


def template_key(count, size, part_power, prefix, suffix):
    h = hashlib.md5(('%s/%s' % (prefix, suffix)).encode()).hexdigest()[:8]
    return 'v%d-n%d-s%d-pp%d-%s' % (TEMPLATE_VERSION, count, size, part_power, h)


def load_manifest(path):
    with open(os.path.join(path, MANIFEST)) as f:
        return json.load(f)


def build_template(root, count, size, part_power, log=print, seed=20240601, workers=None):
    """Returns the path of a template of `count` objects of `size` bytes at `part_power`
    under root (built unless already there). Needs swift.conf in place (cluster.
    install_swift_conf) and the hash prefix/suffix set (replicant_test.set_swift_hash).
    Written by `workers` forked processes (default: one per CPU): Swift's DiskFile is
    CPU-bound Python, ~450 objects/s on one core, so 10^6 objects took 37 minutes."""
    from swift.common import utils as swift_utils
    prefix = swift_utils.HASH_PATH_PREFIX.decode()
    suffix = swift_utils.HASH_PATH_SUFFIX.decode()
    path = os.path.join(root, template_key(count, size, part_power, prefix, suffix))
    if os.path.exists(os.path.join(path, MANIFEST)):
        return path
    tmp = path + '.partial'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, DEVICE, 'tmp'))
    workers = max(1, min(workers or os.cpu_count() or 1, 16))
    log('seeding %d x %d B objects at part power %d into %s (%d writers) ...'
        % (count, size, part_power, path, workers))
    t0 = time.monotonic()
    from swift.common.utils import hash_path
    shift = 32 - part_power
    objects = []
    for i in range(count):
        name = 'o-%08d' % i
        raw = hash_path(ACCOUNT, CONTAINER, name, raw_digest=True)
        objects.append([name, struct.unpack_from('>I', raw)[0] >> shift, raw.hex(), size])
    pids = []
    for w in range(workers):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _seed_share(tmp, objects, size, seed, w, workers,
                            log if w == 0 else (lambda *a: None), t0)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        pids.append(pid)
    failed = [pid for pid in pids if os.waitpid(pid, 0)[1] != 0]
    if failed:
        raise RuntimeError('seeding %s: %d of %d writers failed' % (tmp, len(failed), workers))
    strip_partition_files(os.path.join(tmp, DEVICE, 'objects'))
    shutil.rmtree(os.path.join(tmp, DEVICE, 'tmp'), ignore_errors=True)
    with open(os.path.join(tmp, MANIFEST), 'w') as f:
        json.dump({'count': count, 'size': size, 'part_power': part_power,
                   'account': ACCOUNT, 'container': CONTAINER, 'device': DEVICE,
                   'objects': objects}, f)
    subprocess.run(['sync'], check=False)
    os.rename(tmp, path)
    log('  seeded in %.1fs' % (time.monotonic() - t0))
    return path


def _seed_share(tmp, objects, size, seed, worker, workers, log, t0):
    """Writes objects[i] for every i = worker (mod workers), in a forked writer. Every
    writer draws all the bodies from one seeded RNG and keeps its share, so the template
    is the same whatever the number of writers (a 4 KiB draw costs microseconds)."""
    from swift.obj import diskfile
    from swift.common.storage_policy import POLICIES
    from swift.common.utils import Timestamp, get_logger
    # A template needs no durability: one sync() at the end instead of an fsync per file.
    for name in ('fsync', 'fdatasync', 'fsync_dir'):
        setattr(diskfile, name, lambda *a, **k: None)
    logger = get_logger({'log_custom_handlers': 'cluster.swift_logging_hook'},
                        log_route='bench-seed')
    mgr = diskfile.DiskFileManager({'devices': tmp, 'mount_check': 'false'}, logger)
    rng = random.Random(seed)
    base = 1700000000.0
    for i, (name, part, _, _) in enumerate(objects):
        body = rng.randbytes(size)
        if i % workers != worker:
            continue
        ts = Timestamp(base + i * 0.001)
        df = mgr.get_diskfile(DEVICE, str(part), ACCOUNT, CONTAINER, name, policy=POLICIES[0])
        with df.create(size) as w:
            w.write(body)
            w.put({'X-Timestamp': ts.internal, 'Content-Type': 'application/octet-stream',
                   'ETag': hashlib.md5(body).hexdigest(), 'Content-Length': str(size),
                   'name': '/%s/%s/%s' % (ACCOUNT, CONTAINER, name)})
            w.commit(ts)
        if i >= 5000 and i % 5000 < workers:  # one line per 5,000, from writer 0
            log('  ~%d objects (%.0fs)' % (i, time.monotonic() - t0))


def strip_partition_files(objects_dir):
    """Removes hashes.pkl, hashes.invalid and lock files from every partition dir."""
    for part in os.listdir(objects_dir):
        pdir = os.path.join(objects_dir, part)
        if not os.path.isdir(pdir):
            continue
        for name in os.listdir(pdir):
            p = os.path.join(pdir, name)
            if not os.path.isdir(p):
                os.unlink(p)


def tree_stats(path):
    """(files, bytes) of the .data files under path."""
    files = size = 0
    for root, dirs, names in os.walk(path):
        for n in names:
            if n.endswith('.data'):
                files += 1
                size += os.lstat(os.path.join(root, n)).st_size
    return files, size


def link_partitions(template, device_dir, partitions=None, chunk=500):
    """Hard-links the template's partition dirs (all, or the given ones) into
    device_dir/objects/ with `cp -al` (xattrs live in the shared inodes)."""
    src = os.path.join(template, DEVICE, 'objects')
    dst = os.path.join(device_dir, 'objects')
    os.makedirs(dst, exist_ok=True)
    names = sorted(os.listdir(src)) if partitions is None else \
        sorted(str(p) for p in set(partitions))
    for i in range(0, len(names), chunk):
        args = [os.path.join(src, n) for n in names[i:i + chunk]
                if os.path.isdir(os.path.join(src, n))]
        if args:
            subprocess.run(['cp', '-al'] + args + [dst + '/'], check=True)
