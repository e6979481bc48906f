"""HTML views for notebooks."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accessgraph import Graph

__all__ = ["graph_html"]


def graph_html(graph: Graph) -> str:
    """A summary of the graph: per org, its members by role and its projects."""
    rows = []
    for org in graph.orgs():
        members = graph.members(org.slug)
        by_role = {r: sum(1 for m in members if m.role == r) for r in ("owner", "admin", "member")}
        projects = graph.projects(org.slug)
        restricted = sum(1 for p in projects if p.restricted)
        rows.append(
            f"<tr><td><code>{html.escape(org.slug)}</code></td><td>{html.escape(org.name)}</td>"
            f"<td>{by_role['owner']}</td><td>{by_role['admin']}</td><td>{by_role['member']}</td>"
            f"<td>{len(projects)} ({restricted} restricted)</td></tr>"
        )
    head = (
        "<tr><th>org</th><th>name</th><th>owners</th><th>admins</th><th>members</th>"
        "<th>projects</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
