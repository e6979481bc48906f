"""The notebook views' friction: an empty audit log keeps its dtypes, a diff says what a
missing role means, and the notebook's HTML matrix marks access that ends soon."""

from __future__ import annotations

import re

from conftest import EXAMPLES

import accessgraph as ag


def test_an_empty_audit_log_has_the_dtypes_of_a_full_one() -> None:
    g = ag.Graph()
    empty = g.audit.to_pandas()
    g.add_org("acme", owner="jane@example.com")
    g.add_member("bob@example.com", "acme")
    full = g.audit.to_pandas()
    assert len(empty) == 0 and len(full) == 3  # org created, owner added, member added
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    assert str(full["action"].dtype) in ("str", "string", "object")
    assert all(str(full[c].dtype) != "float64" for c in ("actor", "user", "hash"))
    # a filter that matches nothing is empty the same way
    none = g.audit.to_pandas(action="grant.*")
    assert none.dtypes.to_dict() == full.dtypes.to_dict()


def test_a_diff_says_no_access_instead_of_nan() -> None:
    before = ag.Graph()
    before.add_org("acme", owner="jane@example.com")
    before.add_project("acme/web", name="Web")
    before.add_member("bob@example.com", "acme")
    after = ag.Graph.from_json(before.to_json())
    after.grant("bob@example.com", "acme/web", "member")
    before.grant("bob@example.com", "acme/web", "viewer")
    after.add_member("carol@example.com", "acme")
    after.grant("carol@example.com", "acme/web", "viewer")
    frame = before.diff(after).to_pandas()
    assert frame.to_dict("records") == [
        {
            "user": "bob@example.com",
            "project": "acme/web",
            "before": "viewer",
            "after": "member",
            "kind": "changed",
        },
        {
            "user": "carol@example.com",
            "project": "acme",  # carol's org role: she joins the org
            "before": "no access",
            "after": "member",
            "kind": "gained",
        },
        {
            "user": "carol@example.com",
            "project": "acme/web",
            "before": "no access",
            "after": "viewer",
            "kind": "gained",
        },
    ]
    assert not frame.isna().any().any()
    assert [c.before for c in before.diff(after)] == ["viewer", None, None]  # None kept
    assert "<td>no access</td>" in before.diff(after)._repr_html_()
    empty = before.diff(before).to_pandas()
    assert list(empty.columns) == ["user", "project", "before", "after", "kind"]
    assert empty.dtypes.to_dict() == frame.dtypes.to_dict()


def test_the_html_matrix_marks_access_that_ends_soon() -> None:
    g = ag.Graph.load(EXAMPLES / "acme_registry.md", org="acme")
    g.set_time("2024-05-01")
    html = g._repr_html_()
    auditor = re.search(r"<tr><td>auditor@audit.example.*?</tr>", html)
    assert auditor is not None
    assert auditor.group(0).count('<span title="ends 2024-05-15">*</span>') == 2
    charlie = re.search(r"<tr><td>charlie@example.com.*?</tr>", html)
    assert charlie is not None and "ends " not in charlie.group(0)  # 2024-07-01: not soon
    g.set_time("2024-06-20")
    charlie = re.search(r"<tr><td>charlie@example.com.*?</tr>", g._repr_html_())
    assert charlie is not None and 'title="ends 2024-07-01"' in charlie.group(0)
