#!/usr/bin/python3
"""A private /etc/swift for the tests, the demo and the bench: the host's is never touched.

Swift's daemons read /etc/swift/swift.conf by a fixed path, and a loopback cluster needs its
own hash prefix/suffix there. On a Swift node the host's file holds the cluster's real
prefix/suffix: replacing it would make every object server on the node put every name in
another partition. So everything that starts a cluster runs in a private mount namespace
(`unshare --mount --propagation private`) where an empty tmpfs hides each of PRIVATE_PATHS
that exists: what is written there stays in the namespace and vanishes with its last
process; nothing outside it sees a change.

Where no mount namespace can be made (not root, no unshare, a container that forbids
mounts), run() refuses when the host's /etc/swift/swift.conf exists and differs from the
test one, unless REPLICANT_OVERWRITE_ETC_SWIFT=1: then it backs the file up, runs the
command, and restores it (or removes it, if there was none) when the last of the runs that
overlap ends (etc_swift_backup.py).

    private_etc.py COMMAND [ARGS...]     CTest's integration tests (CMakeLists.txt)
    private_etc.reexec_isolated()        first thing in scripts/demo.py, bench/run.py

A process started inside (REPLICANT_PRIVATE_ETC names its mount namespace) runs commands
directly, so nesting is harmless. Not thread-safe: call from the main thread at start-up.
"""
import os
import shutil
import signal
import subprocess
import sys

# /run/systemd: `systemd-analyze verify` (a test) leaves its systemd-units-load stamp there.
PRIVATE_PATHS = ('/etc/swift', '/var/cache/swift', '/var/run/swift', '/srv/node',
                 '/run/systemd')
SWIFT_CONF = '/etc/swift/swift.conf'
# Set inside the namespace to its id (the /proc/self/ns/mnt link), so that the variable,
# inherited by a process outside it, is not mistaken for isolation.
ENV_INSIDE = 'REPLICANT_PRIVATE_ETC'
# The user's opt-in to overwriting the host's swift.conf where no namespace can be made.
ENV_OPT_IN = 'REPLICANT_OVERWRITE_ETC_SWIFT'
# Set by run() in that case to the backup's path: install_swift_conf may then write.
ENV_BACKUP = 'REPLICANT_ETC_SWIFT_BACKUP'
THIS = os.path.abspath(__file__)


class HostEtcError(RuntimeError):
    """Writing /etc/swift here would change the host's Swift configuration."""


def mount_namespace():
    try:
        return os.readlink('/proc/self/ns/mnt')
    except OSError:
        return None


def inside():
    """True in a namespace made by this module (not merely with the variable inherited)."""
    ns = mount_namespace()
    return ns is not None and os.environ.get(ENV_INSIDE) == ns


def _test_swift_conf_text():
    import cluster  # lazily: cluster imports this module
    return cluster.swift_conf_text()


def check_may_write(text, path=SWIFT_CONF):
    """Raises HostEtcError unless writing `text` to path (in /etc/swift) cannot change the
    host: inside a private namespace, under run()'s backup, or the same bytes already."""
    backup = os.environ.get(ENV_BACKUP)
    if inside() or (backup and os.path.exists(backup)):
        return
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    raise HostEtcError(
        'refusing to write %s outside a private mount namespace: it is the host\'s Swift '
        'configuration. Run through %s (scripts/test.sh, scripts/demo.sh, bench/run.sh '
        'and CTest do).' % (path, THIS))


def namespace_possible():
    """Whether this process can make a mount namespace with a tmpfs on /etc/swift (tried
    in a throwaway one)."""
    if os.geteuid() != 0 or shutil.which('unshare') is None or not os.path.isdir('/etc/swift'):
        return False
    probe = subprocess.run(
        ['unshare', '--mount', '--propagation', 'private', '--',
         'mount', '-t', 'tmpfs', '-o', 'size=1m', 'replicant-probe', '/etc/swift'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return probe.returncode == 0


def _enter(outer_ns, cmd):
    """In the new namespace: the tmpfs mounts, then exec cmd (same pid, same signals)."""
    if mount_namespace() in (None, outer_ns):  # not in a namespace of its own
        sys.exit('private_etc: --enter only runs in the namespace run() makes')
    for path in PRIVATE_PATHS:
        if os.path.isdir(path):
            subprocess.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755,size=256m',
                            'replicant-private', path], check=True)
    os.environ[ENV_INSIDE] = mount_namespace()
    os.environ.pop(ENV_BACKUP, None)
    os.execvp(cmd[0], cmd)


def _run_with_backup(cmd):
    """The fallback without a namespace: refuse, or back swift.conf up around cmd."""
    try:
        with open(SWIFT_CONF, 'rb') as f:
            current = f.read()
    except FileNotFoundError:
        current = None
    differs = current is not None and current != _test_swift_conf_text().encode()
    if differs and os.environ.get(ENV_OPT_IN) != '1':
        sys.stderr.write(
            'private_etc: cannot make a private mount namespace (needs root and unshare), '
            'and %s exists and differs from the test one: on a Swift node it holds the '
            'cluster\'s hash prefix/suffix, so it is not overwritten. Run as root, or set '
            '%s=1 to let the tests overwrite it (backed up, restored on exit).\n'
            % (SWIFT_CONF, ENV_OPT_IN))
        return 2
    import etc_swift_backup
    session = etc_swift_backup.Session()
    marker = session.begin()
    sys.stderr.write('private_etc: no mount namespace; %s saved as %s%s, restored when the '
                     'last run ends\n' % (SWIFT_CONF, marker,
                                          ' (left by an interrupted run)' if session.stale
                                          else ''))
    try:
        child = subprocess.Popen(cmd, env=dict(os.environ, **{ENV_BACKUP: marker}))
        # Ctrl-C reaches the child from the terminal; outlive it to restore the file.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for s in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, lambda signum, frame: child.send_signal(signum))
        return child.wait()
    finally:
        if session.end():
            sys.stderr.write('private_etc: %s restored\n' % SWIFT_CONF)


def run(cmd):
    """Runs cmd (argv) with a private /etc/swift; returns its exit status (or execs it)."""
    if inside():
        os.execvp(cmd[0], cmd)
    if not os.path.isdir('/etc/swift'):
        sys.stderr.write('private_etc: /etc/swift does not exist: install Swift first '
                         '(scripts/install-deps.sh does; its package creates it)\n')
        return 2
    if namespace_possible():
        os.execvp('unshare', ['unshare', '--mount', '--propagation', 'private', '--',
                              sys.executable, THIS, '--enter', mount_namespace(), '--'] + cmd)
    return _run_with_backup(cmd)


def reexec_isolated():
    """Re-executes this Python program (sys.argv) through run() unless already inside."""
    if inside():
        return
    script = os.path.abspath(sys.argv[0])
    os.execv(sys.executable, [sys.executable, THIS, sys.executable, script] + sys.argv[1:])


def main(argv):
    if argv[:1] == ['--enter'] and argv[2:3] == ['--'] and len(argv) > 3:
        _enter(argv[1], argv[3:])
    if not argv or argv[0].startswith('-'):
        sys.stderr.write('usage: private_etc.py COMMAND [ARGS...]\n')
        return 2
    return run(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
