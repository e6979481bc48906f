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
import zlib
from pathlib import Path
from typing import Any

import journal_verifier as jv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    """A record line as the journal writes it: compact JSON (keys sorted) and its CRC-32."""
    body = jv.canonical(obj)
    crc = zlib.crc32(body.encode()) & 0xFFFFFFFF
    return (body[:-1] + f',"crc":"{crc:08x}"}}' + "\n").encode()


def record(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(raw)
    obj.pop("crc", None)
    return obj


def events_in(path: Path) -> int:
    """How many events the journal's complete batches hold."""
    return sum(len(record(raw)["batch"]) for raw in lines(path)[1:] if raw.endswith(b"\n"))


def rechain(raw: list[bytes], edit: Any = None) -> list[bytes]:
    """The journal ``raw`` with ``edit(seq, event)`` applied to its events and every
    batch hash recomputed (the documented hash, from the independent verifier): what a
    forger without the key can write. MACs are kept as they were."""
    header = record(raw[0])
    prev = header["anchor"]
    out = [raw[0]]
    for line in raw[1:]:
        b = record(line)
        for ev in b["batch"]:
            if edit is not None:
                edit(ev["seq"], ev)
            prev = jv.event_hash(ev, prev)
        b["hash"] = prev
        out.append(with_crc(b))
    return out


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
    assert h.revision == g.revision == events_in(path)
    # one batch (line) per mutation: add_org's two events share one
    assert len(lines(path)) - 1 == 2 + 2 * 6 + 2
    assert [e.hash for e in h.audit] == [e.hash for e in g.audit]
    h.audit.verify()
    assert h.graph_id == g.graph_id == record(lines(path)[0])["graph_id"]
    assert h.journal_path == str(path)


def test_the_independent_verifier_matches_the_engine(tmp_path: Path) -> None:
    path = tmp_path / "j"
    g = ag.Graph.open(path, durability="os")
    populate(g, 1)
    g.record(OWNER, "data.exported", "acme/web", ratio=1e20, tiny=1.5e-7, x=0.1, tags=["a/b~"])
    journal = jv.verify_journal(path)
    assert journal is not None
    assert [e["hash"] for e in journal.events] == [e.hash for e in g.audit]
    for raw in lines(path)[1:]:
        assert record(raw)["hash"] == jv.event_hash(
            {**record(raw)["batch"][-1]},
            next(e.prev_hash for e in g.audit if e.seq == record(raw)["batch"][-1]["seq"]),
        )
    assert rechain(lines(path)) == lines(path), "recomputing the chain changes nothing"


# Any character but NUL and lone surrogates, which `record` refuses (a journal in
# PostgreSQL cannot store NUL; neither is text that UTF-8 can write).
NO_NUL = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.text(NO_NUL, min_size=1, max_size=8),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(2**63), 2**63 - 1)
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(NO_NUL, max_size=12),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(NO_NUL, max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=4,
    )
)
def test_the_canonical_form_of_any_application_details_matches(
    tmp_path: Path, details: dict[str, Any]
) -> None:
    """Floats, escapes, non-ASCII keys, nesting: the verifier's canonical JSON is the
    engine's (docs/journal-format.md, Notation)."""
    g = ag.Graph()
    g.record(OWNER, "data.exported", "acme/web", **details)
    (ev,) = g.audit
    assert jv.event_hash(json.loads(ev.to_json()), ev.prev_hash) == ev.hash


# --- tamper detection --------------------------------------------------------------------

FIELDS = {
    "seq": lambda v: v + 1,
    "at": lambda v: v.replace("2024", "2023"),
    "actor": lambda v: "mallory@example.com",
    "action": lambda v: "grant.removed" if v != "grant.removed" else "grant.added",
    "target": lambda v: v + "x",
    "details": lambda v: {**v, "role": "admin"},
}
EXPORT_FIELDS = {
    **FIELDS,
    "prev_hash": lambda v: "0" * 64,
    "hash": lambda v: "f" * 64,
}


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_changing_any_field_of_any_event_is_caught(tmp_path: Path, field: str) -> None:
    path = tmp_path / "j"
    populate(ag.Graph.open(path, durability="os"), 2)
    original = lines(path)
    for i in range(1, len(original)):
        for j in range(len(record(original[i])["batch"])):
            b = record(original[i])
            b["batch"][j][field] = FIELDS[field](b["batch"][j][field])
            # Both a naive edit (checksum now wrong) and one with the checksum fixed up.
            naive = original[i].replace(b'"seq":', b'"seq": ', 1) if field == "seq" else None
            for edited in filter(None, [with_crc(b), naive]):
                path.write_bytes(b"".join([*original[:i], edited, *original[i + 1 :]]))
                before = path.read_bytes()
                with pytest.raises(ag.JournalError) as info:
                    ag.Graph.open(path)
                assert info.value.line == i + 1, (field, i, str(info.value))
                assert path.read_bytes() == before, "a damaged journal is left untouched"
                with pytest.raises(jv.Invalid) as bad:
                    jv.verify_journal(path)
                assert bad.value.line == i + 1
    # The same edits in an exported file: verify() names the seq.
    path.write_bytes(b"".join(original))
    g = ag.Graph.open(path)
    export = tmp_path / "audit.jsonl"
    g.audit.to_jsonl(export)
    *exported, trailer = export.read_text().splitlines()
    for name in (field, "prev_hash", "hash") if field == "seq" else (field,):
        for i in range(len(exported)):
            ev = json.loads(exported[i])
            ev[name] = EXPORT_FIELDS[name](ev[name])
            edited = [*exported[:i], json.dumps(ev), *exported[i + 1 :], trailer]
            export.write_text("\n".join(edited) + "\n")
            with pytest.raises(ag.AuditIntegrityError) as err:
                ag.AuditLog.load(export).verify()
            assert err.value.seq in (i + 1, i + 2), (name, i, str(err.value))
            with pytest.raises(jv.Invalid):
                jv.verify_export(export)


def test_a_batch_hash_a_seed_or_a_salt_edited_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "j"
    populate(ag.Graph.open(path, durability="os"), 1)
    original = lines(path)
    b = record(original[2])
    ev = b["batch"][0]
    unseeded = {k: v for k, v in ev.items() if k != "seed"}
    edits = {
        "hash": {**b, "hash": "f" * 64},
        "seed": {**b, "batch": [{**ev, "seed": "0" * 32}]},
        "seed not hex": {**b, "batch": [{**ev, "seed": "z" * 32}]},
        "salt beside the seed": {**b, "batch": [{**ev, "salts": {"/actor": "0" * 32}}]},
        "seed dropped": {**b, "batch": [unseeded]},
        "salt": {**b, "batch": [{**unseeded, "salts": {"/actor": "0" * 32}}]},
        "unknown field": {**b, "note": "x"},
        "empty batch": {"batch": [], "hash": b["hash"]},
    }
    for name, edited in edits.items():
        path.write_bytes(b"".join([*original[:2], with_crc(edited), *original[3:]]))
        with pytest.raises(ag.JournalError) as info:
            ag.Graph.open(path)
        assert info.value.line == 3, name
        with pytest.raises(jv.Invalid):
            jv.verify_journal(path)


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
    header = record(original[0])
    cases["another graph_id in the header"] = [
        with_crc({**header, "graph_id": record(foreign[0])["graph_id"]}),
        *original[1:],
    ]
    for name, content in cases.items():
        path.write_bytes(b"".join(content))
        with pytest.raises(ag.JournalError) as info:
            ag.Graph.open(path)
        assert info.value.line in (1, 2, 5, 6, 7), (name, str(info.value))
        assert path.read_bytes() == b"".join(content)
        with pytest.raises(jv.Invalid):
            jv.verify_journal(path)


def make_admin(seq: int, ev: dict[str, Any]) -> None:
    """The forger's edit: u0's viewer grant becomes admin."""
    if ev["action"] == "grant.added" and ev["details"].get("user") == "u0@example.com":
        ev["details"]["role"] = "admin"


def test_a_rewritten_chain_is_caught_only_with_the_key(tmp_path: Path) -> None:
    plain, signed, tofu = tmp_path / "plain", tmp_path / "signed", tmp_path / "tofu"
    populate(ag.Graph.open(plain, durability="os"), 3)
    populate(ag.Graph.open(signed, durability="os", hmac_key=KEY), 3)
    populate(ag.Graph.open(tofu, durability="os"), 3)
    ag.Graph.open(tofu, hmac_key=KEY)  # trusted on first use, from here on
    edited = next(i for i, raw in enumerate(lines(plain)) if b'"grant.added"' in raw) + 1
    for path in (plain, signed, tofu):
        path.write_bytes(b"".join(rechain(lines(path), make_admin)))
    # A consistent rewrite fools the chain alone…
    g = ag.Graph.open(plain)
    g.audit.verify()
    assert g.check("u0@example.com", "project:manage_members", "acme/web")
    jv.verify_journal(plain)
    # …not the batches' MACs (the rewritten batch carries the old one)…
    before = signed.read_bytes()
    with pytest.raises(ag.JournalError, match="MAC") as info:
        ag.Graph.open(signed, hmac_key=KEY)
    assert info.value.line == edited
    assert signed.read_bytes() == before
    with pytest.raises(jv.Invalid, match="MAC") as bad:
        jv.verify_journal(signed, KEY)
    assert bad.value.line == edited
    # …nor, for batches written before the key was first used, the checkpoint's hash.
    with pytest.raises(ag.JournalError, match="rewritten"):
        ag.Graph.open(tofu, hmac_key=KEY)
    with pytest.raises(jv.Invalid, match="rewritten"):
        jv.verify_journal(tofu, KEY)
    with pytest.raises(ag.JournalError, match="key"):
        ag.Graph.open(signed, hmac_key=b"another key")


def test_a_clean_cut_at_a_batch_boundary_is_caught_with_the_key(tmp_path: Path) -> None:
    plain, signed = tmp_path / "plain", tmp_path / "signed"
    populate(ag.Graph.open(plain, durability="os"), 3)
    populate(ag.Graph.open(signed, durability="os", hmac_key=KEY), 3)
    for path in (plain, signed):
        path.write_bytes(b"".join(lines(path)[:-2]))
    assert ag.Graph.open(plain).revision == events_in(plain)
    before = signed.read_bytes()
    with pytest.raises(ag.JournalError, match="cut off") as info:
        ag.Graph.open(signed, hmac_key=KEY)
    assert info.value.line == len(lines(signed)) + 1
    assert signed.read_bytes() == before
    with pytest.raises(jv.Invalid, match="cut off"):
        jv.verify_journal(signed, KEY)
    # Without its checkpoint the journal is trusted as found (trust on first use, as
    # docs/journal-format.md says), and signed from here on.
    (tmp_path / "signed.checkpoint").unlink()
    g = ag.Graph.open(signed, hmac_key=KEY)
    assert g.revision == events_in(signed)
    assert (tmp_path / "signed.checkpoint").is_file()
    jv.verify_journal(signed, KEY)


def test_a_signed_journal_reopens_and_keeps_signing(tmp_path: Path) -> None:
    path = tmp_path / "j"
    g = ag.Graph.open(path, hmac_key=KEY)
    populate(g, 2)
    h = ag.Graph.open(path, hmac_key=KEY)
    h.grant(OWNER, "acme/web", "admin")
    assert ag.Graph.open(path, hmac_key=KEY).revision == h.revision
    assert all(record(raw).get("mac") for raw in lines(path)[1:]), "every batch signed"
    jv.verify_journal(path, KEY)


def test_cutting_anywhere_inside_the_last_two_batches_is_a_torn_tail(tmp_path: Path) -> None:
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
        assert jv.verify_journal(path).torn == cut - (start if cut < boundary else boundary)  # type: ignore[union-attr]
        with pytest.warns(ag.JournalRecoveredWarning, match="torn"):
            h = ag.Graph.open(path)
        complete = len(raw) - (2 if cut < boundary else 1)
        assert path.read_bytes() == b"".join(raw[:complete])
        assert h.revision == events_in(path), cut
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


def test_a_format_1_journal_is_refused_naming_its_format(tmp_path: Path) -> None:
    path = tmp_path / "old.journal"
    path.write_bytes(with_crc({"accessgraph_journal": 1, "graph_id": "g" * 32}))
    with pytest.raises(ag.JournalError, match="format 1") as info:
        ag.Graph.open(path)
    assert info.value.line == 1
    with pytest.raises(jv.Invalid, match="format 1"):
        jv.verify_journal(path)


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
    OWNER = "jane@example.com"
    g = ag.Graph.open(sys.argv[1])
    i = int(sys.argv[2])
    while True:
        who = f"r{i}@example.com"
        # compound: a membership and a grant per matching project, one batch
        g.onboard(who, "acme", "engineer", actor=OWNER, name=f"Round {i}", title="Engineer")
        print(g.revision, flush=True)
        g.add_member(who, "beta", actor=OWNER)
        g.grant(who, "beta/web", "member", actor=OWNER)
        print(g.revision, flush=True)
        if i % 3 == 2:
            # a rewrite of the whole journal
            g.erase_user(who, actor=OWNER, reason="gdpr")
            # One string, one write: with PYTHONUNBUFFERED set, print("E", who) writes its
            # pieces one by one, and a kill between them left a bare "E" line.
            print(f"E {who}", flush=True)
        else:
            # compound, across both orgs
            g.offboard(who, actor=OWNER, reason="left")
        print(g.revision, flush=True)
        i += 1
    """
)


@pytest.mark.timeout(3600 if LONG else 300)
def test_sigkill_at_random_moments_loses_no_acknowledged_event(tmp_path: Path) -> None:
    """A child making compound changes (onboard, offboard across two orgs) and erasures
    (whole-journal rewrites) is killed at random moments; each time the journal reopens
    with every acknowledged event, verifies (also independently), and every compound
    change is there whole or not at all. ACCESSGRAPH_LONG_FUZZ=1: 200 rounds."""
    path = tmp_path / "crash.journal"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = random.Random(7)
    rounds = 200 if LONG else 5
    # The orgs exist before the first child starts: a child killed while a loaded machine
    # still imports it would otherwise leave an empty journal (or half the orgs).
    setup = ag.Graph.open(path)
    for org in ("acme", "beta"):
        setup.add_org(org, owner=OWNER)
        setup.add_project(f"{org}/web", environment="staging")
        setup.add_project(f"{org}/prod", environment="production")
    base = acked = setup.revision
    erased: set[str] = set()
    del setup
    started = time.monotonic()
    for n in range(rounds):
        child = subprocess.Popen(
            [sys.executable, str(script), str(path), str(n * 1000)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.3, 0.9))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        for line in out.splitlines():
            if line.startswith("E "):
                erased.add(line[2:])
            elif line:
                acked = max(acked, int(line))
        g = open_quietly(path)
        assert g.revision >= acked, "an acknowledged event was lost"
        g.audit.verify()
        assert [e.seq for e in g.audit] == list(range(1, g.revision + 1))
        assert jv.verify_journal(path) is not None
        data = path.read_bytes()
        assert not [who for who in erased if who.encode() in data], "an erasure undone"
        members = {org: {m.user for m in g.members(org)} for org in ("acme", "beta")}
        offboarded = {e.details["user"] for e in g.audit.events(action="user.offboarded")}
        for who in members["acme"] - {OWNER}:
            # an onboarding is whole: both template grants came with the membership
            assert {x.target: x.role for x in g.grants(user=who)}.items() >= {
                ("acme/web", "member"),
                ("acme/prod", "viewer"),
            }, who
        assert members["beta"] - {OWNER} <= members["acme"], "added to beta after acme"
        for who in offboarded:
            # an offboarding is whole: out of both orgs, every grant gone
            assert who not in members["acme"] | members["beta"], who
            assert not g.grants(user=who), who
    elapsed = time.monotonic() - started
    assert acked > base + 2 * rounds, "the children made progress"
    print(
        f"crash loop: {rounds} rounds, {acked} events acknowledged, {len(erased)} "
        f"erasures, {elapsed:.1f} s"
    )


REWRITER = textwrap.dedent(
    """
    import os, sys
    import accessgraph as ag
    path, me, n, every, how, durability = sys.argv[1:7]
    n, every = int(n), int(every)
    key = b"k" * 32 if os.environ.get("AG_TEST_KEY") else None
    g = ag.Graph.open(path, durability=durability, hmac_key=key)
    with open(os.path.join(os.path.dirname(path), me + ".acked"), "w") as acked:
        for i in range(n):
            g.add_member(f"{me}{i}@example.com", "acme", actor="jane@example.com")
            acked.write(f"{me}{i}@example.com\\n")
            acked.flush()
            if every and i % every == every - 1:
                if how == "prune":
                    g.audit.prune(before="2100-01-01")
                else:
                    g.erase_user(f"{me}{i - 1}@example.com", actor=None, reason="test")
    """
)


@pytest.mark.parametrize(
    ("how", "durability", "keyed"),
    [("prune", "os", False), ("prune", "fsync", True), ("erase", "group", False)],
)
def test_a_rewrite_racing_appends_loses_no_acknowledged_change(
    tmp_path: Path, how: str, durability: str, keyed: bool
) -> None:
    """Attack: a web worker and a retention (or erasure) job share a journal. The job
    rewrites the file every few writes; the worker, told the file was replaced, reads it
    again and then takes its lock. An append or a second rewrite in between must not
    make it write after a stale end (a repeated seq: a journal that no longer opens) or
    into the unlinked file (an acknowledged change silently lost)."""
    path = tmp_path / "shared.journal"
    key = b"k" * 32 if keyed else None
    g = ag.Graph.open(path, hmac_key=key)
    g.add_org("acme", owner=OWNER)
    del g
    script = tmp_path / "rewriter.py"
    script.write_text(REWRITER)
    env = {**os.environ, "AG_TEST_KEY": "1" if keyed else ""}
    n = 150
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), me, str(n), str(every), how, durability],
            env=env,
        )
        for me, every in (("a", 0), ("b", 5), ("c", 0))
    ]
    for p in procs:
        p.wait(timeout=300)
    assert [p.returncode for p in procs] == [0, 0, 0]
    h = ag.Graph.open(path, hmac_key=key)
    h.audit.verify()
    members = {m.user for m in h.members("acme")}
    erased = {f"b{i - 1}@example.com" for i in range(n) if how == "erase" and i % 5 == 4}
    for me in "abc":
        acked = (tmp_path / f"{me}.acked").read_text().split()
        assert len(acked) == n
        lost = [u for u in acked if u not in members and u not in erased]
        assert not lost, f"acknowledged, then lost: {lost[:5]}"
    assert not members & erased
    assert len(members) == 1 + 3 * n - len(erased)


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
