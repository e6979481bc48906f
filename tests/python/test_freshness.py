"""Every worker sees every revocation (issue 15; docs/django.md "What a request sees").

A graph on a file journal answers each query only after reading what other processes
acknowledged: these tests revoke in one process and ask in another, with no
``refresh()``, the way a fleet of gunicorn workers would — separate interpreters, a
graph opened before ``fork()``, and a revision beacon someone deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import accessgraph as ag

REPO = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent(
    """
    import json, sys
    import accessgraph as ag
    g = ag.Graph.open(sys.argv[1])
    print(json.dumps({"ready": g.revision, "follows": g.follows_journal}), flush=True)
    for line in sys.stdin:
        user, action, target = json.loads(line)
        print(json.dumps(g.check(user, action, target)), flush=True)
    """
)


class Worker:
    """Another interpreter with the journal open, answering checks over a pipe."""

    def __init__(self, journal: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(journal)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=os.environ.copy(),
        )
        assert self.proc.stdout is not None
        hello = json.loads(self.proc.stdout.readline())
        assert hello["follows"] is True

    def check(self, user: str, action: str, target: str) -> bool:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps([user, action, target]) + "\n")
        self.proc.stdin.flush()
        answer: bool = json.loads(self.proc.stdout.readline())
        return answer

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=30)
        self.proc.stdout.close()
        assert code == 0


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "access.journal"
    g = ag.Graph.open(path)
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/production", restricted=True)
    g.add_member("charlie@example.com", "acme", actor="jane@example.com")
    g.grant("charlie@example.com", "acme/production", "viewer", actor="jane@example.com")
    return path


VIEW = ("charlie@example.com", "project:view", "acme/production")


def test_a_revocation_in_one_process_is_denied_by_the_next_check_in_another(
    journal: Path,
) -> None:
    worker = Worker(journal)
    try:
        assert worker.check(*VIEW) is True
        admin = ag.Graph.open(journal)
        admin.revoke("charlie@example.com", "acme/production", actor="jane@example.com")
        # The revoke returned (acknowledged): the worker's very next check denies.
        assert worker.check(*VIEW) is False
        admin.grant("charlie@example.com", "acme/production", "viewer", actor="jane@example.com")
        assert worker.check(*VIEW) is True
        admin.remove_member("charlie@example.com", "acme", actor="jane@example.com")
        assert worker.check(*VIEW) is False
    finally:
        worker.close()


def test_many_revocations_each_seen_at_once(journal: Path) -> None:
    worker = Worker(journal)
    admin = ag.Graph.open(journal)
    try:
        for _ in range(25):
            admin.revoke("charlie@example.com", "acme/production", actor="jane@example.com")
            assert worker.check(*VIEW) is False
            admin.grant(
                "charlie@example.com", "acme/production", "viewer", actor="jane@example.com"
            )
            assert worker.check(*VIEW) is True
    finally:
        worker.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_a_graph_opened_before_fork_follows_in_parent_and_child(journal: Path) -> None:
    """gunicorn --preload: the master opens the graph, the workers are forks of it."""
    g = ag.Graph.open(journal)
    assert g.check(*VIEW)
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    with warnings.catch_warnings():
        # Python warns about fork() in a process with threads; the child only checks.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            os.read(to_child_r, 1)  # the parent revoked
            denied = not g.check(*VIEW)
            g.grant("charlie@example.com", "acme/production", "admin", actor="jane@example.com")
            os.write(to_parent_w, b"1" if denied else b"0")
            code = 0
        finally:
            os._exit(code)
    g.revoke("charlie@example.com", "acme/production", actor="jane@example.com")
    os.write(to_child_w, b"x")
    assert os.read(to_parent_r, 1) == b"1", "the child still allowed a revoked member"
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # And the child's grant reaches the parent's next query.
    assert g.role("charlie@example.com", "acme/production") == "admin"


def test_a_deleted_beacon_is_made_again_and_followed(journal: Path) -> None:
    worker = Worker(journal)
    admin = ag.Graph.open(journal)
    try:
        assert worker.check(*VIEW) is True
        Path(f"{journal}.rev").unlink()
        # The admin's graph notices at its write: a new beacon, and the old one (which
        # the worker maps) bumped.
        admin.revoke("charlie@example.com", "acme/production", actor="jane@example.com")
        assert Path(f"{journal}.rev").exists()
        assert worker.check(*VIEW) is False
        admin.grant("charlie@example.com", "acme/production", "viewer", actor="jane@example.com")
        assert worker.check(*VIEW) is True
    finally:
        worker.close()


def test_a_broken_beacon_is_said_and_every_check_reads_the_journal(journal: Path) -> None:
    Path(f"{journal}.rev").unlink()
    Path(f"{journal}.rev").write_text("garbage")
    with pytest.warns(RuntimeWarning, match="not an accessgraph revision beacon"):
        g = ag.Graph.open(journal)
    assert g.follows_journal is True
    with pytest.warns(RuntimeWarning):
        other = ag.Graph.open(journal)
    assert g.check(*VIEW)
    other.revoke("charlie@example.com", "acme/production", actor="jane@example.com")
    assert not g.check(*VIEW)


def test_an_in_memory_or_loaded_graph_does_not_claim_to_follow(tmp_path: Path) -> None:
    assert ag.Graph().follows_journal is False
    journal = tmp_path / "j"
    g = ag.Graph.open(journal)
    assert g.follows_journal is True
    assert Path(f"{journal}.rev").stat().st_mode & 0o777 == 0o600


def test_follow_false_is_alone_until_refresh(journal: Path) -> None:
    Path(f"{journal}.rev").unlink()
    alone = ag.Graph.open(journal, follow=False)
    assert alone.follows_journal is False
    assert not Path(f"{journal}.rev").exists()  # it makes no beacon
    ag.Graph.open(journal, follow=False).revoke(
        "charlie@example.com", "acme/production", actor="jane@example.com"
    )
    assert alone.check(*VIEW)  # it said it is alone: no look at the journal
    assert alone.refresh() == 1
    assert not alone.check(*VIEW)
    with pytest.raises(ag.ValidationError, match="follow=off"):
        ag.Graph.open("postgresql://localhost/x", follow=False)
