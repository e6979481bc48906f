"""The notebook side: HTML reprs, the access heat map, and the example notebook, executed
so that it never rots."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import matplotlib
from conftest import EXAMPLES

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import nbformat
import pytest
from matplotlib.axes import Axes
from nbclient import NotebookClient

import accessgraph as ag

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture
def registry() -> ag.Graph:
    g = ag.Graph.load(EXAMPLES / "acme_registry.md", org="acme")
    g.set_time("2024-05-01")
    return g


def _png(ax: Axes) -> bytes:
    out = io.BytesIO()
    ax.figure.savefig(out, format="png", dpi=50)
    return out.getvalue()


def _grid(ax: Axes) -> list[list[int]]:
    (image,) = ax.images
    return [[int(v) for v in row] for row in image.get_array().tolist()]


# --- heat map --------------------------------------------------------------------------


def test_plot_access_has_a_row_per_user_and_a_column_per_project(registry: ag.Graph) -> None:
    registry.add_project("acme/vault", name="Vault", restricted=True)  # nobody but admins
    registry.add_project("acme/empty", name="Empty")  # reached only by owners and admins
    ax = registry.plot_access("acme")
    assert _png(ax).startswith(PNG)
    users = sorted({r["user"] for r in registry.access_matrix("acme")})
    projects = [p.id for p in registry.projects("acme")]
    # the markers of the HTML views: external members and restricted projects say so
    external = {m.user for m in registry.members("acme") if m.external}
    restricted = {p.id for p in registry.projects("acme") if p.restricted}
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        u + " (external)" * (u in external) for u in users
    ]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        p + " (restricted)" * (p in restricted) for p in projects
    ]
    grid = _grid(ax)
    assert len(grid) == len(users) == 10
    assert all(len(row) == len(projects) == 6 for row in grid)
    level = {"viewer": 1, "member": 2, "admin": 3}
    for i, user in enumerate(users):
        for j, project in enumerate(projects):
            role = registry.role(user, project)
            assert grid[i][j] == level.get(role or "", 0), (user, project)
    assert ax.get_title() == "Project access in acme"
    # every cell with access carries its role's initial, so colour is not the only cue
    letters = sorted(t.get_text() for t in ax.texts)
    assert len(letters) == sum(1 for row in grid for v in row if v)
    assert {t.rstrip("*") for t in letters} == {"A", "M", "V"}
    # the auditor's membership ends on 2024-05-15, within 14 days: both cells marked
    ending = [t for t in ax.texts if t.get_text().endswith("*")]
    assert [(t.get_text(), users[round(t.get_position()[1])]) for t in ending] == [
        ("V*", "auditor@audit.example"),
        ("V*", "auditor@audit.example"),
    ]
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [
        *("no access", "viewer", "member", "admin"),
        "* ends within 14 days",
    ]


def test_table_plot_draws_the_matrix_it_holds(registry: ag.Graph) -> None:
    table = registry.access_matrix("acme")
    ax = table.plot(title="acme")
    assert _png(ax).startswith(PNG)
    assert len(_grid(ax)) == len({r["user"] for r in table})
    assert [t.get_text() for t in ax.get_xticklabels()] == sorted(
        {r["project"] for r in table if r["project"]}
    )
    assert ax.get_title() == "acme"


def test_plot_on_given_axes_and_at_an_instant(registry: ag.Graph) -> None:
    fig, (left, right) = plt.subplots(1, 2)
    assert registry.plot_access("acme", ax=left) is left
    registry.plot_access("acme", at="2024-07-02", ax=right)
    after = dict(zip((t.get_text() for t in right.get_yticklabels()), _grid(right), strict=True))
    # charlie's Production grant (expires 2024-07-01) is gone; the contractors are gone
    production = [p.id for p in registry.projects("acme")].index("acme/production")
    assert after["charlie@example.com"][production] == 0
    assert "consultant@agency.com" not in after
    assert fig.axes == [left, right]


def test_table_plot_needs_an_access_matrix() -> None:
    table = ag.Table([{"a": 1}], columns=["a"])
    with pytest.raises(ValueError, match="missing column"):
        table.plot()


def test_plot_of_an_org_without_projects_still_renders() -> None:
    g = ag.Graph()
    g.add_org("solo", owner="jane@example.com")
    ax = g.plot_access("solo")
    assert _png(ax).startswith(PNG)
    assert len(ax.images) == 0
    assert [t.get_text() for t in ax.texts] == ["no access to show"]


# --- HTML reprs ------------------------------------------------------------------------


def _cells(html: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", html)


def test_graph_html_counts_per_org_and_a_small_matrix(registry: ag.Graph) -> None:
    html = registry._repr_html_()
    summary, _, matrix = html.partition('<table class="accessgraph-matrix">')
    assert "<caption>Graph: 1 org, 10 users</caption>" in summary
    # org, name, owners, admins, members, external, projects
    assert _cells(summary) == [
        "<code>acme</code>",
        "Acme Corp",
        "2",
        "1",
        "7",
        "2",
        "4 (1 restricted)",
    ]
    assert matrix, "a small org is shown as a matrix"
    rows = re.findall(r"<tr>(.*?)</tr>", matrix)
    header = re.findall(r"<th[^>]*>(.*?)</th>", rows[0])
    assert header[:2] == ["user", "org role"]
    assert [h.split("&nbsp;")[0] for h in header[2:]] == [p.name for p in registry.projects("acme")]
    restricted = {h.split("&nbsp;")[0] for h in header[2:] if "&#128274;" in h}
    assert restricted == {"Production"}
    charlie = next(r for r in rows if "charlie@example.com" in r)
    assert _cells(charlie)[1:] == ["member", "member", "viewer", "member", ""]
    consultant = next(r for r in rows if "consultant@agency.com" in r)
    assert "(external)" in consultant


def test_graph_html_leaves_out_the_matrix_of_a_large_org() -> None:
    g = ag.Graph()
    g.add_org("big", owner="owner@example.com")
    g.add_project("big/p", name="P", default_role="viewer")
    for i in range(45):
        g.add_member(f"user{i}@example.com", "big")
    html = g._repr_html_()
    assert "accessgraph-matrix" not in html
    assert _cells(html)[2:5] == ["1", "0", "45"]


def test_graph_html_escapes_names() -> None:
    g = ag.Graph()
    g.add_org("acme", name="<b>Acme</b> & Co", owner="jane@example.com")
    g.add_project("acme/p", name="<script>x</script>")
    html = g._repr_html_()
    assert "<b>Acme</b>" not in html and "&lt;b&gt;Acme&lt;/b&gt; &amp; Co" in html
    assert "<script>" not in html


def test_decision_html(registry: ag.Graph) -> None:
    denied = registry.explain("charlie@example.com", "insight:create", "acme/production")
    html = denied._repr_html_()
    assert ">denied</strong>" in html
    assert "<code>insight:create</code>" in html and "<code>acme/production</code>" in html
    assert "charlie@example.com is a viewer on acme/production" in html
    allowed = registry.explain("jane@example.com", "billing:manage", "acme")
    assert ">allowed</strong>" in allowed._repr_html_()
    assert "#1a7f37" in allowed._repr_html_() and "#cf222e" in html


def test_table_html_caption_dates_and_truncation(registry: ag.Graph) -> None:
    html = registry.access_matrix("acme")._repr_html_()
    assert "<caption>30 rows &times; 8 columns</caption>" in html
    assert "2024-07-01" in html  # charlie's Production expiry, as a date
    assert "2024-06-15T17:00:00Z" in html  # evan's, with its time
    assert "on-call rotation, Q2" in html
    rows = [{"n": i, "text": "<i>" if i == 0 else None} for i in range(250)]
    big = ag.Table(rows, columns=["n", "text"])._repr_html_()
    assert big.count("<tr>") == 1 + 100 + 1  # header, 100 rows, the "more" line
    assert "150 more rows" in big
    assert "&lt;i&gt;" in big and "<i>" not in big


def test_to_pandas_on_table_audit_log_and_diff(registry: ag.Graph) -> None:
    live = ag.Graph.from_json(registry.to_json())
    live.set_time("2024-05-01")
    live.revoke("evan@example.com", "acme/production", actor="jane@example.com")
    assert len(registry.access_matrix("acme").to_pandas()) == 30
    frame = live.audit.to_pandas()
    assert list(frame["action"]) == ["grant.removed"]
    diff = registry.diff(live).to_pandas()
    assert diff.to_dict("records") == [
        {
            "user": "evan@example.com",
            "project": "acme/production",
            "before": "member",
            "after": "no access",
            "kind": "lost",
        }
    ]


# --- the example notebook --------------------------------------------------------------


def _outputs(cell: Any) -> dict[str, str]:
    data: dict[str, str] = {}
    for out in cell.outputs:
        assert out.output_type != "error", out
        for mime, value in out.get("data", {}).items():
            data[mime] = value
    return data


def test_example_notebook_runs_top_to_bottom() -> None:
    nb = nbformat.read(EXAMPLES / "audit_notebook.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [_outputs(c) for c in code]
    # the graph renders as counts and a matrix
    assert "accessgraph-matrix" in outputs[0]["text/html"]
    # the decision renders as HTML
    assert ">denied</strong>" in outputs[1]["text/html"]
    # the heat map is a picture
    plots = [o for o in outputs if "image/png" in o]
    assert len(plots) == 1
    # the drift and the audit log come out as DataFrames
    assert "diana@example.com" in outputs[-2]["text/html"]
    assert "member.removed" in outputs[-1]["text/html"]
