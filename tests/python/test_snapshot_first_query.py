"""A graph opened from a snapshot reads the events before it on demand (issue 14: the
first audit query costs no more than loading the snapshot): a query with a ``limit`` reads
only until it has its matches, each checked from the journal's anchor; the rest is read
(and checked) when something needs it. These tests attack that path: what a partial read
hands out must be what a whole read gives, and a fault further on must still be found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import accessgraph as ag

OWNER = "jane@example.com"
KEY = b"first-query-key"
N = 1200  # members: ~2,400 events, a journal of several reads' chunks


def build(path: Path, key: bytes | None = None, n: int = N) -> ag.Graph:
    g = ag.Graph.open(path, hmac_key=key)
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=OWNER)
    g.add_project("acme/web", name="Web")
    for i in range(n):
        g.add_member(f"u{i}@example.com", "acme", actor=OWNER, reason=f"hire {i}")
        g.grant(f"u{i}@example.com", "acme/web", "viewer", actor=OWNER)
    g.snapshot()
    return g


def snapshot_offset(path: Path) -> int:
    return int(json.loads(Path(f"{path}.snapshot").read_text())["offset"])


def damage_line_before_snapshot(path: Path, from_end: int = 2) -> int:
    """Flips a digit of the CRC of the ``from_end``-th line before the snapshot's resume
    point (the line keeps its length, so the resume point stays a line's end); returns
    the seq of its first event."""
    data = path.read_bytes()
    end = snapshot_offset(path)
    lines = data[:end].split(b"\n")[:-1]
    k = len(lines) - from_end
    line = lines[k]
    at = line.rindex(b'"crc":"') + len(b'"crc":"')
    digit = line[at : at + 1]
    lines[k] = line[:at] + (b"0" if digit != b"0" else b"1") + line[at + 1 :]
    path.write_bytes(b"\n".join(lines) + b"\n" + data[end:])
    return int(json.loads(line[: line.rindex(b',"crc"')] + b"}")["batch"][0]["seq"])


def whole(path: Path, key: bytes | None = None) -> list[str]:
    """The hashes a whole read gives: a copy of the journal alone (no snapshot; with the
    key, trusted on first use) opened and read."""
    copy = path.parent / "whole" / path.name
    copy.parent.mkdir(exist_ok=True)
    copy.write_bytes(path.read_bytes())
    g = ag.Graph.open(copy, hmac_key=key)
    hashes = [e.hash for e in g.audit]
    del g
    shutil.rmtree(copy.parent)
    return hashes


@pytest.fixture(params=[None, KEY], ids=["unkeyed", "keyed"])
def key(request: pytest.FixtureRequest) -> bytes | None:
    return request.param


def test_a_limited_query_is_answered_from_a_prefix_as_a_whole_read_answers_it(
    tmp_path: Path, key: bytes | None
) -> None:
    path = tmp_path / "j"
    g = build(path, key)
    h = ag.Graph.open(path, hmac_key=key)
    for who, limit in (("u0@example.com", 1), ("u3@example.com", 2), ("u700@example.com", 2)):
        got = h.audit.events(user=who, limit=limit)
        assert [e.hash for e in got] == [e.hash for e in g.audit.events(user=who, limit=limit)]
        assert len(got) == limit
    assert h.audit.events(action="grant.added", limit=0) == []
    assert len(h.audit) == len(g.audit)
    assert [e.hash for e in h.audit] == [e.hash for e in g.audit]
    h.audit.verify()


def test_a_damaged_record_after_the_part_read_is_found_when_reached(
    tmp_path: Path, key: bytes | None
) -> None:
    path = tmp_path / "j"
    build(path, key)
    h = ag.Graph.open(path, hmac_key=key)
    seq = damage_line_before_snapshot(path)
    # The first members' events come before the damage: answered from what was read.
    assert [e.action for e in h.audit.events(user="u0@example.com", limit=2)] == [
        "member.added",
        "grant.added",
    ]
    # len() counts by seq and reads nothing; what relies on the events reads on and fails,
    # naming the damaged record's seq, every time it is asked.
    assert len(h.audit) == h.revision
    for read in (
        h.audit.verify,
        lambda: list(h.audit),
        lambda: h.audit.to_jsonl(tmp_path / "out.jsonl"),
        lambda: h.audit.events(user="u1199@example.com", limit=1),
        lambda: h.audit.events(user="nobody@example.com", limit=1),
        lambda: h.audit.events(user="u0@example.com", limit=3),
    ):
        with pytest.raises(ag.AuditIntegrityError, match="checksum") as err:
            read()
        assert err.value.seq == seq
    # What was read before is still handed out; the damage stays where it is.
    assert len(h.audit.events(user="u1@example.com", limit=2)) == 2
    with pytest.raises(ag.AuditIntegrityError):
        h.audit.verify()


def test_a_filter_that_matches_nothing_reads_to_the_end(tmp_path: Path) -> None:
    path = tmp_path / "j"
    build(path)
    h = ag.Graph.open(path)
    assert h.audit.events(user="nobody@example.com", limit=1) == []
    # Read to the end: a record damaged now is no longer read.
    damage_line_before_snapshot(path)
    h.audit.verify()
    assert len(list(h.audit)) == h.revision
    # A fresh graph reads it, and finds it.
    with pytest.raises(ag.AuditIntegrityError):
        ag.Graph.open(path).audit.events(user="nobody@example.com", limit=1)


def test_appends_while_partly_read_are_neither_skipped_nor_doubled(
    tmp_path: Path, key: bytes | None
) -> None:
    path = tmp_path / "j"
    build(path, key)
    h = ag.Graph.open(path, hmac_key=key)
    assert len(h.audit.events(user="u0@example.com", limit=1)) == 1
    h.grant("u0@example.com", "acme/web", "admin", actor=OWNER)
    h.add_member("late@example.com", "acme", actor=OWNER)
    got = h.audit.events(user="u0@example.com", limit=3)
    assert [e.action for e in got] == ["member.added", "grant.added", "grant.changed"]
    assert got[-1].details["after"]["role"] == "admin"
    assert got[-1].seq == h.revision - 1
    # Spanning what was read, what was not, and what came after the snapshot.
    grants = h.audit.events(action="grant.*", limit=N + 1)
    assert [e.seq for e in grants] == sorted({e.seq for e in grants})
    assert grants[-1].seq == h.revision - 1
    assert [e.hash for e in h.audit] == whole(path, key)
    assert len(h.audit) == h.revision
    h.audit.verify()


def test_an_erasure_or_a_prune_while_partly_read_reads_the_rest_first(
    tmp_path: Path, key: bytes | None
) -> None:
    path = tmp_path / "j"
    build(path, key)
    h = ag.Graph.open(path, hmac_key=key)
    assert len(h.audit.events(user="u5@example.com", limit=1)) == 1
    pseudonym = h.erase_user("u5@example.com", actor=OWNER, reason="gdpr")
    assert h.audit.events(user="u5@example.com") == []
    sealed = h.audit.events(user=pseudonym, limit=2)
    assert len(sealed) == 2
    assert [e.hash for e in h.audit] == whole(path, key)
    h.audit.verify()

    h.snapshot()
    h2 = ag.Graph.open(path, hmac_key=key)
    # Sealed events are handed out only once the erasure that names their seal is read.
    assert [e.hash for e in h2.audit.events(user=pseudonym, limit=2)] == [e.hash for e in sealed]
    assert len(h2.audit.events(user="u6@example.com", limit=1)) == 1
    assert h2.audit.prune(before="2024-04-01") == 0
    h2.set_time("2024-06-01")
    h2.grant("u7@example.com", "acme/web", "admin", actor=OWNER)
    h2.snapshot()
    h3 = ag.Graph.open(path, hmac_key=key)
    assert len(h3.audit.events(user="u7@example.com", limit=1)) == 1
    assert h3.audit.prune(before="2024-05-15") > 0
    assert [e.hash for e in h3.audit] == whole(path, key)
    h3.audit.verify()


def test_a_seal_is_not_handed_out_before_the_erasure_that_names_it(tmp_path: Path) -> None:
    """A sealed field is vouched for by a later erasure: a query whose match is sealed
    reads on to that erasure, so damage before it is found."""
    path = tmp_path / "j"
    g = build(path)
    pseudonym = g.erase_user("u1@example.com", actor=OWNER, reason="gdpr")
    g.grant("u2@example.com", "acme/web", "admin", actor=OWNER)
    g.snapshot()
    h = ag.Graph.open(path)
    damage_line_before_snapshot(path, from_end=3)
    assert len(h.audit.events(user="u0@example.com", limit=2)) == 2
    with pytest.raises(ag.AuditIntegrityError, match="checksum"):
        h.audit.events(user=pseudonym, limit=1)


def test_with_the_key_only_events_a_mac_vouches_for_are_handed_out(tmp_path: Path) -> None:
    """Batches written before the key was first used carry no MAC: a partial read hands
    their events out only once a later batch's MAC vouches for the chain up to it, so
    damage in that batch is found by the first query."""
    path = tmp_path / "j"
    build(path, None, n=N // 2)
    Path(f"{path}.snapshot").unlink()  # unsigned: refused with the key
    g = ag.Graph.open(path, hmac_key=KEY)  # trust on first use: MACs from here on
    for i in range(N // 2, N):
        g.add_member(f"u{i}@example.com", "acme", actor=OWNER)
    g.snapshot()
    h = ag.Graph.open(path, hmac_key=KEY)
    lines = path.read_bytes()[: snapshot_offset(path)].split(b"\n")[:-1]
    first_signed = next(k for k, line in enumerate(lines) if b'"mac":"' in line)
    seq = damage_line_before_snapshot(path, from_end=len(lines) - first_signed)
    with pytest.raises(ag.AuditIntegrityError, match="checksum") as err:
        h.audit.events(user="u0@example.com", limit=1)
    assert err.value.seq == seq
    # Without the key nothing is vouched for by a MAC: the chain from the anchor is all
    # there is, and the first members' events are handed out.
    assert len(ag.Graph.open(path).audit.events(user="u0@example.com", limit=1)) == 1


def test_a_record_longer_than_a_read_is_read_whole(tmp_path: Path) -> None:
    """A batch line longer than the first reads (128 KiB, then doubling) is read whole,
    and the lines around it as they are."""
    path = tmp_path / "j"
    g = ag.Graph.open(path)
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=OWNER)
    g.add_project("acme/web", name="Web")
    g.record(OWNER, "data.exported", "acme/web", blob="x" * 700_000)
    for i in range(300):
        g.add_member(f"u{i}@example.com", "acme", actor=OWNER)
    g.snapshot()
    h = ag.Graph.open(path)
    got = h.audit.events(action="data.exported", limit=1)
    assert len(got) == 1
    assert got[0].details["blob"] == "x" * 700_000
    assert [e.hash for e in h.audit.events(user="u0@example.com", limit=1)] == [
        e.hash for e in g.audit.events(user="u0@example.com", limit=1)
    ]
    assert [e.hash for e in h.audit] == [e.hash for e in g.audit]
    h.audit.verify()
