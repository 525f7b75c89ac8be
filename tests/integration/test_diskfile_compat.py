"""hashes/diskfile against Swift 2.30's DiskFile, in both directions.

The same random PUT / POST (with and without content-type) / DELETE sequences are
applied to two device trees: by Swift's DiskFile API to tree "swift" and by
diskfile_tool to tree "ours". Then every hash dir must hold the same file names with
byte-identical xattrs and bodies, Swift must open our objects exactly as its own,
diskfile_tool must read Swift's objects exactly as Swift does, yield_hashes must
agree, and Swift's get_hashes must see the suffixes our writes invalidated.
"""
import hashlib
import json
import os
import shutil
import tempfile
import time

import pytest
import xattr

from replicant_test import run, seeded_random, set_swift_hash, tool, write_swift_conf

from swift.common import utils
from swift.common.storage_policy import POLICIES, reload_storage_policies
from swift.common.exceptions import DiskFileDeleted, DiskFileQuarantined
from swift.obj import diskfile

TOOL = tool('diskfile_tool')
ACCOUNT, CONTAINER = 'AUTH_test', 'c\u00e9'
CHARS = 'abcXYZ019 -_./\u00e9\u00fc\u20ac\u65e5\u672c\U0001f600'


@pytest.fixture(scope='module')
def env():
    root = tempfile.mkdtemp(prefix='replicant-diskfile-compat-')
    utils.SWIFT_CONF_FILE = write_swift_conf(
        os.path.join(root, 'etc'), policies=((0, 'gold', True), (1, 'silver', False)))
    reload_storage_policies()
    set_swift_hash()
    # Run Swift's finalize/get_hashes inline rather than in eventlet's thread pool.
    diskfile.tpool.execute = lambda f, *a, **kw: f(*a, **kw)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def manager(devices):
    os.makedirs(os.path.join(devices, 'sda'), exist_ok=True)
    conf = {'devices': devices, 'mount_check': 'false'}
    return diskfile.DiskFileManager(conf, utils.get_logger(conf, log_route='test'))


def rand_text(rng, n):
    return ''.join(rng.choice(CHARS) for _ in range(n))


def user_meta(rng, prefix):
    md = {}
    for i in range(rng.randrange(0, 4)):
        # Mostly short values, sometimes long ones (multi-byte UTF-8 included);
        # ext4 keeps all xattrs of a file in one 4 KiB block.
        n = rng.choice([0, 1, 5, 40, 300])
        md['X-Object-Meta-%s%d-%s' % (prefix, i, rand_text(rng, 3))] = rand_text(rng, n)
    if rng.random() < 0.3:
        md['X-Object-Sysmeta-Test'] = rand_text(rng, 8)
    return md


def make_ops(rng, name, now):
    """A random history for one object: [(ext, ordered metadata, body)]."""
    ts = now - rng.randrange(1000, 100000)
    ops = []

    def tick():
        nonlocal ts
        ts += rng.randrange(1, 50) + rng.randrange(0, 100000) / 100000.0
        return utils.Timestamp(ts).internal

    body = os.urandom(rng.choice([0, 1, 100, 4096, 70000]))
    md = {'X-Timestamp': tick(), 'Content-Type': rng.choice(['text/plain', 'image/\u00e9']),
          'ETag': hashlib.md5(body).hexdigest(), 'Content-Length': str(len(body))}
    md.update(user_meta(rng, 'P'))
    md['name'] = name
    ops.append(('data', md, body))
    for _ in range(rng.randrange(0, 4)):
        kind = rng.choice(['meta', 'meta', 'ts', 'data'])
        if kind == 'meta':
            md = {'X-Timestamp': tick()}
            if rng.random() < 0.5:
                md['Content-Type'] = 'application/x-%s' % rng.choice('abc')
                # content-type timestamp at or before the POST's own
                md['Content-Type-Timestamp'] = rng.choice([md['X-Timestamp'], tick()])
                if md['Content-Type-Timestamp'] > md['X-Timestamp']:
                    md['X-Timestamp'], md['Content-Type-Timestamp'] = \
                        md['Content-Type-Timestamp'], md['X-Timestamp']
            md.update(user_meta(rng, 'M'))
            md['name'] = name
            ops.append(('meta', md, b''))
        elif kind == 'ts':
            ops.append(('ts', {'X-Timestamp': tick(), 'name': name}, b''))
        else:
            body = os.urandom(rng.randrange(0, 3000))
            md = {'X-Timestamp': tick(), 'Content-Type': 'text/plain',
                  'ETag': hashlib.md5(body).hexdigest(), 'Content-Length': str(len(body))}
            md.update(user_meta(rng, 'Q'))
            md['name'] = name
            ops.append(('data', md, body))
    return ops


def swift_apply(df, ext, md, body):
    if ext == 'data':
        with df.create() as w:
            w.write(body)
            w.put(dict(md))
            w.commit(utils.Timestamp(md['X-Timestamp']))
    elif ext == 'meta':
        df.write_metadata(dict(md))
    else:
        df.delete(utils.Timestamp(md['X-Timestamp']))


def tool_apply(devices, policy, part, hsh, ext, md, body):
    out = run([TOOL, 'write', devices, 'sda', str(policy), str(part), hsh,
               md['X-Timestamp'], ext, json.dumps(md)], input=body.decode('latin1'),
              encoding='latin1')
    return json.loads(out.stdout)


def tool_read(hash_dir):
    p = run([TOOL, 'read', hash_dir], check=False)
    return json.loads(p.stdout)


def swift_view(mgr, part, name, policy):
    """(tombstone, metadata, body md5) as Swift's DiskFile sees the object, or None."""
    a, c, o = name[1:].split('/', 2)
    df = mgr.get_diskfile('sda', str(part), a, c, o, policy=POLICIES[policy])
    try:
        df.open()
    except DiskFileDeleted as e:
        return True, e.metadata, None
    except Exception:
        return None
    md = df.get_metadata()
    with df:
        body = b''.join(df.reader())
    return False, md, hashlib.md5(body).hexdigest()


def raw_xattr(path):
    data, key = b'', 0
    while True:
        try:
            data += xattr.getxattr(path, 'user.swift.metadata' + (str(key) if key else ''))
        except OSError:
            return data
        key += 1


def check_same_files(hash_a, hash_b):
    names_a = sorted(os.listdir(hash_a)) if os.path.isdir(hash_a) else []
    names_b = sorted(os.listdir(hash_b)) if os.path.isdir(hash_b) else []
    assert names_a == names_b, (hash_a, hash_b)
    for n in names_a:
        a, b = os.path.join(hash_a, n), os.path.join(hash_b, n)
        assert raw_xattr(a) == raw_xattr(b), n  # byte-identical pickles
        assert xattr.getxattr(a, 'user.swift.metadata_checksum') == \
            xattr.getxattr(b, 'user.swift.metadata_checksum')
        with open(a, 'rb') as fa, open(b, 'rb') as fb:
            assert fa.read() == fb.read(), n
        assert os.stat(b).st_mode & 0o777 == os.stat(a).st_mode & 0o777


def check_views_agree(mgr_a, mgr_b, tree_a, tree_b, part, name, policy, hsh):
    view_a = swift_view(mgr_a, part, name, policy)
    view_b = swift_view(mgr_b, part, name, policy)
    assert view_a is not None
    assert view_b == view_a  # Swift reads our object exactly as its own
    tombstone, md, body_md5 = view_a
    for tree in (tree_a, tree_b):
        got = tool_read(diskfile.os.path.join(
            tree, 'sda', diskfile.get_data_dir(policy), str(part), hsh[-3:], hsh))
        assert 'error' not in got, got
        assert got['tombstone'] == tombstone
        assert got['metadata'] == md  # we read Swift's object exactly as Swift does
        assert got['timestamp'] == utils.Timestamp(md['X-Timestamp']).internal
        if not tombstone:
            assert got['body_md5'] == body_md5 == md['ETag']
            assert got['size'] == int(md['Content-Length'])


def test_diskfile_round_trips_with_swift(env):
    rng = seeded_random('test_diskfile_round_trips_with_swift')
    tree_a, tree_b = os.path.join(env, 'swift'), os.path.join(env, 'ours')
    mgr_a, mgr_b = manager(tree_a), manager(tree_b)
    now = time.time()
    objects = []
    for i in range(24):
        policy = rng.choice([0, 1])
        part = rng.choice([0, 5, 1023])
        name = '/%s/%s/o%d-%s' % (ACCOUNT, CONTAINER, i, rand_text(rng, 6))
        hsh = utils.hash_path(*name[1:].split('/', 2))
        objects.append((policy, part, name, hsh, make_ops(rng, name, now)))

    def hash_dirs(policy, part, hsh):
        rel = os.path.join('sda', diskfile.get_data_dir(policy), str(part), hsh[-3:], hsh)
        return os.path.join(tree_a, rel), os.path.join(tree_b, rel)

    # Round 1: all ops but each object's last one.
    for policy, part, name, hsh, ops in objects:
        a, c, o = name[1:].split('/', 2)
        df = mgr_a.get_diskfile('sda', str(part), a, c, o, policy=POLICIES[policy])
        for ext, md, body in ops[:-1] if len(ops) > 1 else ops:
            swift_apply(df, ext, md, body)
            tool_apply(tree_b, policy, part, hsh, ext, md, body)
        check_same_files(*hash_dirs(policy, part, hsh))
        check_views_agree(mgr_a, mgr_b, tree_a, tree_b, part, name, policy, hsh)
        # Our writer's temp files never outlive a put.
        assert os.listdir(os.path.join(tree_b, 'sda', diskfile.get_tmp_dir(policy))) == []

    # Hash every partition so hashes.pkl holds valid values, then apply the last
    # ops: Swift's get_hashes must pick them up through our hashes.invalid.
    parts = sorted({(policy, part) for policy, part, _, _, _ in objects})
    before = {}
    for policy, part in parts:
        ha = mgr_a._get_hashes('sda', str(part), POLICIES[policy])[1]
        hb = mgr_b._get_hashes('sda', str(part), POLICIES[policy])[1]
        assert hb == ha
        before[policy, part] = ha
    changed = set()
    for policy, part, name, hsh, ops in objects:
        if len(ops) < 2:
            continue
        a, c, o = name[1:].split('/', 2)
        df = mgr_a.get_diskfile('sda', str(part), a, c, o, policy=POLICIES[policy])
        ext, md, body = ops[-1]
        swift_apply(df, ext, md, body)
        tool_apply(tree_b, policy, part, hsh, ext, md, body)
        inv = os.path.join(tree_b, 'sda', diskfile.get_data_dir(policy), str(part),
                           'hashes.invalid')
        with open(inv) as f:
            assert hsh[-3:] in f.read().split()
        changed.add((policy, part, hsh[-3:]))
        check_same_files(*hash_dirs(policy, part, hsh))
        check_views_agree(mgr_a, mgr_b, tree_a, tree_b, part, name, policy, hsh)
    rehashed = 0
    for policy, part in parts:
        ha = mgr_a._get_hashes('sda', str(part), POLICIES[policy])[1]
        hb = mgr_b._get_hashes('sda', str(part), POLICIES[policy])[1]
        assert hb == ha
        # A changed suffix hash proves our hashes.invalid line was seen (some ops,
        # e.g. a POST after a DELETE, legitimately leave the hash as it was).
        rehashed += sum(1 for p, q, suffix in changed if (p, q) == (policy, part)
                        and ha.get(suffix) != before[policy, part].get(suffix))
    assert rehashed > 0

    # yield_hashes: our listing of Swift's tree equals Swift's listing.
    for policy, part in parts:
        expected = {}
        for hsh, ts in mgr_a.yield_hashes('sda', str(part), POLICIES[policy]):
            expected[hsh] = {k: v.internal for k, v in ts.items()}
        got = {}
        part_dir = os.path.join(tree_a, 'sda', diskfile.get_data_dir(policy), str(part))
        for suffix in os.listdir(part_dir):
            if len(suffix) != 3:
                continue
            out = run([TOOL, 'yield', os.path.join(part_dir, suffix), '604800', str(time.time())])
            for e in json.loads(out.stdout):
                hsh = e.pop('hash')
                e.pop('tombstone')
                got[hsh] = e
        assert got == expected


def test_encode_metadata_is_swifts_pickle(env):
    rng = seeded_random('test_encode_metadata_is_swifts_pickle')
    for _ in range(40):
        md = {}
        for i in range(rng.randrange(0, 12)):
            md[rand_text(rng, rng.randrange(0, 4))] = rand_text(rng, rng.choice([0, 1, 1, 2, 30]))
        out = run([TOOL, 'encode'], input=json.dumps(md))
        expected = diskfile.pickle.dumps(diskfile._encode_metadata(md), 2)
        assert out.stdout.strip() == expected.hex(), md


def test_corrupt_objects_are_refused_like_swift(env):
    devices = os.path.join(env, 'corrupt')
    mgr = manager(devices)
    name = '/%s/%s/bad' % (ACCOUNT, CONTAINER)
    hsh = utils.hash_path(*name[1:].split('/', 2))
    df = mgr.get_diskfile('sda', '3', *name[1:].split('/', 2), policy=POLICIES[0])
    body = b'0123456789'
    swift_apply(df, 'data', {'X-Timestamp': utils.Timestamp(time.time()).internal,
                             'ETag': hashlib.md5(body).hexdigest(),
                             'Content-Length': '10', 'name': name}, body)
    hash_dir = os.path.join(devices, 'sda', 'objects', '3', hsh[-3:], hsh)
    data = os.path.join(hash_dir, os.listdir(hash_dir)[0])
    os.truncate(data, 4)
    assert tool_read(hash_dir)['code'] == 'Corruption'
    xattr.setxattr(data, 'user.swift.metadata_checksum', b'0' * 32)
    assert tool_read(hash_dir)['code'] == 'Corruption'
    with pytest.raises(DiskFileQuarantined):
        mgr.get_diskfile('sda', '3', *name[1:].split('/', 2), policy=POLICIES[0]).open()
    assert tool_read(hash_dir)['code'] == 'NotFound'
