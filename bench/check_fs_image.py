#!/usr/bin/python3
"""CTest bench.fs_image: --fs-image's loop image, made, used and removed as a run does.

Checks that the image is journaled ext4 on a loop device doing direct I/O (and buffered
with --loop-buffered), that a file written and fsynced there reads back, and that umount
leaves no loop device behind. Exits 77 (skipped) without root or loop devices."""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from host import filesystem_of, mount_fs_image, unmount_fs_image  # noqa: E402

SKIP = 77


def attached(img):
    out = subprocess.run(['losetup', '-j', img], stdout=subprocess.PIPE, text=True).stdout
    return out.strip()


def check(workdir, buffered):
    args = argparse.Namespace(workdir=workdir, fs_image='64M', loop_buffered=buffered)
    img = os.path.join(workdir, 'fs.img')
    mnt = mount_fs_image(args)
    try:
        fs = filesystem_of(mnt)
        want = 'ext4 (journal) on a loop device (%s)' % ('buffered' if buffered else 'direct I/O')
        if fs != want:
            raise SystemExit('filesystem is %r, expected %r' % (fs, want))
        if not attached(img):
            raise SystemExit('no loop device holds %s' % img)
        path = os.path.join(mnt, 'probe')
        body = os.urandom(1 << 20)
        with open(path, 'wb') as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        with open(path, 'rb') as f:
            if f.read() != body:
                raise SystemExit('probe file read back wrong')
    finally:
        unmount_fs_image(args)
    if os.path.ismount(mnt):
        raise SystemExit('%s still mounted' % mnt)
    if os.path.exists(img):
        raise SystemExit('%s left behind' % img)
    print('ok: %s' % want)


def main():
    if os.geteuid() != 0 or not os.path.exists('/dev/loop-control'):
        print('skipped: needs root and /dev/loop-control')
        return SKIP
    with tempfile.TemporaryDirectory(dir='/var/tmp') as workdir:
        check(workdir, buffered=False)
        check(workdir, buffered=True)
    # A loop device still attached to a removed image shows as "(deleted)".
    stale = [l for l in subprocess.run(['losetup', '-a'], stdout=subprocess.PIPE,
                                       text=True).stdout.splitlines() if workdir in l]
    if stale:
        raise SystemExit('loop devices left behind: %s' % stale)
    return 0


if __name__ == '__main__':
    sys.exit(main())
