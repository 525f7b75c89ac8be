"""Differential test of `replicant hashes` against Swift 2.30's own get_hashes.

Each scenario builds a partition with Swift's DiskFile API (PUTs, POSTs with and without
content-type updates, DELETEs, several versions, with and without Swift's own cleanup,
timestamps older than reclaim_age), optionally lets Swift write hashes.pkl, then adds
adversarial damage: junk and oddly named files, unknown extensions, odd suffix and hash
dir names, files where directories belong, orphan .meta files, equal timestamps, odd
hashes.invalid lines and stale or corrupt hashes.pkl. The tree is copied twice; Swift's
_get_hashes(recalculate=<every 3-character entry>, do_listdir=True) runs on one copy and
`replicant hashes --json` on the other, twice in a row. The returned dicts, the files
left (quarantine included) and hashes.pkl as Python loads it must all match.
"""
import json
import logging
import os
import pickle
import re
import shutil
import tempfile
import time

from replicant_test import REPLICANT_BIN, run, seeded_random, set_swift_hash

set_swift_hash()
logging.disable(logging.CRITICAL)  # Swift logs tracebacks for the damage we inflict

from swift.common.storage_policy import POLICIES  # noqa: E402
from swift.common.utils import Timestamp, get_logger, hash_path  # noqa: E402
from swift.obj import diskfile  # noqa: E402

RECLAIM = 1000          # reclaim_age used when hashing
POLICY = POLICIES[0]
TIME_BUDGET = 30.0      # seconds of randomized scenarios
HEX = '0123456789abcdef'
# tmpfs (with user xattrs, which DiskFile needs) keeps the many small trees cheap.
TMP_ROOT = '/dev/shm' if os.access('/dev/shm', os.W_OK) else None

# Speed: building trees needs neither durability nor eventlet's thread pool.
# Hashing semantics are untouched (Swift's write_hashes still fsyncs).
diskfile.fsync = diskfile.fdatasync = diskfile.drop_buffer_cache = lambda *a, **kw: None
diskfile.fsync_dir = lambda *a, **kw: None


class _DirectTpool(object):
    @staticmethod
    def execute(func, *args, **kwargs):
        return func(*args, **kwargs)


diskfile.tpool = _DirectTpool

# Object names grouped by the suffix of their hash, so that a scenario can put several
# objects into the same few suffix dirs.
_NAMES_BY_SUFFIX = {}
for _i in range(30000):
    _NAMES_BY_SUFFIX.setdefault(hash_path('a', 'c', 'obj-%d' % _i)[-3:], []).append('obj-%d' % _i)


def manager(devices, reclaim_age):
    conf = {'devices': devices, 'mount_check': 'false', 'reclaim_age': str(reclaim_age)}
    return diskfile.DiskFileRouter(conf, get_logger({}, log_route='hashes-test'))[POLICY]


class Scenario(object):
    """A device dir with one partition, built through Swift's DiskFile API."""

    def __init__(self, rng, root):
        self.rng = rng
        self.devices = os.path.join(root, 'src')
        self.part = str(rng.randrange(1 << 10))
        self.part_dir = os.path.join(self.devices, 'sda', 'objects', self.part)
        os.makedirs(self.part_dir)
        # Swift's own cleanup on write must not reclaim what we want hashing to see.
        self.mgr = manager(self.devices, 10 ** 9)
        self.now = time.time()
        self.suffixes = rng.sample(sorted(_NAMES_BY_SUFFIX), rng.randint(1, 6))
        self.notes = []

    # -- timestamps: far from the reclaim boundary on either side --
    def ts(self, kind=None):
        kind = kind or self.rng.choice(['old', 'fresh', 'fresh', 'fresh'])
        if kind == 'old':
            t = self.now - RECLAIM - self.rng.uniform(300, 5000)
        else:
            t = self.now - self.rng.uniform(0, RECLAIM - 300)
        offset = self.rng.choice([0, 0, 0, 1, 0x10])
        return Timestamp(round(t, self.rng.choice([5, 5, 2, 0])), offset=offset)

    def object_name(self):
        """A name whose hash lands in one of this scenario's suffixes."""
        return self.rng.choice(_NAMES_BY_SUFFIX[self.rng.choice(self.suffixes)])

    def diskfile(self, name):
        return self.mgr.get_diskfile('sda', self.part, 'a', 'c', name, policy=POLICY)

    def write(self, df, ext, ts, cleanup, ctype_ts=None, body=b''):
        with df.create() as w:
            w._extension = ext
            if body:
                w.write(body)
            meta = {'X-Timestamp': ts.internal}
            if ext == '.data':
                meta.update({'Content-Length': str(len(body)), 'ETag': 'x',
                             'Content-Type': 'text/plain'})
            if ctype_ts is not None:
                meta.update({'Content-Type': 'a/b', 'Content-Type-Timestamp': ctype_ts.internal})
            w._put(meta, cleanup)

    def random_object(self):
        df = self.diskfile(self.object_name())
        for _ in range(self.rng.randint(1, 5)):
            op = self.rng.choice(['PUT', 'PUT', 'POST', 'POST-ctype', 'DELETE'])
            cleanup = self.rng.random() < 0.5
            ts = self.ts()
            if op == 'PUT':
                self.write(df, '.data', ts, cleanup, body=b'x' * self.rng.randint(0, 3))
            elif op == 'POST':
                self.write(df, '.meta', ts, cleanup)
            elif op == 'POST-ctype':
                # Swift keeps the content-type time separately: older or newer than the
                # POST, giving "<ts>-<hex>.meta" or "<ts>+<hex>.meta".
                self.write(df, '.meta', ts, cleanup, ctype_ts=self.ts())
            else:
                self.write(df, '.ts', ts, cleanup)

    # -- hand-made damage --
    def hash_dirs(self):
        out = []
        for s in os.listdir(self.part_dir):
            sp = os.path.join(self.part_dir, s)
            if len(s) == 3 and os.path.isdir(sp):
                out += [os.path.join(sp, h) for h in os.listdir(sp)
                        if os.path.isdir(os.path.join(sp, h))]
        return sorted(out)

    def touch(self, path, data=b''):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)

    def junk_files(self):
        dirs = self.hash_dirs()
        if not dirs:
            return
        t = self.ts().internal
        names = ['junk', '.lock', 'foo.bar', t + '.foo', t + '.DATA', t + '.durable', t,
                 '.data', '..data', '.' + t[:5], '1e3.data', ' 12.data', '12_.data',
                 '12_-5.data', '0x10.data', 'nan.ts', '\u0661\u0662\u0663.data',
                 '\u2003 99.ts', t + '+a.meta', t + '-a.meta', t + '+0.meta', t + '+a+b.meta',
                 t + '+a+b+zz.meta', t + '+zz.meta', '1e-3.meta', t + '.meta.tmp',
                 '.%s.data.AbCdEf' % t, os.fsdecode(b'\xff\xfe.data'), t + '_0x1F.ts']
        for _ in range(self.rng.randint(1, 6)):
            self.touch(os.path.join(self.rng.choice(dirs), self.rng.choice(names)))
        self.notes.append('junk files')

    def equal_timestamps(self):
        dirs = self.hash_dirs()
        if not dirs:
            return
        d = self.rng.choice(dirs)
        t = self.ts()
        spellings = [t.internal, '%.5f' % float(t), '%f' % float(t), ' %s ' % t.internal]
        if t.offset:
            spellings = [t.internal, t.internal.replace('_', '_0x')]
        for ext in self.rng.sample(['.data', '.ts', '.meta', '.data', '.foo'], 3):
            self.touch(os.path.join(d, self.rng.choice(spellings) + ext))
        self.notes.append('equal timestamps')

    def orphan_meta(self):
        s = self.rng.choice(self.suffixes)
        h = '%029x%s' % (self.rng.randrange(1 << 100), s)
        for _ in range(self.rng.randint(1, 3)):
            t = self.ts()
            name = t.internal + self.rng.choice(['', '+%x' % self.rng.randrange(1, 999),
                                                 '-%x' % self.rng.randrange(1, 999)]) + '.meta'
            self.touch(os.path.join(self.part_dir, s, h, name))
        self.notes.append('orphan meta')

    def odd_dirs(self):
        rng = self.rng
        t = self.ts().internal
        choices = ['xyz', 'ABC', 'tmp', '1234', 'abd', '\u00e90f', os.fsdecode(b'\xff\xfe\xfd'),
                   '\U0001f600ab', 'zz']
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(choices)
            p = os.path.join(self.part_dir, name)
            kind = rng.choice(['file', 'empty', 'objects', 'junk'])
            if os.path.exists(p) or (kind == 'junk' and name.encode('utf-8', 'replace') != os.fsencode(name)):
                # (Swift crashes quarantining a file in a suffix dir whose name is not
                # UTF-8: invalidate_hash cannot encode it. replicant reports an error.)
                continue
            if kind == 'file':
                self.touch(p, b'x')
            elif kind == 'empty':
                os.makedirs(p)
            elif kind == 'junk':
                self.touch(os.path.join(p, 'junkfile'))
            else:
                for _ in range(rng.randint(1, 3)):
                    h = os.path.join(p, '%032x' % rng.randrange(1 << 128))
                    self.touch(os.path.join(h, t + rng.choice(['.data', '.ts', '.meta'])))
        # Hash dirs with names that sort differently as bytes and as Python str.
        s = rng.choice(self.suffixes)
        for name in rng.sample(['\u00e9', os.fsdecode(b'\xff'), '\U0001f600', 'zz', '~'], 3):
            self.touch(os.path.join(self.part_dir, s, name, self.ts().internal + '.data'))
        self.notes.append('odd dirs')

    def misplaced_files(self):
        rng = self.rng
        s = rng.choice(self.suffixes)
        quarantine = os.path.join(self.devices, 'sda', 'quarantined', 'objects')
        name = '%032x' % rng.randrange(1 << 128)
        # A file where a hash dir belongs; sometimes its quarantine target exists as a
        # file (silently replaced) or as a non-empty dir (rename fails: EISDIR).
        self.touch(os.path.join(self.part_dir, s, name), b'oops')
        target = rng.choice(['none', 'none', 'file', 'dir'])
        if target == 'file':
            self.touch(os.path.join(quarantine, name), b'old')
        elif target == 'dir':
            self.touch(os.path.join(quarantine, name, 'x'), b'old')
        if rng.random() < 0.5:
            # A 3-character one: Swift then writes .lock and hashes.invalid inside the
            # suffix dir, which the next run quarantines in turn.
            self.touch(os.path.join(self.part_dir, rng.choice(self.suffixes), 'x12'), b'!')
        self.notes.append('misplaced files: target %s' % target)

    def hashes_invalid(self, pickle_invalid):
        rng = self.rng
        lines = [rng.choice(self.suffixes), rng.choice(self.suffixes), '%03x' % rng.randrange(4096),
                 'abcd', 'zzz', 'ABC', 'xyz', 'hashes.pkl', '.lock', '\ufeff' + self.suffixes[0],
                 '  %s  ' % self.suffixes[-1], 'valid', 'updated', '\u00e90f']
        if pickle_invalid:
            # Blank lines become the key '' and would make Swift hash the partition dir
            # itself when the pickle is valid; with an invalid one they are dropped.
            lines += ['', '   ', '\t', '..', '.']
        chosen = [rng.choice(lines) for _ in range(rng.randint(1, 6))]
        seps = [rng.choice(['\n', '\r\n', '\r']) for _ in chosen]
        data = ''.join(a + b for a, b in zip(chosen, seps))
        if rng.random() < 0.3:
            data = data.rstrip('\r\n')  # last line without a terminator
        raw = data.encode('utf-8')
        if rng.random() < 0.1:
            raw += b'\xff\xfe\n'  # not UTF-8: Swift's consolidation fails
        with open(os.path.join(self.part_dir, 'hashes.invalid'), 'ab') as f:
            f.write(raw)
        self.notes.append('hashes.invalid: %r' % raw)

    def hashes_pkl(self):
        """Damage or replace hashes.pkl; returns True when Swift will find it invalid."""
        rng = self.rng
        path = os.path.join(self.part_dir, 'hashes.pkl')
        try:
            with open(path, 'rb') as f:
                current = pickle.load(f)
        except (IOError, OSError, EOFError):
            current = {'valid': True}
        kind = rng.choice(['stale', 'stale', 'falsy', 'no-valid', 'valid-false', 'bytes-key',
                           'truncated', 'empty', 'str', 'protocol0', 'protocol5', 'py2'])
        d = dict(current)
        invalid = False
        if kind == 'stale':
            # Truthy values are trusted, even for suffixes that are gone or wrong.
            for _ in range(rng.randint(1, 3)):
                d['%03x' % rng.randrange(4096)] = rng.choice(['0' * 32, 'stale', 5, True, [1]])
            for s in rng.sample(self.suffixes, 1):
                d[s] = 'f' * 32
        elif kind == 'falsy':
            for s in self.suffixes:
                d[s] = rng.choice([None, '', 0, False, []])
        elif kind == 'no-valid':
            d.pop('valid', None)
            d.pop('updated', None)
        elif kind == 'valid-false':
            d['valid'] = rng.choice([False, 0, None, ''])
            invalid = True
        elif kind == 'bytes-key':
            d[self.suffixes[0].encode()] = 'x' * 32
            invalid = True
        data = pickle.dumps(d, protocol={'protocol0': 0, 'protocol5': 5}.get(kind, 2))
        if kind == 'truncated':
            data, invalid = data[:len(data) // 2], True
        elif kind == 'empty':
            data, invalid = b'', True
        elif kind == 'str':
            data, invalid = pickle.dumps('abc', protocol=2), True
        elif kind == 'py2':
            # cPickle protocol 2 from Python 2: keys as SHORT_BINSTRING (U), load as str.
            body = b''.join(b'U\x03' + s.encode() + b'U\x20' + b'a' * 32 for s in self.suffixes)
            data = b'\x80\x02}q\x00(' + body + b'U\x05validq\x01\x88u.'
        with open(path, 'wb') as f:
            f.write(data)
        self.notes.append('hashes.pkl: %s' % kind)
        return invalid

    def build(self):
        rng = self.rng
        for _ in range(rng.randint(1, 12)):
            self.random_object()
        pickle_invalid = True
        if rng.random() < 0.6:
            # Let Swift write a valid hashes.pkl first; later writes invalidate suffixes.
            self.mgr._get_hashes('sda', self.part, POLICY, do_listdir=True)
            pickle_invalid = False
            for _ in range(rng.randint(0, 4)):
                self.random_object()
        for damage in rng.sample([self.junk_files, self.equal_timestamps, self.orphan_meta,
                                  self.odd_dirs, self.misplaced_files], rng.randint(0, 4)):
            damage()
        if rng.random() < 0.4:
            pickle_invalid = self.hashes_pkl()
        if rng.random() < 0.5:
            self.hashes_invalid(pickle_invalid)


def swift_hashes(devices, part):
    mgr = manager(devices, RECLAIM)
    part_dir = os.path.join(devices, 'sda', 'objects', part)
    recalc = [n for n in os.listdir(part_dir) if len(n) == 3]
    _hashed, hashes = mgr._get_hashes('sda', part, POLICY, recalculate=recalc, do_listdir=True)
    return hashes


def replicant_hashes(devices, part):
    p = run([REPLICANT_BIN, 'hashes', os.path.join(devices, 'sda', 'objects', part),
             '--reclaim-age', str(RECLAIM), '--json'], check=False)
    assert p.returncode in (0, 1), p.stderr
    hashes = json.loads(p.stdout)
    # Exit 1 exactly when a suffix could not be hashed (left as None).
    assert (p.returncode == 1) == any(v is None for v in hashes.values()), (p.returncode, p.stderr)
    return hashes


UUID_RE = re.compile(r'-[0-9a-f]{32}$')


def snapshot(devices):
    """{relative path: 'dir' | file bytes | hashes.pkl as loaded minus 'updated'}."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(devices):
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            rel = UUID_RE.sub('-UUID', os.path.relpath(full, devices))
            if os.path.isdir(full):
                out[rel] = 'dir'
            elif n == 'hashes.pkl':
                with open(full, 'rb') as f:
                    try:
                        d = pickle.load(f)
                        assert isinstance(d.pop('updated'), float)
                        out[rel] = ('pickle', d)
                    except Exception as e:  # a quarantined, corrupt one
                        out[rel] = ('unloadable', type(e).__name__)
            else:
                with open(full, 'rb') as f:
                    out[rel] = f.read()
    return out


def compare_trees(a, b):
    sa, sb = snapshot(a), snapshot(b)
    diffs = ['%s: swift=%r replicant=%r' % (k, sa.get(k), sb.get(k))
             for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)]
    return diffs


def run_scenario(rng, idx):
    root = tempfile.mkdtemp(prefix='hashes-compat-', dir=TMP_ROOT)
    try:
        sc = Scenario(rng, root)
        sc.build()
        a, b = os.path.join(root, 'swift'), os.path.join(root, 'replicant')
        shutil.copytree(sc.devices, a, symlinks=True)
        shutil.copytree(sc.devices, b, symlinks=True)
        before = snapshot(a)
        for round_ in (1, 2):
            sh = swift_hashes(a, sc.part)
            rh = replicant_hashes(b, sc.part)
            context = 'scenario %d round %d (%s)' % (idx, round_, '; '.join(sc.notes))
            assert rh == sh, '%s\nswift:     %r\nreplicant: %r' % (context, sh, rh)
            diffs = compare_trees(a, b)
            assert not diffs, '%s\n%s' % (context, '\n'.join(diffs[:20]))
            after = snapshot(a)
            outcomes = set()
            if any(v is None for v in sh.values()):
                outcomes.add('suffix failed')
            if any(k.startswith(os.path.join('sda', 'quarantined')) for k in after):
                outcomes.add('quarantine')
            if set(before) - set(after):
                outcomes.add('files removed')
            if any(not isinstance(v, str) or len(v) != 32 for v in sh.values()):
                outcomes.add('stale value kept')
            if any(len(k) == 3 and not all(c in HEX for c in k) for k in sh):
                outcomes.add('non-hex suffix hashed')
        return [n.split(':')[0] for n in sc.notes] + ['=> ' + o for o in outcomes]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_randomized_partitions_match_swift():
    rng = seeded_random('test_hashes_compat')
    start = time.time()
    count = 0
    seen = set()
    while count < 1000 and (count < 40 or time.time() - start < TIME_BUDGET):
        seen.update(run_scenario(rng, count))
        count += 1
    print('%d scenarios in %.1fs; damage seen: %s' % (count, time.time() - start, sorted(seen)))


def write_tree(root, part, files):
    """files: {relative path under the partition: bytes} (a trailing '/' makes a dir)."""
    part_dir = os.path.join(root, 'sda', 'objects', part)
    os.makedirs(part_dir)
    for rel, data in files.items():
        p = os.path.join(part_dir, rel)
        if rel.endswith('/'):
            os.makedirs(p, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'wb') as f:
            f.write(data)
    return part_dir


def test_unsafe_invalidation_lines_with_valid_pickle():
    """Deliberate deviation: a blank, '.' or '..' line with a valid hashes.pkl makes
    Swift hash the partition (or objects) dir and quarantine hashes.pkl and .lock;
    replicant refuses to walk there. The hashes and hashes.pkl still end up equal."""
    t = '%.5f' % (time.time() - 10)
    for line in (b'\n', b'  \r\n', b'.\n', b'..\n'):
        root = tempfile.mkdtemp(prefix='hashes-unsafe-', dir=TMP_ROOT)
        try:
            src = os.path.join(root, 'src')
            part_dir = write_tree(src, '5', {'abc/%s/%s.data' % ('1' * 29 + 'abc', t): b'',
                                             'def/%s/%s.ts' % ('2' * 29 + 'def', t): b''})
            manager(src, RECLAIM)._get_hashes('sda', '5', POLICY, do_listdir=True)
            with open(os.path.join(part_dir, 'hashes.pkl'), 'rb') as f:
                stale = pickle.load(f)
            stale['fff'] = 'f' * 32  # a stale entry: the poison pass drops it
            with open(os.path.join(part_dir, 'hashes.pkl'), 'wb') as f:
                pickle.dump(stale, f, protocol=2)
            with open(os.path.join(part_dir, 'hashes.invalid'), 'wb') as f:
                f.write(line)
            a, b = os.path.join(root, 'swift'), os.path.join(root, 'replicant')
            shutil.copytree(src, a)
            shutil.copytree(src, b)
            sh = swift_hashes(a, '5')
            rh = replicant_hashes(b, '5')
            assert rh == sh, (line, sh, rh)
            assert 'fff' not in rh
            pa, pb = snapshot(a), snapshot(b)
            key = os.path.join('sda', 'objects', '5', 'hashes.pkl')
            assert pa[key] == pb[key]
            # Nothing of ours was quarantined or written outside the partition.
            assert not any(k.startswith(os.path.join('sda', 'quarantined')) for k in pb)
            assert os.path.join('sda', 'objects', 'hashes.invalid') not in pb
        finally:
            shutil.rmtree(root, ignore_errors=True)


def test_cli_text_output_and_errors():
    root = tempfile.mkdtemp(prefix='hashes-cli-', dir=TMP_ROOT)
    try:
        files = {'abc/%s/1400000000.00000.data' % ('0' * 29 + 'abc'): b'',
                 'abc/%s/1400000002.00000+186a0.meta' % ('0' * 29 + 'abc'): b'',
                 'def/%s/1400000004.00000.data' % ('2' * 29 + 'def'): b'',
                 '123/%s/junk' % ('3' * 29 + '123'): b'', '456/': b''}
        swift_dir, ours = os.path.join(root, 'swift'), os.path.join(root, 'ours')
        write_tree(swift_dir, '9', files)
        part_dir = write_tree(ours, '9', files)
        expected = manager(swift_dir, 10 ** 10)._get_hashes(
            'sda', '9', POLICY, recalculate=['abc', 'def', '123', '456'], do_listdir=True)[1]
        p = run([REPLICANT_BIN, 'hashes', part_dir + '/', '--reclaim-age', str(10 ** 10)])
        assert p.stdout == ''.join('%s %s\n' % kv for kv in sorted(expected.items()))
        assert expected['123'] == 'd41d8cd98f00b204e9800998ecf8427e' and '456' not in expected

        missing = os.path.join(root, 'nope', 'objects', '1')
        p = run([REPLICANT_BIN, 'hashes', missing], check=False)
        assert p.returncode == 1 and missing in p.stderr and p.stdout == ''
        for args in ([], [part_dir, '--reclaim-age', 'soon'], [part_dir, '--bogus'],
                     [part_dir, part_dir]):
            p = run([REPLICANT_BIN, 'hashes'] + args, check=False)
            assert p.returncode == 2, (args, p.stderr)
            assert 'usage' in p.stderr
    finally:
        shutil.rmtree(root, ignore_errors=True)
