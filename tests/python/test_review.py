"""Access review (SPEC 4.1, 9): each rule fires on a crafted org and stays silent on a
clean one, thresholds move the boundary, and the ``Review`` views (filter, Markdown,
pandas, HTML) show the same findings."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN, EXAMPLES, OWNER, readme_block

import accessgraph as ag

CONTRACTOR = "contractor@agency.io"
REVIEWED = "2024-04-15"


def m(i: int) -> str:
    return f"m{i}@acme.io"


def clean() -> ag.Graph:
    """8 members (2 admins), everyone documented and reviewed, a contractor with an
    expiry and viewer access, production restricted and reached by owner and admin."""
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=OWNER)
    g.update_member(OWNER, "acme", actor=None, reason="founder", reviewed=REVIEWED)
    g.add_project("acme/production", environment="production", restricted=True, pii=True)
    g.add_project("acme/staging", environment="staging")
    g.add_project("acme/development", environment="development")
    g.add_member(ADMIN, "acme", role="admin", reason="eng lead", reviewed=REVIEWED)
    for i in range(1, 6):
        g.add_member(m(i), "acme", reason="engineer", reviewed=REVIEWED)
        g.grant(m(i), "acme/development", "member", reason="works on it")
    g.grant(m(1), "acme/*", "viewer", reason="dashboards")
    g.add_member(
        CONTRACTOR,
        "acme",
        external=True,
        expires="2024-12-01",
        reason="audit",
        reviewed=REVIEWED,
    )
    g.grant(CONTRACTOR, "acme/staging", "viewer", reason="audit")
    return g


def rules(g: ag.Graph, **kw: Any) -> set[str]:
    return {f.rule for f in g.review(**kw)}


def test_a_clean_org_has_no_findings() -> None:
    g = clean()
    review = g.review()
    assert len(review) == 0
    assert not review
    assert review.counts == {"high": 0, "medium": 0, "low": 0, "info": 0}
    assert review.to_markdown() == "No findings.\n"


def expire_membership(g: ag.Graph) -> None:
    g.set_time("2024-04-20")
    g.add_member("temp@acme.io", "acme", expires="2024-04-25", reason="x", reviewed=REVIEWED)
    g.set_time("2024-05-01")


def expire_grant(g: ag.Graph) -> None:
    g.set_time("2024-04-20")
    g.grant(m(2), "acme/staging", "member", expires="2024-04-28", reason="release")
    g.set_time("2024-05-01")


def owners(g: ag.Graph) -> None:
    for o in ("o2@acme.io", "o3@acme.io", "o4@acme.io"):
        g.add_member(o, "acme", role="owner", reason="board", reviewed=REVIEWED)


def sprawl(g: ag.Graph) -> None:
    for i in (1, 2, 3):
        g.grant(m(i), "acme/production", "viewer", reason="on-call")


def never_reviewed(g: ag.Graph) -> None:
    g.update_member(m(3), "acme", actor=None, reviewed=None)


def old_review(g: ag.Graph) -> None:
    g.update_member(m(3), "acme", actor=None, reviewed="2024-01-01")


def external_no_expiry(g: ag.Graph) -> None:
    g.add_member("ext@agency.io", "acme", external=True, reason="x", reviewed=REVIEWED)
    g.grant("ext@agency.io", "acme/staging", "viewer", reason="x")


def expiring(g: ag.Graph) -> None:
    g.grant(m(5), "acme/staging", "viewer", expires="2024-05-10", reason="release")


# (rule, how to provoke it, thresholds that silence it again, severity)
CASES: list[tuple[str, Callable[[ag.Graph], None], dict[str, float] | None, str]] = [
    ("expired-access", expire_membership, None, "high"),
    ("expired-access", expire_grant, None, "high"),
    ("external-without-expiry", external_no_expiry, None, "high"),
    (
        "external-on-restricted",
        lambda g: g.grant(CONTRACTOR, "acme/production", "viewer", reason="audit"),
        None,
        "high",
    ),
    ("owner-count", owners, {"max_owners": 4, "max_admin_ratio": 1.0}, "medium"),
    (
        "admin-ratio",
        lambda g: g.set_org_role(m(1), "acme", "admin", actor=None),
        {"max_admin_ratio": 0.4},
        "low",
    ),
    ("review-overdue", old_review, {"review_days": 130}, "medium"),
    ("review-overdue", never_reviewed, None, "medium"),
    (
        "undocumented-access",
        lambda g: g.grant(m(4), "acme/staging", "viewer"),
        None,
        "low",
    ),
    ("production-sprawl", sprawl, {"max_production_ratio": 0.7}, "medium"),
    (
        "broad-grant",
        lambda g: g.grant(m(2), "acme/*", "member", reason="everything"),
        None,
        "medium",
    ),
    (
        "external-above-viewer",
        lambda g: g.grant(CONTRACTOR, "acme/staging", "member", reason="audit"),
        None,
        "low",
    ),
    (
        "no-project-access",
        lambda g: g.add_member("idle@acme.io", "acme", reason="x", reviewed=REVIEWED),
        None,
        "info",
    ),
    ("expiring-soon", expiring, {"expiring_days": 5}, "info"),
]


@pytest.mark.parametrize(
    ("rule", "craft", "relaxed", "severity"),
    CASES,
    ids=[f"{c[0]}-{c[1].__name__}" for c in CASES],
)
def test_each_rule_fires_on_a_crafted_org(
    rule: str,
    craft: Callable[[ag.Graph], None],
    relaxed: dict[str, float] | None,
    severity: str,
) -> None:
    g = clean()
    craft(g)
    base = {"max_admin_ratio": 1.0} if rule == "owner-count" else {}
    review = g.review(**base)
    assert {f.rule for f in review} == {rule}, review.to_markdown()
    f = review[0]
    assert f.severity == severity
    assert f.org == "acme"
    assert f.message and f.remediation
    assert f.remediation != f.message
    if relaxed is not None:
        assert len(g.review(**relaxed)) == 0


def test_the_review_judges_the_current_state_at_an_instant() -> None:
    g = clean()
    g.grant(m(5), "acme/staging", "viewer", expires="2024-05-10", reason="release")
    assert rules(g) == {"expiring-soon"}
    assert rules(g, at="2024-05-10") == {"expired-access"}
    assert rules(g, at="2024-04-01") == set()  # 39 days before: not within 14
    # the contractor's membership, 7 months out, with a wider horizon
    wide = g.review(at="2024-11-25")
    assert {(f.rule, f.user) for f in wide} >= {("expiring-soon", CONTRACTOR)}


def test_grants_past_their_review_date_are_overdue() -> None:
    g = clean()
    req = g.request_access(m(2), "acme/staging", "member", reason="release testing")
    g.approve(req.id, actor=ADMIN, review_days=30)
    assert rules(g, at="2024-05-31") == set()
    overdue = g.review(at="2024-06-01").filter(rule="review-overdue")
    assert [(f.user, f.target) for f in overdue] == [(m(2), "acme/staging")]


def test_thresholds_are_validated_by_name() -> None:
    g = clean()
    with pytest.raises(ag.ValidationError, match="max_owner"):
        g.review(max_owner=3)
    with pytest.raises(ag.ValidationError, match="review_days"):
        g.review(review_days=-1)
    with pytest.raises(ag.ValidationError, match="max_admin_ratio"):
        g.review(max_admin_ratio=True)
    with pytest.raises(ag.ValidationError, match="max_production_ratio"):
        g.review(max_production_ratio=2)
    assert len(g.review(key_days=30)) == 0
    with pytest.raises(ag.NotFoundError):
        g.review("nope")


def messy() -> ag.Graph:
    g = clean()
    external_no_expiry(g)  # high: external-without-expiry
    g.grant(m(2), "acme/*", "member", reason="everything")  # medium: broad-grant
    g.grant(m(4), "acme/staging", "viewer")  # low: undocumented-access
    g.add_member("idle@acme.io", "acme", reason="x", reviewed=REVIEWED)  # info
    return g


def test_findings_come_most_serious_first_and_filter_by_minimum_severity() -> None:
    review = messy().review()
    order = ["high", "medium", "low", "info"]
    ranks = [order.index(f.severity) for f in review]
    assert ranks == sorted(ranks)
    assert review.counts == {"high": 1, "medium": 1, "low": 1, "info": 1}
    assert {f.severity for f in review.filter(severity="medium")} == {"high", "medium"}
    assert len(review.filter(severity="info")) == len(review)
    assert len(review.filter(severity="high")) == 1
    assert [f.rule for f in review.filter(rule="broad-grant")] == ["broad-grant"]
    assert {f.user for f in review.filter(user="M4@ACME.IO")} == {m(4)}
    assert len(review.filter(severity="low", user=m(2))) == 1
    with pytest.raises(ag.ValidationError, match="severity"):
        review.filter(severity="critical")
    assert isinstance(review[1:], ag.Review)
    assert review[1:][0] == review[1]


def test_markdown_pandas_and_html_views() -> None:
    review = messy().review()
    md = review.to_markdown()
    lines = md.strip().splitlines()
    assert lines[0].startswith("| severity | rule |")
    assert len(lines) == 2 + len(review)
    assert "| high | external-without-expiry | acme | ext@agency.io |" in md
    df = review.to_pandas()
    assert list(df.columns) == [
        "rule",
        "severity",
        "org",
        "user",
        "target",
        "message",
        "remediation",
    ]
    assert len(df) == len(review)
    assert df["rule"].tolist() == [f.rule for f in review]
    page = review._repr_html_()
    assert page.count("<tr>") == len(review) + 1
    assert "external-without-expiry" in page and "4 findings" in page
    assert repr(review) == "<Review 4 findings: high=1 medium=1 low=1 info=1>"


def test_findings_are_frozen_comparable_value_objects() -> None:
    a = messy().review()
    b = messy().review()
    assert a == b
    assert hash(a[0]) == hash(b[0])
    assert len({*a, *b}) == len(a)
    with pytest.raises(AttributeError):
        a[0].rule = "x"  # type: ignore[misc]
    assert "Finding(rule='external-without-expiry'" in repr(a[0])
    assert str(a[0]).startswith("[high] external-without-expiry:")


def test_the_readme_governance_sections_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's review, contractor and directory-sync examples run as written."""
    titles = (
        "## Running a quarterly access review",
        "## Contractors",
        "## Syncing from your identity provider",
    )
    code = [readme_block(title, "docs/governance.md") for title in titles]
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLES / "acme_registry.md", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    ns: dict[str, Any] = {}
    exec(code[0], ns)
    assert ns["review"].counts == {"high": 1, "medium": 7, "low": 10, "info": 1}
    assert (tmp_path / "review-2024-Q2.md").read_text().startswith("| severity |")
    exec(code[1], ns)
    assert ns["report"].manual[-1].startswith("Set a reminder for the access expiry")
    assert ns["g"].grants(user="sam@agency.com")[0].review_by is not None
    exec(code[2], ns)
    assert ns["g"].user("nina@example.com").name == "Nina Ortiz"
    assert ns["g"].role("alice@example.com", "acme") == "admin"
    assert [c["op"] for c in ns["plan"].changes] == ["add_member", "grant", "grant"]


def test_stale_api_key_fires_for_unrotated_and_dead_keys() -> None:
    g = clean()
    g.set_time("2024-01-10")
    old_id, _ = g.create_personal_key(m(1), "ci", actor=m(1))
    g.set_time("2024-04-20")
    fresh_id, _ = g.create_personal_key(m(2), "notebook", actor=m(2))
    g.set_time("2024-05-01")
    stale = [f for f in g.review() if f.rule == "stale-api-key"]
    assert [(f.user, f.target, f.org, f.severity) for f in stale] == [
        (m(1), f"key:{old_id}", "acme", "medium")
    ]
    assert "not rotated for 112 days" in stale[0].message
    assert "rotate_personal_key" in stale[0].remediation
    # The threshold moves the boundary; rotating resets the age.
    assert "stale-api-key" not in rules(g, key_days=120)
    g.rotate_personal_key(old_id, actor=m(1))
    assert "stale-api-key" not in rules(g)
    # A key whose user's only membership expired is dead but listed until revoked.
    g.set_time("2024-04-20")
    g.add_member("temp@acme.io", "acme", expires="2024-04-25", reason="x", reviewed=REVIEWED)
    dead_id, _ = g.create_personal_key("temp@acme.io", "script", actor="temp@acme.io")
    g.set_time("2024-05-01")
    dead = [f for f in g.review(key_days=1000) if f.rule == "stale-api-key"]
    assert [(f.user, f.target) for f in dead] == [("temp@acme.io", f"key:{dead_id}")]
    assert "dead" in dead[0].message
    g.revoke_personal_key(dead_id, actor=OWNER)
    assert "stale-api-key" not in rules(g, key_days=1000)
    assert fresh_id


def test_stale_api_key_findings_carry_each_org_of_the_user() -> None:
    g = clean()
    g.add_org("beta", owner=OWNER)
    g.add_member(m(1), "beta", actor=OWNER)
    g.set_time("2024-01-10")
    key_id, _ = g.create_personal_key(m(1), "ci", actor=m(1))
    g.set_time("2024-05-01")
    found = [(f.org, f.target) for f in g.review() if f.rule == "stale-api-key"]
    assert found == [("acme", f"key:{key_id}"), ("beta", f"key:{key_id}")]
    assert [f.org for f in g.review("beta") if f.rule == "stale-api-key"] == ["beta"]


def test_an_expired_grant_is_listed_under_an_expired_membership() -> None:
    # SPEC 4.1: "a membership or grant has expired but is still present" — each of them.
    g = clean()
    g.set_time("2024-04-20")
    g.add_member("temp@acme.io", "acme", expires="2024-04-28", reason="x", reviewed=REVIEWED)
    g.grant("temp@acme.io", "acme/staging", "member", expires="2024-04-25", reason="release")
    g.grant("temp@acme.io", "acme/development", "viewer", reason="docs")
    g.set_time("2024-05-01")
    expired = [(f.user, f.target) for f in g.review() if f.rule == "expired-access"]
    assert expired == [("temp@acme.io", "acme"), ("temp@acme.io", "acme/staging")]
    # Between the two expiries, only the grant.
    at = "2024-04-26"
    assert [f.target for f in g.review(at=at) if f.rule == "expired-access"] == ["acme/staging"]


def test_a_registry_entry_that_can_pass_for_another_address_is_flagged() -> None:
    # A pull request adds `admin@\u0430cme.io` (U+0430, a Cyrillic a) as an owner: on GitHub it
    # reads as the company's own admin. The registry imports it (Django's validator
    # accepts the domain), and the review names what gives it away.
    doc = (
        "# Acme Access Registry\n## Owners\n- jane@acme.io\n- admin@\u0430cme.io\n"
        "## Members\n- bob@acme.io\n"
    )
    g = ag.Graph.from_markdown(doc)
    found = [f for f in g.review() if f.rule == "lookalike-email"]
    assert [(f.user, f.severity, f.target) for f in found] == [
        ("admin@\u0430cme.io", "high", "acme")
    ]
    assert "`\u0430` (U+0430, Cyrillic)" in found[0].message
    assert "remove_member" in found[0].remediation
