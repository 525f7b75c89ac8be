#!/usr/bin/env python3
"""The module dependency rules (README, "Layout"), checked from the #include lines.

Each top-level module may include only the modules listed for it (and itself);
a backend (sync_backends/<name>/) includes no other backend. Run from anywhere:
exits 1 and lists every include that breaks a rule.
"""
import os
import re
import sys

# module -> the modules it may include besides itself. Dependencies point one way:
# nothing includes a module listed after it here.
ALLOWED = {
    'base': set(),
    'formats': {'base'},
    'ring': {'base', 'formats'},
    'net': {'base'},
    'diskfile': {'base', 'formats'},
    'hashes': {'base', 'formats', 'diskfile'},
    'sync_backends': {'base', 'formats', 'ring', 'net', 'diskfile', 'hashes'},
    'ops': {'base', 'formats', 'diskfile'},
    'receiver': {'base', 'formats', 'ring', 'net', 'diskfile', 'hashes', 'sync_backends', 'ops'},
    'replicator': {'base', 'formats', 'ring', 'net', 'diskfile', 'hashes', 'sync_backends',
                   'ops'},
    'cli': {'base', 'formats', 'ring', 'net', 'diskfile', 'hashes', 'sync_backends', 'ops',
            'receiver', 'replicator'},
}
BACKENDS_DIR = 'sync_backends'
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def violations(root):
    for module, allowed in sorted(ALLOWED.items()):
        top = os.path.join(root, module)
        for dirpath, _, files in os.walk(top):
            for name in sorted(files):
                if not name.endswith(('.h', '.cc')):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding='utf-8') as f:
                    text = f.read()
                for inc in INCLUDE.findall(text):
                    why = broken(module, allowed, rel, inc)
                    if why:
                        yield f'{rel}: #include "{inc}": {why}'


def broken(module, allowed, rel, inc):
    target = inc.split('/')[0]
    if '/' not in inc or target not in ALLOWED:
        return None  # a system or third-party header
    if target != module and target not in allowed:
        return f'{module}/ may not include {target}/'
    # Backends know nothing of each other: sync_backends/X/ never includes sync_backends/Y/.
    if module == BACKENDS_DIR == target:
        src, dst = rel.split('/'), inc.split('/')
        if len(src) > 2 and len(dst) > 2 and src[1] != dst[1]:
            return f'backend {src[1]} may not include backend {dst[1]}'
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..')
    root = os.path.abspath(root)
    missing = [m for m in ALLOWED if not os.path.isdir(os.path.join(root, m))]
    found = list(violations(root))
    for line in found:
        print(line)
    # A module folder that vanished would make its rules pass vacuously.
    for m in missing:
        print(f'{m}/: module folder missing (update tests/layout/check_includes.py)')
    if found or missing:
        return 1
    print(f'include rules hold for {len(ALLOWED)} modules')
    return 0


if __name__ == '__main__':
    sys.exit(main())
