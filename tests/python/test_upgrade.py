"""``accessgraph.upgrade_journal`` and ``accessgraph audit upgrade``: format-1 journals
(tests/fixtures/journal-v1, written by accessgraph at commit 47362a2) written again as
format 2; the state they open to, the independent verifier, and each refusal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import journal_verifier as jv
import pytest

import accessgraph as ag

V1 = Path(__file__).parents[1] / "fixtures" / "journal-v1"
KEY = (V1 / "keyed.key").read_bytes()


def copy(name: str, where: Path) -> Path:
    """A copy of the fixture ``name`` (and its checkpoint) in ``where``."""
    old = where / name
    shutil.copyfile(V1 / name, old)
    if (V1 / f"{name}.checkpoint").exists():
        shutil.copyfile(V1 / f"{name}.checkpoint", where / f"{name}.checkpoint")
    return old


def expected(name: str) -> dict[str, object]:
    """The state the fixture held, as this version writes it: access review campaigns came
    after 47362a2, and a snapshot now always lists them (none, here)."""
    state: dict[str, object] = json.loads((V1 / f"{name}.state.json").read_text())
    assert "campaigns" not in state
    state["campaigns"] = []
    return state


def state(path: Path, key: bytes | None = None) -> dict[str, object]:
    g = ag.Graph.open(path, hmac_key=key, follow=False)
    g.audit.verify()
    got: dict[str, object] = json.loads(g.to_json())
    return got


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accessgraph", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.mark.parametrize(("name", "key"), [("plain", None), ("keyed", KEY), ("erased", None)])
def test_an_upgraded_journal_opens_to_the_state_the_old_one_held(
    tmp_path: Path, name: str, key: bytes | None
) -> None:
    old = copy(f"{name}.journal", tmp_path)
    before = old.read_bytes()
    new = tmp_path / "new.journal"
    done = ag.upgrade_journal(old, new, hmac_key=key)
    assert old.read_bytes() == before
    assert state(new, key) == expected(name)
    # Orgs, members and grants spelled out, beside the whole snapshot.
    g = ag.Graph.open(new, hmac_key=key, follow=False)
    assert [o.slug for o in g.orgs()] == ["acme", "globex"]
    assert {(m.user, m.role) for m in g.members("acme")} >= {("olivia@acme.test", "owner")}
    assert done["events"] == len(g.audit) == g.audit.events()[-1].seq
    last_old = json.loads(before.decode().rstrip("\n").rsplit("\n", 1)[1])
    assert done["upgraded_from"] == last_old["hash"]
    assert done["last_hash"] == g.audit.events()[-1].hash
    header = json.loads(new.read_text().split("\n", 1)[0])
    assert header["accessgraph_journal"] == 2
    assert header["upgraded_from"] == last_old["hash"]
    # The independent verifier, written from docs/journal-format.md alone, agrees.
    j = jv.verify_journal(new, key)
    assert j is not None
    assert j.last == (done["last_seq"], done["last_hash"])
    # Each event kept its seq, time, actor, action and target.
    old_events = [json.loads(line) for line in before.decode().splitlines()[1:]]
    new_events = g.audit.events()
    assert [(e["seq"], e["action"]) for e in old_events] == [(e.seq, e.action) for e in new_events]
    assert [e["actor"] for e in old_events] == [e.actor for e in new_events]
    assert [e["target"] for e in old_events] == [e.target for e in new_events]


def test_the_erased_journal_stays_erased_and_later_rewrites_keep_upgraded_from(
    tmp_path: Path,
) -> None:
    old = copy("erased.journal", tmp_path)
    new = tmp_path / "new.journal"
    done = ag.upgrade_journal(old, new)
    assert b"dev@acme.test" not in new.read_bytes()
    assert b"Dana Dev" not in new.read_bytes()
    g = ag.Graph.open(new, follow=False)
    erased = [e for e in g.audit.events() if e.action == "user.erased"]
    assert len(erased) == 1
    assert erased[0].details["sealed"]
    # An erasure after the upgrade rewrites the journal: the record of the upgrade stays.
    g.erase_user("ops@acme.test", actor="olivia@acme.test", reason="leaver")
    header = json.loads(new.read_text().split("\n", 1)[0])
    assert header["upgraded_from"] == done["upgraded_from"]
    assert header["erasures"] == 2
    assert jv.verify_journal(new) is not None


def test_a_torn_tail_is_left_out_with_a_warning(tmp_path: Path) -> None:
    old = copy("torn.journal", tmp_path)
    before = old.read_bytes()
    new = tmp_path / "new.journal"
    with pytest.warns(ag.JournalRecoveredWarning, match="torn record of 40 bytes") as w:
        ag.upgrade_journal(old, new)
    assert w[0].message.line == before.count(b"\n") + 1  # type: ignore[union-attr]
    assert old.read_bytes() == before
    assert state(new) == expected("plain")


def test_a_tampered_line_is_refused_naming_it(tmp_path: Path) -> None:
    old = copy("plain.journal", tmp_path)
    lines = old.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if '"reason":"on-call"' in line)
    lines[n] = lines[n].replace('"role":"member"', '"role":"admin"')
    old.write_text("\n".join(lines) + "\n")
    new = tmp_path / "new.journal"
    with pytest.raises(ag.JournalError, match="checksum") as e:
        ag.upgrade_journal(old, new)
    assert e.value.line == n + 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.journal"]


def test_a_wrong_key_is_refused(tmp_path: Path) -> None:
    old = copy("keyed.journal", tmp_path)
    new = tmp_path / "new.journal"
    with pytest.raises(ag.JournalError, match="does not verify with this key") as e:
        ag.upgrade_journal(old, new, hmac_key=b"another key")
    assert e.value.line == 1
    assert not new.exists()
    assert not Path(f"{new}.checkpoint").exists()
    with pytest.raises(ag.ValidationError, match="hmac_key"):
        ag.upgrade_journal(old, new, hmac_key=b"")


def test_new_existing_is_refused_and_left_alone(tmp_path: Path) -> None:
    old = copy("plain.journal", tmp_path)
    new = tmp_path / "new.journal"
    new.write_text("mine")
    with pytest.raises(ag.JournalError, match="already exists"):
        ag.upgrade_journal(old, new)
    assert new.read_text() == "mine"
    # A dangling symbolic link at NEW counts as existing too: nothing is written through it.
    new.unlink()
    new.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ag.JournalError, match="already exists"):
        ag.upgrade_journal(old, new)
    assert not (tmp_path / "elsewhere").exists()


def test_a_format_2_journal_or_an_unreadable_path_is_refused(tmp_path: Path) -> None:
    two = tmp_path / "two.journal"
    ag.Graph.open(two, follow=False).add_org("acme", owner="o@acme.test")
    with pytest.raises(ag.JournalError, match="already format 2") as e:
        ag.upgrade_journal(two, tmp_path / "new.journal")
    assert e.value.line == 1
    with pytest.raises(ag.JournalError, match=r"absent\.journal"):
        ag.upgrade_journal(tmp_path / "absent.journal", tmp_path / "new.journal")
    not_a_journal = tmp_path / "notes.txt"
    not_a_journal.write_text("hello\n")
    with pytest.raises(ag.JournalError, match="not an accessgraph journal header"):
        ag.upgrade_journal(not_a_journal, tmp_path / "new.journal")
    assert not (tmp_path / "new.journal").exists()


def test_the_cli_upgrades_and_refuses(tmp_path: Path) -> None:
    old = copy("keyed.journal", tmp_path)
    key = tmp_path / "key"
    key.write_bytes(KEY)
    new = tmp_path / "new.journal"
    r = run("audit", "upgrade", old, new, "--hmac-key-file", key, "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["events"] > 10
    assert out["new"] == str(new)
    r = run("audit", "verify", new, "--hmac-key-file", key)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "intact" in r.stdout
    # NEW exists now: refused, exit 2, nothing changed.
    before = new.read_bytes()
    r = run("audit", "upgrade", old, new, "--hmac-key-file", key)
    assert r.returncode == 2
    assert "already exists" in r.stderr
    assert new.read_bytes() == before
    # A wrong key.
    key.write_bytes(b"wrong")
    r = run("audit", "upgrade", old, tmp_path / "other.journal", "--hmac-key-file", key)
    assert r.returncode == 2
    assert "line 1" in r.stderr and "key" in r.stderr
    # Text output, with the torn tail's warning.
    torn = copy("torn.journal", tmp_path)
    r = run("audit", "upgrade", torn, tmp_path / "from-torn.journal")
    assert r.returncode == 0, r.stderr
    assert "upgraded" in r.stdout and "torn record of 40 bytes" in r.stdout
