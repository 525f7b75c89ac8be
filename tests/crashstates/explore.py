"""Enumerates and checks the crash states of a recorded session.

Per node, after each step (a call that changed its model, synced it or acknowledged
files), every crash state the model allows is built and checked (check.Checker): no
partial file under a name Swift reads, no unpicklable hashes.pkl, every file the node
acknowledged before that point present and whole. Across nodes the machines are taken to
crash at the same instant: an object is safe at time t if some node holds it whole in
every one of its crash states at t; since a node's states combine freely with the
others', that is exactly "whole somewhere in every combined state". Not thread-safe.
"""
import collections
import posixpath
import re

from check import file_ts
from feed import SWIFT_NAME
from model import affects, ignored, parent

_HASHDIR = re.compile(r'/objects(-\d+)?/\d+/[0-9a-f]{3}/[0-9a-f]{32}$')


def category(step, sender_nodes):
    """Which part of the session a crash point belongs to, for the report."""
    p = step.path or ''
    if 'hashes.pkl' in p or re.search(r'/objects(-\d+)?/\d+(/tmp\w+\.tmp)?$', p):
        return 'hashes.pkl rewrite'
    if step.node in sender_nodes:
        return 'handoff revert (deletes)' if step.what in ('unlink', 'rmdir', 'fsync dir') \
            else 'sender, other'
    return 'receive'


class Explorer:
    def __init__(self, models, roots, checker, expects, sender_nodes=()):
        self.models, self.roots, self.checker = models, roots, checker
        self.expects = expects
        self.sender_nodes = set(sender_nodes)
        self.acked = {n: [] for n in models}
        self.timeline = []  # (Step, category, frozenset of objects surely whole)
        self.stats = collections.defaultdict(collections.Counter)  # category -> counters
        self.violations = collections.OrderedDict()  # message -> (category, count)
        self.bounded = 0
        self.max_pending = 0
        self.first = {}  # violation -> the first state showing it (for the report)
        self.step = None
        self.initial = {n: self._sure(n, 'initial') for n in models}

    def _violation(self, cat, msg, where=None):
        c, k = self.violations.get(msg, (cat, 0))
        self.violations[msg] = (c, k + 1)
        if where and msg not in self.first:
            self.first[msg] = where

    def _sure(self, node, cat):
        """Objects whole in every crash state of node now; checks each state.

        A check reads one hash dir (or one hashes.pkl) at a time, so the states are
        enumerated per target: every subset of the pending items that can change that
        target (its entries, its files' content, its ancestors' mkdir/rmdir). That covers
        the verdict of every whole-node state with far fewer states."""
        m = self.models[node]
        items = m.pending()
        self.max_pending = max(self.max_pending, len(items))
        sure = set()
        n = 0
        bounded = False
        for t, group in _groups(m, items):
            subsets, complete = m.subsets(group)
            bounded |= not complete
            whole_all = None
            view = m.view(t)
            for sub in subsets:
                chosen = {group[i][0] for i in sub}
                ents, dirs, content = m.state(items, chosen, view)
                whole, bad = self.checker.check(self.roots[node], ents, dirs, content,
                                                self.acked[node], only=t)
                n += 1
                whole_all = whole if whole_all is None else whole_all & whole
                for b in bad:
                    self._violation(cat, '%s: %s' % (node, b), lambda st=self.step, i=items,
                                    c=chosen: _describe(st, i, c))
            sure |= whole_all or set()
        self.bounded += bounded
        self.stats[cat]['states'] += n
        # every whole-node state's verdict is the sum of its targets': when each target
        # was enumerated fully, all 2^pending whole-node states are covered
        self.stats[cat]['most pending'] = max(self.stats[cat]['most pending'], len(items))
        self.stats[cat]['crash points'] += 1
        return frozenset(sure)

    def on_step(self, step):
        self.step = step
        cat = category(step, self.sender_nodes)
        self.stats[cat]['ops'] += 1
        if step.what == 'ack':
            self.stats[cat]['acks'] += 1
            for path in step.acked:
                name = posixpath.basename(path)
                if SWIFT_NAME.match(name):
                    self.acked[step.node].append((path, file_ts(name)))
        elif step.path and ignored(step.path):
            return  # nothing read back changed: the states are the previous point's
        sure = self._sure(step.node, cat)
        self.timeline.append((step, cat, sure))

    def finish(self):
        """The cross-node rule over the timeline: every expected object whole on some node
        at every instant."""
        cur = dict(self.initial)
        names = [e.name for e in self.expects]
        for step, cat, sure in [(None, 'initial', None)] + self.timeline:
            if step is not None:
                cur[step.node] = sure
            have = frozenset().union(*cur.values())
            for name in names:
                if name not in have:
                    self._violation(cat, 'object %s not whole on any node' % name,
                                    lambda st=step: 'every node crashing after %s %s (%s)' % (
                                        st.what, _short(st.path), st.source) if st else
                                    'the initial state')
        return self.violations


def _item(it):
    kind, v = it
    if kind == 'e':
        return '%s %s%s' % (v.kind, _short(v.a), ' -> ' + _short(v.b) if v.b else '')
    return '%s of inode %d' % ('data' if kind == 'd' else 'xattrs', v)


def _short(path):
    return re.sub(r'^.*/(node\d+)/devices/', r'\1:', path or '')


def _describe(st, items, chosen):
    dropped = [_item(items[i]) for i in range(len(items)) if i not in chosen]
    return 'after %s %s (%s); not persisted: %s' % (
        st.what, _short(st.path), st.source, '; '.join(dropped) or 'nothing')


def _target(p):
    """The check target a path belongs to: its hash dir, a hashes.pkl, or None."""
    if posixpath.basename(p) == 'hashes.pkl':
        return p
    if _HASHDIR.search(p):
        return p
    d = parent(p)
    return d if _HASHDIR.search(d) else None


def _groups(m, items):
    """[(target, [(item index, item)])]: every target on the node, with the pending items
    that can change what a check of it reads."""
    names = {}  # ino -> targets it is named in (now, durably, or by a pending op)
    targets = set()
    for ents in (m.base_ents, m.ents):
        for p, ino in ents.items():
            t = _target(p)
            if t:
                targets.add(t)
                names.setdefault(ino, set()).add(t)
    for op in m.ops[m.m:]:
        for p in (op.a, op.b):
            t = _target(p) if p else None
            if t:
                targets.add(t)
                if op.ino is not None:
                    names.setdefault(op.ino, set()).add(t)
    out = []
    for t in sorted(targets):
        group = []
        for i, (kind, v) in enumerate(items):
            if kind == 'e':
                hit = affects(v, t)
            else:
                hit = t in names.get(v, ())
            if hit:
                group.append((i, (kind, v)))
        out.append((t, group))
    return out
