"""Child processes of the test clusters: each in its own process group (killed as a
group, and by the kernel when the Python thread that started it dies), its output in a log
file. Not thread-safe per object; separate ManagedProcess objects are independent."""
import ctypes
import os
import signal
import subprocess
import time


def _set_pdeathsig():
    """preexec_fn: the child gets SIGKILL when the thread that started it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def tail(path, lines=40):
    """The last `lines` lines of a text file ('' if missing)."""
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * lines))
            data = f.read().decode('utf-8', 'replace')
    except OSError:
        return ''
    return '\n'.join(data.splitlines()[-lines:])


class ManagedProcess:
    """A child in its own process group (killed as a group), output to a log file."""

    def __init__(self, name, args, log_path, env=None, cwd=None):
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        self._log = open(log_path, 'ab')
        self._log.write(('=== %s: %s\n' % (time.strftime('%H:%M:%S'), ' '.join(self.args)))
                        .encode())
        self._log.flush()
        self.popen = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, start_new_session=True, preexec_fn=_set_pdeathsig)
        self.pid = self.popen.pid

    def poll(self):
        return self.popen.poll()

    def alive(self):
        return self.popen.poll() is None

    def stop(self, grace=3.0):
        """SIGTERM to the whole group, SIGKILL after `grace` seconds. Idempotent."""
        if self.popen.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # the leader may be gone while children (rsync, forked workers) linger
        self._signal(signal.SIGKILL)
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if not self._log.closed:
            self._log.close()
        return self.popen.returncode

    def _signal(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def tail(self, lines=40):
        return tail(self.log_path, lines)

    def __repr__(self):
        return '<%s pid=%s rc=%s>' % (self.name, self.pid, self.popen.returncode)
