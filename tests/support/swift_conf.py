"""swift.conf for the test clusters and Swift's daemons in them: its content (the test
hash prefix/suffix, policies 0 and 1), its atomic install into the private /etc/swift
(private_etc) and the cluster's swift_dir, and the logging hook the daemons' confs name.
Also where Swift's programs are on this system."""
import logging.handlers
import os
import shutil
import tempfile

import private_etc
import replicant_test

SWIFT_BIN_DIR = '/usr/bin'
SWIFT_PYTHON = '/usr/bin/python3'  # Debian's Python, with swift
SWIFT_CONF_POLICIES = ((0, 'gold', True), (1, 'silver', False))


def _atomic_write(path, text):
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix='.' + os.path.basename(path) + '.')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def swift_conf_text(prefix=replicant_test.TEST_HASH_PREFIX,
                    suffix=replicant_test.TEST_HASH_SUFFIX, policies=SWIFT_CONF_POLICIES):
    """swift.conf content as replicant_test.write_swift_conf writes it."""
    d = tempfile.mkdtemp(prefix='replicant-swiftconf-')
    try:
        with open(replicant_test.write_swift_conf(d, prefix, suffix, policies)) as f:
            return f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def install_swift_conf(swift_dir=None, text=None):
    """Writes swift.conf atomically (temp + rename) to /etc/swift and, if given, swift_dir.
    /etc/swift must be private (private_etc): HostEtcError before the host's is changed."""
    text = text if text is not None else swift_conf_text()
    private_etc.check_may_write(text)
    for d in ('/etc/swift',) + ((swift_dir,) if swift_dir else ()):
        path = os.path.join(d, 'swift.conf')
        try:
            with open(path) as f:
                if f.read() == text:
                    continue
        except OSError:
            pass
        try:
            _atomic_write(path, text)
        except PermissionError as e:
            raise RuntimeError('cannot write %s (Swift daemons always read '
                               '/etc/swift/swift.conf): %s' % (path, e))


def swift_logging_hook(conf, name, log_to_console, log_route, fmt, logger, adapted_logger):
    """`log_custom_handlers = cluster.swift_logging_hook`: drops Swift's syslog handler, so
    daemons log only to the console (stderr, enabled by -v), i.e. to their log file."""
    for h in list(logger.handlers):
        if isinstance(h, logging.handlers.SysLogHandler):
            logger.removeHandler(h)
            try:
                h.close()
            except Exception:
                pass
