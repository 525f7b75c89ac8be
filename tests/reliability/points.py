"""One injection point of the reliability suite: reset the disks, run node0's replicator
with one fault (an errno on the Nth call of a kind, or a kill -9 at a moment), check the
invariant, run one clean pass and check convergence. Returns a result dict.

Targets are (backend, side, peers): the side is the replicant process that gets the shim,
the sender (`replicant replicate`) or the receiver (`replicant serve`); peers names who
answers the sender ('swift': Swift's object servers + rsyncd, 'serve': `replicant serve`).
"""
import os
import random
import signal
import threading
import time

TARGETS = [('rsync', 'sender', 'swift'), ('rsync', 'receiver', 'serve'),
           ('ssync', 'sender', 'swift'), ('ssync', 'receiver', 'serve'),
           ('native', 'sender', 'serve'), ('native', 'receiver', 'serve'),
           ('native-fsync', 'receiver', 'serve')]
# native-fsync: `replicant serve` with native_batch_sync = fsync (per-file and per-directory
# fsyncs) instead of the default syncfs of a batch's files

# (kind, errno) classes; the first of each kind is the reduced suite's.
CLASSES = [('open', 'EIO'), ('open', 'EMFILE'), ('read', 'EIO'), ('read', 'EINTR'),
           ('write', 'ENOSPC'), ('write', 'EINTR'), ('fsync', 'EIO'), ('rename', 'EIO'),
           ('dir', 'EIO'), ('unlink', 'EIO'), ('mkdir', 'ENOSPC'), ('xattr', 'ENOSPC'),
           ('xattr', 'EIO'), ('fallocate', 'ENOSPC'), ('net', 'ECONNRESET'), ('net', 'EINTR')]

CLASSES_KINDS = ['open', 'read', 'write', 'fsync', 'rename', 'dir', 'unlink', 'mkdir', 'xattr',
                 'fallocate', 'net', 'any']


def prepare(scn, backend, side):
    """Points the cluster at the backend; returns the per-kind call counts of a clean run
    of the side under test (shim in count-only mode), its seconds, and kind -> {call site:
    first index} (Scenario.call_sites), after checking that one clean pass converges (else
    the session itself is broken)."""
    scn.c.replicant_server_options = (
        {'native_batch_sync': 'fsync'} if backend == 'native-fsync' else {})
    scn.c.set_replicator_options(sync_method=backend.split('-')[0])  # rewrites the confs
    scn.stop_servers()
    scn.reset()
    trace = os.path.join(scn.dir, 'fault.trace')
    open(trace, 'w').close()
    env = scn.fault_env(trace=trace)
    scn.start_servers(env if side == 'receiver' else None)
    rc, secs, log = scn.replicate(env if side == 'sender' else None,
                                  log_name='count-%s-%s.log' % (backend, side))
    counts = scn.run_state().counts
    scn.stop_servers()
    problems = scn.not_converged()
    if rc != 0 or problems:
        raise RuntimeError('%s %s: the clean pass did not converge (rc %s): %s; log %s' % (
            backend, side, rc, problems, log))
    sites = scn.call_sites(trace)
    return counts, secs, sites


def run_point(scn, backend, side, kind, err, nth, kill_swift_after=None, scope=None):
    """One run. kind/err/nth/scope configure the shim on `side` (kind None: no shim);
    kill_swift_after (seconds) instead kills -9 one receiving Swift object server then."""
    receiver = side == 'receiver'
    if receiver:
        scn.stop_servers()  # the clean ones of the last run: these get the shim
    scn.reset()
    env = scn.fault_env(kind, nth, err, scope=scope) if kind else None
    scn.start_servers(env if receiver else None)
    killed = []
    on_start = None
    if kill_swift_after is not None:
        on_start = lambda p: _kill_swift_later(scn, kill_swift_after, killed)
    tag = '%s-%s-%s-%s-%s%s' % (backend, side, kind or 'swiftkill', err, scope or '', nth)
    rc, secs, log = scn.replicate(env if side == 'sender' else None, log_name='run.log',
                                  timeout=120, on_start=on_start)
    for t in killed:
        t.join()
    st = scn.run_state()
    died = scn.stop_servers() if receiver else scn.dead_servers()
    partial = scn.partial_files()
    # a kill -9 is the machine crashing at that moment: what the killed process had not
    # made durable is gone before anything else runs
    torn = scn.apply_power_loss() if err == 'kill' else []
    scn.swift_servers_restart()
    # clean: new serves on the receiver side (the shim only counting, so that the power-loss
    # model sees what they rewrite and sync), else those that died
    scn.start_servers(scn.fault_env() if receiver else None)
    raced = err == 'hook' and bool(st.fired)
    race_ok = scn.race_result() if raced else None
    rc2, _, log2 = scn.replicate(log_name='clean.log')
    objs = scn.expected(raced, either=raced and not race_ok)
    unconverged = scn.not_converged(objs)
    partial_after = scn.partial_files()
    if receiver:
        scn.stop_servers()
    # after an errno fault the machine crashes now: what was never made durable, by the
    # faulted run or since, is gone (a file left published after a failed sync may look in
    # sync to the clean pass, which then deletes the handoff's copy)
    torn += scn.apply_power_loss()
    lost = scn.lost_objects(objs)
    degraded = scn.degraded(objs) if torn else []
    res = {
        'backend': backend, 'side': side, 'kind': kind or 'swift-server', 'errno': err,
        'scope': scope, 'index': nth, 'fired': bool(st.fired) or bool(killed and killed[0].hit),
        'call': st.fired_desc or (killed[0].what if killed else ''),
        'rc': rc, 'receivers_died': died, 'seconds': round(secs, 3),
        'objects_checked': len(scn.objects), 'lost': lost, 'partial': partial,
        'torn_by_power_loss_model': [os.path.relpath(p, scn.dir) for p in torn],
        'not_converged': unconverged, 'partial_after_clean_pass': partial_after,
        'clean_rc': rc2, 'race_acknowledged': race_ok, 'degraded': degraded,
    }
    if lost or partial or unconverged or partial_after or degraded or rc is None or \
            (rc is not None and rc < 0 and err != 'kill'):
        res['log'] = _keep_log(scn, log, tag)
        res['clean_log'] = _keep_log(scn, log2, tag + '-clean')
    return res


class _SwiftKill(threading.Thread):
    def __init__(self, scn, delay):
        super().__init__(daemon=True)
        self.scn, self.delay, self.hit, self.what = scn, delay, False, ''

    def run(self):
        time.sleep(self.delay)
        # a primary that receives from node0 (its object server answers SSYNC/REPLICATE)
        node = random.Random(self.delay).choice(self.scn.c.nodes[1:])
        p = node.server
        if p is not None and p.alive():
            os.kill(p.pid, signal.SIGKILL)
            self.hit, self.what = True, 'kill -9 %s object server at %.3fs' % (
                node.name, self.delay)


def _kill_swift_later(scn, delay, out):
    t = _SwiftKill(scn, delay)
    t.start()
    out.append(t)


def _keep_log(scn, log, tag):
    keep = os.path.join(scn.workdir, 'logs')
    os.makedirs(keep, exist_ok=True)
    dst = os.path.join(keep, tag + '.log')
    try:
        os.replace(log, dst)
    except OSError:
        return None
    return dst
