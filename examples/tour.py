"""A tour of accessgraph on an example org: checks, explanations and who can do what.

Run it with ``python examples/tour.py``.
"""

from __future__ import annotations

import accessgraph as ag


def build() -> ag.Graph:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme Corp", owner="jane@example.com")
    g.add_project(
        "acme/production",
        name="Production",
        environment="production",
        restricted=True,
        pii=True,
    )
    g.add_project("acme/staging", name="Staging", environment="staging")
    g.add_project("acme/development", name="Development", environment="development")
    g.add_member(
        "alice@example.com",
        "acme",
        role="admin",
        actor="jane@example.com",
        title="Engineering Manager",
        reason="eng lead",
    )
    g.add_member("charlie@example.com", "acme", actor="alice@example.com", title="Engineer")
    g.grant("charlie@example.com", "acme/development", "member", actor="alice@example.com")
    g.grant(
        "charlie@example.com",
        "acme/production",
        "viewer",
        actor="alice@example.com",
        expires="2025-01-01",
        reason="on-call",
    )
    g.add_member("ceo@example.com", "acme", actor="alice@example.com", title="CEO")
    g.grant("ceo@example.com", "acme/*", "viewer", actor="alice@example.com")
    g.add_member(
        "consultant@agency.com",
        "acme",
        actor="alice@example.com",
        external=True,
        expires="2024-06-01",
        title="Marketing Consultant",
    )
    g.grant("consultant@agency.com", "acme/staging", "member", actor="alice@example.com")
    return g


def main() -> None:
    g = build()
    print(f"{g!r}\n")
    questions = [
        ("alice@example.com", "feature_flag:manage", "acme/production", None),
        ("charlie@example.com", "insight:view", "acme/production", None),
        ("charlie@example.com", "insight:create", "acme/production", None),
        ("ceo@example.com", "dashboard:view", "acme/staging", None),
        ("ceo@example.com", "dashboard:view", "acme/production", None),
        ("consultant@agency.com", "insight:create", "acme/staging", None),
        ("consultant@agency.com", "insight:create", "acme/staging", "2024-06-01"),
        ("charlie@example.com", "billing:manage", "acme", None),
    ]
    for user, action, target, at in questions:
        d = g.explain(user, action, target, at=at)
        when = f" at {at}" if at else ""
        mark = "yes" if d.allowed else "no "
        print(f"[{mark}] {user} {action} {target}{when}\n      {d.reason}")
    print("\nWho can view Production?", ", ".join(g.who_can("project:view", "acme/production")))
    print("Charlie can reach:", ", ".join(g.accessible("charlie@example.com")))
    print("\nAccess matrix of acme:")
    for row in g.access_matrix("acme"):
        expires = row["expires"].date().isoformat() if row["expires"] else ""
        print(
            f"  {row['user']:<24} {row['org_role']:<7} {row['project'] or '-':<18}"
            f" {row['project_role'] or '-':<7} {row['source'] or '-':<19} {expires}"
        )
    try:
        g.grant("charlie@example.com", "acme/production", "admin", actor="charlie@example.com")
    except ag.PermissionDenied as exc:
        print(f"\nPermissionDenied: {exc}")


if __name__ == "__main__":
    main()
