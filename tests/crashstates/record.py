"""Records the file-system calls of one replication session under strace.

The session is the reliability suite's (tests/reliability/scenario.py, peers 'serve'):
node0 holds a handoff partition (reverted to nodes 1-3, then deleted) and a primary
partition missing a replica; one object of each has a .meta from a POST, and here one
object of the primary partition is also deleted on node0 (a .ts), so an SSYNC session
carries PUT, POST and DELETE subrequests. `replicant serve` on nodes 1-3 (the receivers)
and node0's `replicant replicate --once` (the revert and its deletions, hashes.pkl
rewrites) each run under `strace -f`. Not thread-safe.
"""
import os
import shutil
import subprocess

from check import Expect
from scenario import ACCOUNT, CONTAINER, Scenario, read_object

# the calls the model needs (reads are not: the model replays writes)
TRACE = ('trace=open,openat,creat,close,lseek,write,pwrite64,writev,pwritev,sendto,sendmsg,'
         'ftruncate,fallocate,fsetxattr,setxattr,lsetxattr,fsync,fdatasync,syncfs,'
         'sync_file_range,rename,renameat,renameat2,link,linkat,unlink,unlinkat,mkdir,'
         'mkdirat,rmdir')
STRING_LIMIT = 4 << 20  # bytes of each buffer strace prints; a longer write fails the run

# operation -> (replicator options, replicant-server options)
OPERATIONS = {
    'native-batch': ({'sync_method': 'native', 'native_extensions': None}, {}),
    'native-fsync': ({'sync_method': 'native', 'native_extensions': None},
                     {'native_batch_sync': 'fsync'}),
    'native-plain': ({'sync_method': 'native', 'native_extensions': ''}, {}),
    'ssync': ({'sync_method': 'ssync', 'native_extensions': None}, {}),
}


def strace_argv(log):
    # -DD: strace runs as a detached grandchild in its own process group, so the traced
    # process keeps its pid (the harness checks that pid holds the listening socket)
    return ['strace', '-DD', '-f', '-ttt', '-qq', '-y', '-xx', '-s', str(STRING_LIMIT),
            '-e', TRACE, '-o', log]


class Session:
    """A scenario prepared for recording: the cluster, its objects, what each may read
    back as."""

    def __init__(self, workdir, seed, per_partition):
        self.scn = Scenario(workdir, 'serve', None, seed=seed, per_partition=per_partition)
        c, src = self.scn.c, self.scn.src
        victim = [o for o in self.scn.objects if o.where == 'primary'][2]
        c.delete_object(src, ACCOUNT, CONTAINER, victim.name)
        self.deleted = {victim.name}
        # the template the scenario resets to gets the tombstone
        tpl = os.path.join(self.scn.template, src.name)
        shutil.rmtree(tpl)
        subprocess.run(['cp', '-a', src.devices_dir, tpl], check=True)
        self.expects = [Expect(o.name, o.part, c.object_hash(ACCOUNT, CONTAINER, o.name),
                               [(o.body, 'v1-' + o.name), (o.body, o.tag)],
                               may_be_deleted=o.name in self.deleted)
                        for o in self.scn.objects]

    def roots(self):
        return {n.name: n.devices_dir for n in self.scn.c.nodes}

    def record(self, op, logdir):
        """Runs one pass of op with every replicant process traced; returns
        {source: log path} and the pass's return code. The disks are reset first, so
        the initial state is the template."""
        scn = self.scn
        repl, server = OPERATIONS[op]
        scn.stop_servers()
        scn.c.replicant_server_options = dict(server)
        scn.c.set_replicator_options(**repl)
        scn.reset()
        os.makedirs(logdir, exist_ok=True)
        logs = {}

        def wrap(node_name):
            logs[node_name + '-serve'] = os.path.join(logdir, node_name + '-serve.strace')
            return strace_argv(logs[node_name + '-serve'])
        scn.start_servers(wrap=wrap)
        logs['node0-replicate'] = os.path.join(logdir, 'node0-replicate.strace')
        rc, secs, log = scn.replicate(wrap=strace_argv(logs['node0-replicate']),
                                      log_name='%s.log' % op)
        scn.stop_servers()
        problems = self.not_converged()
        if rc != 0 or problems:
            raise RuntimeError('%s: the recorded pass did not converge (rc %s): %s; log %s'
                               % (op, rc, problems, log))
        return logs

    def not_converged(self):
        """As Scenario.not_converged, with the deleted object deleted on its primaries."""
        scn = self.scn
        out = scn.not_converged([o for o in scn.objects if o.name not in self.deleted])
        for o in scn.objects:
            if o.name in self.deleted:
                for p in scn.c.primaries(ACCOUNT, CONTAINER, o.name):
                    got = read_object(scn.mgrs[p.node.name], p.device, o.part, o.name,
                                      scn.policy)
                    if got != 'deleted':
                        out.append('%s not deleted on %s' % (o.name, p.node.name))
        return out

    def close(self):
        self.scn.close()
        shutil.rmtree(self.scn.dir, ignore_errors=True)
