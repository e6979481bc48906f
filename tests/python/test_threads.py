"""A graph shared by threads: 4 checkers and 1 writer, invariants checked throughout."""

from __future__ import annotations

import json
import random
import threading
import time

import accessgraph as ag

USERS = [f"user{i}@example.com" for i in range(40)]
PROJECTS = ["acme/p0", "acme/p1", "acme/p2", "acme/secret"]
ACTIONS = ["project:view", "insight:create", "feature_flag:manage", "org:view"]


def build() -> ag.Graph:
    g = ag.Graph()
    g.add_org("acme", owner="owner@example.com")
    for p in PROJECTS:
        g.add_project(p, restricted=p.endswith("secret"))
    return g


def invariants(g: ag.Graph) -> None:
    # One read of the whole state (to_json holds the read lock once): members() and
    # grants() called one after the other may see a writer's change in between.
    state = json.loads(g.to_json())
    members = {m["user"]: m for m in state["memberships"] if m["org"] == "acme"}
    assert any(m["role"] == "owner" for m in members.values()), "org lost its last owner"
    for grant in state["grants"]:
        assert grant["user"] in members, f"grant without membership: {grant}"


def test_checkers_and_a_writer_share_one_graph() -> None:
    g = build()
    stop = threading.Event()
    errors: list[BaseException] = []
    counts = [0] * 4

    def checker(n: int) -> None:
        rng = random.Random(n)
        try:
            while not stop.is_set():
                queries = [
                    (rng.choice(USERS), rng.choice(ACTIONS), rng.choice(PROJECTS))
                    for _ in range(50)
                ]
                for q in queries:
                    g.check(*q)
                g.check_many(queries)
                g.who_can("project:view", rng.choice(PROJECTS))
                invariants(g)
                counts[n] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def writer() -> None:
        rng = random.Random(99)
        try:
            while not stop.is_set():
                u = rng.choice(USERS)
                op = rng.randrange(5)
                try:
                    if op == 0:
                        g.add_member(u, "acme", role=rng.choice(["member", "admin", "owner"]))
                    elif op == 1:
                        g.remove_member(u, "acme", actor=None)
                    elif op == 2:
                        g.grant(u, rng.choice([*PROJECTS, "acme/*"]), "member")
                    elif op == 3:
                        g.revoke(u, rng.choice(PROJECTS), actor=None)
                    else:
                        g.set_org_role(u, "acme", rng.choice(["member", "admin"]), actor=None)
                except (ag.ConflictError, ag.NotFoundError):
                    pass  # structural refusals are expected in a random walk
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=checker, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert all(c > 0 for c in counts), counts
    invariants(g)
    # the owner can never be removed: they were never given up
    assert g.role("owner@example.com", "acme") == "owner"
