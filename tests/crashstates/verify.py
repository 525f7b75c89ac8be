"""Checks a model against the disk it modelled: after the last call, the running view of
the model (every operation applied, every content current) must equal the device tree
(names, data, xattrs), or the recording or its parsing missed something and the crash
states would be states of another session. Not thread-safe.
"""
import os

from model import ignored


def model_matches_disk(m, root):
    """Differences between NodeModel m's current view and the tree under root."""
    out = []
    on_disk = {}
    for d, _, files in os.walk(root):
        for f in files:
            on_disk[os.path.join(d, f)] = None
    model = {p: ino for p, ino in m.ents.items() if p.startswith(root + '/')}
    for p in sorted(set(on_disk) | set(model)):
        if ignored(p):
            continue
        if p not in model:
            out.append('%s: on disk, not in the model' % p)
            continue
        if p not in on_disk:
            out.append('%s: in the model, not on disk' % p)
            continue
        n = m.inodes[model[p]]
        with open(p, 'rb') as f:
            data = f.read()
        if data != n.data:
            out.append('%s: data differs (%d bytes on disk, %d modelled)' % (
                p, len(data), len(n.data)))
        x = {k: os.getxattr(p, k) for k in os.listxattr(p)}
        if x != n.x:
            out.append('%s: xattrs differ' % p)
    return out
