"""A typed tour of the public API, checked by ``mypy --strict`` (not run by pytest)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import accessgraph as ag


def tour() -> list[str]:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme Corp", owner="jane@example.com")
    g.add_project("acme/production", name="Production", environment="production", restricted=True)
    g.add_member("alice@example.com", "acme", role=ag.OrgRole.ADMIN, actor="jane@example.com")
    g.grant(
        "alice@example.com",
        "acme/production",
        ag.ProjectRole.VIEWER,
        expires=date(2025, 1, 1),
        reason="on-call",
    )
    allowed: bool = g.check("alice@example.com", "insight:view", "acme/production")
    d: ag.Decision = g.explain(
        "alice@example.com", "insight:view", "acme/production", at=datetime.now(UTC)
    )
    answers: list[bool] = g.check_many([("alice@example.com", "insight:view", "acme/production")])
    role: str | None = g.role("alice@example.com", "acme")
    table: ag.Table = g.access_matrix("acme")
    members: list[ag.Member] = g.members("acme")
    try:
        g.require("bob@example.com", "insight:view", "acme/production")
    except ag.PermissionDenied as exc:
        assert exc.decision is None or not exc.decision.allowed
    g.update_member("alice@example.com", "acme", actor="jane@example.com", reviewed="2024-05-01")
    g.update_project("acme/production", actor="jane@example.com", pii=True, retention_days=30)
    rid: str = g.add_resource("acme/production", "dashboard", 42, owner="alice@example.com")
    return [str(allowed), d.reason, str(answers), str(role), str(len(table)), str(members), rid]


def governance_tour() -> list[str]:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/staging", environment="staging")
    review: ag.Review = g.review("acme", at="2024-06-01", review_days=30, max_admin_ratio=0.3)
    high: ag.Review = review.filter(severity="high", rule="expired-access")
    first: list[ag.Finding] = list(high)
    counts: dict[str, int] = review.counts
    report: ag.OnboardingReport = g.onboard(
        "eng@example.com", "acme", "engineer", actor="jane@example.com", title="Engineer"
    )
    g.define_template("analyst", grants={"staging": "viewer"}, requires_expiry=False)
    req: ag.AccessRequest = g.request_access(
        "eng@example.com", "acme/staging", "admin", reason="release"
    )
    done: ag.AccessRequest = g.approve(req.id, actor="jane@example.com", review_days=30)
    pending: list[ag.AccessRequest] = g.access_requests(status="pending")
    plan: ag.SyncPlan = g.sync_directory(
        "acme",
        [{"email": "eng@example.com", "groups": ["Engineering"]}],
        groups={"Engineering": {"role": "member", "grants": {"acme/staging": "member"}}},
        actor="jane@example.com",
    )
    applied: ag.SyncPlan = g.apply(plan, actor="jane@example.com")
    return [
        review.to_markdown(),
        str(first),
        str(counts),
        *report.manual,
        done.status,
        str(pending),
        str(applied.changes),
    ]


def keys_tour() -> list[str]:
    g = ag.Graph()
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/web")
    key_id, secret = g.create_personal_key(
        "jane@example.com", "ci", scopes=["insight:read"], actor="jane@example.com"
    )
    principal: ag.Principal | None = g.authenticate(secret)
    assert principal is not None
    allowed: bool = g.check(principal, "insight:view", "acme/web")
    answers: list[bool] = g.check_many([(principal, "insight:view", "acme/web")])
    keys: list[ag.ApiKey] = g.personal_keys("jane@example.com")
    new_secret: str = g.rotate_personal_key(key_id, actor="jane@example.com")
    token: str = g.rotate_project_key("acme/web", actor=None)
    g.add_member("bob@example.com", "acme")
    report: ag.OffboardingReport = g.offboard("bob@example.com", actor="jane@example.com")
    return [str(allowed), str(answers), keys[0].mask, new_secret[:4], token[:4], *report.done]


def issue17_tour() -> list[str]:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/web")
    g.add_member("bob@example.com", "acme")
    fixes: tuple[ag.Fix, ...] = g.explain("bob@example.com", "insight:view", "acme/web").fixes
    by: tuple[str, ...] = fixes[0].by
    with g.what_if() as w:
        overlay: ag.WhatIf = w
        overlay.grant("bob@example.com", "acme/web", "viewer", actor="jane@example.com")
        events: list[ag.Event] = overlay.changes()
        diff: ag.AccessDiff = overlay.diff(g)
    c: ag.Campaign = g.start_campaign(
        "acme", reviewers=["jane@example.com"], due="2024-06-01", actor=None
    )
    item: ag.CampaignItem = c.decide(1, keep=True, reason="needed", actor="jane@example.com")
    evidence: ag.Evidence = c.close(actor="jane@example.com")
    return [*by, str(len(events)), str(len(diff)), item.user, evidence.to_csv()]
