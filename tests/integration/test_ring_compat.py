"""Differential tests: replicant's ring reader against Swift 2.30's own Ring.

Rings come from swift-ring-builder (one, with every feature), from Swift's RingBuilder
API (random topologies: part powers 4..12, replica counts 1, 2, 3, 2.3, 3.5..., holes,
weight-0 devices with and without partitions, devices added after the rebalance,
non-ASCII names) and from RingData/raw writers (a part power 17 ring sampled, byte
orders, missing optional keys). For each, every partition's primaries and complete
get_more_nodes order (sampled for big rings) must equal Swift's; tests/tools/ring_tool
dumps them in one run, and the `replicant ring` CLI is checked on a handful.
"""
import array
import gzip
import json
import struct
import sys

import pytest

from replicant_test import (REPLICANT_BIN, run, seeded_random, set_swift_hash, tool,
                            write_swift_conf)

from swift.common import utils
from swift.common.ring import Ring, RingBuilder, RingData

DEV_FIELDS = ('id', 'region', 'zone', 'ip', 'port', 'replication_ip', 'replication_port',
              'device', 'weight')
NAMES = ['sdb', 'sdc1', 'd\u00e9v', '\u78c1\u76d8', 'nvme0n1', 'x y']


@pytest.fixture(autouse=True)
def swift_hash():
    set_swift_hash()  # Swift's Ring() refuses to load without a hash prefix/suffix


def dump(path, parts=()):
    """ring_tool output: (header, {part: (primary ids, handoff ids)})."""
    out = run([tool('ring_tool'), path] + [str(p) for p in parts]).stdout.splitlines()
    head = json.loads(out[0])
    got = {}
    for line in out[1:]:
        rec = json.loads(line)
        got[rec['part']] = (rec['primaries'], rec['handoffs'])
    return head, got


def swift_nodes(ring, part):
    return ([d['id'] for d in ring.get_part_nodes(part)],
            [d['id'] for d in ring.get_more_nodes(part)])


def compare(path, parts=None):
    """Asserts ring_tool agrees with Swift on metadata, devices and `parts` (all if None)."""
    ring = Ring(path)
    head, got = dump(path, parts or ())
    assert head['part_power'] == ring.part_power
    assert head['partition_count'] == ring.partition_count
    assert head['replica_count'] == ring.replica_count
    assert head['assigned_device_count'] == ring.assigned_device_count
    assert len(head['devs']) == len(ring.devs)
    for ours, theirs in zip(head['devs'], ring.devs):
        if theirs is None:
            assert ours is None
            continue
        for k in DEV_FIELDS + ('meta',):
            assert ours[k] == theirs[k], (k, ours, theirs)
    parts = list(range(ring.partition_count)) if parts is None else parts
    assert sorted(got) == sorted(set(parts))
    for p in parts:
        assert got[p] == swift_nodes(ring, p), 'partition %d of %s' % (p, path)
    return ring


def random_ring(rnd, path, part_power, replicas):
    """A RingBuilder ring with a random topology and the awkward cases mixed in."""
    b = RingBuilder(part_power, replicas, 0)
    port = 6200
    for region in range(1, rnd.randint(1, 3) + 1):
        for zone in range(rnd.randint(1, 3)):
            for ip in range(rnd.randint(1, 2)):
                for _ in range(rnd.randint(1, 3)):  # several devices per ip, own ports
                    port += 1
                    b.add_dev({'region': region, 'zone': zone,
                               'ip': '10.%d.%d.%d' % (region, zone, ip), 'port': port,
                               'device': rnd.choice(NAMES) + str(port),
                               'weight': rnd.choice([100, 100, 50, 1000, 3.5]),
                               'meta': rnd.choice(['', 'm\u00e9ta'])})
    while len(b.devs) < replicas + 3:  # the builder wants >= replicas devices
        port += 1
        b.add_dev({'region': 1, 'zone': 0, 'ip': '10.1.0.0', 'port': port,
                   'device': 'extra%d' % port, 'weight': 100})
    b.rebalance(seed=rnd.randrange(1 << 30))
    live = [d for d in b.devs if d]
    if len(live) > replicas + 2 and rnd.random() < 0.7:  # holes
        for d in rnd.sample(live, rnd.randint(1, 2)):
            b.remove_dev(d['id'])
        b.rebalance(seed=rnd.randrange(1 << 30))
    live = [d for d in b.devs if d]
    if len(live) > 2 and rnd.random() < 0.6:  # weight 0 but still holding partitions
        b.set_dev_weight(rnd.choice(live)['id'], 0)
    if rnd.random() < 0.7:  # added after the rebalance: holds nothing, never a handoff
        b.add_dev({'region': rnd.choice([1, 7]), 'zone': 9, 'ip': '10.9.9.9',
                   'port': 7000, 'device': 'late', 'weight': 100})
    b.get_ring().save(path)
    return path


def write_raw_ring(path, devs, rows, part_shift, byteorder='little'):
    """A v1 ring written by hand, so byte order and optional keys can vary."""
    hdr = {'devs': devs, 'part_shift': part_shift, 'replica_count': len(rows)}
    if byteorder:
        hdr['byteorder'] = byteorder
    text = json.dumps(hdr, sort_keys=True, ensure_ascii=True).encode('ascii')
    body = [b'R1NG', struct.pack('!HI', 1, len(text)), text]
    for row in rows:
        a = array.array('H', row)
        if (byteorder or sys.byteorder) != sys.byteorder:
            a.byteswap()
        body.append(a.tobytes())
    with gzip.open(path, 'wb') as f:
        f.write(b''.join(body))
    return path


def cli(*args, check=True):
    return run([REPLICANT_BIN, 'ring'] + [str(a) for a in args], check=check)


def check_cli_partition(ring, path, part, handoffs=1000):
    out = json.loads(cli(path, '--partition', part, '--handoffs', handoffs, '--json').stdout)
    assert out['part_power'] == ring.part_power
    assert out['replica_count'] == ring.replica_count
    assert out['partition'] == part
    want_p = ring.get_part_nodes(part)
    want_h = list(ring.get_more_nodes(part))[:handoffs]
    assert [{k: d[k] for k in DEV_FIELDS} for d in want_p] == out['primaries']
    assert [{k: d[k] for k in DEV_FIELDS} for d in want_h] == out['handoffs']
    return out


def test_swift_ring_builder_cli_ring(tmp_path):
    """swift-ring-builder itself: holes, weight 0 with parts, a late device, non-ASCII."""
    builder = str(tmp_path / 'object.builder')
    path = str(tmp_path / 'object.ring.gz')

    def srb(*args):
        p = run(['swift-ring-builder', builder] + list(args), check=False)
        assert p.returncode in (0, 1), p.stdout + p.stderr  # 1 is a warning
    srb('create', '6', '3', '0')
    devs = []
    for i in range(12):
        ip = '127.0.%d.%d' % (i % 2 + 1, i // 4)
        devs += ['r%dz%d-%s:%dR10.0.0.%d:%d/%s_meta%d' % (
            i % 2 + 1, i % 3, ip, 6200 + i, i, 6300 + i,
            'sd\u00e4' if i == 5 else 'sd%c' % (97 + i), i), str(100 + 10 * (i % 3))]
    srb('add', *devs)
    srb('remove', 'd3', 'd10', '--yes')  # holes once rebalanced
    srb('rebalance')
    srb('set_weight', 'd7', '0')
    srb('add', 'r3z1-127.0.9.1:6200/late', '100')  # takes the lowest free id, 3
    srb('write_ring')
    ring = compare(path)
    assert ring.devs[10] is None and ring.devs[7]['weight'] == 0
    assert ring.devs[3]['device'] == 'late'
    assert ring.devs[5]['device'] == 'sd\u00e4'
    for part in (0, 1, 17, ring.partition_count - 1):
        check_cli_partition(ring, path, part)
    # Default handoff count: as many as primaries, like swift-get-nodes.
    out = json.loads(cli(path, '--partition', 9, '--json').stdout)
    assert len(out['handoffs']) == len(out['primaries'])
    text = cli(path, '--partition', 9).stdout
    assert 'Partition\t9' in text
    assert text.count('[Handoff]') == len(out['handoffs'])


@pytest.mark.parametrize('replicas', [1, 2, 3, 2.3, 3.5, 'random'])
def test_random_builder_rings(tmp_path, replicas):
    rnd = seeded_random('test_random_builder_rings[%s]' % replicas)
    if replicas == 'random':
        replicas = round(rnd.uniform(1, 4), 2)
    for n in range(2):
        part_power = rnd.randint(4, 12)
        path = random_ring(rnd, str(tmp_path / ('r%d.ring.gz' % n)), part_power, replicas)
        ring = Ring(path)
        if ring.partition_count <= 1024:
            compare(path)
        else:
            compare(path, sorted(rnd.sample(range(ring.partition_count), 400) +
                                 [0, ring.partition_count - 1]))
        check_cli_partition(ring, path, rnd.randrange(ring.partition_count))


def test_part_power_17_sampled(tmp_path):
    """inc == 2: only partitions congruent to the scan start are ever visited."""
    rnd = seeded_random('test_part_power_17_sampled')
    parts = 1 << 17
    devs = []
    for i in range(36):
        devs.append({'id': i, 'region': 1 + i % 2, 'zone': i % 4, 'ip': '10.0.%d.%d' % (
            i % 4, i // 8), 'port': 6200 + i, 'device': 'd%d' % i, 'weight': 100.0,
            'meta': ''})
    devs.append({'id': 36, 'region': 3, 'zone': 0, 'ip': '10.3.0.1', 'port': 6200,
                 'device': 'odd-only', 'weight': 1.0, 'meta': ''})
    devs.append({'id': 37, 'region': 3, 'zone': 1, 'ip': '10.3.0.2', 'port': 6200,
                 'device': 'part-0-only', 'weight': 1.0, 'meta': ''})
    devs.append(None)
    devs.append({'id': 39, 'region': 4, 'zone': 0, 'ip': '10.4.0.1', 'port': 6200,
                 'device': 'no-parts', 'weight': 100.0, 'meta': ''})
    rows = [array.array('H', (rnd.randrange(36) for _ in range(parts))) for _ in range(3)]
    for p in rnd.sample(range(1, parts, 2), 5):
        rows[1][p] = 36
    rows[0][0] = 37
    path = str(tmp_path / 'pp17.ring.gz')
    RingData(rows, devs, 32 - 17).save(path)
    # Swift itself scans the whole ring for a missing region when the start is even,
    # so each of these costs it ~0.3 s: a small sample.
    sample = rnd.sample(range(parts), 24) + [0, 1, 2, parts - 1]
    ring = compare(path, sorted(set(sample)))
    check_cli_partition(ring, path, sample[0])


def test_raw_rings_byte_order_and_defaults(tmp_path):
    """Big/little/absent byteorder; missing region and replication_* keys; holes."""
    rnd = seeded_random('test_raw_rings_byte_order_and_defaults')
    for byteorder in ('little', 'big', None):
        devs = []
        for i in range(rnd.randint(4, 9)):
            d = {'id': i, 'zone': rnd.randint(0, 3), 'ip': '10.0.0.%d' % rnd.randint(1, 3),
                 'port': 6200 + i, 'device': 'd%d' % i, 'weight': 1.0, 'meta': ''}
            if rnd.random() < 0.5:
                d['region'] = rnd.randint(1, 3)
            if rnd.random() < 0.5:
                d['replication_ip'], d['replication_port'] = '192.168.0.%d' % i, 7000 + i
            devs.append(d)
        devs.insert(2, None)
        for i, d in enumerate(devs):
            if d:
                d['id'] = i
        ids = [d['id'] for d in devs if d]
        part_power = rnd.randint(4, 8)
        parts = 1 << part_power
        nrows = rnd.randint(1, 4)
        rows = [[rnd.choice(ids) for _ in range(parts)] for _ in range(nrows)]
        if nrows > 1:
            rows[-1] = rows[-1][:rnd.randint(0, parts)]  # fractional, even empty
        path = write_raw_ring(str(tmp_path / ('raw-%s.ring.gz' % byteorder)), devs, rows,
                              32 - part_power, byteorder)
        compare(path)


def test_object_hashing_via_swift_conf(tmp_path):
    rnd = seeded_random('test_object_hashing_via_swift_conf')
    path = random_ring(rnd, str(tmp_path / 'object.ring.gz'), 8, 3)
    prefix, suffix = 'pr\u00e9fix-%d' % rnd.randrange(1000), 'suffix-%d' % rnd.randrange(1000)
    swift_dir = str(tmp_path / 'swift')
    write_swift_conf(swift_dir, prefix=prefix, suffix=suffix)
    set_swift_hash(prefix, suffix)
    ring = Ring(path)
    names = [('AUTH_test', 'c', 'o'), ('AUTH_\u00e9', 'c\u00e9', 'e\u0301/with/slashes'),
             ('a', 'c', '/leading'), ('a', 'c', 'trailing/')]
    names += [('AUTH_%d' % rnd.randrange(100), 'c%d' % rnd.randrange(100),
               'o-%d' % rnd.randrange(10 ** 6)) for _ in range(4)]
    for a, c, o in names:
        out = json.loads(cli(path, '--object', '%s/%s/%s' % (a, c, o), '--swift-dir', swift_dir,
                             '--handoffs', 5, '--json').stdout)
        part, nodes = ring.get_nodes(a, c, o)
        assert out['hash'] == utils.hash_path(a, c, o), (a, c, o)
        assert out['partition'] == part
        assert [d['id'] for d in out['primaries']] == [d['id'] for d in nodes]
        assert [d['id'] for d in out['handoffs']] == \
            [d['id'] for d in ring.get_more_nodes(part)][:5]
    text = cli(path, '--object', 'AUTH_test/c/o', '--swift-dir', swift_dir).stdout
    assert 'Hash     \t%s' % utils.hash_path('AUTH_test', 'c', 'o') in text


def test_errors_exit_cleanly_naming_the_problem(tmp_path):
    rnd = seeded_random('test_errors_exit_cleanly_naming_the_problem')
    good = random_ring(rnd, str(tmp_path / 'good.ring.gz'), 6, 3)
    data = open(good, 'rb').read()
    bad = {}
    for cut in sorted(set([0, 1, 10, 20, len(data) // 2, len(data) - 9, len(data) - 1] +
                          [rnd.randrange(len(data)) for _ in range(5)])):
        bad['cut%d' % cut] = data[:cut]
    raw = gzip.decompress(data)
    bad['magic'] = gzip.compress(b'R2NG' + raw[4:])
    bad['version'] = gzip.compress(raw[:4] + struct.pack('!H', 2) + raw[6:])
    bad['json'] = gzip.compress(raw[:10] + b'#' + raw[11:])
    bad['rows'] = gzip.compress(raw[:len(raw) - (1 << 6) * 2 * 2 - 1])
    bad['garbage'] = bytes(rnd.randrange(256) for _ in range(100))
    for name, blob in bad.items():
        path = str(tmp_path / ('%s.ring.gz' % name))
        with open(path, 'wb') as f:
            f.write(blob)
        p = cli(path, '--partition', 0, '--json', check=False)
        assert p.returncode == 1, (name, p.stdout, p.stderr)
        assert path in p.stderr and p.stdout == '', (name, p.stderr)
        assert 'Traceback' not in p.stderr
    missing = str(tmp_path / 'missing.ring.gz')
    p = cli(missing, '--partition', 0, check=False)
    assert p.returncode == 1 and missing in p.stderr
    p = cli(good, '--partition', 64, check=False)
    assert p.returncode == 1 and 'out of range' in p.stderr
    p = cli(good, '--object', 'a/c', '--swift-dir', str(tmp_path), check=False)
    assert p.returncode == 1 and 'a/c' in p.stderr
    p = cli(good, '--object', 'a/c/o', '--swift-dir', str(tmp_path / 'nowhere'), check=False)
    assert p.returncode == 1 and 'swift.conf' in p.stderr
    for args in ([good], [good, '--partition', 1, '--object', 'a/c/o'], [good, '--bogus'],
                 [good, '--partition', 'x'], [good, '--partition', 1, '--handoffs', '-1'], []):
        p = cli(*args, check=False)
        assert p.returncode == 2, (args, p.stderr)
        assert 'usage' in p.stderr
