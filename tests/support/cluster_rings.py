"""The rings half of the test Cluster (a mixin): builds policy 0's and 1's rings with the
real swift-ring-builder, loads them with Swift's Ring, and answers where an object's
replicas and handoffs are. Uses the Cluster's nodes, swift_dir and ring parameters."""
import collections
import json
import os
import subprocess

import replicant_test

from swift_conf import SWIFT_BIN_DIR, SWIFT_PYTHON

# One per replica on a node: where an object lives (or would live) in the ring.
Placement = collections.namedtuple('Placement', 'node device dev')

# Runs swift-ring-builder's main() for each [argv, ok_exit_codes] in sys.argv[1] (JSON).
_RING_BATCH = r"""
import json, sys, traceback
from swift.cli.ringbuilder import main
for argv, ok in json.loads(sys.argv[1]):
    print('$ swift-ring-builder ' + ' '.join(argv), flush=True)
    try:
        rc = main(['swift-ring-builder'] + argv) or 0
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except Exception:
        traceback.print_exc()
        rc = 2
    sys.stdout.flush()
    if rc not in ok:
        print('exit code %d' % rc, flush=True)
        sys.exit(rc or 2)
"""


def ring_name(policy):
    return 'object' if int(policy) == 0 else 'object-%d' % int(policy)


class ClusterRings:
    """Ring building and placement queries; mixed into Cluster."""

    def builder_path(self, policy=0):
        return os.path.join(self.swift_dir, '%s.builder' % ring_name(policy))

    def ring_path(self, policy=0):
        return os.path.join(self.swift_dir, '%s.ring.gz' % ring_name(policy))

    def ring_builder(self, policy, *args, ok=(0,)):
        """Runs `swift-ring-builder <policy's builder> ARGS...`; returns its output. Calls
        that change the ring must be followed by a 'rebalance' or 'write_ring'."""
        p = subprocess.run([os.path.join(SWIFT_BIN_DIR, 'swift-ring-builder'),
                            self.builder_path(policy)] + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=self.env, timeout=120)
        if p.returncode not in ok:
            raise RuntimeError('swift-ring-builder %s %s exited %d:\n%s' % (
                self.builder_path(policy), ' '.join(map(str, args)), p.returncode, p.stdout))
        self._rings.pop(int(policy), None)
        return p.stdout

    def _build_rings_safe(self):
        try:
            self._build_rings()
            self._ring_error = None
        except Exception as e:
            self._ring_error = e

    def _build_rings(self):
        os.makedirs(self.swift_dir, exist_ok=True)
        self._ring_ports = self._port_map()

        # One Python process runs swift-ring-builder's own main() (what /usr/bin/
        # swift-ring-builder calls) for every command: ~3x faster than a process each.
        cmds = []
        for policy in self.policies:
            replicas = self.replicas if policy == 0 else self.policy1_replicas
            for path in (self.builder_path(policy), self.ring_path(policy)):
                if os.path.exists(path):
                    os.unlink(path)
            builder = self.builder_path(policy)
            add = []
            for node in self.nodes:
                for dev in node.devices:
                    add += ['r%dz%d-%s:%dR%s:%d/%s' % (
                        node.region, node.zone, node.ip, node.ring_port,
                        node.replication_ip, node.ring_replication_port, dev), '100']
            seed = ['--seed', str(self.ring_seed)] if self.ring_seed is not None else []
            cmds += [([builder, 'create', str(self.part_power), str(replicas), '1'], [0]),
                     ([builder, 'add'] + add, [0]),
                     ([builder, 'rebalance'] + seed, [0, 1])]
        p = subprocess.run([SWIFT_PYTHON, '-c', _RING_BATCH, json.dumps(cmds)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=self.env, timeout=300)
        with open(os.path.join(self.log_dir, 'ring-builder.log'), 'a') as f:
            f.write(p.stdout)
        if p.returncode != 0:
            raise RuntimeError('building rings failed (exit %d):\n%s' % (p.returncode,
                                                                          p.stdout[-4000:]))
        self._rings.clear()

    def ring(self, policy=0):
        """swift.common.ring.Ring for the policy (reloaded after ring_builder calls)."""
        policy = int(policy)
        if policy not in self._rings:
            from swift.common.ring import Ring
            replicant_test.set_swift_hash()
            self._rings[policy] = Ring(self.swift_dir, ring_name=ring_name(policy))
        return self._rings[policy]

    def node_of(self, dev):
        """The Node owning a ring device dict (matched on ip and port)."""
        for node in self.nodes:
            if dev['ip'] == node.ip and dev['port'] == node.ring_port:
                return node
        raise KeyError('no node for device %r' % (dev,))

    def partition(self, account, container, obj, policy=0):
        return self.ring(policy).get_part(account, container, obj)

    def object_hash(self, account, container, obj):
        """Swift's hash_path hex digest (the hash dir name)."""
        from swift.common.utils import hash_path
        replicant_test.set_swift_hash()
        return hash_path(account, container, obj)

    def primaries(self, account, container, obj, policy=0):
        """[Placement(node, device, dev)] of the object's primary replicas, in ring order."""
        ring = self.ring(policy)
        part, devs = ring.get_nodes(account, container, obj)
        return [Placement(self.node_of(d), d['device'], d) for d in devs]

    def handoffs(self, account, container, obj, policy=0, limit=None):
        """[Placement] in Swift's get_more_nodes order (all of them unless limit)."""
        ring = self.ring(policy)
        part = ring.get_part(account, container, obj)
        out = []
        for d in ring.get_more_nodes(part):
            if limit is not None and len(out) >= limit:
                break
            out.append(Placement(self.node_of(d), d['device'], d))
        return out

    def is_primary(self, node, account, container, obj, policy=0):
        return any(p.node is node for p in self.primaries(account, container, obj, policy))

    def _device_for(self, node, account, container, obj, policy):
        """The node's device for this object: a primary's, else its first handoff's."""
        if len(node.devices) == 1:
            return node.devices[0]
        for p in self.primaries(account, container, obj, policy) + \
                self.handoffs(account, container, obj, policy):
            if p.node is node:
                return p.device
        return node.devices[0]
