"""HTML views for notebooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accessgraph._plot import ENDING_MARK, ROLE_COLOURS, ROLE_LEVELS, ending_cells
from accessgraph._render import Html, escape_html, html_table, instant_text

if TYPE_CHECKING:
    from accessgraph import Decision, Graph, Org

__all__ = ["decision_html", "graph_html"]

MATRIX_MAX_USERS = 40
"""An org with at most this many members (and ``MATRIX_MAX_PROJECTS`` projects) is shown
as a users x projects matrix too; larger ones only as counts."""
MATRIX_MAX_PROJECTS = 15
ENDING_DAYS = 14
"""A matrix cell whose access ends within this many days of the graph's clock is marked
``*`` (the review's ``expiring_days`` default)."""


def graph_html(graph: Graph) -> str:
    """A summary of the graph: per org, its members by role and its projects; and, for
    small orgs, who holds which role on which project (at the graph's clock)."""
    orgs = graph.orgs()
    rows = []
    matrices = []
    for org in orgs:
        members = graph.members(org.slug)
        by_role = {r: sum(1 for m in members if m.role == r) for r in ("owner", "admin", "member")}
        external = sum(1 for m in members if m.external)
        projects = graph.projects(org.slug)
        restricted = sum(1 for p in projects if p.restricted)
        rows.append(
            [
                Html(f"<code>{escape_html(org.slug)}</code>"),
                org.name,
                *by_role.values(),
                external,
                f"{len(projects)} ({restricted} restricted)",
            ]
        )
        if 0 < len(projects) <= MATRIX_MAX_PROJECTS and len(members) <= MATRIX_MAX_USERS:
            matrices.append(_matrix(graph, org))
    header = ("org", "name", "owners", "admins", "members", "external", "projects")
    caption = f"Graph: {len(orgs)} org{'s' * (len(orgs) != 1)}, {len(graph.users())} users"
    return html_table(header, rows, caption=caption) + "".join(matrices)


def _matrix(graph: Graph, org: Org) -> str:
    """Members x projects of ``org``, each cell the effective project role."""
    projects = graph.projects(org.slug)
    roles: dict[tuple[str, str], str] = {}
    org_role: dict[str, str] = {}
    matrix = graph.access_matrix(org.slug)
    for r in matrix:
        org_role[r["user"]] = r["org_role"]
        if r["project"]:
            roles[(r["user"], r["project"])] = r["project_role"]
    members = graph.members(org.slug)
    external = {m.user for m in members if m.external}
    ending = ending_cells(matrix, {m.user: m.expires for m in members}, graph.now(), ENDING_DAYS)
    header = [
        "user",
        "org role",
        *(
            Html(
                f"{escape_html(p.name)}{'&nbsp;&#128274;' if p.restricted else ''}",
                f'title="{escape_html(p.id)}"',
            )
            for p in projects
        ),
    ]
    rows = []
    for user in sorted(org_role):
        tag = " <small>(external)</small>" if user in external else ""
        cells: list[object] = [Html(f"{escape_html(user)}{tag}"), org_role[user]]
        for p in projects:
            role = roles.get((user, p.id))
            level = ROLE_LEVELS.get(role or "", 0)
            colour = "white" if level >= 2 else "black"
            style = f'style="background:{ROLE_COLOURS[level]};color:{colour};text-align:center"'
            ends = ending.get((user, p.id))
            if ends is None:
                cells.append(Html(escape_html(role or ""), style))
            else:
                mark = f'<span title="ends {instant_text(ends)}">{ENDING_MARK}</span>'
                cells.append(Html(f"{escape_html(role or '')}{mark}", style))
        rows.append(cells)
    caption = f"Project roles in <code>{escape_html(org.slug)}</code>"
    return html_table(header, rows, caption=caption, attrs='class="accessgraph-matrix"')


def decision_html(decision: Decision) -> str:
    """A decision for a notebook cell: allowed or denied, what, where, who, and why; for
    a denial, the fixes in order."""
    colour, word = ("#1a7f37", "allowed") if decision.allowed else ("#cf222e", "denied")
    esc = escape_html
    fixes = "".join(f"<li>{esc(f.reason)}</li>" for f in decision.fixes)
    how = f"<br><small>How to allow it:</small><ol>{fixes}</ol>" if fixes else ""
    return (
        f'<div><strong style="color:{colour}">{word}</strong> <code>{esc(decision.action)}</code>'
        f" on <code>{esc(decision.target)}</code> for <code>{esc(decision.user)}</code>"
        f"<br><small>{esc(decision.reason)}</small>{how}</div>"
    )
