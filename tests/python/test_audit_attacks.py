"""Issue 14's findings, attacked one by one on journal format 2: each test forges, cuts or
plants what the review found and checks that it is refused (or, where
docs/journal-format.md says a change is not detected, that it is not, and how far that
goes). The attacks that need failing system calls are in test_audit_attacks_io.py."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import journal_verifier as jv
import pytest

import accessgraph as ag

KEY = b"attack-test-key"
OWNER = "jane@example.com"
BOB = "bob@example.com"
MALLORY = "mallory@example.com"


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def record(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(raw)
    obj.pop("crc", None)
    return obj


def with_crc(obj: dict[str, Any]) -> bytes:
    """A record line as the journal writes it (compact, keys sorted, CRC-32 appended)."""
    import zlib

    body = jv.canonical(obj)
    crc = zlib.crc32(body.encode()) & 0xFFFFFFFF
    return (body[:-1] + f',"crc":"{crc:08x}"}}' + "\n").encode()


def build(path: Path, key: bytes | None = KEY) -> ag.Graph:
    """acme (owner jane) with a restricted project acme/prod; bob a member with viewer on
    it; mallory not a member of anything."""
    g = ag.Graph.open(path, hmac_key=key)
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=OWNER)
    g.add_project("acme/prod", name="Prod", restricted=True, environment="production")
    g.add_member(BOB, "acme", actor=OWNER)
    g.grant(BOB, "acme/prod", "viewer", actor=OWNER, reason="on call")
    g.add_member("carol@example.com", "acme", actor=OWNER)
    return g


def forge(path: Path, action: str, edit: Any) -> int:
    """Applies ``edit(event)`` to the first event with ``action`` in the journal at
    ``path``, fixing the line's checksum and keeping its batch hash and MAC; returns the
    event's seq."""
    raw = lines(path)
    for i, line in enumerate(raw[1:], start=1):
        b = record(line)
        for ev in b["batch"]:
            if ev["action"] == action:
                edit(ev)
                raw[i] = with_crc(b)
                path.write_bytes(b"".join(raw))
                return int(ev["seq"])
    raise AssertionError(f"no {action} event")


def seal_as(path: str, value: str) -> Any:
    """The forger's edit: the field at ``path`` moves behind its own (kept) commitment,
    and ``value`` is written beside it, so the event's hash does not change."""

    def edit(ev: dict[str, Any]) -> None:
        key = path.rsplit("/", 1)[1]
        if "seed" in ev:
            # As an erasure does: the seed goes, each personal field's salt is written out.
            seed = bytes.fromhex(ev.pop("seed"))
            ev["salts"] = {p: jv.derive_salt(seed, p).hex() for p, _ in jv.personal_fields(ev)}
        salt = bytes.fromhex(ev["salts"].pop(path))
        ev.setdefault("sealed", {})[path] = jv.commit(salt, path, ev["details"][key])
        if not ev["salts"]:
            del ev["salts"]
        ev["details"][key] = value

    return edit


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accessgraph", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def refused_everywhere(tmp_path: Path, path: Path, seq: int, reason: str) -> None:
    """The forged journal at ``path`` is refused by every reader, naming event ``seq``,
    and left byte-identical."""
    forged = path.read_bytes()
    for key in (KEY, None):
        with pytest.raises(ag.JournalError, match=reason) as info:
            ag.Graph.open(path, hmac_key=key)
        assert f"event {seq}" in str(info.value)
    with pytest.raises(jv.Invalid, match=r"pseudonym|personal|erasure|listed"):
        jv.verify_journal(path, KEY)
    keyfile = tmp_path / "key.bin"
    keyfile.write_bytes(KEY)
    r = cli("audit", "verify", path, "--hmac-key-file", keyfile, "--format", "json")
    body = json.loads(r.stdout)
    assert (r.returncode, body["ok"]) == (1, False), r.stderr
    assert f"event {seq}" in body["error"]
    assert path.read_bytes() == forged


# --- finding 1: forgery by sealing ------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("/details/user", MALLORY, "does not hold an erased user's pseudonym"),
        # A pseudonym of no erasure: here the grant no longer replays (no such user)…
        ("/details/user", "erased:0123456789abcdef", "does not apply|no later `user.erased`"),
        # …and where it would, the seal rule refuses it.
        ("/details/reason", "erased:0123456789abcdef", "no later `user.erased`"),
        ("/details/reason", "approved by the CISO", "does not hold an erased user's pseudonym"),
    ],
)
def test_forgery_by_sealing_a_personal_field_is_refused(
    tmp_path: Path, field: str, value: str, reason: str
) -> None:
    path = tmp_path / "j"
    g = build(path)
    export = tmp_path / "clean.jsonl"
    g.audit.to_jsonl(export)
    hashes = [e.hash for e in g.audit]
    seq = forge(path, "grant.added", seal_as(field, value))
    # The forgery keeps the event's hash (and so the batch's MAC): in format 1 it passed.
    (ev,) = [e for b in lines(path)[1:] for e in record(b)["batch"] if e["seq"] == seq]
    if jv.PSEUDONYM.fullmatch(value):
        assert jv.event_hash({**ev}, hashes[seq - 2]) == hashes[seq - 1]
    refused_everywhere(tmp_path, path, seq, reason)
    # The same forgery in an export: AuditLog.load(...).verify() names the seq.
    rows = export.read_text().splitlines()
    forged = json.loads(rows[seq - 1])
    seal_as(field, value)(forged)
    rows[seq - 1] = json.dumps(forged)
    export.write_text("\n".join(rows) + "\n")
    with pytest.raises(ag.AuditIntegrityError) as err:
        ag.AuditLog.load(export, hmac_key=KEY).verify()
    assert err.value.seq == seq
    with pytest.raises(jv.Invalid):
        jv.verify_export(export, KEY)


def test_forgery_of_a_role_by_sealing_it_is_refused(tmp_path: Path) -> None:
    """A role is not personal: it enters the hash as it is, and cannot be sealed."""
    path = tmp_path / "j"
    build(path)

    def role_admin(ev: dict[str, Any]) -> None:
        ev.setdefault("sealed", {})["/details/role"] = jv.sha256_hex(b"viewer")
        ev["details"]["role"] = "admin"

    seq = forge(path, "grant.added", role_admin)
    refused_everywhere(tmp_path, path, seq, "not a personal field")


def test_forgery_by_sealing_is_refused_by_audit_verify_of_an_open_graph(tmp_path: Path) -> None:
    """A graph opened from a signed snapshot reads the events before it on first use:
    a seal forged there meanwhile is refused by ``audit.verify()`` naming the seq."""
    path = tmp_path / "j"
    g = build(path)
    g.snapshot()
    g.grant("carol@example.com", "acme/prod", "viewer", actor=OWNER)
    h = ag.Graph.open(path, hmac_key=KEY)
    seq = forge(path, "grant.added", seal_as("/details/user", "erased:0123456789abcdef"))
    with pytest.raises(ag.AuditIntegrityError) as err:
        h.audit.verify()
    assert err.value.seq == seq
    # Asked again, refused again: the failed read did not leave behind a log that passes
    # for whole without the events before the snapshot.
    for _ in range(2):
        with pytest.raises(ag.AuditIntegrityError) as err:
            h.audit.verify()
        assert err.value.seq == seq
    # Not a pseudonym at all: also named by its seq.
    g2 = build(tmp_path / "k")
    g2.snapshot()
    h2 = ag.Graph.open(tmp_path / "k", hmac_key=KEY)
    seq = forge(tmp_path / "k", "grant.added", seal_as("/details/user", MALLORY))
    with pytest.raises(ag.AuditIntegrityError, match="pseudonym") as err:
        h2.audit.verify()
    assert err.value.seq == seq
    del g


def test_a_seal_with_a_real_erasures_pseudonym_is_refused(tmp_path: Path) -> None:
    """Borrowing the pseudonym of an erasure that did happen does not help: that erasure
    lists exactly the fields it sealed, and its list is in its hash."""
    path = tmp_path / "j"
    g = build(path)
    g.add_member("dave@example.com", "acme", actor=OWNER)
    pseudonym = g.erase_user("dave@example.com", actor=OWNER, reason="gdpr")
    jv.verify_journal(path, KEY)
    seq = forge(path, "grant.added", seal_as("/details/reason", pseudonym))
    with pytest.raises(ag.JournalError, match="not the ones this erasure lists") as info:
        ag.Graph.open(path, hmac_key=KEY)
    assert "event" in str(info.value)
    with pytest.raises(jv.Invalid, match="listed"):
        jv.verify_journal(path, KEY)
    assert seq < g.revision


# --- finding 2: the snapshot and the header are signed ----------------------------------


def test_an_edited_snapshot_is_refused_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "j"
    g = build(path)
    g.snapshot()
    snap = Path(f"{path}.snapshot")
    assert not g.check(MALLORY, "project:manage_members", "acme/prod")
    doc = json.loads(snap.read_text())
    text = json.dumps(doc["state"])
    assert '"viewer"' in text
    doc["state"] = json.loads(text.replace('"viewer"', '"admin"'))
    snap.write_text(json.dumps(doc))
    with pytest.raises(ag.JournalError, match="snapshot") as info:
        ag.Graph.open(path, hmac_key=KEY)
    assert info.value.line == 1
    with pytest.raises(jv.Invalid, match="MAC"):
        jv.verify_snapshot(snap, KEY)
    # Every signed field counts: the header digest, the offset, the erasures.
    for field, value in (("header", "0" * 64), ("offset", 1), ("erasures", 3), ("seq", 1)):
        g.snapshot()
        doc = json.loads(snap.read_text())
        doc[field] = value
        snap.write_text(json.dumps(doc))
        with pytest.raises(ag.JournalError, match="snapshot"):
            ag.Graph.open(path, hmac_key=KEY)
        with pytest.raises(jv.Invalid):
            jv.verify_snapshot(snap, KEY)


def test_without_the_key_an_edited_snapshot_is_trusted_as_documented(tmp_path: Path) -> None:
    """docs/journal-format.md: without ``hmac_key`` a snapshot is a cache, trusted as it
    is; deleting it replays the journal."""
    path = tmp_path / "j"
    g = build(path, key=None)
    g.snapshot()
    snap = Path(f"{path}.snapshot")
    doc = json.loads(snap.read_text())
    doc["state"] = json.loads(json.dumps(doc["state"]).replace('"viewer"', '"admin"'))
    snap.write_text(json.dumps(doc))
    doc_text = (Path(__file__).parents[2] / "docs" / "journal-format.md").read_text()
    assert "| an edited snapshot | **no**: a snapshot is a cache" in doc_text
    h = ag.Graph.open(path)
    assert h.check(BOB, "project:manage_members", "acme/prod"), "trusted as documented"
    snap.unlink()
    assert not ag.Graph.open(path).check(BOB, "project:manage_members", "acme/prod")


def prune_all_but_the_last(path: Path, key: bytes | None) -> ag.Graph:
    g = build(path, key)
    g.set_time("2024-06-01")
    g.grant("carol@example.com", "acme/prod", "viewer", actor=OWNER)
    assert g.audit.prune(before="2024-05-15") > 0
    header = record(lines(path)[0])
    assert header["base_seq"] > 0 and '"viewer"' in json.dumps(header["base_state"])
    return g


def edit_base_state(path: Path) -> None:
    raw = lines(path)
    header = record(raw[0])
    header["base_state"] = json.loads(
        json.dumps(header["base_state"]).replace('"viewer"', '"admin"')
    )
    # The header keeps its field order (it is not canonical JSON); only the CRC is fixed.
    body = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    import zlib

    crc = zlib.crc32(body.encode()) & 0xFFFFFFFF
    raw[0] = (body[:-1] + f',"crc":"{crc:08x}"}}\n').encode()
    path.write_bytes(b"".join(raw))


def test_an_edited_base_state_after_a_prune_is_refused_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "j"
    prune_all_but_the_last(path, KEY)
    jv.verify_journal(path, KEY)
    edit_base_state(path)
    edited = path.read_bytes()
    with pytest.raises(ag.JournalError, match="header") as info:
        ag.Graph.open(path, hmac_key=KEY)
    assert info.value.line == 1
    assert path.read_bytes() == edited
    with pytest.raises(jv.Invalid, match="header") as bad:
        jv.verify_journal(path, KEY)
    assert bad.value.line == 1


def test_without_the_key_an_edited_base_state_is_trusted_as_documented(tmp_path: Path) -> None:
    path = tmp_path / "j"
    prune_all_but_the_last(path, None)
    edit_base_state(path)
    doc_text = (Path(__file__).parents[2] / "docs" / "journal-format.md").read_text()
    assert (
        "| an edited header (base state after retention, anchor, erasures) | only when" in doc_text
    )
    h = ag.Graph.open(path)
    assert h.check(BOB, "project:manage_members", "acme/prod"), "trusted as documented"


# --- finding 4: erasure reaches every file ---------------------------------------------


def test_erasure_leaves_no_cleartext_in_any_file(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = ag.Graph.open(path, hmac_key=KEY)
    g.set_time("2024-05-01")
    g.add_org("acme", owner=OWNER)
    g.add_org("beta", owner=OWNER)
    g.add_project("acme/web")
    g.add_member(BOB, "acme", actor=OWNER, name="Robert Tables", title="Chief Tables Officer")
    g.add_member(BOB, "beta", actor=OWNER, reason="Robert Tables asked")
    g.grant(BOB, "acme/web", "admin", actor=OWNER)
    g.add_member("eve@example.com", "acme", actor=OWNER)
    # An application event whose target is the user, and one whose details name him.
    g.record(OWNER, "data.exported", BOB, rows=1)
    g.record(OWNER, "report.sent", "acme", to=[BOB, "x@example.com"])
    with pytest.raises(ag.PermissionDenied):
        g.remove_member(BOB, "acme", actor="eve@example.com")
    g.snapshot()
    g.snapshot(tmp_path / "elsewhere.snapshot")
    secret = "Robert Tables"
    # Leftovers of a crash: a rewrite's and a snapshot's temporary files.
    (tmp_path / "access.journal.0123456789abcdef.tmp").write_text(BOB)
    (tmp_path / "access.journal.snapshot.fedcba9876543210.tmp").write_text(secret)
    g.erase_user(BOB, actor=OWNER, reason="GDPR request")
    g.audit.verify()
    jv.verify_journal(path, KEY)
    names = sorted(p.name for p in tmp_path.iterdir())
    # The revision beacon (a magic word and a counter) stays: it holds nothing personal,
    # which the loop below checks too.
    assert names == ["access.journal", "access.journal.checkpoint", "access.journal.rev"], names
    for f in tmp_path.iterdir():
        data = f.read_bytes().lower()
        for s in (BOB, "robert", "tables"):
            assert s.encode() not in data, (f.name, s)
    export = tmp_path / "after.jsonl"
    g.audit.to_jsonl(export)
    assert BOB.encode() not in export.read_bytes() and b"Tables" not in export.read_bytes()
    jv.verify_export(export, KEY)
    # The graph, reopened, is the same and still verifies.
    h = ag.Graph.open(path, hmac_key=KEY)
    assert h.to_json() == g.to_json()


# --- finding 5: a compound change is one batch ------------------------------------------


def two_orgs(path: Path) -> ag.Graph:
    g = ag.Graph.open(path, durability="os")
    g.set_time("2024-05-01")
    for org in ("acme", "beta"):
        g.add_org(org, owner=OWNER)
        g.add_project(f"{org}/web", environment="staging")
        g.add_project(f"{org}/prod", environment="production")
        g.add_project(f"{org}/dev", environment="development")
        g.add_member(BOB, org, actor=OWNER, role="admin", title="Engineer")
        g.grant(BOB, f"{org}/web", "member", actor=OWNER)
    return g


@pytest.mark.parametrize("change", ["offboard", "onboard"])
def test_a_compound_change_cut_at_any_byte_reopens_before_or_after_it(
    tmp_path: Path, change: str
) -> None:
    path = tmp_path / "j"
    g = two_orgs(path)
    before, rev = g.to_json(), g.revision
    start = path.stat().st_size
    if change == "offboard":
        g.offboard(BOB, actor=OWNER, reason="left the company")
    else:
        g.onboard("new@example.com", "acme", "engineer", actor=OWNER, name="New Hire")
    after = g.to_json()
    full = path.read_bytes()
    assert g.revision - rev >= 4, "a compound change"
    assert full[start:].count(b"\n") == 1, "its events are one batch, one line"
    for cut in range(start + 1, len(full)):
        path.write_bytes(full[:cut])
        assert jv.verify_journal(path).torn == cut - start  # type: ignore[union-attr]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            h = ag.Graph.open(path, durability="os")
        assert [w.category for w in caught] == [ag.JournalRecoveredWarning], cut
        assert (h.revision, h.to_json()) == (rev, before), f"cut at byte {cut}"
        assert path.read_bytes() == full[:start]
    path.write_bytes(full)
    h = ag.Graph.open(path)
    assert (h.revision, h.to_json()) == (g.revision, after)


# --- finding 8: exports carry their own end ---------------------------------------------


def test_an_export_cut_or_without_its_trailer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    g = build(path)
    export = tmp_path / "a.jsonl"
    g.audit.to_jsonl(export)
    *events, trailer = export.read_text().splitlines()
    assert json.loads(trailer)["count"] == len(events) == g.revision
    cases = {
        "first event cut": [*events[1:], trailer],
        "last event cut": [*events[:-1], trailer],
        "trailer removed": events,
        "last event and trailer cut": events[:-1],
        "empty": [],
    }
    for name, rows in cases.items():
        export.write_text("".join(r + "\n" for r in rows))
        with pytest.raises(ag.AuditIntegrityError):
            ag.AuditLog.load(export).verify()
        with pytest.raises(jv.Invalid):
            jv.verify_export(export)
        r = cli("audit", "verify", export)
        assert r.returncode == (2 if name == "empty" else 1), (name, r.stdout, r.stderr)


def test_a_forged_trailer_is_refused_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "j"
    g = build(path)
    export = tmp_path / "a.jsonl"
    g.audit.to_jsonl(export)
    *events, trailer = export.read_text().splitlines()
    forged = json.loads(trailer)
    forged.update(count=len(events) - 1, last_hash=json.loads(events[-2])["hash"])
    export.write_text("".join(r + "\n" for r in [*events[:-1], json.dumps(forged)]))
    # Without the key a trailer rewritten with the events is consistent (documented)…
    ag.AuditLog.load(export).verify()
    jv.verify_export(export)
    # …with it, the trailer's MAC gives it away.
    with pytest.raises(ag.AuditIntegrityError, match="key"):
        ag.AuditLog.load(export, hmac_key=KEY)
    with pytest.raises(jv.Invalid, match="key"):
        jv.verify_export(export, KEY)
    keyfile = tmp_path / "key.bin"
    keyfile.write_bytes(KEY)
    assert cli("audit", "verify", export).returncode == 0
    assert cli("audit", "verify", export, "--hmac-key-file", keyfile).returncode == 1
    # The genuine export verifies with the key, through the CLI too.
    g.audit.to_jsonl(export)
    ag.AuditLog.load(export, hmac_key=KEY).verify()
    assert cli("audit", "verify", export, "--hmac-key-file", keyfile).returncode == 0


# --- finding 9: private files, planted links, rollback ----------------------------------


def test_journal_checkpoint_and_snapshot_are_created_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "j"
        g = build(path)
        g.snapshot()
        g.snapshot(tmp_path / "other.snap")
        g.erase_user("carol@example.com", actor=OWNER, reason="gdpr")  # a rewrite
        g.snapshot()
        for f in (path, Path(f"{path}.checkpoint"), Path(f"{path}.snapshot")):
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
        # A file that exists keeps the mode its owner gave it, through a rewrite too.
        os.chmod(path, 0o640)
        h = ag.Graph.open(path, hmac_key=KEY)
        h.add_member("z@example.com", "acme", actor=OWNER)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        h.erase_user("z@example.com", actor=OWNER, reason="gdpr")
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_planted_links_are_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    path = tmp_path / "j"
    # At the journal's own path, and at the checkpoint's.
    (tmp_path / "j").symlink_to(victim)
    with pytest.raises(ag.AccessGraphError):
        ag.Graph.open(path)
    path.unlink()
    Path(f"{path}.checkpoint").symlink_to(victim)
    with pytest.raises(ag.AccessGraphError):
        ag.Graph.open(path, hmac_key=KEY)
    Path(f"{path}.checkpoint").unlink()
    path.unlink(missing_ok=True)
    # At the fixed temporary names format 1 used: rewrites no longer go through them.
    g = build(path)
    for name in ("j.rewrite", "j.checkpoint.tmp", "j.snapshot.tmp"):
        (tmp_path / name).symlink_to(victim)
    g.snapshot()
    g.erase_user("carol@example.com", actor=OWNER, reason="gdpr")
    assert victim.read_text() == "keep me"
    ag.Graph.open(path, hmac_key=KEY).audit.verify()


def test_a_rollback_of_journal_and_checkpoint_together_is_not_detected_as_documented(
    tmp_path: Path,
) -> None:
    """docs/journal-format.md: the journal and its checkpoint put back together to an
    older copy is not detected (keep a copy of the checkpoint out of reach); either one
    put back alone is."""
    path, cp = tmp_path / "j", tmp_path / "j.checkpoint"
    g = build(path)
    old_journal, old_cp, old_rev = path.read_bytes(), cp.read_bytes(), g.revision
    g.grant("carol@example.com", "acme/prod", "viewer", actor=OWNER)
    g.grant(BOB, "acme/prod", "member", actor=OWNER)
    new_journal, new_cp = path.read_bytes(), cp.read_bytes()
    doc_text = (Path(__file__).parents[2] / "docs" / "journal-format.md").read_text()
    assert "both put back to an older copy (a rollback) | **no** | **no**" in doc_text
    # Both rolled back: opens, as it was.
    path.write_bytes(old_journal)
    cp.write_bytes(old_cp)
    assert ag.Graph.open(path, hmac_key=KEY).revision == old_rev
    jv.verify_journal(path, KEY)
    # The journal alone (a truncation): the checkpoint notices.
    path.write_bytes(old_journal)
    cp.write_bytes(new_cp)
    with pytest.raises(ag.JournalError, match="cut off"):
        ag.Graph.open(path, hmac_key=KEY)
    # The checkpoint alone: an older checkpoint still vouches for the journal's start,
    # and every batch after it carries a valid MAC.
    path.write_bytes(new_journal)
    cp.write_bytes(old_cp)
    assert ag.Graph.open(path, hmac_key=KEY).revision == g.revision
    shutil.rmtree(tmp_path / "unused", ignore_errors=True)
