"""Differential tests: formats/pickle (through tests/tools/pickle_tool) against CPython.

Random nested values are pickled by CPython at every protocol; pickle_tool loads each
and re-dumps it at protocol 2, which must be byte-identical to what CPython's
pickle.dumps(pickle.loads(data), 2) writes, and load back to the same value (compared
by repr, so True is not 1 and a tuple is not a list). Truncated and corrupted input
must make the tool exit 1 with a message, never die on a signal.
"""
import pickle
import struct
import subprocess

from replicant_test import seeded_random, tool

PICKLE_TOOL = tool('pickle_tool')
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def run_tool(mode, data):
    p = subprocess.run([PICKLE_TOOL, mode], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert p.returncode >= 0, 'pickle_tool killed by signal %d on %r' % (-p.returncode, data)
    return p


def rand_text(rng, max_cp=0x10FFFF):
    n = rng.choice([0, 1, 1, 2, 3, 8, 32, 100])
    out = []
    for _ in range(n):
        k = rng.random()
        if k < 0.5:
            c = rng.randrange(0x20, 0x7F)
        elif k < 0.65:
            c = rng.randrange(0, 0x100)
        elif k < 0.75:
            c = rng.choice([0x0A, 0x0D, 0x5C, 0x1A, 0x00, 0x27, 0x22])  # protocol 0 escapes
        elif k < 0.88:
            c = rng.randrange(0x100, 0x10000)  # BMP, lone surrogates included
        else:
            c = rng.randrange(0x10000, 0x110000)
        out.append(chr(min(c, max_cp)))
    return ''.join(out)  # one-char results stay CPython's shared singletons


def rand_int(rng):
    return rng.choice([
        0, 1, -1, 255, 256, 65535, 65536, -129, (1 << 31) - 1, -(1 << 31), 1 << 31,
        INT64_MIN, INT64_MAX, rng.randrange(-1000, 1000),
        rng.randrange(INT64_MIN, INT64_MAX), rng.randrange(-(1 << 40), 1 << 40)])


def rand_float(rng):
    return rng.choice([
        0.0, -0.0, 1.5, float('inf'), float('-inf'), 1e16, 1e-5, 5e-324,
        rng.random() * 10 ** rng.randint(-30, 30),
        struct.unpack('<d', struct.pack('<Q', rng.getrandbits(64)))[0]])


def rand_scalar(rng, max_cp=0x10FFFF, with_bytes=True):
    kind = rng.randrange(7 if with_bytes else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rand_int(rng)
    if kind == 3:
        return rand_float(rng)
    if kind in (4, 5):
        return rand_text(rng, max_cp)
    return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 2, 7, 40, 300])))


def rand_key(rng, max_cp):
    k = rng.randrange(6)
    if k < 3:
        return rand_text(rng, max_cp)
    if k == 3:
        return rand_int(rng)
    if k == 4:
        return rand_scalar(rng, max_cp)  # None, bool, float, bytes...
    return tuple(rand_scalar(rng, max_cp) for _ in range(rng.randrange(4)))


def rand_value(rng, depth=0, pool=None, max_cp=0x10FFFF):
    """A nested value; `pool` holds finished values to reuse (memo references)."""
    pool = [] if pool is None else pool
    if pool and rng.random() < 0.05:
        return rng.choice(pool)
    k = rng.random()
    if depth >= 4 or k < 0.45:
        v = rand_scalar(rng, max_cp)
    elif k < 0.65:
        v = [rand_value(rng, depth + 1, pool, max_cp) for _ in range(rng.randrange(6))]
    elif k < 0.75:
        v = tuple(rand_value(rng, depth + 1, pool, max_cp) for _ in range(rng.randrange(6)))
    else:
        v = {rand_key(rng, max_cp): rand_value(rng, depth + 1, pool, max_cp)
             for _ in range(rng.randrange(6))}
    pool.append(v)
    return v


def check_round_trip(data):
    p = run_tool('dump', data)
    assert p.returncode == 0, (p.stderr, data)
    expected = pickle.loads(data)
    assert repr(pickle.loads(p.stdout)) == repr(expected)
    assert p.stdout == pickle.dumps(expected, 2), data
    return p.stdout


def test_random_values_every_protocol():
    rng = seeded_random('test_random_values_every_protocol')
    for _ in range(120):
        v = rand_value(rng)
        for proto in range(6):
            check_round_trip(pickle.dumps(v, proto))


def test_swift_shaped_dicts_match_cpython_bytes():
    """str -> str/float/bool/None dicts (hashes.pkl, metadata, REPLICATE bodies),
    pickled at protocol 2: the tool's output is exactly pickle.dumps(v, 2)."""
    rng = seeded_random('test_swift_shaped_dicts_match_cpython_bytes')
    for i in range(80):
        n = rng.choice([0, 1, 2, 17, 999, 1000, 1001, 2500]) if i % 8 == 0 else rng.randrange(40)
        v = {}
        for _ in range(n):
            key = rng.choice(['%03x' % rng.randrange(4096), rand_text(rng)])
            v[key] = rng.choice([None, True, False, rand_float(rng), rand_text(rng),
                                 '%032x' % rng.getrandbits(128)])
        data = pickle.dumps(v, 2)
        assert check_round_trip(data) == data
    big = list(range(2001))
    assert check_round_trip(pickle.dumps(big, 2)) == pickle.dumps(big, 2)


def test_repr_matches_python_for_latin1_values():
    rng = seeded_random('test_repr_matches_python_for_latin1_values')
    for _ in range(60):
        v = rand_value(rng, max_cp=0xFF)
        p = run_tool('repr', pickle.dumps(v, 2))
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode('utf-8') == repr(v) + '\n'


def test_out_of_range_and_unsupported_values_fail_cleanly():
    for v in [1 << 63, -(1 << 63) - 1, 10 ** 30, {1, 2}, frozenset(), bytearray(b'x'),
              complex(1, 2), [1, {2: object}]]:
        for proto in range(6):
            p = run_tool('dump', pickle.dumps(v, proto))
            assert p.returncode == 1, (v, proto)
            assert p.stderr.startswith(b'Corruption: pickle: '), p.stderr


def test_truncated_and_corrupted_pickles_fail_cleanly():
    rng = seeded_random('test_truncated_and_corrupted_pickles_fail_cleanly')
    for _ in range(40):
        v = rand_value(rng)
        data = pickle.dumps(v, rng.randrange(6))
        for cut in rng.sample(range(len(data)), min(len(data), 4)):
            p = run_tool('dump', data[:cut])
            assert p.returncode == 1, (data, cut)
            assert p.stderr.startswith(b'Corruption: pickle: '), p.stderr
        for _ in range(4):
            bad = bytearray(data)
            for _ in range(rng.randrange(1, 4)):
                i = rng.randrange(len(bad))
                bad[i] = rng.choice([rng.getrandbits(8), 0x00, 0xFF, 0x7F, 0x80])
            p = run_tool('dump', bytes(bad))
            assert p.returncode in (0, 1), (bytes(bad), p.returncode)
            if p.returncode:
                assert p.stderr.startswith(b'Corruption: pickle: '), p.stderr
        p = run_tool('dump', data + b'\x00')
        assert p.returncode == 1 and b'trailing data' in p.stderr
