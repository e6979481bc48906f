"""The journal (SPEC 3.3): written before each change, replayed and verified on open,
torn tails repaired, tampering caught (with the signed checkpoint where a hash chain alone
cannot), crashes survived, several processes on one file."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import accessgraph as ag

OWNER = "jane@example.com"
KEY = b"test-hmac-key"
LONG = os.environ.get("ACCESSGRAPH_LONG_FUZZ") == "1"


def populate(g: ag.Graph, n: int = 6) -> None:
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=OWNER)
    g.add_project("acme/web", name="Web")
    for i in range(n):
        g.add_member(f"u{i}@example.com", "acme", actor=OWNER, reason=f"hire {i}")
        g.grant(f"u{i}@example.com", "acme/web", "viewer", actor=OWNER)


def open_quietly(path: Path, **kw: Any) -> ag.Graph:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ag.JournalRecoveredWarning)
        return ag.Graph.open(path, **kw)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def with_crc(obj: dict[str, Any]) -> bytes:
    """A record line as the journal writes it: compact JSON and its CRC-32."""
    import zlib

    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    crc = zlib.crc32(body.encode()) & 0xFFFFFFFF
    return (body[:-1] + f',"crc":"{crc:08x}"}}' + "\n").encode()


def record(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(raw)
    obj.pop("crc", None)
    return obj


# --- the documented canonical form, re-implemented: an attacker who knows it -------------


def _walk(v: Any, path: str, out: dict[str, str]) -> None:
    if isinstance(v, str):
        out[path] = v
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _walk(x, f"{path}/{i}", out)
    elif isinstance(v, dict):
        for k, x in v.items():
            _walk(x, f"{path}/{k.replace('~', '~0').replace('/', '~1')}", out)


def _replace(v: Any, path: str, commits: dict[str, str]) -> Any:
    if isinstance(v, str):
        return commits[path]
    if isinstance(v, list):
        return [_replace(x, f"{path}/{i}", commits) for i, x in enumerate(v)]
    if isinstance(v, dict):
        return {
            k: _replace(x, f"{path}/{k.replace('~', '~0').replace('/', '~1')}", commits)
            for k, x in v.items()
        }
    return v


def rehash(ev: dict[str, Any]) -> str:
    strings: dict[str, str] = {"/actor": ev["actor"], "/target": ev["target"]}
    _walk(ev["details"], "/details", strings)
    commits = {}
    for p, s in strings.items():
        if p in ev.get("sealed", {}):
            c = ev["sealed"][p]
        else:
            salt = bytes.fromhex(ev["salts"][p])
            c = hashlib.sha256(
                b"accessgraph/commit/v1\0" + salt + p.encode() + b"\0" + s.encode()
            ).hexdigest()
        commits[p] = "#" + c
    doc = {
        "action": ev["action"],
        "actor": commits["/actor"],
        "at": ev["at"],
        "details": _replace(ev["details"], "/details", commits),
        "seq": ev["seq"],
        "target": commits["/target"],
    }
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((ev["prev_hash"] + "\n" + canonical).encode()).hexdigest()


# --- basics ------------------------------------------------------------------------------


def test_reopening_replays_the_same_graph(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = ag.Graph.open(path)
    populate(g)
    with pytest.raises(ag.PermissionDenied):
        g.remove_member(OWNER, "acme", actor="u1@example.com")
    g.record(OWNER, "data.exported", "acme/web", rows=3)
    h = ag.Graph.open(path)
    assert h.to_json() == g.to_json()
    assert h.revision == g.revision == len(lines(path)) - 1
    assert [e.hash for e in h.audit] == [e.hash for e in g.audit]
    h.audit.verify()
    assert h.graph_id == g.graph_id == record(lines(path)[0])["graph_id"]
    assert h.journal_path == str(path)


def test_the_rehash_helper_matches_the_engine(tmp_path: Path) -> None:
    path = tmp_path / "j"
    populate(ag.Graph.open(path, durability="os"), 1)
    for raw in lines(path)[1:]:
        ev = record(raw)
        assert rehash(ev) == ev["hash"]


# --- tamper detection --------------------------------------------------------------------

FIELDS = {
    "seq": lambda v: v + 1,
    "at": lambda v: v.replace("2024", "2023"),
    "actor": lambda v: "mallory@example.com",
    "action": lambda v: "grant.removed" if v != "grant.removed" else "grant.added",
    "target": lambda v: v + "x",
    "details": lambda v: {**v, "role": "admin"},
    "prev_hash": lambda v: "0" * 64,
    "hash": lambda v: "f" * 64,
}


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_changing_any_field_of_any_event_is_caught(tmp_path: Path, field: str) -> None:
    path = tmp_path / "j"
    populate(ag.Graph.open(path, durability="os"), 2)
    original = lines(path)
    for i in range(1, len(original)):
        ev = record(original[i])
        ev[field] = FIELDS[field](ev[field])
        # Both a naive edit (checksum now wrong) and one with the checksum fixed up.
        naive = original[i].replace(b'"seq":', b'"seq": ', 1) if field == "seq" else None
        for edited in filter(None, [with_crc(ev), naive]):
            path.write_bytes(b"".join([*original[:i], edited, *original[i + 1 :]]))
            before = path.read_bytes()
            with pytest.raises(ag.JournalError) as info:
                ag.Graph.open(path)
            assert info.value.line == i + 1, (field, i, str(info.value))
            assert path.read_bytes() == before, "a damaged journal is left untouched"
    # The same edits in an exported file: verify() names the seq.
    path.write_bytes(b"".join(original))
    g = ag.Graph.open(path)
    export = tmp_path / "audit.jsonl"
    g.audit.to_jsonl(export)
    exported = export.read_text().splitlines()
    for i in range(1, len(exported)):
        ev = json.loads(exported[i])
        ev[field] = FIELDS[field](ev[field])
        export.write_text("\n".join([*exported[:i], json.dumps(ev), *exported[i + 1 :]]))
        with pytest.raises(ag.AuditIntegrityError) as err:
            ag.AuditLog.load(export).verify()
        assert err.value.seq in (i + 1, i + 2), (field, i, str(err.value))


def test_deleting_swapping_and_splicing_are_caught(tmp_path: Path) -> None:
    path = tmp_path / "j"
    populate(ag.Graph.open(path, durability="os"), 3)
    original = lines(path)
    cases = {
        "delete": original[:4] + original[5:],
        "swap": [*original[:4], original[5], original[4], *original[6:]],
        "duplicate": [*original[:5], original[4], *original[5:]],
    }
    other = tmp_path / "other"
    populate(ag.Graph.open(other, durability="os"), 3)
    foreign = lines(other)
    cases["splice foreign tail"] = original[:6] + foreign[6:]
    cases["splice foreign event"] = [*original[:4], foreign[4], *original[5:]]
    cases["foreign header"] = [foreign[0], *original[1:]]
    for name, content in cases.items():
        path.write_bytes(b"".join(content))
        with pytest.raises(ag.JournalError) as info:
            ag.Graph.open(path)
        assert info.value.line in (2, 5, 6, 7), (name, str(info.value))
        assert path.read_bytes() == b"".join(content)


def rewrite_chain(path: Path, edit_at: int) -> None:
    """Edit one event and recompute every hash after it: a wholesale rewrite."""
    raw = lines(path)
    out = [raw[0]]
    prev = None
    for i, line in enumerate(raw[1:], start=1):
        ev = record(line)
        if prev is not None:
            ev["prev_hash"] = prev
        if i == edit_at:
            ev["details"] = {**ev["details"], "role": "admin"}
        ev["hash"] = rehash(ev)
        prev = ev["hash"]
        out.append(with_crc(ev))
    path.write_bytes(b"".join(out))


def test_a_rewritten_chain_is_caught_only_with_the_signed_checkpoint(tmp_path: Path) -> None:
    plain, signed = tmp_path / "plain", tmp_path / "signed"
    populate(ag.Graph.open(plain, durability="os"), 3)
    populate(ag.Graph.open(signed, durability="os", hmac_key=KEY), 3)
    rewrite_chain(plain, 4)
    rewrite_chain(signed, 4)
    # A consistent rewrite fools the chain alone…
    g = ag.Graph.open(plain)
    g.audit.verify()
    assert g.check("u0@example.com", "org:manage_roles", "acme")
    # …not the checkpoint.
    with pytest.raises(ag.JournalError, match="rewritten") as info:
        ag.Graph.open(signed, hmac_key=KEY)
    assert info.value.line == len(lines(signed))
    with pytest.raises(ag.JournalError, match="key"):
        ag.Graph.open(signed, hmac_key=b"another key")


def test_a_clean_cut_at_a_record_boundary_is_caught_with_the_checkpoint(tmp_path: Path) -> None:
    plain, signed = tmp_path / "plain", tmp_path / "signed"
    populate(ag.Graph.open(plain, durability="os"), 3)
    populate(ag.Graph.open(signed, durability="os", hmac_key=KEY), 3)
    for path in (plain, signed):
        path.write_bytes(b"".join(lines(path)[:-2]))
    assert ag.Graph.open(plain).revision == len(lines(plain)) - 1
    with pytest.raises(ag.JournalError, match="cut off") as info:
        ag.Graph.open(signed, hmac_key=KEY)
    assert info.value.line == len(lines(signed)) + 1
    (tmp_path / "signed.checkpoint").unlink()
    with pytest.raises(ag.JournalError, match="missing"):
        ag.Graph.open(signed, hmac_key=KEY)


def test_a_signed_journal_reopens_and_keeps_signing(tmp_path: Path) -> None:
    path = tmp_path / "j"
    g = ag.Graph.open(path, hmac_key=KEY)
    populate(g, 2)
    h = ag.Graph.open(path, hmac_key=KEY)
    h.grant(OWNER, "acme/web", "admin")
    assert ag.Graph.open(path, hmac_key=KEY).revision == h.revision


def test_cutting_anywhere_inside_the_last_two_records_is_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "j"
    g = ag.Graph.open(path, durability="os")
    populate(g, 2)
    full = path.read_bytes()
    raw = lines(path)
    start = len(full) - len(raw[-1]) - len(raw[-2])
    boundary = len(full) - len(raw[-1])
    kept_json = {}
    for cut in range(start + 1, len(full)):
        if cut == boundary:
            continue  # a clean cut: not torn (only the checkpoint can tell)
        path.write_bytes(full[:cut])
        with pytest.warns(ag.JournalRecoveredWarning, match="torn"):
            h = ag.Graph.open(path)
        complete = len(raw) - (2 if cut < boundary else 1)
        assert h.revision == complete - 1, cut
        assert path.read_bytes() == b"".join(raw[:complete])
        h.audit.verify()
        kept_json.setdefault(complete, h.to_json())
        assert h.to_json() == kept_json[complete]
    # A repaired journal takes new records where the torn one was.
    path.write_bytes(full[: boundary + 10])
    with pytest.warns(ag.JournalRecoveredWarning):
        h = ag.Graph.open(path)
    h.grant(OWNER, "acme/web", "admin")
    assert ag.Graph.open(path).revision == h.revision


def test_a_bad_complete_last_line_is_damage_not_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "j"
    populate(ag.Graph.open(path, durability="os"), 1)
    raw = lines(path)
    path.write_bytes(b"".join(raw[:-1]) + raw[-1].replace(b"viewer", b"admin!"))
    with pytest.raises(ag.JournalError) as info:
        ag.Graph.open(path)
    assert info.value.line == len(raw)


def test_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "registry.md"
    path.write_text("# PostHog Access Registry\n")
    with pytest.raises(ag.JournalError) as info:
        ag.Graph.open(path)
    assert info.value.line == 1
    assert path.read_text() == "# PostHog Access Registry\n"
    with pytest.raises(ag.ValidationError, match="durability"):
        ag.Graph.open(tmp_path / "x", durability="sometimes")


# --- snapshots ---------------------------------------------------------------------------


def test_a_snapshot_is_picked_up_and_the_rest_replayed(tmp_path: Path) -> None:
    path = tmp_path / "j"
    g = ag.Graph.open(path)
    populate(g, 3)
    assert g.snapshot() == g.revision
    g.grant(OWNER, "acme/web", "admin")
    h = ag.Graph.open(path)
    assert h.to_json() == g.to_json()
    assert h.revision == g.revision
    assert len(h.audit) == len(g.audit)
    h.audit.verify()
    assert [e.hash for e in h.audit] == [e.hash for e in g.audit]
    assert h.as_of("2024-05-01").to_json() == g.as_of("2024-05-01").to_json()
    # A snapshot of another journal is ignored (the journal is replayed whole).
    other = tmp_path / "other"
    o = ag.Graph.open(other)
    populate(o, 1)
    o.snapshot(tmp_path / "other.snap")
    assert ag.Graph.open(path, snapshot=tmp_path / "other.snap").to_json() == g.to_json()


# --- crashes -----------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, warnings
    import accessgraph as ag
    warnings.simplefilter("ignore")
    g = ag.Graph.open(sys.argv[1])
    if not g.orgs():
        g.add_org("acme", owner="jane@example.com")
        g.add_project("acme/web")
        g.add_member("bob@example.com", "acme", actor="jane@example.com")
    i = 0
    while True:
        if i % 2 == 0:
            g.grant("bob@example.com", "acme/web", "viewer", actor="jane@example.com",
                    reason=f"round {i}")
        else:
            g.revoke("bob@example.com", "acme/web", actor="jane@example.com")
        print(g.revision, flush=True)
        i += 1
    """
)


def test_sigkill_at_random_moments_loses_no_acknowledged_event(tmp_path: Path) -> None:
    path = tmp_path / "crash.journal"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = random.Random(7)
    rounds = 200 if LONG else 20
    acked = 0
    for _ in range(rounds):
        child = subprocess.Popen(
            [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(rng.uniform(0.15, 0.5))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        seqs = [int(s) for s in out.split()]
        if seqs:
            acked = max(acked, seqs[-1])
        g = open_quietly(path)
        assert g.revision >= acked, "an acknowledged event was lost"
        g.audit.verify()
        # The state follows the last event: granted after an even number of rounds.
        assert [e.seq for e in g.audit] == list(range(1, g.revision + 1))
    assert acked > rounds, "the child made progress"


WRITER = textwrap.dedent(
    """
    import hashlib, os, sys, time
    import accessgraph as ag
    path, me, other, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    g = ag.Graph.open(path, durability="os")
    for i in range(n):
        g.record("system", "test.appended", me, i=i)
        g.add_member(f"{me}{i}@example.com", "acme", actor="jane@example.com")
    open(os.path.join(os.path.dirname(path), me + ".done"), "w").close()
    while not os.path.exists(os.path.join(os.path.dirname(path), other + ".done")):
        time.sleep(0.01)
    g.refresh()
    print(g.revision, hashlib.sha256(g.to_json().encode()).hexdigest(), flush=True)
    """
)


def test_two_processes_append_to_one_journal(tmp_path: Path) -> None:
    path = tmp_path / "shared.journal"
    g = ag.Graph.open(path)
    g.add_org("acme", owner=OWNER)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    n = 60
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), me, other, str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for me, other in (("a", "b"), ("b", "a"))
    ]
    outs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1], "both graphs are equal after refresh()"
    h = ag.Graph.open(path)
    h.audit.verify()
    assert h.revision == 2 + 4 * n == int(outs[0][0])
    for me in "ab":
        marks = [e.details["i"] for e in h.audit.events(action="test.appended", target=me)]
        assert marks == list(range(n)), "every event present exactly once, in order"
    assert g.refresh() == 4 * n
    assert g.to_json() == h.to_json()
    assert hashlib.sha256(g.to_json().encode()).hexdigest() == outs[0][1]
