"""The host's /etc/swift/swift.conf backed up while test runs overwrite it, restored after.

Only for private_etc's fallback, where no mount namespace can be made and the user opted in
(REPLICANT_OVERWRITE_ETC_SWIFT=1). CTest runs tests in parallel, each through its own
wrapper, so the backup is shared: the first run to start saves the file (bytes, mode and
owner) as BACKUP, or notes that there was none (ABSENT); every run holds a shared flock on
that file while it runs; the last one to finish puts the original back and removes it.
A run killed without restoring leaves the backup in place; the next one keeps it (it is the
original) and restores it when it ends. The steps between runs are serialized by an flock
on the /etc/swift directory itself, which never goes away.

Not thread-safe: one Session per process.
"""
import fcntl
import os
import tempfile

ETC_SWIFT = '/etc/swift'
CONF = os.path.join(ETC_SWIFT, 'swift.conf')
BACKUP = os.path.join(ETC_SWIFT, '.swift.conf.replicant-backup')
ABSENT = os.path.join(ETC_SWIFT, '.swift.conf.replicant-absent')


def _copy_file(src, dst):
    """Atomically replaces dst with src's bytes, mode and owner."""
    st = os.stat(src)
    with open(src, 'rb') as f:
        data = f.read()
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dst), prefix='.replicant-tmp-')
    try:
        os.write(fd, data)
        os.fchmod(fd, st.st_mode & 0o7777)
        os.fchown(fd, st.st_uid, st.st_gid)
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.replace(tmp, dst)
    except BaseException:
        if fd is not None:
            os.close(fd)
        os.unlink(tmp)
        raise


class _Mutex:
    def __enter__(self):
        self.fd = os.open(ETC_SWIFT, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        os.close(self.fd)  # releases the flock


class Session:
    """begin() before the run overwrites swift.conf, end() after it (in a finally)."""

    def __init__(self):
        self.fd = None
        self.marker = None
        self.stale = False

    def begin(self):
        """Saves the original unless a backup exists. Returns the marker's path."""
        with _Mutex():
            existing = [m for m in (BACKUP, ABSENT) if os.path.exists(m)]
            if existing:
                self.marker = existing[0]
            elif os.path.exists(CONF):
                self.marker = BACKUP
                _copy_file(CONF, BACKUP)
            else:
                self.marker = ABSENT
                os.close(os.open(ABSENT, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self.fd = os.open(self.marker, os.O_RDONLY)
            if existing:
                try:  # nobody holds it: an interrupted run left it
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self.stale = True
                except BlockingIOError:
                    pass
            fcntl.flock(self.fd, fcntl.LOCK_SH)
        return self.marker

    def end(self):
        """Restores the original if this is the last run holding the backup. Returns True
        then."""
        with _Mutex():
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self.fd)
                return False
            if self.marker == BACKUP:
                _copy_file(BACKUP, CONF)
            else:
                try:
                    os.unlink(CONF)
                except FileNotFoundError:
                    pass
            os.unlink(self.marker)
            os.close(self.fd)
            return True
