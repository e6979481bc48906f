"""The user index on transparent huge pages (docs/deployment.md, "Memory pages").

A graph of 40,000 users keeps its index slots and its users' views in mappings advised
for huge pages. The promise is that the pages change the speed and nothing else: a
process that refuses huge pages (``prctl(PR_SET_THP_DISABLE)``, as a container runtime or
an administrator may) gets the same answers from the same tables on small pages, and a
process that grants them actually gets them, where the kernel offers them at all.

Each side runs in a fresh interpreter, since the refusal is per process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="transparent huge pages and prctl are Linux's"
)

MEMBERS = 40_000
PROJECTS = 20

CHILD = r"""
import ctypes, hashlib, json, re, sys

if sys.argv[1] == "refused":
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_THP_DISABLE = 41
    if libc.prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl: errno {ctypes.get_errno()}")

import accessgraph as ag

members, projects = int(sys.argv[2]), int(sys.argv[3])
lines = ["# Acme Access Registry", "## Projects"]
lines += [f"- P{i} (slug p{i}, restricted)" for i in range(projects)]
lines += ["## Owners", "- owner@acme.io", "## Members"]
for i in range(members):
    lines.append(f"- user{i}@acme.io")
    lines.append(f"  - p{i % projects}: member")
    if i % 3 == 0:
        lines.append(f"  - p{(i + 7) % projects}: viewer")
g = ag.Graph.from_markdown("\n".join(lines) + "\n")
# Views rewritten after the load: grown (moved in the arena), shrunk (in place), and
# users removed, so that the index's arena has garbage to compact.
for i in range(0, members, 4):
    g.grant(f"user{i}@acme.io", f"acme/p{(i + 11) % projects}", "admin", actor=None)
for i in range(0, members, 8):
    g.revoke(f"user{i}@acme.io", f"acme/p{i % projects}", actor=None)
for i in range(1, members, 50):
    g.remove_member(f"user{i}@acme.io", "acme", actor=None)

digest = hashlib.sha256()
for i in range(members + 10):
    for p in range(projects):
        for action in ("project:view", "insight:create", "project:manage_members"):
            digest.update(b"1" if g.check(f"user{i}@acme.io", action, f"acme/p{p}") else b"0")
smaps = open("/proc/self/smaps").read()
huge_kb = sum(int(kb) for kb in re.findall(r"^AnonHugePages:\s+(\d+) kB", smaps, re.M))
print(json.dumps({"answers": digest.hexdigest(), "huge_kb": huge_kb}))
"""


def run(mode: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(MEMBERS), str(PROJECTS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def thp_offered() -> bool:
    """True when the kernel grants huge pages to a mapping that asks (`madvise` or
    `always`)."""
    path = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not path.exists():
        return False
    return re.search(r"\[(always|madvise)\]", path.read_text()) is not None


def test_refusing_huge_pages_changes_no_answer_and_granting_them_is_used() -> None:
    granted = run("granted")
    refused = run("refused")
    assert refused["huge_kb"] == 0, "prctl(PR_SET_THP_DISABLE) left huge pages mapped"
    assert granted["answers"] == refused["answers"]
    if thp_offered():
        # The slots (131,072 of 16 bytes) and the views reach 2 MiB each.
        assert isinstance(granted["huge_kb"], int) and granted["huge_kb"] >= 2048, granted
    else:
        assert granted["huge_kb"] == 0
