"""The ``accessgraph`` command line, end to end through a subprocess: ``python -m
accessgraph`` and the installed console script; output, formats and exit codes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pty
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import EXAMPLES, POSTHOG, small_journal

import accessgraph as ag

REGISTRY = EXAMPLES / "acme_registry.md"
ACME = ("--org", "acme")  # the registry's title makes the slug `acme-corp`
AT = "2024-05-01"
ANSI = "\x1b["


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env["TERM"] = "xterm"
    env.update(extra)
    return env


def run(*args: str | Path, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m accessgraph ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "accessgraph", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(**env),
        timeout=60,
        check=False,
    )


def script() -> str:
    """The installed ``accessgraph`` console script."""
    found = shutil.which("accessgraph", path=sysconfig.get_path("scripts")) or shutil.which(
        "accessgraph"
    )
    assert found is not None, "the accessgraph console script is not installed"
    return found


def registry_graph() -> ag.Graph:
    g = ag.Graph.load(REGISTRY, org="acme")
    g.set_time(AT)
    return g


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- check -----------------------------------------------------------------------------


def test_check_allowed_exits_0_and_prints_the_explanation() -> None:
    r = run(
        "check",
        REGISTRY,
        *ACME,
        "evan@example.com",
        "insight:create",
        "acme/production",
        "--at",
        AT,
    )
    assert r.returncode == 0, r.stderr
    expected = registry_graph().explain("evan@example.com", "insight:create", "acme/production")
    assert r.stdout == f"allowed: {expected.reason}\n"
    assert r.stderr == ""


def test_check_denied_exits_1() -> None:
    r = run(
        "check",
        REGISTRY,
        *ACME,
        "charlie@example.com",
        "insight:create",
        "acme/production",
        "--at",
        AT,
    )
    assert r.returncode == 1
    assert r.stdout.startswith("denied: charlie@example.com is a viewer on acme/production")
    assert "needs project role member" in r.stdout


def test_check_honours_at() -> None:
    # charlie's Production grant expires 2024-07-01
    before = run(
        "check",
        REGISTRY,
        *ACME,
        "charlie@example.com",
        "insight:view",
        "acme/production",
        "--at",
        "2024-06-30T23:59:59Z",
    )
    after = run(
        "check",
        REGISTRY,
        *ACME,
        "charlie@example.com",
        "insight:view",
        "acme/production",
        "--at",
        "2024-07-01",
    )
    assert (before.returncode, after.returncode) == (0, 1)


def test_installed_script_runs_check() -> None:
    r = subprocess.run(
        [
            script(),
            "check",
            str(REGISTRY),
            *ACME,
            "jane@example.com",
            "billing:manage",
            "acme",
            "--at",
            AT,
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("allowed: jane@example.com is an org owner of acme")


def test_check_json_is_stable_and_complete() -> None:
    args = (
        "check",
        REGISTRY,
        *ACME,
        "charlie@example.com",
        "insight:create",
        "acme/production",
        "--at",
        AT,
        "--format",
        "json",
    )
    first, second = run(*args), run(*args)
    assert first.returncode == second.returncode == 1
    assert first.stdout == second.stdout
    body = json.loads(first.stdout)
    assert list(body) == ["at", "allowed", "user", "action", "target", "role", "source", "reason"]
    assert body == {
        "at": "2024-05-01T00:00:00Z",
        "allowed": False,
        "user": "charlie@example.com",
        "action": "insight:create",
        "target": "acme/production",
        "role": "viewer",
        "source": "explicit_member",
        "reason": registry_graph()
        .explain("charlie@example.com", "insight:create", "acme/production")
        .reason,
    }


def test_check_csv_and_markdown() -> None:
    args = ("check", REGISTRY, *ACME, "alice@example.com", "data:delete", "acme/web", "--at", AT)
    r = run(*args, "--format", "csv")
    assert r.returncode == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 1
    assert rows[0]["allowed"] == "true"
    assert (rows[0]["role"], rows[0]["source"]) == ("admin", "organization_admin")
    md = run(*args, "--format", "markdown")
    lines = md.stdout.splitlines()
    assert lines[0] == "| allowed | user | action | target | role | source | reason |"
    assert lines[1] == "|---|---|---|---|---|---|---|"
    assert lines[2].startswith("| yes | alice@example.com | data:delete | acme/web | admin |")
    assert len(lines) == 3


# --- who-can ---------------------------------------------------------------------------


def test_who_can_text_is_aligned_and_plain_when_piped() -> None:
    r = run("who-can", REGISTRY, *ACME, "project:view", "acme/production", "--at", AT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    users = registry_graph().who_can("project:view", "acme/production")
    assert lines[0] == f"{len(users)} users may project:view on acme/production"
    assert lines[1].split() == ["user", "role", "source"]
    assert [line.split()[0] for line in lines[2:]] == users
    # columns line up: "role" starts at the same offset on every line
    offset = lines[1].index("role")
    assert all(line[offset - 2 : offset] == "  " and line[offset] != " " for line in lines[2:])
    assert ANSI not in r.stdout


def test_who_can_json_matches_the_library() -> None:
    r = run(
        "who-can",
        REGISTRY,
        *ACME,
        "feature_flag:manage",
        "acme/production",
        "--at",
        AT,
        "--format",
        "json",
    )
    body = json.loads(r.stdout)
    g = registry_graph()
    assert body["action"] == "feature_flag:manage"
    assert body["target"] == "acme/production"
    assert body["at"] == "2024-05-01T00:00:00Z"
    expected = []
    for user in g.who_can("feature_flag:manage", "acme/production"):
        d = g.explain(user, "feature_flag:manage", "acme/production")
        expected.append({"user": user, "role": d.role, "source": d.source})
    assert body["users"] == expected
    assert [u["user"] for u in body["users"]] == [
        "alice@example.com",
        "jane@example.com",
        "john@example.com",
    ]


def test_who_can_csv_and_markdown() -> None:
    base = ("who-can", REGISTRY, *ACME, "project:view", "acme/web", "--at", AT)
    rows = list(csv.DictReader(io.StringIO(run(*base, "--format", "csv").stdout)))
    assert {r["user"] for r in rows} == set(registry_graph().who_can("project:view", "acme/web"))
    cmo = next(r for r in rows if r["user"] == "cmo@example.com")
    assert (cmo["role"], cmo["source"]) == ("viewer", "explicit_member")
    md = run(*base, "--format", "markdown").stdout.splitlines()
    assert md[0] == "| user | role | source |"
    assert "| cmo@example.com | viewer | explicit_member |" in md


def test_who_can_unknown_target_says_so() -> None:
    r = run("who-can", REGISTRY, *ACME, "project:view", "acme/nope", "--at", AT)
    assert r.returncode == 0
    assert "acme/nope is not a known org, project or resource" in r.stdout


# --- convert ---------------------------------------------------------------------------


def test_convert_round_trips_markdown_through_json(tmp_path: Path) -> None:
    snapshot, back = tmp_path / "acme.json", tmp_path / "back.md"
    r = run("convert", REGISTRY, snapshot, "--org", "acme")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"wrote {snapshot}: 1 org, 4 projects, 10 users\n"
    assert json.loads(snapshot.read_text())["format"] == "accessgraph"
    assert run("convert", snapshot, back).returncode == 0
    assert back.read_text() == registry_graph().to_markdown("acme")


def test_convert_to_csv_at_an_instant(tmp_path: Path) -> None:
    out = tmp_path / "matrix.csv"
    assert run("convert", REGISTRY, out, "--org", "acme", "--at", AT).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    expected = registry_graph().access_matrix("acme")
    assert [(r["user"], r["project"]) for r in rows] == [
        (r["user"], r["project"] or "") for r in expected
    ]


def test_convert_refuses_an_unknown_extension_and_a_multi_org_markdown(tmp_path: Path) -> None:
    r = run("convert", REGISTRY, *ACME, tmp_path / "out.txt")
    assert r.returncode == 2
    assert "cannot tell the format from `.txt`" in r.stderr
    g = ag.Graph()
    g.add_org("acme", owner="jane@example.com")
    g.add_org("beta", owner="bob@example.com")
    g.save(tmp_path / "two.json")
    r = run("convert", tmp_path / "two.json", tmp_path / "two.md")
    assert r.returncode == 2
    assert "holds 2 orgs" in r.stderr and "--org" in r.stderr
    r = run("convert", tmp_path / "two.json", tmp_path / "beta.md", "--org", "beta")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "beta.md").read_text() == g.to_markdown("beta")


# --- diff ------------------------------------------------------------------------------


def _changed_registry(tmp_path: Path) -> Path:
    text = REGISTRY.read_text()
    old = "  - Production: viewer (expires 2024-07-01, reason on-call rotation, Q2)\n"
    assert old in text
    new = tmp_path / "new.md"
    new.write_text(
        text.replace(old, "  - Production: member\n").replace(
            "- cmo@example.com (CMO, reason marketing dashboards)\n  - Marketing Site: viewer\n",
            "",
        )
    )
    return new


def test_diff_without_differences_exits_0(tmp_path: Path) -> None:
    snapshot = tmp_path / "same.json"
    registry_graph().save(snapshot)
    r = run("diff", REGISTRY, snapshot, "--org", "acme", "--at", AT)
    assert (r.returncode, r.stdout) == (0, "no differences\n")
    body = json.loads(run("diff", REGISTRY, snapshot, "--org", "acme", "--format", "json").stdout)
    assert body["changes"] == []
    assert body["summary"] == {"gained": 0, "lost": 0, "changed": 0}


def test_diff_with_differences_exits_1_in_every_format(tmp_path: Path) -> None:
    new = _changed_registry(tmp_path)
    base = ("diff", REGISTRY, new, "--org", "acme", "--at", AT)
    text = run(*base)
    assert text.returncode == 1
    lines = text.stdout.splitlines()
    assert lines[0] == "4 changes: 3 lost, 1 changed"
    assert lines[1].split() == ["user", "project", "before", "after", "kind"]
    assert lines[2].split() == [
        "charlie@example.com",
        "acme/production",
        "viewer",
        "member",
        "changed",
    ]
    # cmo leaves the org: their org role is lost, then each project role
    assert lines[3].split() == ["cmo@example.com", "acme", "member", "-", "lost"]
    assert lines[4].split() == ["cmo@example.com", "acme/development", "viewer", "-", "lost"]

    body = json.loads(run(*base, "--format", "json").stdout)
    assert body["summary"] == {"gained": 0, "lost": 3, "changed": 1}
    assert body["changes"][0] == {
        "user": "charlie@example.com",
        "project": "acme/production",
        "before": "viewer",
        "after": "member",
        "kind": "changed",
    }
    old_g, new_g = registry_graph(), ag.Graph.load(new, org="acme")
    new_g.set_time(AT)
    assert [tuple(c.values()) for c in body["changes"]] == [tuple(c) for c in old_g.diff(new_g)]

    rows = list(csv.DictReader(io.StringIO(run(*base, "--format", "csv").stdout)))
    assert [r["kind"] for r in rows] == ["changed", "lost", "lost", "lost"]
    assert rows[1]["after"] == ""
    md = run(*base, "--format", "markdown")
    assert md.returncode == 1
    assert "| cmo@example.com | acme/web | viewer |  | lost |" in md.stdout.splitlines()


# --- audit -----------------------------------------------------------------------------


def _journal(tmp_path: Path, hmac_key: bytes | None = None) -> tuple[Path, ag.Graph]:
    path = tmp_path / "access.journal"
    return path, small_journal(path, hmac_key)


def test_audit_verify_an_intact_journal(tmp_path: Path) -> None:
    path, g = _journal(tmp_path)
    before = sha(path)
    r = run("audit", "verify", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"intact: {path}: 5 events (seq 1..5), hash chain verified\n"
    body = json.loads(run("audit", "verify", path, "--format", "json").stdout)
    assert body["ok"] is True and body["kind"] == "journal"
    assert (body["events"], body["first_seq"], body["last_seq"]) == (5, 1, 5)
    assert body["last_hash"] == g.audit.events()[-1].hash
    assert sha(path) == before
    assert not (tmp_path / "access.journal.checkpoint").exists()


def test_audit_verify_a_tampered_journal_exits_1_naming_the_line(tmp_path: Path) -> None:
    path, _ = _journal(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    assert '"role":"viewer"' in lines[4]  # the grant's batch: header, then 4 mutations
    lines[4] = lines[4].replace('"role":"viewer"', '"role":"admin"')
    path.write_text("".join(lines))
    tampered = sha(path)
    r = run("audit", "verify", path)
    assert r.returncode == 1
    assert r.stdout.startswith("damaged: ")
    assert f"journal {path}, line 5" in r.stdout
    body = json.loads(run("audit", "verify", path, "--format", "json").stdout)
    assert (body["ok"], body["line"], body["events"]) == (False, 5, None)
    assert sha(path) == tampered  # verification never repairs or rewrites


def test_audit_verify_a_torn_journal_exits_1_and_leaves_it_alone(tmp_path: Path) -> None:
    path, _ = _journal(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:-20])
    torn = sha(path)
    r = run("audit", "verify", path, "--format", "json")
    assert r.returncode == 1
    body = json.loads(r.stdout)
    assert body["line"] == 5 and "torn final record" in body["error"]
    assert sha(path) == torn
    # a reader still answers from the complete records, with a warning
    c = run("check", path, "jane@example.com", "org:view", "acme")
    assert c.returncode == 0
    assert "warning" in c.stderr and "torn final record at line 5" in c.stderr
    assert sha(path) == torn


def test_audit_verify_with_the_hmac_key(tmp_path: Path) -> None:
    key = tmp_path / "key.bin"
    key.write_bytes(b"k" * 32)
    path, _ = _journal(tmp_path, hmac_key=key.read_bytes())
    assert run("audit", "verify", path, "--hmac-key-file", key).returncode == 0
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"w" * 32)
    r = run("audit", "verify", path, "--hmac-key-file", wrong)
    assert r.returncode == 1 and "damaged" in r.stdout
    # a clean cut at a record boundary is only caught through the checkpoint
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))
    assert run("audit", "verify", path).returncode == 0
    assert run("audit", "verify", path, "--hmac-key-file", key).returncode == 1


def test_audit_export_jsonl_and_csv(tmp_path: Path) -> None:
    path, g = _journal(tmp_path)
    expected = tmp_path / "expected.jsonl"
    g.audit.to_jsonl(expected)
    r = run("audit", "export", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == expected.read_text()
    g.audit.to_csv(tmp_path / "expected.csv")
    r = run("audit", "export", path, "--format", "csv")
    assert r.stdout == (tmp_path / "expected.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["action"] for row in rows] == [
        "org.created",
        "member.added",
        "project.created",
        "member.added",
        "grant.added",
    ]
    out = tmp_path / "out.jsonl"
    assert run("audit", "export", path, "-o", out).stdout == ""
    assert out.read_text() == expected.read_text()
    # an export verifies on its own, and its damage names the event
    assert run("audit", "verify", out).returncode == 0
    out.write_text(out.read_text().replace('"role":"viewer"', '"role":"admin"'))
    body = json.loads(run("audit", "verify", out, "--format", "json").stdout)
    assert (body["ok"], body["kind"], body["seq"]) == (False, "export", 5)


def test_audit_export_of_a_damaged_journal_is_an_input_error(tmp_path: Path) -> None:
    path, _ = _journal(tmp_path)
    path.write_text(path.read_text().replace('"role":"viewer"', '"role":"admin"'))
    r = run("audit", "export", path)
    assert (r.returncode, r.stdout) == (2, "")
    assert "line 5" in r.stderr


def test_audit_on_unreadable_input_exits_2(tmp_path: Path) -> None:
    r = run("audit", "verify", tmp_path / "missing.journal")
    assert r.returncode == 2
    assert r.stderr == f"accessgraph: error: {tmp_path / 'missing.journal'}: no such file\n"
    r = run("audit", "verify", REGISTRY)
    assert r.returncode == 2
    assert "neither a journal nor a JSON Lines audit export" in r.stderr
    r = run("audit", "verify", tmp_path)
    assert r.returncode == 2 and "is a directory" in r.stderr


def _run_in_2_gb(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``run`` with 2 GB of address space, so reading an endless input fails fast (the
    limit set by the child itself: no preexec_fn, which forks a threaded process)."""
    code = (
        "import resource, runpy, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "sys.argv[0] = 'accessgraph'\n"
        "runpy.run_module('accessgraph', run_name='__main__')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_input_is_exit_2_not_damaged(tmp_path: Path) -> None:
    # A device never ends: reading it whole was a MemoryError traceback and exit 1, which
    # says "damaged". It is not a regular file: unreadable, exit 2, one line.
    journal, _ = _journal(tmp_path)
    for args in (
        ("audit", "verify", "/dev/zero"),
        ("audit", "export", "/dev/zero"),
        ("audit", "upgrade", "/dev/zero", tmp_path / "new.journal"),
        ("who-can", "--posthog", "--org", "acme", "/dev/zero", "org:view", "acme"),
        ("audit", "verify", journal, "--hmac-key-file", "/dev/zero"),
    ):
        r = _run_in_2_gb(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, (args, r.stderr)
        assert "/dev/zero: " in r.stderr, (args, r.stderr)
    # A key may still come through a pipe (kept off the disk).
    verify = (sys.executable, "-m", "accessgraph", "audit", "verify")
    (tmp_path / "signed").mkdir()
    signed, _ = _journal(tmp_path / "signed", hmac_key=b"k" * 32)
    piped = subprocess.run(
        [*verify, str(signed), "--hmac-key-file", "/dev/stdin"],
        input=b"k" * 32,
        capture_output=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr


def test_an_export_whose_first_line_never_ends_is_read_in_bounded_memory(
    tmp_path: Path,
) -> None:
    # Telling a JSON Lines export from other text reads up to its first non-blank
    # character, not its whole first line.
    blank = tmp_path / "blank.jsonl"
    with blank.open("wb") as f:
        f.truncate(3 << 30)  # 3 GB of NUL bytes, sparse
    r = _run_in_2_gb("audit", "verify", blank)
    assert r.returncode == 2, r.stderr
    assert "neither a journal nor a JSON Lines audit export" in r.stderr


# --- registries: PostHog, journals, errors ---------------------------------------------


def test_posthog_export_is_detected_and_needs_org() -> None:
    members = POSTHOG / "org_members.json"
    prod = POSTHOG / "production_explicit_members.json"
    r = run(
        "who-can",
        members,
        "feature_flag:manage",
        "acme/production",
        "--org",
        "acme",
        "--posthog-project",
        f"Production={prod}",
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    expected = ag.Graph.from_posthog(
        members.read_text(), org="acme", projects={"Production": prod.read_text()}
    ).who_can("feature_flag:manage", "acme/production")
    assert [u["user"] for u in json.loads(r.stdout)["users"]] == expected
    assert "charlie@example.com" in expected
    r = run("check", members, "jane@example.com", "org:view", "acme")
    assert r.returncode == 2
    assert "PostHog members export" in r.stderr and "--org" in r.stderr


def test_a_bad_posthog_project_page_names_its_file(tmp_path: Path) -> None:
    page = tmp_path / "prod.json"
    page.write_text('[{"user": {"email": "x@example.com"}, "level": 99}]')
    r = run(
        "who-can",
        POSTHOG / "org_members.json",
        "org:view",
        "acme",
        "--org",
        "acme",
        "--posthog-project",
        f"Production={page}",
    )
    assert r.returncode == 2
    assert r.stderr.startswith(f'accessgraph: error: {page}: $["Production"][0].level: ')
    assert "Traceback" not in r.stderr


def test_posthog_flag_forces_the_format(tmp_path: Path) -> None:
    export = tmp_path / "members.txt"
    shutil.copyfile(POSTHOG / "org_members.json", export)
    r = run(
        "check",
        export,
        "alice@example.com",
        "org:manage_roles",
        "acme",
        "--posthog",
        "--org",
        "acme",
    )
    assert r.returncode == 0, r.stderr


def test_a_journal_is_a_registry_too(tmp_path: Path) -> None:
    path, _ = _journal(tmp_path)
    before = sha(path)
    r = run("who-can", path, "project:view", "acme/prod", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert [row["user"] for row in csv.DictReader(io.StringIO(r.stdout))] == [
        "bob@example.com",
        "jane@example.com",
    ]
    assert sha(path) == before


def test_bad_markdown_registry_names_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(
        "# Acme Access Registry\n## Owners\n- jane@example.com (CTO)\n## Members\n- not-an-email\n"
    )
    r = run("check", bad, "jane@example.com", "org:view", "acme")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith(f"accessgraph: error: {bad}:5:3: ")
    assert "not-an-email" in r.stderr
    assert "Traceback" not in r.stderr
    with pytest.raises(ag.RegistryFormatError) as info:
        ag.Graph.load(bad)
    assert (info.value.line, info.value.column) == (5, 3)


def test_bad_json_and_csv_registries_name_the_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "accessgraph", "version": 1, "orgs": [{"slug": 5}]}')
    r = run("who-can", bad, "org:view", "acme")
    assert r.returncode == 2
    assert r.stderr.startswith(f"accessgraph: error: {bad}: $.orgs[0].slug: ")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("user,org\nx@example.com,acme\n")
    r = run("who-can", bad_csv, "org:view", "acme")
    assert r.returncode == 2
    assert f"{bad_csv}:1:1: missing column `org_role`" in r.stderr
    binary = tmp_path / "binary.md"
    binary.write_bytes(b"# \xff\xfe Access Registry\n")
    r = run("who-can", binary, "org:view", "acme")
    assert r.returncode == 2 and "not UTF-8" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"accessgraph: error: {binary}:1:3: ") and "at byte 2" in r.stderr


def test_json_nested_3000_deep_is_exit_2_naming_the_file(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "accessgraph", "version": 1, "x": ' + "[" * 3000 + "]" * 3000 + "}")
    for args in (
        ("check", deep, "u@example.com", "org:view", "acme"),
        ("diff", deep, REGISTRY, *ACME),
        ("diff", REGISTRY, deep, *ACME),
    ):
        r = run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith(f"accessgraph: error: {deep}: $.x: "), r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    # Named once, as it was given (`Graph.load`'s own message names the file too).
    r = run("check", "./deep.json", "u@example.com", "org:view", "acme", cwd=tmp_path)
    assert r.stderr.startswith("accessgraph: error: ./deep.json: $.x: unknown field"), r.stderr


def test_missing_file_is_exit_2_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.md"
    for args in (
        ("check", missing, "a@example.com", "org:view", "acme"),
        ("who-can", missing, "org:view", "acme"),
        ("convert", missing, tmp_path / "out.json"),
        ("diff", REGISTRY, missing),
        ("audit", "export", missing),
    ):
        r = run(*args)
        assert r.returncode == 2, args
        assert r.stderr == f"accessgraph: error: {missing}: no such file\n", args
        assert r.stdout == ""


def test_a_postgresql_url_argument_is_named_without_its_password(tmp_path: Path) -> None:
    # The command line reads files; a URL given instead is "no such file", shown through
    # accessgraph.postgres.redact like every URL (docs/postgres.md).
    for url in (
        "postgresql://app:s3cret@db.internal/x",
        "POSTGRES://app:pa/s3cret@db.internal/x",
        "postgresql://db.internal/x?pass%77ord=s3cret",
    ):
        for args in (
            ("check", url, "a@example.com", "org:view", "acme"),
            ("who-can", url, "org:view", "acme"),
            ("diff", url, REGISTRY),
            ("audit", "verify", url),
        ):
            r = run(*args, cwd=tmp_path)
            assert r.returncode == 2, (args, r.stderr)
            assert "no such file" in r.stderr and "***" in r.stderr, (args, r.stderr)
            assert "s3cret" not in r.stderr + r.stdout, (args, r.stderr)


def test_usage_errors_exit_2() -> None:
    assert run().returncode == 2
    assert run("frobnicate").returncode == 2
    r = run("check", REGISTRY, *ACME, "a@example.com", "org:view")
    assert r.returncode == 2 and "usage:" in r.stderr
    r = run("check", REGISTRY, *ACME, "a@example.com", "org:view", "acme", "--at", "soon")
    assert r.returncode == 2 and "invalid when `soon`" in r.stderr
    r = run("check", REGISTRY, *ACME, "a@example.com", "org:vew", "acme")
    assert r.returncode == 2
    assert r.stderr == "accessgraph: error: unknown action `org:vew`\n"
    r = run("who-can", REGISTRY, *ACME, "org:view", "acme", "--format", "yaml")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_version_and_help() -> None:
    r = run("--version")
    assert (r.returncode, r.stdout) == (0, f"accessgraph {ag.__version__}\n")
    r = run("--help")
    assert r.returncode == 0
    for command in ("check", "who-can", "convert", "diff", "audit"):
        assert command in r.stdout


# --- colour ----------------------------------------------------------------------------


def _on_a_terminal(*args: str | Path, **env: str) -> str:
    """Run with stdout on a pseudo-terminal; what it printed."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "accessgraph", *map(str, args)],
            stdout=follower,
            stderr=subprocess.PIPE,
            env=_env(**env),
            timeout=60,
            check=False,
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.returncode in (0, 1), proc.stderr
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)


def test_colour_on_a_terminal_unless_no_color() -> None:
    args = ("diff", REGISTRY, EXAMPLES / "seed_registry.md", "--org", "acme", "--at", AT)
    coloured = _on_a_terminal(*args)
    assert f"{ANSI}31mlost{ANSI}0m" in coloured
    assert f"{ANSI}1m" in coloured  # bold header
    assert ANSI not in _on_a_terminal(*args, NO_COLOR="1")
    assert ANSI not in run(*args).stdout
    forced = run(*args, "--color", "always")
    assert f"{ANSI}31mlost{ANSI}0m" in forced.stdout
    assert ANSI not in _on_a_terminal(*args, "--color", "never")


def test_check_colours_the_verdict_on_a_terminal() -> None:
    out = _on_a_terminal("check", REGISTRY, *ACME, "jane@example.com", "org:view", "acme")
    assert out.startswith(f"{ANSI}32mallowed{ANSI}0m: ")


# --- extras stay optional --------------------------------------------------------------


def test_importing_accessgraph_pulls_in_no_extra() -> None:
    code = (
        "import sys, accessgraph, accessgraph.cli, accessgraph.testing\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pandas', 'matplotlib', 'django', 'rest_framework', 'numpy', 'IPython'))\n"
        "print(heavy)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert r.stdout == "[]\n"


# -- CSV that a spreadsheet opens safely -------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EVIL = "=cmd|'/ccalc'!a0@example.com"


def test_csv_outputs_start_no_spreadsheet_formula(tmp_path: Path) -> None:
    # docs/registry.md: no CSV cell starts a formula (CWE-1236); the command line's CSV is
    # escaped as the access matrix's is, with a leading `'`.
    old = tmp_path / "old.md"
    old.write_text("# Evil Access Registry\n## Owners\n- o@example.com\n")
    new = tmp_path / "new.md"
    new.write_text(
        "# Evil Access Registry\n## Projects\n- Web\n## Owners\n- o@example.com\n"
        "## Members\n- =cmd|'/Ccalc'!A0@example.com (=Title, reason =1+1)\n"
        "  - Web: member (reason -2+3)\n"
    )
    org = ("--org", "evil", "--format", "csv")
    outputs = {
        "who-can": run("who-can", new, "insight:view", "evil/web", *org),
        "check": run("check", new, EVIL, "insight:view", "evil/web", *org),
        "review": run("review", new, *org),
        "diff": run("diff", old, new, *org),
    }
    for command, r in outputs.items():
        assert r.returncode in (0, 1), (command, r.stderr)
        cells = [cell for row in csv.reader(io.StringIO(r.stdout, newline="")) for cell in row]
        assert [c for c in cells if c.startswith(FORMULA_START)] == [], (command, r.stdout)
        assert f"'{EVIL}" in cells, (command, r.stdout)
    # the same escaping as the access matrix's
    matrix = tmp_path / "m.csv"
    assert run("convert", new, matrix, "--org", "evil").returncode == 0
    assert f"'{EVIL}," in matrix.read_text()


# -- review ---------------------------------------------------------------------------


def test_review_lists_the_findings_and_fail_on_sets_the_exit_code() -> None:
    g = registry_graph()
    g.set_time(AT)
    expected = g.review()
    out = run("review", REGISTRY, *ACME, "--at", AT, "--format", "json")
    assert out.returncode == 0, out.stderr  # no --fail-on: a report, not a gate
    doc = json.loads(out.stdout)
    assert [(f["rule"], f["user"], f["target"]) for f in doc["findings"]] == [
        (f.rule, f.user, f.target) for f in expected
    ]
    assert doc["summary"] == {
        s: sum(1 for f in expected if f.severity == s) for s in ("high", "medium", "low", "info")
    }
    worst = expected[0].severity
    assert run("review", REGISTRY, *ACME, "--at", AT, "--fail-on", worst).returncode == 1
    # A threshold that silences every finding of a rule moves the outcome.
    text = run("review", REGISTRY, *ACME, "--at", AT, "--threshold", "review_days=100000").stdout
    assert "review-overdue" not in text
    assert "review-overdue" in run("review", REGISTRY, *ACME, "--at", AT).stdout


def test_review_of_a_clean_org_passes_the_gate(tmp_path: Path) -> None:
    g = ag.Graph()
    g.set_time(AT)
    g.add_org("tiny", owner="jane@example.com")
    g.update_member("jane@example.com", "tiny", reviewed=AT, reason="founder", actor=None)
    path = tmp_path / "tiny.json"
    g.save(path)
    out = run("review", path, "--at", AT, "--fail-on", "info")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no findings" in out.stdout


def test_review_min_severity_and_csv_and_bad_threshold() -> None:
    out = run("review", REGISTRY, *ACME, "--at", AT, "--min-severity", "high", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and {r["severity"] for r in rows} == {"high"}
    bad = run("review", REGISTRY, *ACME, "--threshold", "max_owners")
    assert bad.returncode == 2 and "NAME=NUMBER" in bad.stderr
    unknown = run("review", REGISTRY, *ACME, "--threshold", "max_ownerz=2")
    assert unknown.returncode == 2 and "max_ownerz" in unknown.stderr
