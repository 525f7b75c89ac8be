#!/usr/bin/env python3
"""Size figures of the production code, for architecture reviews (issue 18).

    scripts/code_stats.py [ROOT] [--longest N]

Prints, per top-level module: files and lines; then the files over 600 lines and the
functions over 80 lines (a function is a definition that starts at column 0 and ends at
the next "}" in column 0: the project's clang-format style; lambdas count with the
function that holds them). Tests, tools and benchmarks are not production code.
"""
import argparse
import os
import re

MODULES = ['base', 'formats', 'ring', 'net', 'diskfile', 'hashes', 'sync_backends', 'ops',
           'receiver', 'replicator', 'cli']
# A definition's first line: column 0, not a preprocessor line, comment, closing brace or
# declaration keyword, with an opening parenthesis; its body opens at the first line
# ending in "{" (signatures may wrap) before any ";".
START = re.compile(r'^(?![#/}\s]|namespace\b|using\b|class\b|struct\b|enum\b|template\b'
                   r'|extern\b|static_assert\b)[^;]*\(')
NAME = re.compile(r'([A-Za-z_][\w:~]*(?:operator\W+)?)\s*\(')


def sources(root):
    for module in MODULES:
        top = os.path.join(root, module)
        for dirpath, _, files in os.walk(top):
            for name in sorted(files):
                if name.endswith(('.h', '.cc')):
                    yield module, os.path.join(dirpath, name)


def functions(path, root):
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    i = 0
    while i < len(lines):
        if START.match(lines[i]):
            k = i
            while k < len(lines) and not lines[k].rstrip().endswith('{') and ';' not in lines[k]:
                k += 1
            if k < len(lines) and lines[k].rstrip().endswith('{') and ';' not in lines[k]:
                j = k + 1
                while j < len(lines) and lines[j] != '}':
                    j += 1
                m = NAME.search(lines[i])
                yield (j - i + 1, f'{os.path.relpath(path, root)}:{i + 1}',
                       m.group(1) if m else lines[i])
                i = j
        i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('root', nargs='?', default=os.path.join(os.path.dirname(__file__), '..'))
    ap.add_argument('--longest', type=int, default=10)
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    per = {}
    big_files, funcs = [], []
    for module, path in sources(root):
        with open(path, encoding='utf-8') as f:
            n = f.read().count('\n')
        files, lines = per.get(module, (0, 0))
        per[module] = (files + 1, lines + n)
        if n > 600:
            big_files.append((n, os.path.relpath(path, root)))
        if path.endswith('.cc'):
            funcs.extend(functions(path, root))
    print('| module | files | lines |\n|---|---|---|')
    for m in MODULES:
        if m in per:
            print(f'| {m}/ | {per[m][0]} | {per[m][1]} |')
    total = [sum(v[0] for v in per.values()), sum(v[1] for v in per.values())]
    print(f'| all | {total[0]} | {total[1]} |')
    print(f'\nfiles over 600 lines: {len(big_files)}')
    for n, p in sorted(big_files, reverse=True):
        print(f'  {n:5d}  {p}')
    funcs.sort(reverse=True)
    long_ones = [f for f in funcs if f[0] > 80]
    print(f'\nfunctions over 80 lines: {len(long_ones)}; the {a.longest} longest:')
    for n, where, name in funcs[:max(a.longest, len(long_ones))]:
        print(f'  {n:5d}  {where}  {name}')


if __name__ == '__main__':
    main()
