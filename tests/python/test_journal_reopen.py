"""Opening a long journal (issue 14, "Scale"): it is read and replayed a stretch of
16,384 lines at a time, the next stretch decoded while the one before is replayed. These
tests attack the seams between stretches and the order in which faults are reported,
and the snapshot's MAC over its state's canonical JSON."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import journal_verifier as jv
import pytest

import accessgraph as ag

KEY = b"reopen-test-key"
OWNER = "owner@example.com"
STRETCH = 16_384


def with_crc(obj: dict[str, Any]) -> bytes:
    """A record line as the journal writes it (compact, keys sorted, CRC-32 appended)."""
    body = jv.canonical(obj)
    crc = zlib.crc32(body.encode()) & 0xFFFFFFFF
    return (body[:-1] + f',"crc":"{crc:08x}"}}' + "\n").encode()


def record(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(raw)
    obj.pop("crc", None)
    return obj


@pytest.fixture(scope="module")
def long_journal(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A journal of a little over two stretches (one event a line), as bytes."""
    path = tmp_path_factory.mktemp("long") / "j"
    g = ag.Graph.open(path, durability="os", follow=False)
    g.set_time("2024-05-01")
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/web")
    made = 2
    u = 0
    while made < 2 * STRETCH + 500:
        email = f"u{u}@example.com"
        g.add_member(email, "acme", actor=OWNER)
        g.grant(email, "acme/web", "viewer", actor=OWNER)
        made += 2
        u += 1
    del g
    return path.read_bytes()


def events_in(data: bytes) -> int:
    return sum(len(record(line)["batch"]) for line in data.splitlines()[1:])


def copy(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "j"
    path.write_bytes(data)
    return path


def test_a_long_journal_reopens_whole(tmp_path: Path, long_journal: bytes) -> None:
    path = copy(tmp_path, long_journal)
    g = ag.Graph.open(path, follow=False)
    assert long_journal.count(b"\n") > 2 * STRETCH + 1
    assert g.revision == events_in(long_journal)
    g.audit.verify()
    assert g.check("u100@example.com", "project:view", "acme/web")
    assert len(g.audit.events(action="grant.added")) == long_journal.count(b'"grant.added"')


@pytest.mark.parametrize("line", [STRETCH + 1, STRETCH + 2, 2 * STRETCH + 1, 2 * STRETCH + 2])
def test_a_false_hash_at_a_seam_is_named_by_its_line(
    tmp_path: Path, long_journal: bytes, line: int
) -> None:
    """A stretch starts from the hash the line before it claims: a claim edited (CRC
    redone) must still be refused at that very line, not accepted by the next stretch."""
    raw = long_journal.splitlines(keepends=True)
    b = record(raw[line - 1])
    b["hash"] = "f" * 64
    raw[line - 1] = with_crc(b)
    path = copy(tmp_path, b"".join(raw))
    before = path.read_bytes()
    with pytest.raises(ag.JournalError, match="does not chain") as info:
        ag.Graph.open(path, follow=False)
    assert info.value.line == line
    assert path.read_bytes() == before


def rechained(raw: list[bytes], edit_line: int, edit: Any) -> list[bytes]:
    """``raw`` with ``edit(event)`` applied to the event of line ``edit_line`` and every
    hash from there on computed again (a journal without a key can be rewritten so)."""
    out = list(raw)
    prev = record(out[edit_line - 2])["hash"]
    for i in range(edit_line - 1, len(out)):
        b = record(out[i])
        for ev in b["batch"]:
            if i == edit_line - 1:
                edit(ev)
            prev = jv.event_hash(ev, prev)
        b["hash"] = prev
        out[i] = with_crc(b)
    return out


def test_a_fault_far_in_the_file_is_reported_before_an_early_change_that_does_not_apply(
    tmp_path: Path, long_journal: bytes
) -> None:
    """Faults keep the order they had when the whole file was read before any replay: a
    line that does not read (here a checksum in the last stretch) wins over an event of
    the first stretch that hashes right but does not apply."""
    raw = long_journal.splitlines(keepends=True)
    assert b'"grant.added"' in raw[100]

    def bad_role(ev: dict[str, Any]) -> None:
        ev["details"]["role"] = "overlord"

    raw = rechained(raw, 101, bad_role)
    path = copy(tmp_path, b"".join(raw))
    with pytest.raises(ag.JournalError, match="does not describe a change") as info:
        ag.Graph.open(path, follow=False)
    assert info.value.line == 101
    last = len(raw)
    raw[last - 1] = raw[last - 1].replace(b"viewer", b"member")
    path.write_bytes(b"".join(raw))
    with pytest.raises(ag.JournalError, match="checksum") as info:
        ag.Graph.open(path, follow=False)
    assert info.value.line == last


def test_a_torn_tail_after_many_stretches_is_cut_and_the_rest_kept(
    tmp_path: Path, long_journal: bytes
) -> None:
    path = copy(tmp_path, long_journal + b'{"batch":[{"seq":')
    with pytest.warns(ag.JournalRecoveredWarning):
        g = ag.Graph.open(path, follow=False)
    assert path.read_bytes() == long_journal
    assert g.revision == events_in(long_journal)


def test_a_signed_snapshot_rewritten_in_another_layout_still_verifies(tmp_path: Path) -> None:
    """The snapshot's MAC covers the SHA-256 of its state's canonical JSON
    (docs/journal-format.md), not the file's bytes: the same state pretty-printed with its
    keys in another order still verifies and is used; an edited one is refused."""
    path = tmp_path / "j"
    g = ag.Graph.open(path, hmac_key=KEY, follow=False)
    g.set_time("2024-05-01")
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/web")
    g.add_member("bob@example.com", "acme", actor=OWNER)
    g.grant("bob@example.com", "acme/web", "viewer", actor=OWNER)
    g.snapshot()
    g.add_member("carol@example.com", "acme", actor=OWNER)
    g.grant("carol@example.com", "acme/web", "member", actor=OWNER)
    del g
    snap = Path(f"{path}.snapshot")
    doc = json.loads(snap.read_text())

    def reorder(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: reorder(v[k]) for k in sorted(v, reverse=True)}
        if isinstance(v, list):
            return [reorder(x) for x in v]
        return v

    doc["state"] = reorder(doc["state"])
    snap.write_text(json.dumps(doc, indent=2))
    h = ag.Graph.open(path, hmac_key=KEY, follow=False)
    assert h.check("bob@example.com", "project:view", "acme/web")
    assert h.check("carol@example.com", "project:view", "acme/web")
    assert jv.verify_snapshot(snap, KEY) is not None
    assert len(h.audit.events()) == h.revision
    del h
    snap.write_text(json.dumps(doc, indent=2).replace('"viewer"', '"admin"'))
    with pytest.raises(ag.JournalError, match="snapshot") as info:
        ag.Graph.open(path, hmac_key=KEY, follow=False)
    assert info.value.line == 1


def snapshot_text(path: Path, key: bytes | None) -> str:
    """The text of a snapshot of a small graph, written by the engine (compact: the state
    between `,"state":` and the closing brace or `,"mac":`)."""
    g = ag.Graph.open(path, hmac_key=key, follow=False)
    g.set_time("2024-05-01")
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/web")
    g.add_member("bob@example.com", "acme", actor=OWNER)
    g.grant("bob@example.com", "acme/web", "viewer", actor=OWNER)
    g.snapshot()
    del g
    text = Path(f"{path}.snapshot").read_text()
    assert ',"state":{' in text and text.endswith("}")
    return text


def unsigned_edit(text: str) -> str:
    """The snapshot with bob made admin in its state, edited in place (its layout kept)."""
    assert text.count('"viewer"') == 1
    return text.replace('"viewer"', '"admin"')


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(lambda t: t, id="as-written"),
        pytest.param(lambda t: t[:-1] + ',"mac":null}', id="mac-null"),
        pytest.param(lambda t: t + "\n \t\r\n", id="json-space-after"),
        pytest.param(lambda t: t.replace(',"state":', ',"state": ')[:-1] + " }", id="spaces"),
        pytest.param(lambda t: t[:-1] + ' , "mac" : null }', id="mac-spaced"),
    ],
)
def test_an_unsigned_snapshot_is_used_whatever_its_valid_layout(
    tmp_path: Path, layout: Any
) -> None:
    """Opening reads a snapshot laid out as the engine writes it without scanning its state
    first (the fields around it are read strictly, the state by the state reader); any
    other valid layout is read whole. Either way the snapshot is used (without a key it is
    a cache, trusted as it is: the edit shows)."""
    path = tmp_path / "j"
    snap = Path(f"{path}.snapshot")
    snap.write_text(layout(unsigned_edit(snapshot_text(path, None))))
    h = ag.Graph.open(path, follow=False)
    assert h.check("bob@example.com", "project:manage_members", "acme/web")
    assert len(h.audit.events()) == h.revision


@pytest.mark.parametrize(
    ("layout", "why"),
    [
        pytest.param(lambda t: t[:-1] + ',"state":{}}', "duplicate field", id="state-twice"),
        pytest.param(lambda t: t[:-1] + ',"extra":1}', "unknown field", id="unknown-after"),
        pytest.param(lambda t: t[:-1] + ',"mac":1}', "invalid type", id="mac-not-text"),
        pytest.param(lambda t: t + "}", "trailing characters", id="brace-twice"),
        pytest.param(lambda t: t + "\u3000", "trailing characters", id="not-json-space"),
        pytest.param(
            lambda t: t.replace(',"state":', ',"state":\ufeff'), "expected value", id="bom"
        ),
        pytest.param(
            lambda t: t.replace('"graph_id":', '"graph_id":1,"x":'),
            "unknown field|invalid type",
            id="head",
        ),
    ],
)
def test_a_snapshot_that_is_not_json_of_its_format_is_refused_by_name(
    tmp_path: Path, layout: Any, why: str
) -> None:
    """A file that is not a snapshot of format 2 as JSON reads it is refused whatever its
    state holds, with the parser's reason on line 1 (as when the file is read whole), even
    where the state between `,"state":` and the closing brace reads."""
    path = tmp_path / "j"
    snap = Path(f"{path}.snapshot")
    snap.write_text(layout(snapshot_text(path, None)))
    with pytest.raises(ag.JournalError, match=f"not an accessgraph snapshot.*({why})") as info:
        ag.Graph.open(path, follow=False)
    assert info.value.line == 1
    # Python's json reads a key twice (the last wins) and the verifier reads no `mac`
    # without a key: it would accept two of these files. The journal is still checked.
    snap.unlink()


def test_a_signed_snapshot_edited_in_place_is_refused(tmp_path: Path) -> None:
    """With the key, the MAC is checked over the state's text before the state is read; an
    edit that keeps the engine's layout is refused (not taken for another layout)."""
    path = tmp_path / "j"
    snap = Path(f"{path}.snapshot")
    text = snapshot_text(path, KEY)
    snap.write_text(text + "\n")
    assert ag.Graph.open(path, hmac_key=KEY, follow=False).check(
        "bob@example.com", "project:view", "acme/web"
    )
    for edited in (unsigned_edit(text), text.replace(',"mac":', ',"mac":null,"m":')):
        snap.write_text(edited)
        with pytest.raises(ag.JournalError, match="snapshot") as info:
            ag.Graph.open(path, hmac_key=KEY, follow=False)
        assert info.value.line == 1
