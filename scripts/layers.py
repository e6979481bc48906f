#!/usr/bin/env python3
"""Checks that the Rust core's imports point down its layers.

Every `use` statement and every inline path (`crate::a::b`, `super::x`) in `src/**/*.rs`
is resolved to the module file it names; each file belongs to a layer (LAYERS, bottom
first). Printed: the imports that run upward (from a lower layer to a higher one), the
import loops between files (strongly connected components), and the Rust files longer
than MAX_LINES. Exit status 1 when any limit is passed.

Run: python3 scripts/layers.py [--verbose]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
MAX_LINES = 800
MAX_UPWARD = 2

# Bottom to top. A file's layer is the first entry that is a prefix of its path
# (relative to src/, without .rs); entries on one line share a layer.
LAYERS: list[list[str]] = [
    ["roles", "decision", "text", "progress"],
    ["error"],
    ["time", "ids"],
    ["model"],
    ["state"],
    ["eval", "audit"],
    ["graph"],
    ["governance", "registry"],
    ["bindings"],
    ["lib"],
]
# Layers that share a floor yet must not import each other.
APART = [("eval", "audit"), ("governance", "registry")]

USE_RE = re.compile(r"\buse\s+([^;]+);", re.S)
PATH_RE = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
MOD_RE = re.compile(r"^\s*(?:pub(?:\([a-z]+\))? )?mod ([a-z_][a-z0-9_]*);", re.M)


def module_of(path: Path) -> tuple[str, ...]:
    rel = path.relative_to(SRC).with_suffix("")
    parts = rel.parts
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def layer_of(mod: tuple[str, ...]) -> tuple[int, str]:
    name = mod[0] if mod else "lib"
    for i, layer in enumerate(LAYERS):
        if name in layer:
            return i, name
    raise SystemExit(f"scripts/layers.py: no layer for src/{'/'.join(mod) or 'lib.rs'}")


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    # String literals may hold `crate::`-looking text (messages), and braces that would
    # end an inline `mod tests { ... }` early: raw strings (`r#"..."#`) first.
    text = re.sub(r'\br(#+)"(?:.|\n)*?"\1', '""', text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def inline_mods_as_self(text: str) -> str:
    """In an inline `mod x { ... }` (tests, serde helpers) `super::` names this file."""
    out, pos = [], 0
    for m in re.finditer(r"\bmod\s+[a-z_][a-z0-9_]*\s*\{", text):
        if m.start() < pos:
            continue
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out.append(text[pos : m.end()])
        out.append(re.sub(r"\bsuper::", "self::", text[m.end() : i]))
        pos = i
    out.append(text[pos:])
    return "".join(out)


def expand(tree: str) -> list[str]:
    """`a::{b, c::{d}}` -> [`a::b`, `a::c::d`]."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and start is not None:
                prefix, inner, rest = tree[:start], tree[start + 1 : i], tree[i + 1 :]
                items, d, cur = [], 0, ""
                for c in inner:
                    if c == "," and d == 0:
                        items.append(cur)
                        cur = ""
                        continue
                    d += c == "{"
                    d -= c == "}"
                    cur += c
                items.append(cur)
                out = []
                for it in items:
                    if it:
                        out.extend(expand(prefix + it + rest))
                return out
    return [re.split(r"\s+as\s+", tree)[0].strip() if "::" in tree else tree]


def resolve(path: str, here: tuple[str, ...], mods: set) -> tuple | None:
    parts = path.split("::")
    base: list[str]
    if parts[0] == "crate":
        base, parts = [], parts[1:]
    elif parts[0] in ("super", "self"):
        base = list(here)
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                base = base[:-1]
            parts = parts[1:]
    else:
        return None
    full = base + parts
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in mods:
            return tuple(full[:n])
    return None


def main() -> int:
    verbose = "--verbose" in sys.argv
    files = sorted(SRC.rglob("*.rs"))
    mods = {module_of(f): f for f in files}
    edges: dict[tuple, dict[tuple, int]] = {m: {} for m in mods}
    long_files = []
    for f in files:
        here = module_of(f)
        raw = f.read_text()
        if raw.count("\n") > MAX_LINES:
            long_files.append((raw.count("\n"), f.relative_to(ROOT)))
        text = strip_comments(raw)
        text = inline_mods_as_self(text)
        paths: list[str] = []
        for m in USE_RE.finditer(text):
            paths.extend(expand(m.group(1)))
        body = USE_RE.sub("", text)
        paths.extend(m.group(1) for m in PATH_RE.finditer(body))
        # Paths that start with a child module's name (`keys::complete` in graph/mod.rs).
        children = MOD_RE.findall(text)
        if children:
            names = "|".join(children)
            child_re = re.compile(rf"(?<![:\w])((?:{names})(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
            paths.extend("self::" + m.group(1) for m in child_re.finditer(body))
            for m in USE_RE.finditer(text):
                for q in expand(m.group(1)):
                    q = q.split(None, 1)[-1] if q.startswith("pub") else q
                    if q.split("::")[0] in children:
                        paths.append("self::" + q)
        for p in paths:
            if p.startswith("pub"):
                p = p.split(None, 1)[-1]
            target = resolve(p, here, set(mods))
            if target is None or target == here:
                continue
            edges[here][target] = edges[here].get(target, 0) + 1

    upward = []
    apart = []
    for a, outs in edges.items():
        la, na = layer_of(a)
        for b in outs:
            lb, nb = layer_of(b)
            if lb > la and na != "lib":
                upward.append((a, b))
            if na != nb and ((na, nb) in APART or (nb, na) in APART):
                apart.append((a, b))

    # Tarjan's strongly connected components over files.
    index: dict[tuple, int] = {}
    low: dict[tuple, int] = {}
    stack: list[tuple] = []
    on: set = set()
    sccs: list[list[tuple]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v: tuple) -> None:
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
            if len(comp) > 1:
                sccs.append(comp)

    for v in edges:
        if v not in index:
            strong(v)

    def show(m: tuple) -> str:
        file = m in mods and mods[m].name != "mod.rs"
        return "src/" + ("/".join(m) or "lib") + (".rs" if file else "/")

    n_imports = sum(len(o) for o in edges.values())
    print(f"{len(files)} files, {n_imports} file-to-file imports")
    print(f"upward imports: {len(upward)} (at most {MAX_UPWARD})")
    for a, b in upward:
        print(f"  {show(a)} -> {show(b)}")
    print(f"imports between areas that stay apart: {len(apart)}")
    for a, b in apart:
        print(f"  {show(a)} -> {show(b)}")
    print(f"import loops: {len(sccs)}")
    for comp in sccs:
        print("  " + ", ".join(sorted(show(m) for m in comp)))
        if verbose:
            for a in comp:
                for b in edges[a]:
                    if b in comp:
                        print(f"    {show(a)} -> {show(b)}")
    print(f"files over {MAX_LINES} lines: {len(long_files)}")
    for n, f in sorted(long_files, reverse=True):
        print(f"  {f} {n}")
    bad = len(upward) > MAX_UPWARD or sccs or long_files or apart
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
