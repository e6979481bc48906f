"""``accessgraph diff`` for pull requests: ``--fail-on widen|any``, ``--format github``,
the old side read from git (``REV:PATH``), and the example GitHub workflow."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES
from test_cli import run

from accessgraph.cli.github import MARKER

BASE = """# Acme Access Registry
## Projects
- Web
- Prod (restricted)
## Owners
- jane@example.com (CTO)
## Members
- bob@example.com (Engineer)
  - Web: member
- carol@example.com (Analyst)
  - Web: viewer
"""

# One edit of the base registry per kind of change.
EDITS = {
    "gain": (
        "- carol@example.com (Analyst)\n  - Web: viewer\n",
        "- carol@example.com (Analyst)\n  - Web: viewer\n  - Prod: viewer\n",
    ),
    "loss": ("- carol@example.com (Analyst)\n  - Web: viewer\n", "- carol@example.com (Analyst)\n"),
    "role up": ("  - Web: viewer\n", "  - Web: admin\n"),
    "role down": ("  - Web: member\n", "  - Web: viewer\n"),
}


def _files(tmp_path: Path, edit: str) -> tuple[Path, Path]:
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text(BASE)
    before, after = EDITS[edit]
    assert before in BASE
    new.write_text(BASE.replace(before, after, 1))
    return old, new


@pytest.mark.parametrize(
    ("edit", "widen_exit"),
    [("gain", 1), ("loss", 0), ("role up", 1), ("role down", 0)],
)
def test_fail_on_widen_exits_1_only_when_access_widens(
    tmp_path: Path, edit: str, widen_exit: int
) -> None:
    old, new = _files(tmp_path, edit)
    widen = run("diff", old, new, "--fail-on", "widen")
    assert widen.returncode == widen_exit, widen.stderr
    assert widen.stdout.startswith("1 change: ")  # the report is printed either way
    # --fail-on any (the default) keeps exiting 1 on every difference
    assert run("diff", old, new, "--fail-on", "any").returncode == 1
    assert run("diff", old, new).returncode == 1
    # no difference: 0 whatever --fail-on says
    for mode in ("any", "widen"):
        assert run("diff", old, old, "--fail-on", mode).returncode == 0


def test_github_format_is_a_grouped_comment_with_a_headline(tmp_path: Path) -> None:
    old = tmp_path / "old.md"
    old.write_text(BASE)
    new = tmp_path / "new.md"
    text = BASE
    for edit in ("gain", "role down"):
        before, after = EDITS[edit]
        text = text.replace(before, after, 1)
    text = text.replace("## Owners\n", "## Admins\n- dave@example.com\n## Owners\n")
    new.write_text(text)
    r = run("diff", old, new, "--format", "github", "--fail-on", "widen")
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == MARKER
    assert lines[1] == (
        "### Access review: 2 people gain access, 1 role change (0 up, 1 down) — access widens"
    )
    assert f"from `{old}` (before) to `{new}` (after): 5 changes." in lines[3]
    body = r.stdout
    gains = body.index("#### Gains (4)")
    changes = body.index("#### Role changes (1)")
    assert gains < changes and "#### Losses" not in body
    assert "| carol@example.com | acme/prod | viewer |" in body
    assert "| dave@example.com | acme | admin |" in body  # dave's org role
    assert "| dave@example.com | acme/web | admin |" in body
    assert "| bob@example.com | acme/web | member | viewer | narrower |" in body


def test_github_format_headlines_narrowing_and_no_change(tmp_path: Path) -> None:
    old, new = _files(tmp_path, "loss")
    r = run("diff", old, new, "--format", "github", "--fail-on", "widen")
    assert r.returncode == 0
    assert (
        r.stdout.splitlines()[1] == "### Access review: 1 person lose access — access only narrows"
    )
    assert "#### Losses (1)\n\n| user | project | role before |" in r.stdout
    same = run("diff", old, old, "--format", "github")
    assert same.returncode == 0
    assert (
        same.stdout == f"{MARKER}\n### Access review: no change in access from `{old}` to `{old}`\n"
    )


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=CI", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_the_old_side_is_read_from_git(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    registry = tmp_path / "access" / "registry.md"
    registry.parent.mkdir()
    registry.write_text(BASE)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "registry")
    before, after = EDITS["role up"]
    registry.write_text(BASE.replace(before, after, 1))
    r = run(
        "diff", "HEAD:access/registry.md", "access/registry.md", "--fail-on", "widen", cwd=tmp_path
    )
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines()[2].split() == [
        "carol@example.com",
        "acme/web",
        "viewer",
        "admin",
        "changed",
    ]
    # relative to the current directory with ./, as git show takes it
    sub = run("diff", "HEAD:./registry.md", "registry.md", cwd=registry.parent)
    assert sub.returncode == 1, sub.stderr
    # a file that exists is a file, even with a colon in its name
    odd = tmp_path / "a:b.md"
    odd.write_text(BASE)
    assert run("diff", "a:b.md", "access/registry.md", cwd=tmp_path).returncode == 1
    # errors name what was asked for
    missing = run("diff", "HEAD:nope.md", "access/registry.md", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith(
        "accessgraph: error: HEAD:nope.md: no such file, and git cannot read it: "
    )
    broken = BASE.replace("- jane@example.com (CTO)", "- not an email")
    registry.write_text(broken)
    _git(tmp_path, "commit", "-q", "-am", "broken")
    bad = run("diff", "HEAD:access/registry.md", "access/registry.md", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("accessgraph: error: HEAD:access/registry.md:6:")


def test_a_revision_that_looks_like_an_option_is_refused_and_git_writes_nothing(
    tmp_path: Path,
) -> None:
    # `git show --output=FILE:registry.md` would write FILE: an OLD or NEW side whose
    # revision starts with `-` is refused before git is run.
    _git(tmp_path, "init", "-q")
    (tmp_path / "registry.md").write_text(BASE)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "registry")
    written = tmp_path / "written-by-git"
    for spec in (f"--output={written}:registry.md", "-p:registry.md", "--textconv:registry.md"):
        for args in (("diff", "--", spec, "registry.md"), ("diff", "--", "registry.md", spec)):
            r = run(*args, cwd=tmp_path)
            assert r.returncode == 2, (args, r.stderr)
            assert r.stderr == (
                f"accessgraph: error: {spec}: no such file, and `{spec.partition(':')[0]}` "
                "is not a git revision (it starts with `-`)\n"
            ), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".git", "registry.md"]


def test_the_example_workflow_runs_the_diff_and_posts_the_comment() -> None:
    path = EXAMPLES / "github" / "access-review.yml"
    flow = yaml.safe_load(path.read_text())
    on = flow.get("on", flow.get(True))  # YAML 1.1 reads `on` as true
    assert on["pull_request"]["paths"] == [flow["env"]["REGISTRY"]]
    assert flow["permissions"]["pull-requests"] == "write"
    steps = flow["jobs"]["access-diff"]["steps"]
    script = "\n".join(s.get("run", "") for s in steps)
    assert '"origin/${GITHUB_BASE_REF}:${REGISTRY}" "${REGISTRY}"' in script
    assert "--format github --fail-on widen" in script
    assert MARKER in script
    assert steps[-1]["if"] == "steps.diff.outputs.status == '1'"
