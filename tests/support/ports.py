"""TCP ports for the test clusters' servers: picking free ones that parallel test
processes never share, waiting for a server to listen, closing a listener promptly.
Stdlib only; safe to call from any thread (the claims are per process)."""
import fcntl
import os
import random
import socket
import time

LOOPBACK = '127.0.0.1'

_CLAIMED_PORTS = {}  # port -> open lock file, held for this process's life
_PORT_RNG = random.SystemRandom()  # unseeded: tests that seed random must not pick alike


def _port_pool():
    """Ports no connect() takes by itself: below (or else above) the kernel's ephemeral range.
    A port from bind(0) lies inside that range, where any outgoing connection of a parallel
    test may hold it as its local port by the time our server binds it (EADDRINUSE)."""
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return None
    if low - 10000 >= 4096:
        return range(10000, low)
    if 65535 - high >= 4096:
        return range(high + 1, 65536)
    return None


def _claim(port):
    """Claims port for this process among every process using free_port (an flock on a file
    per port under /tmp); False if another live process holds it."""
    d = '/tmp/replicant-test-ports'  # fixed: every test process must meet in one place
    try:
        if not os.path.isdir(d):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o1777)  # every user's tests meet here (umask would narrow it)
        f = open(os.path.join(d, str(port)), 'a')
    except OSError:
        return False
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return False
    _CLAIMED_PORTS[port] = f
    return True


def free_port(host=LOOPBACK):
    """A free TCP port on host, outside the ephemeral range and claimed for this process so
    that parallel tests never pick the same one (falls back to bind port 0)."""
    pool = _port_pool()
    for _ in range(200 if pool else 0):
        port = _PORT_RNG.choice(pool)
        if port in _CLAIMED_PORTS or not _claim(port):
            continue
        # Without SO_REUSEADDR: a port that still has TIME_WAIT connections is skipped,
        # so a server that binds without it gets the port too.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
                return port
            except OSError:
                continue  # held by something that is not ours: keep the claim, skip it
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def shut_down(sock):
    """shutdown(), then close: shutdown wakes a thread blocked in accept() or recv() on
    it, where close alone would leave a listener's port open until that call returned."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def wait_for_port(port, host=LOOPBACK, timeout=20.0, proc=None):
    """Waits until a TCP connect to host:port succeeds. If proc (a Popen or ManagedProcess)
    is given, fails early when it exits, and only succeeds once that process itself holds the
    listening socket (so a foreign server that grabbed the port is not mistaken for ours)."""
    deadline = time.monotonic() + timeout
    pid = getattr(proc, 'pid', None)
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError('process %s exited (rc %s) before listening on %s:%d' % (
                pid, proc.poll(), host, port))
        try:
            with socket.create_connection((host, port), timeout=0.5):
                pass
            if pid is None or _pid_listens_on(pid, port) is not False:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError('nothing listening on %s:%d after %.1fs' % (host, port, timeout))


def _pid_listens_on(pid, port):
    """True/False whether pid holds a LISTEN socket on port; None if /proc can't tell."""
    try:
        inodes = set()
        for path in ('/proc/net/tcp', '/proc/net/tcp6'):
            if not os.path.exists(path):
                continue
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == '0A' and int(fields[1].rsplit(':', 1)[1], 16) == port:
                        inodes.add(fields[9])
        fd_dir = '/proc/%d/fd' % pid
        for fd in os.listdir(fd_dir):
            try:
                link = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if link.startswith('socket:[') and link[8:-1] in inodes:
                return True
        return False
    except (OSError, StopIteration, ValueError, IndexError):
        return None
