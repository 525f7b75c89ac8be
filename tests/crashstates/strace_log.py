"""Reads an `strace -f -ttt -y -xx` log into the file-system calls of the crash-state model.

Every string strace prints with -xx is hex-escaped, and -y annotates each fd with the path
(or socket) it refers to at the time of the call, so a call is parsed without guessing at
quoting. `<unfinished ...>` / `<... resumed>` pairs are joined and placed where the call
completed (its effect is certain only then). Only successful calls are returned.

A Call has: tid, time (float seconds), name, args (a list: each an int, a str flag/text,
a bytes string, a Fd(num, ann) or a nested list for structs and arrays), ret (int).
Not thread-safe; pure functions of the log.
"""
import re

_HEAD = re.compile(r'^(\d+)\s+(\d+\.\d+)\s+(.*)$')
_UNFINISHED = ' <unfinished ...>'
_RESUMED = re.compile(r'^<\.\.\. (\w+) resumed>(.*)$')
_RET = re.compile(r'\)\s+=\s+(-?\d+|0x[0-9a-f]+)(<[^>]*>)?(\s.*)?$')


class Fd:
    """A file descriptor argument and what -y said it refers to."""
    __slots__ = ('num', 'ann')

    def __init__(self, num, ann):
        self.num, self.ann = num, ann

    def __repr__(self):
        return 'Fd(%r, %r)' % (self.num, self.ann)


class Call:
    __slots__ = ('tid', 'time', 'name', 'args', 'ret', 'ret_ann', 'line')

    def __init__(self, tid, time, name, args, ret, ret_ann, line):
        self.tid, self.time, self.name, self.args = tid, time, name, args
        self.ret, self.ret_ann, self.line = ret, ret_ann, line

    def strings(self):
        """Every byte string among the arguments, in order (the data of write, writev,
        sendto, sendmsg)."""
        out = []

        def walk(v):
            if isinstance(v, bytes):
                out.append(v)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(self.args)
        return out

    def __repr__(self):
        return 'Call(%s %s %r = %s)' % (self.tid, self.name, self.args, self.ret)


def _unhex(s):
    return bytes.fromhex(s.replace('\\x', '')) if s else b''


def _ann(s):
    """An fd annotation: hex-escaped path, or text such as socket:[123]."""
    if s.startswith('\\x') or s == '':
        return _unhex(s).decode('utf-8', 'surrogateescape')
    return s


class _Parser:
    """Recursive descent over strace's argument syntax."""

    def __init__(self, text):
        self.t, self.i = text, 0

    def parse_list(self, close):
        items = []
        while True:
            self.skip()
            if self.i >= len(self.t) or self.t[self.i] == close:
                self.i += 1
                return items
            items.append(self.parse_value())
            self.skip()
            if self.i < len(self.t) and self.t[self.i] == ',':
                self.i += 1

    def skip(self):
        while self.i < len(self.t) and self.t[self.i] == ' ':
            self.i += 1

    def parse_value(self):
        t = self.t
        c = t[self.i]
        if c == '"':
            j = t.index('"', self.i + 1)
            v = _unhex(t[self.i + 1:j])
            self.i = j + 1
            if t.startswith('...', self.i):
                self.i += 3
            return v
        if c in '[{':
            self.i += 1
            return self.parse_list(']' if c == '[' else '}')
        # a bare token: up to a top-level ',' or closing bracket; may carry <annotation>
        j = self.i
        depth = 0
        while j < len(t):
            ch = t[j]
            if ch == '<':
                k = t.index('>', j)
                j = k + 1
                continue
            if ch in '([{':
                depth += 1
            elif ch in ')]}':
                if depth == 0:
                    break
                depth -= 1
            elif ch == ',' and depth == 0:
                break
            elif ch == '"':
                j = t.index('"', j + 1)
            j += 1
        tok = t[self.i:j].strip()
        self.i = j
        m = re.match(r'^(-?\d+|AT_FDCWD)<(.*)>$', tok, re.S)
        if m:
            return Fd(m.group(1), _ann(m.group(2)))
        if re.match(r'^-?\d+$', tok):
            return int(tok)
        if '=' in tok and '"' in tok:  # iov_base="..." inside a struct
            k, _, v = tok.partition('=')
            return _Parser(v).parse_value()
        return tok


def _parse(tid, time, body, line):
    name, _, rest = body.partition('(')
    m = _RET.search(rest)
    if not m:
        return None
    ret = int(m.group(1), 0)
    argtext = rest[:m.start()]
    p = _Parser(argtext + ')')
    args = p.parse_list(')')
    ret_ann = _ann(m.group(2)[1:-1]) if m.group(2) else None
    return Call(tid, time, name, args, ret, ret_ann, line)


def read_calls(path):
    """The successful calls of one strace log, in completion order."""
    pending = {}
    out = []
    with open(path, encoding='ascii', errors='replace') as f:
        for line in f:
            line = line.rstrip('\n')
            m = _HEAD.match(line)
            if not m:
                continue
            tid, time, body = int(m.group(1)), float(m.group(2)), m.group(3)
            if body.startswith('---') or body.startswith('+++'):
                continue
            if body.endswith(_UNFINISHED):
                pending[tid] = body[:-len(_UNFINISHED)]
                continue
            r = _RESUMED.match(body)
            if r:
                head = pending.pop(tid, None)
                if head is None:
                    continue
                body = head + r.group(2)
            c = _parse(tid, time, body, line)
            if c is not None and c.ret >= 0:
                out.append(c)
    return out
