#!/usr/bin/env python3
"""The code gates .ci/run keeps (issue 20), over src/:
  1. no module dependency cycle (file granularity; a reference is `crate::a::b`,
     `use crate::{a, b::c}` or `super::x`, resolved to the deepest existing file;
     `#[cfg(test)]` modules excluded);
  2. the layers: the top-level modules declared in lib.rs, in order, are layers from
     the bottom up; a module may use only modules of its own layer or of layers
     declared before it (so no cycle between folders either);
  3. no function longer than 150 lines (from its `fn` line to its closing brace).
Prints what fails and exits 1; prints a one-line summary and exits 0 otherwise."""
import os, re, sys

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'src')
LIMIT = 150

files = {}
for d, _, fs in os.walk(SRC):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, SRC)[:-3].split(os.sep)
            if rel[-1] == 'mod':
                rel = rel[:-1]
            if rel in (['lib'], ['main']):
                rel = []
            files[tuple(rel)] = p


def strip_tests(s):
    out, i = [], 0
    for m in re.finditer(r'#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{', s):
        if m.start() < i:
            continue
        out.append(s[i:m.start()])
        depth, k = 0, m.end() - 1
        while k < len(s):
            if s[k] == '{':
                depth += 1
            elif s[k] == '}':
                depth -= 1
                if depth == 0:
                    break
            k += 1
        i = k + 1
    out.append(s[i:])
    return ''.join(out)


def strip_comments(s):
    s = re.sub(r'//[^\n]*', '', s)
    return re.sub(r'/\*.*?\*/', '', s, flags=re.S)


def resolve(path):
    path = tuple(path)
    for n in range(len(path), 0, -1):
        if path[:n] in files:
            return path[:n]
    return None


def expand_use(body):
    res = []

    def rec(prefix, txt):
        txt = txt.strip()
        if txt.startswith('{') and txt.endswith('}'):
            depth, cur = 0, ''
            for ch in txt[1:-1]:
                if ch == '{':
                    depth += 1
                if ch == '}':
                    depth -= 1
                if ch == ',' and depth == 0:
                    rec(prefix, cur)
                    cur = ''
                else:
                    cur += ch
            if cur.strip():
                rec(prefix, cur)
            return
        m = re.match(r'([A-Za-z_][A-Za-z_0-9]*)\s*(::\s*(.*))?$', txt, re.S)
        if not m:
            return
        if m.group(3) is not None:
            rec(prefix + [m.group(1)], m.group(3))
        else:
            res.append(prefix + [m.group(1)])

    rec([], body)
    return res


edges = {k: set() for k in files}
for mod, p in files.items():
    s = strip_comments(strip_tests(open(p).read()))
    refs = []
    for m in re.finditer(r'\buse\s+crate::(\{.*?\}|[A-Za-z_0-9:]+(?:::\{.*?\})?)\s*;', s, re.S):
        refs += expand_use(m.group(1).replace('\n', ' '))
    for m in re.finditer(r'(?<!use )\bcrate::([A-Za-z_][A-Za-z_0-9]*(?:::[A-Za-z_][A-Za-z_0-9]*)*)', s):
        refs.append(m.group(1).split('::'))
    for m in re.finditer(r'\bsuper::([A-Za-z_][A-Za-z_0-9]*(?:::[A-Za-z_][A-Za-z_0-9]*)*)', s):
        refs.append(list(mod[:-1]) + m.group(1).split('::'))
    for r in refs:
        t = resolve(r)
        if t is not None and t != mod and t != ():
            edges[mod].add(t)

# Tarjan's strongly connected components
sys.setrecursionlimit(10000)
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        sccs.append(comp)


for v in files:
    if v not in index:
        strong(v)
failed = False
for comp in sccs:
    if len(comp) > 1:
        failed = True
        cs = set(comp)
        print(f"module cycle of {len(comp)}: " + ', '.join(sorted('/'.join(x) for x in comp)))
        for v in sorted(comp):
            print('   ', '/'.join(v), '->', ', '.join(sorted('/'.join(w) for w in edges[v] if w in cs)))

# layers: the order of the top-level `mod` declarations in lib.rs
lib = strip_comments(open(os.path.join(SRC, 'lib.rs')).read())
order = [m.group(2) for m in re.finditer(r'^\s*(pub(\([^)]*\))?\s+)?mod\s+(\w+)\s*;', lib, re.M)
         for _ in [0]]
order = [re.match(r'\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)', m.group(0)).group(1)
         for m in re.finditer(r'^\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*;', lib, re.M)]
rank = {name: i for i, name in enumerate(order)}
for mod, targets in sorted(edges.items()):
    if not mod:
        continue
    for t in sorted(targets):
        if mod[0] in rank and t[0] in rank and rank[t[0]] > rank[mod[0]]:
            failed = True
            print(f"layer rule: {'/'.join(mod)} ({mod[0]}) uses {'/'.join(t)} ({t[0]}), a higher layer")

# function lengths: from a line opening `fn name(` to the line of the brace closing it
longest = 0
for mod, p in sorted(files.items()):
    lines = open(p).read().split('\n')
    i = 0
    while i < len(lines):
        m = re.match(r'\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+"[^"]*"\s+)?fn\s+(\w+)', lines[i])
        if not m or lines[i].strip().startswith('//'):
            i += 1
            continue
        depth, started, j = 0, False, i
        while j < len(lines):
            code = re.sub(r'//.*', '', lines[j])
            code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
            for ch in code:
                if ch == '{':
                    depth += 1
                    started = True
                elif ch == '}':
                    depth -= 1
            if started and depth <= 0:
                break
            if not started and code.rstrip().endswith(';'):
                break
            j += 1
        length = j - i + 1
        longest = max(longest, length)
        if started and length > LIMIT:
            failed = True
            print(f"{p}:{i + 1}: fn {m.group(7)} is {length} lines (limit {LIMIT})")
        i += 1
print(f"layers: {' < '.join(order)}")
print(f"modules: {len(files)}, dependency edges: {sum(len(e) for e in edges.values())}, "
      f"cycles: {sum(1 for c in sccs if len(c) > 1)}, longest function: {longest} lines")
if os.environ.get("DUMP_EDGES"):
    [print("/".join(k), "->", " ".join(sorted("/".join(w) for w in v))) for k, v in sorted(edges.items())]
sys.exit(1 if failed else 0)
