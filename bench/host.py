"""The machine side of a bench run: load, CPU and memory accounting of processes
(/proc, GNU time), the replicator's own pass time from its log, the fresh journaled
filesystem image, and the facts about the machine recorded with the results."""
import collections
import os
import platform
import re
import subprocess
import time

from options import SOURCE_DIR

GNU_TIME = '/usr/bin/time'


def log(msg):
    print('[%s] %s' % (time.strftime('%H:%M:%S'), msg), flush=True)


def load1():
    return os.getloadavg()[0]


def proc_cpu_seconds(pid):
    """utime+stime+cutime+cstime of a live process (its reaped children included)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return 0.0


def parse_gnu_time(path):
    out = {'user_s': 0.0, 'sys_s': 0.0, 'maxrss_kb': 0}
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return out
    for key, pat, conv in (('user_s', r'User time \(seconds\): ([\d.]+)', float),
                           ('sys_s', r'System time \(seconds\): ([\d.]+)', float),
                           ('maxrss_kb', r'Maximum resident set size \(kbytes\): (\d+)', int)):
        m = re.search(pat, text)
        if m:
            out[key] = conv(m.group(1))
    return out


def parse_pass_seconds(text):
    """The replicator's own pass time from its log (without process start-up)."""
    m = re.findall(r'Replication pass \w+: \d+ partitions in ([\d.]+)s', text)
    if m:
        return float(m[-1])
    m = re.findall(r'partitions replicated in ([\d.]+)s', text)  # Swift's stats line
    if m:
        return float(m[-1])
    m = re.findall(r'Object replication complete \(once\)\. \(([\d.]+) minutes\)', text)
    if m:
        return float(m[-1]) * 60
    return None


def machine_info(args):
    info = collections.OrderedDict()
    info['date'] = time.strftime('%Y-%m-%d %H:%M:%S %Z')
    info['host'] = '%s, %d cores, %s' % (platform.platform(), os.cpu_count(),
                                        mem_total())
    try:
        # The bench's own tree: a frozen binary (bench/scale_grid.sh) may be another's,
        # which only its path (frozen-<commit>) and build time tell.
        info['replicant'] = '%s (binary built %s; bench run from tree %s)' % (
            args.replicant,
            time.strftime('%Y-%m-%d %H:%M', time.localtime(os.stat(args.replicant).st_mtime)),
            subprocess.run(
                ['git', '-C', SOURCE_DIR, 'describe', '--always', '--dirty'],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip())
    except OSError:
        pass
    try:
        import swift
        info['swift'] = swift.__version__
    except Exception:
        pass
    try:
        info['rsync'] = subprocess.run(['rsync', '--version'], stdout=subprocess.PIPE,
                                       text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        pass
    info['filesystem'] = filesystem_of(os.path.join(args.workdir, 'fs') if args.fs_image
                                       else args.workdir)
    info['cluster'] = '%d nodes x 1 device, %d replicas, loopback, replicator concurrency %d' \
        % (args.nodes, args.replicas, args.concurrency)
    if getattr(args, 'replicator_option', None):
        info['replicator options'] = ', '.join('%s = %s' % kv
                                               for kv in args.replicator_option.items())
    if getattr(args, 'server_option', None):
        info['replicant serve options'] = ', '.join('%s = %s' % kv
                                                    for kv in args.server_option.items())
    info['sizes'] = ('small %d x %d B, large %d x %d B, part power %d (initial, drain), '
                     'idle part powers %s with %d objects, %d repeats' % (
                         args.objects, args.size, args.large_objects, args.large_size,
                         args.part_power, ','.join(map(str, args.idle_part_powers)),
                         args.idle_objects, args.repeat))
    if 'scale' in args.scenarios:
        info['scale'] = 'objects %s x part powers %s, %d B objects' % (
            ','.join(map(str, args.scale_objects)), ','.join(map(str, args.scale_part_powers)),
            args.size)
    return info


def mount_fs_image(args):
    """A fresh journaled ext4 on a sparse loop image, mounted at <workdir>/fs.

    The default workdir's filesystem may not be what a storage node runs: a journal-less
    ext4 (this CI machine's root) makes every new inode after a mass delete (the
    harness wipes receivers between runs) scan recently deleted ones, which costs the
    fast methods and the tar limit far more than the slow ones.

    The loop device does direct I/O unless --loop-buffered. A buffered one puts a second
    page cache under the image's: what the image's filesystem writes back sits dirty once
    more in the outer filesystem, and the flush that each fsync inside sends down has the
    loop driver write all of that back and fsync the image file. No storage node's disk
    works that way, and the cost falls on whoever fsyncs (the replicators, Swift's and
    replicant's), never on the tar limit."""
    img = os.path.join(args.workdir, 'fs.img')
    mnt = os.path.join(args.workdir, 'fs')
    subprocess.run(['umount', mnt], stderr=subprocess.DEVNULL, check=False)
    if os.path.exists(img):
        os.unlink(img)
    os.makedirs(mnt, exist_ok=True)
    try:
        subprocess.run(['truncate', '-s', args.fs_image, img], check=True)
        subprocess.run(['mkfs.ext4', '-q', '-F', img], check=True)
        # mount -o loop sets autoclear: the device goes with the umount.
        subprocess.run(['mount', '-o', 'loop', img, mnt], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit('bench: --fs-image: cannot make and mount %s (%s); it needs root '
                         'and loop devices' % (img, e))
    mode = 'buffered'
    if not args.loop_buffered:
        dev = subprocess.run(['findmnt', '-no', 'SOURCE', mnt], stdout=subprocess.PIPE,
                             text=True).stdout.strip()
        subprocess.run(['losetup', '--direct-io=on', dev], check=False)
        mode = 'direct I/O' if loop_direct_io(dev) else 'buffered (direct I/O refused)'
    log('data on a fresh ext4 image (%s, journaled, loop %s) mounted at %s'
        % (args.fs_image, mode, mnt))
    return mnt


def loop_direct_io(dev):
    """Whether loop device dev (e.g. /dev/loop0) does direct I/O on its backing file."""
    try:
        with open('/sys/block/%s/loop/dio' % os.path.basename(dev)) as f:
            return f.read().strip() == '1'
    except OSError:
        return False


def unmount_fs_image(args):
    mnt = os.path.join(args.workdir, 'fs')
    subprocess.run(['umount', mnt], check=False)
    try:
        os.unlink(os.path.join(args.workdir, 'fs.img'))
    except OSError:
        pass


def filesystem_of(path):
    try:
        out = subprocess.run(['findmnt', '-no', 'FSTYPE,SOURCE', '-T', path],
                             stdout=subprocess.PIPE, text=True).stdout.split()
    except OSError:
        return '?'
    fstype = out[0] if out else '?'
    if len(out) > 1 and os.path.basename(out[1]).startswith('loop'):
        loop = ' on a loop device (%s)' % (
            'direct I/O' if loop_direct_io(out[1]) else 'buffered')
    else:
        loop = ''
    if fstype == 'ext4':
        dev = os.path.basename(out[1]) if len(out) > 1 else ''
        journaled = any(d.startswith(dev + '-') for d in os.listdir('/proc/fs/jbd2')) \
            if dev and os.path.isdir('/proc/fs/jbd2') else False
        fstype += ' (journal)' if journaled else ' (no journal)'
    return fstype + loop


def mem_total():
    try:
        with open('/proc/meminfo') as f:
            kb = int(f.readline().split()[1])
        return '%.0f GiB RAM' % (kb / 1048576.0)
    except (OSError, ValueError, IndexError):
        return '? RAM'
