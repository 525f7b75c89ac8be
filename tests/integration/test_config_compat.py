"""Differential tests: replicant's config parsing against Swift's own code.

Randomized swift.conf files go through Swift's validate_hash_conf() and
reload_storage_policies() and through tests/tools/swift_conf_tool; randomized
object-server.conf files (and conf.d directories) through Swift's readconf() and
tests/tools/config_tool. Both sides must agree on the result, or both reject.
Swift runs in one child process with PYTHONUTF8=1, the UTF-8 locale its daemons see.
"""
import json
import os
import subprocess
import sys

import pytest

from replicant_test import run, seeded_random, tool

CASES = int(os.environ.get('REPLICANT_CONFIG_CASES', '250'))

SWIFT_SIDE = r'''
import json, sys
from swift.common import utils, storage_policy as sp

def swift_conf(path):
    utils.SWIFT_CONF_FILE = path
    utils.HASH_PATH_PREFIX = utils.HASH_PATH_SUFFIX = b''
    utils.validate_hash_conf()
    sp.reload_storage_policies()
    return {
        'prefix_hex': utils.HASH_PATH_PREFIX.hex(),
        'suffix_hex': utils.HASH_PATH_SUFFIX.hex(),
        'policies': [{'index': p.idx, 'name': p.name, 'aliases': p.alias_list,
                      'type': p.policy_type, 'default': p.is_default,
                      'deprecated': p.is_deprecated}
                     for p in sorted(sp._POLICIES, key=int)],
    }

def readconf(path, section):
    conf = utils.readconf(path, section)
    conf.pop('__file__')
    return conf

for request in sys.stdin:  # one JSON list of jobs per line, one answer line each
    out = []
    for kind, args in json.loads(request):
        try:
            out.append({'ok': (swift_conf if kind == 'swift' else readconf)(*args)})
        except BaseException as e:  # SystemExit too: that is how Swift refuses
            out.append({'error': '%s: %s' % (type(e).__name__, e)})
    print(json.dumps(out), flush=True)
'''

_swift = None


def swift_results(jobs):
    """Runs jobs in one long-lived Swift process (importing Swift takes seconds)."""
    global _swift
    if _swift is None:
        _swift = subprocess.Popen(['/usr/bin/python3', '-c', SWIFT_SIDE], text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=dict(os.environ, PYTHONUTF8='1'))
    _swift.stdin.write(json.dumps(jobs) + '\n')
    _swift.stdin.flush()
    line = _swift.stdout.readline()
    assert line, 'the Swift helper process died'
    return json.loads(line)


@pytest.fixture(scope='module', autouse=True)
def _stop_swift_helper():
    yield
    global _swift
    if _swift is not None:
        _swift.stdin.close()
        _swift.wait(timeout=30)
        _swift = None


def ours(args):
    p = run(args, check=False, errors='replace')
    if p.returncode == 0:
        return {'ok': json.loads(p.stdout)}
    assert p.returncode == 1, (args, p.returncode, p.stderr)
    return {'error': p.stderr.strip()}


def compare(cases, jobs, tool_args):
    theirs = swift_results(jobs)
    accepted = 0
    for (blob, label), job, want, args in zip(cases, jobs, theirs, tool_args):
        got = ours(args)
        detail = '%s\nfile bytes:\n%r\nswift: %r\nreplicant: %r' % (label, blob, want, got)
        if 'error' in want:
            assert 'error' in got, 'Swift rejects, replicant accepts: ' + detail
        else:
            assert 'ok' in got, 'Swift accepts, replicant rejects: ' + detail
            assert got['ok'] == want['ok'], 'results differ: ' + detail
            accepted += 1
    return accepted


# ---- random building blocks ----

NEWLINES = ['\n', '\n', '\n', '\r\n', '\r']
DELIMS = [' = ', '=', ' =', '= ', '\t=\t', ': ', ':', ' : ', '  =  ']
# Pieces of values: inline comment markers stay in the value; NBSP and EM SPACE are
# whitespace to Python, in UTF-8 and (NBSP's second byte) in latin-1 alike.
PIECES = ['abc', 'Hash-Value', 'x y', ' # not a comment', ' ; nor this', '%%', '50%%',
          'é', '中文', '\u00a0', '\u2003', '\u0085', '\t', 'Z', '0', '=', ':', '[x]',
          '%', '%(', ')s']


def rand_key(rng, key):
    r = rng.random()
    if r < 0.2:
        return key.upper()
    if r < 0.3:
        return ''.join(c.upper() if rng.random() < 0.5 else c for c in key)
    return key


def rand_value(rng, refs):
    parts = []
    for _ in range(rng.choice([0, 1, 1, 2, 3, 4])):
        r = rng.random()
        if r < 0.12:
            if refs:
                parts.append('%%(%s)s' % rand_key(rng, rng.choice(refs)))
        elif r < 0.125:
            parts.append('%(missing_key)s')
        elif r < 0.14:
            parts.append(rng.choice(['%', '%(', ')s']))  # bare '%': interpolation error
        else:
            parts.append(rng.choice(PIECES[:-3]))
    if rng.random() < 0.7:
        parts.insert(rng.randint(0, len(parts)), rng.choice(['abc', 'Hash-Value', '中文', 'Z']))
    value = ''.join(parts)
    if rng.random() < 0.15:  # continuation lines, maybe with blank and comment lines
        extra = []
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.2:
                extra.append('')
            if rng.random() < 0.1:
                extra.append('  # comment inside a value')
            extra.append(rng.choice([' ', '  ', '\t', '    ']) + rng.choice(PIECES[:8]))
        value += '\n' + '\n'.join(extra)
    return value


def option_line(rng, key, value):
    indent = ' ' if rng.random() < 0.05 else ''
    return indent + rand_key(rng, key) + rng.choice(DELIMS) + value


def noise(rng):
    return rng.choice(['', '', '# a comment', '; another', '   ', '  # indented comment',
                       '#[not-a-section]'])


def render(rng, lines):
    nl = rng.choice(NEWLINES)
    text = nl.join(lines) + (nl if rng.random() < 0.8 else '')
    if rng.random() < 0.03 and text:  # a lone latin-1 byte: not UTF-8
        at = rng.randrange(len(text))
        text = text[:at] + '\udce9' + text[at:]
    return text.encode('utf-8', 'surrogateescape')


def sprinkle(rng, lines):
    out = []
    for line in lines:
        if rng.random() < 0.15:
            out.append(noise(rng))
        out.append(line)
    return out


# ---- swift.conf ----

def gen_policy(rng, index, name, default):
    """A [storage-policy:N] section, mostly valid."""
    lines = ['[storage-policy:%s]' % index]
    if rng.random() < 0.05:
        name = rng.choice(['Policy-0', 'policy-0', 'bad name', 'nö', '', 'GOLD'])
    if name or rng.random() < 0.5:
        lines.append(option_line(rng, 'name', name))
    if rng.random() < 0.3:
        tag = str(index).strip() or 'e'
        aliases = rng.sample(['a' + tag, 'b' + tag, ' s%s ' % tag, '', name, 'gold'],
                             rng.randint(1, 3))
        if rng.random() < 0.1:
            aliases.append(rng.choice([name.upper(), 'x y']))
        lines.append(option_line(rng, 'aliases', ','.join(aliases)))
    if default or rng.random() < 0.1:
        lines.append(option_line(rng, 'default', rng.choice(
            ['yes', 'True', '1', 'on', 'T', 'y', 'YES'] if default else
            ['no', 'false', '0', 'maybe', 'yes'])))
    if rng.random() < 0.1:
        lines.append(option_line(rng, 'deprecated', rng.choice(['yes', 'no', 'true'])))
    r = rng.random()
    if r < 0.1:
        lines.append(option_line(rng, 'policy_type', 'erasure_coding'))
        if rng.random() < 0.9:
            lines.append(option_line(rng, 'ec_type', rng.choice(
                ['liberasurecode_rs_vand', 'liberasurecode_rs_vand', 'bogus'])))
        lines.append(option_line(rng, 'ec_num_data_fragments', rng.choice(['4', '2', '0'])))
        lines.append(option_line(rng, 'ec_num_parity_fragments', rng.choice(['2', '1', 'x'])))
        if rng.random() < 0.3:
            lines.append(option_line(rng, 'ec_object_segment_size', '1_048_576'))
    elif r < 0.3:
        lines.append(option_line(rng, 'policy_type', rng.choice(
            ['replication'] * 5 + ['Replication'])))
    if rng.random() < 0.03:
        lines.append(option_line(rng, rng.choice(['ec_type', 'bogus_option']), 'x'))
    if rng.random() < 0.05:
        lines.append(option_line(rng, 'diskfile_module', 'egg:swift#replication.fs'))
    return lines


def gen_swift_conf(rng):
    sections = []
    default_keys = []
    if rng.random() < 0.15:  # DEFAULT: inherited by [swift-hash] and by every policy
        body = []
        for key in rng.sample(['swift_hash_path_prefix', 'swift_hash_path_suffix', 'base',
                               'policy_type', 'deprecated'], rng.randint(1, 2)):
            val = {'policy_type': 'replication', 'deprecated': 'no'}.get(
                key, rand_value(rng, []))
            body.append(option_line(rng, key, val))
            default_keys.append(key)
        sections.append(['[DEFAULT]'] + body)
    if rng.random() < 0.95:
        body = []
        keys = []
        if rng.random() < 0.4:
            body.append(option_line(rng, 'base', rand_value(rng, [])))
            keys.append('base')
        for key in ('swift_hash_path_prefix', 'swift_hash_path_suffix'):
            if rng.random() < 0.8:
                body.append(option_line(rng, key, rand_value(rng, keys + default_keys)))
                keys.append(key)
        rng.shuffle(body)
        if rng.random() < 0.03 and body:
            body.append(body[0])  # duplicate option: strict ConfigParser rejects it
        header = rng.choice(['[swift-hash]'] * 40 + ['[swift-hash] trailing', '[Swift-Hash]',
                                                    '[ swift-hash]'])
        sections.append([header] + body)
    npol = rng.choice([0, 0, 1, 1, 2, 2, 3, 4])
    indexes = list(range(npol))
    if rng.random() < 0.2 and indexes:
        indexes[-1] = rng.choice(['0', '01', ' 1', '+2', '-1', 'x', '', '1_0', '٣', '7'])
    names = rng.sample(['gold', 'silver', 'bronze', 'ec-1', 'p-9', 'Zinc'], npol)
    if npol and rng.random() < 0.3:
        names[0] = 'Policy-0'  # allowed for index 0 only
    default = rng.randrange(npol + 1)  # sometimes none
    for i, index in enumerate(indexes):
        sections.append(gen_policy(rng, index, names[i], i == default))
    if rng.random() < 0.05:
        sections.append(['[other]', option_line(rng, 'key', 'v')])
    rng.shuffle(sections)
    lines = []
    if rng.random() < 0.02:
        lines.append('orphan = line before any section')
    for sec in sections:
        lines.extend(sec)
        if rng.random() < 0.5:
            lines.append('')
    if rng.random() < 0.02:
        lines.append('no delimiter here')
    if rng.random() < 0.02 and sections:
        lines.extend(sections[0][:1])  # duplicate section
    return render(rng, sprinkle(rng, lines))


def test_swift_conf_matches_swift(tmp_path):
    rng = seeded_random('test_swift_conf_matches_swift')
    cases, jobs, tool_args = [], [], []
    for i in range(CASES):
        blob = gen_swift_conf(rng)
        d = tmp_path / ('c%d' % i)
        d.mkdir()
        (d / 'swift.conf').write_bytes(blob)
        cases.append((blob, 'case %d' % i))
        jobs.append(('swift', [str(d / 'swift.conf')]))
        tool_args.append([tool('swift_conf_tool'), str(d)])
    accepted = compare(cases, jobs, tool_args)
    print('swift.conf: %d of %d accepted by both' % (accepted, CASES), file=sys.stderr)
    # The generator must exercise both outcomes.
    assert CASES // 10 < accepted < CASES - CASES // 20


SWIFT_CONF_EXAMPLES = [
    # NBSP (C2 A0) ends the suffix: latin-1 sees 'Â' + '\xa0' and strips only the A0.
    '[swift-hash]\nswift_hash_path_suffix = abc\u00a0\n'.encode(),
    # U+0085 likewise; an EM SPACE (E2 80 83) is not whitespace in latin-1 at all.
    '[swift-hash]\nswift_hash_path_prefix = \u2003x\u0085\n'.encode(),
    # Indented with an EM SPACE: for the UTF-8 policy parse a continuation of the name,
    # which makes the name invalid.
    '[swift-hash]\nswift_hash_path_prefix = p\n[storage-policy:0]\nname = a\n'
    '\u2003aliases = b\n'.encode(),
    b'[DEFAULT]\nswift_hash_path_suffix = from-default\n[swift-hash]\n',
    b'[DEFAULT]\nswift_hash_path_suffix = from-default\n',  # no [swift-hash]: unset
    b'[swift-hash]\nswift_hash_path_suffix = 100%\n',  # BasicInterpolation: error
    b'[swift-hash]\nswift_hash_path_suffix = x\n[storage-policy:0]\nname = a\n'
    b'[storage-policy:0]\naliases = b\n',  # strict for the hash, so rejected
    b'[swift-hash]\nswift_hash_path_suffix = x\n[storage-policy:1]\nname = one\n',
    b'[swift-hash]\nswift_hash_path_suffix = x\n[storage-policy:0]\nname = zero\n'
    b'[storage-policy:1]\nname = one\ndefault = yes\ndeprecated = yes\n',
]


def test_swift_conf_examples(tmp_path):
    cases, jobs, tool_args = [], [], []
    for i, blob in enumerate(SWIFT_CONF_EXAMPLES):
        d = tmp_path / ('e%d' % i)
        d.mkdir()
        (d / 'swift.conf').write_bytes(blob)
        cases.append((blob, 'example %d' % i))
        jobs.append(('swift', [str(d / 'swift.conf')]))
        tool_args.append([tool('swift_conf_tool'), str(d)])
    assert compare(cases, jobs, tool_args) == 3


def test_swift_conf_missing_file(tmp_path):
    p = run([tool('swift_conf_tool'), str(tmp_path)], check=False)
    assert p.returncode == 1 and 'swift.conf' in p.stderr


# ---- object-server.conf (readconf) ----

SECTIONS = ['DEFAULT', 'pipeline:main', 'app:object-server', 'object-replicator',
            'object-auditor', 'filter:healthcheck', 'replicant-server']
KEYS = ['devices', 'mount_check', 'bind_port', 'workers', 'log_name', 'concurrency',
        'rsync_module', 'swift_dir', 'user', 'set log_level', 'set log_name',
        'fallocate_reserve', 'use', 'pipeline', 'reclaim_age', 'sync_method',
        'log_level', 'node_timeout']


def gen_sections(rng):
    sections = []
    for name in rng.sample(SECTIONS, rng.randint(len(SECTIONS) - 2, len(SECTIONS))):
        keys = rng.sample(KEYS, rng.randint(0, 6))
        body = [option_line(rng, k, rand_value(rng, KEYS[:8])) for k in keys]
        if rng.random() < 0.03 and body:
            body.append(body[-1])
        sections.append(['[%s]' % name] + body)
    return sections


def gen_object_conf(rng):
    sections = gen_sections(rng)
    lines = []
    for sec in sections:
        lines.extend(sec)
        lines.append('')
    if rng.random() < 0.02:
        lines.insert(0, 'orphan = 1')
    return render(rng, sprinkle(rng, lines))


def test_readconf_matches_swift(tmp_path):
    rng = seeded_random('test_readconf_matches_swift')
    cases, jobs, tool_args = [], [], []
    for i in range(CASES):
        section = rng.choice(SECTIONS[1:] * 4 + ['DEFAULT', 'absent'])
        if rng.random() < 0.15:  # conf.d: a directory of *.conf files merged in order
            path = tmp_path / ('d%d' % i)
            path.mkdir()
            blob = b''
            for j in range(rng.randint(1, 3)):
                part = gen_object_conf(rng)
                name = rng.choice(['%d-x.conf' % j, '.hidden%d.conf' % j, '%d.txt' % j,
                                   '%d-x.conf' % j])
                (path / name).write_bytes(part)
                blob += b'--- ' + name.encode() + b'\n' + part
        else:
            blob = gen_object_conf(rng)
            path = tmp_path / ('object-server-%d.conf' % i)
            path.write_bytes(blob)
        cases.append((blob, 'case %d, section %s' % (i, section)))
        jobs.append(('readconf', [str(path), section]))
        tool_args.append([tool('config_tool'), str(path), section])
    accepted = compare(cases, jobs, tool_args)
    print('readconf: %d of %d accepted by both' % (accepted, CASES), file=sys.stderr)
    assert CASES // 10 < accepted < CASES - CASES // 20


EXAMPLES = [
    (b'[DEFAULT]\nbind_port = 6200\n[object-replicator]\nconcurrency = 4 # four\n',
     'object-replicator'),
    (b'[DEFAULT]\na = %(b)s\nb = %(a)s\n[s]\nx = %(a)s\n', 's'),  # nested too deep
    (b'[s]\nfallocate_reserve = 1%\nx = %%(y)s 100%%\ny=%(x)s\n', 's'),
    (b'[s]\nset log_level = DEBUG\nSet  Log_Name : n\n', 's'),
    (b'[s]\na = 1\n\n\n  continued\n\n[t]\n', 's'),
    (b'\xef\xbb\xbf[s]\na = 1\n', 's'),  # a BOM is not whitespace: no section header
]


def test_readconf_examples(tmp_path):
    cases, jobs, tool_args = [], [], []
    for i, (text, section) in enumerate(EXAMPLES):
        path = tmp_path / ('x%d.conf' % i)
        path.write_bytes(text)
        cases.append((text, 'example %d' % i))
        jobs.append(('readconf', [str(path), section]))
        tool_args.append([tool('config_tool'), str(path), section])
    assert compare(cases, jobs, tool_args) == 4
