"""``assert_access``: a table of cases whose every failure says who, what, where and why;
and docs/pytest.md, whose sample failure and role table are checked against the code."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

import accessgraph as ag
from accessgraph.testing import acme_graph, assert_access, assert_can, user_with_role

PYTEST_DOC = ROOT / "docs" / "pytest.md"


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_assert_access_passes_both_ways_and_returns_the_decision() -> None:
    g = acme_graph()
    allowed = assert_access(g, "alice@example.com", "feature_flag:manage", "acme/production", True)
    assert allowed.allowed and allowed.role == "admin"
    denied = assert_access(g, "ceo@example.com", "insight:view", "acme/production", False)
    assert not denied.allowed
    # at= is honoured: the consultant's membership ends on 2024-06-01
    assert_access(g, "consultant@agency.com", "org:view", "acme", True)
    assert_access(g, "consultant@agency.com", "org:view", "acme", False, at="2024-06-01")


@pytest.mark.parametrize(
    ("user", "action", "target", "expected", "says"),
    [
        (
            "ceo@example.com",
            "insight:view",
            "acme/production",
            True,
            "ceo@example.com may not `insight:view` on `acme/production`: ",
        ),
        (
            "alice@example.com",
            "feature_flag:manage",
            "acme/production",
            False,
            "alice@example.com may `feature_flag:manage` on `acme/production`: ",
        ),
    ],
)
def test_a_failure_says_who_what_where_and_why(
    user: str, action: str, target: str, expected: bool, says: str
) -> None:
    g = acme_graph()
    reason = g.explain(user, action, target).reason
    with pytest.raises(AssertionError) as caught:
        assert_access(g, user, action, target, expected)
    assert str(caught.value) == says + reason
    assert user in reason and target in reason  # the why names them too


def test_a_failure_at_an_instant_names_the_instant() -> None:
    with pytest.raises(AssertionError, match=r"may not `org:view` on `acme` at 2024-06-01: "):
        assert_access(
            acme_graph(), "consultant@agency.com", "org:view", "acme", True, at="2024-06-01"
        )


def test_expected_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="expected must be True or False, not 'yes'"):
        assert_access(acme_graph(), "jane@example.com", "org:view", "acme", "yes")  # type: ignore[arg-type]


def test_a_typo_in_the_action_is_loud_not_a_failed_assertion() -> None:
    with pytest.raises(ag.UnknownActionError):
        assert_access(acme_graph(), "jane@example.com", "insight:veiw", "acme/staging", False)


def test_the_docs_sample_failure_is_what_its_code_prints() -> None:
    doc = PYTEST_DOC.read_text(encoding="utf-8")
    code = re.search(r"```python\n(assert_can\(acme_graph, [^\n]*\))\n```\n\nfails with", doc)
    assert code is not None, "docs/pytest.md shows the call whose failure it quotes"
    sample = re.search(r"fails with\n\n```\nE   AssertionError: (.*?)\n```", doc, re.S)
    assert sample is not None
    with pytest.raises(AssertionError) as caught:
        eval(code.group(1), {"assert_can": assert_can, "acme_graph": acme_graph()})
    assert _squash(sample.group(1)) == _squash(str(caught.value))


def test_the_docs_role_table_runs_and_its_failures_explain(pytester: pytest.Pytester) -> None:
    doc = PYTEST_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    (table,) = [b for b in blocks if "@role_matrix(" in b]
    assert "assert_access(" in table and "is expected" not in table
    pytester.makepyfile(test_docs_table=table)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)
    # the same table with a wrong row: the failure explains itself
    wrong = table.replace(
        '("member", "feature_flag:manage", False)', '("member", "insight:edit", True)'
    )
    assert wrong != table
    pytester.makepyfile(test_docs_table=wrong)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *AssertionError: member.staging@acme.example may not `insight:edit` on "
            "`acme/staging`: member.staging@acme.example is *",
        ]
    )


def test_user_with_role_and_assert_access_make_a_readable_scenario() -> None:
    g = acme_graph()
    viewer = user_with_role(g, "viewer", "acme/staging")
    assert (
        assert_access(g, viewer, "insight:view", "acme/staging", True).source == "explicit_member"
    )
    assert_access(g, viewer, "insight:create", "acme/staging", False)
