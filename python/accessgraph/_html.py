"""HTML views for notebooks."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from accessgraph._plot import ROLE_COLOURS, ROLE_LEVELS

if TYPE_CHECKING:
    from accessgraph import Decision, Graph, Org

__all__ = ["decision_html", "graph_html"]

MATRIX_MAX_USERS = 40
"""An org with at most this many members (and ``MATRIX_MAX_PROJECTS`` projects) is shown
as a users x projects matrix too; larger ones only as counts."""
MATRIX_MAX_PROJECTS = 15


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
            f"<tr><td><code>{html.escape(org.slug)}</code></td><td>{html.escape(org.name)}</td>"
            f"<td>{by_role['owner']}</td><td>{by_role['admin']}</td><td>{by_role['member']}</td>"
            f"<td>{external}</td><td>{len(projects)} ({restricted} restricted)</td></tr>"
        )
        if 0 < len(projects) <= MATRIX_MAX_PROJECTS and len(members) <= MATRIX_MAX_USERS:
            matrices.append(_matrix(graph, org))
    head = (
        "<tr><th>org</th><th>name</th><th>owners</th><th>admins</th><th>members</th>"
        "<th>external</th><th>projects</th></tr>"
    )
    caption = (
        f"<caption>Graph: {len(orgs)} org{'s' * (len(orgs) != 1)}, "
        f"{len(graph.users())} users</caption>"
    )
    summary = f"<table>{caption}<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    return summary + "".join(matrices)


def _matrix(graph: Graph, org: Org) -> str:
    """Members x projects of ``org``, each cell the effective project role."""
    projects = graph.projects(org.slug)
    roles: dict[tuple[str, str], str] = {}
    org_role: dict[str, str] = {}
    for r in graph.access_matrix(org.slug):
        org_role[r["user"]] = r["org_role"]
        if r["project"]:
            roles[(r["user"], r["project"])] = r["project_role"]
    external = {m.user for m in graph.members(org.slug) if m.external}
    head = "<th>user</th><th>org role</th>" + "".join(
        f'<th title="{html.escape(p.id)}">{html.escape(p.name)}'
        f"{'&nbsp;&#128274;' if p.restricted else ''}</th>"
        for p in projects
    )
    body = []
    for user in sorted(org_role):
        tag = " <small>(external)</small>" if user in external else ""
        cells = []
        for p in projects:
            role = roles.get((user, p.id))
            level = ROLE_LEVELS.get(role or "", 0)
            colour = "white" if level >= 2 else "black"
            cells.append(
                f'<td style="background:{ROLE_COLOURS[level]};color:{colour};'
                f'text-align:center">{role or ""}</td>'
            )
        body.append(
            f"<tr><td>{html.escape(user)}{tag}</td><td>{html.escape(org_role[user])}</td>"
            + "".join(cells)
            + "</tr>"
        )
    caption = f"<caption>Project roles in <code>{html.escape(org.slug)}</code></caption>"
    return (
        f'<table class="accessgraph-matrix">{caption}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def decision_html(decision: Decision) -> str:
    """A decision for a notebook cell: allowed or denied, what, where, who, and why."""
    colour, word = ("#1a7f37", "allowed") if decision.allowed else ("#cf222e", "denied")
    esc = html.escape
    return (
        f'<div><strong style="color:{colour}">{word}</strong> <code>{esc(decision.action)}</code>'
        f" on <code>{esc(decision.target)}</code> for <code>{esc(decision.user)}</code>"
        f"<br><small>{esc(decision.reason)}</small></div>"
    )
