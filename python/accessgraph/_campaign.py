"""Access review campaigns (SOC 2 CC6.2): :class:`Campaign`, its items and its evidence.

A campaign freezes an org's access (every membership and grant) when it starts; its
reviewers keep or reject each item; closing it revokes what was rejected. Everything is
in the graph's state and audit log, so a graph reopened from its journal (or read from a
snapshot) has its campaigns, decisions and evidence.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from accessgraph._extras import needs
from accessgraph._paths import check_path
from accessgraph._render import csv_table, html_table, markdown_table

if TYPE_CHECKING:
    import os

    import pandas as pd

    from accessgraph import Graph

__all__ = ["EVIDENCE_COLUMNS", "Campaign", "CampaignItem", "Evidence"]


class CampaignItem(NamedTuple):
    """One item of a campaign: a membership or a grant as it stood when the campaign
    started, and the decision on it (``keep``, ``revoke`` or ``None``: undecided)."""

    id: int
    kind: str  # "membership" or "grant"
    user: str
    target: str  # the org (a membership), the project or `org/*` (a grant)
    role: str
    expires: datetime | None
    orphan: bool  # a grant of someone no longer in the org
    decision: str | None  # "keep", "revoke" or None
    reason: str | None
    reviewer: str | None  # who decided (None: undecided, or the system)
    at: datetime | None  # when


EVIDENCE_COLUMNS = (
    "item",
    "kind",
    "user",
    "target",
    "role",
    "orphan",
    "reviewer",
    "decision",
    "reason",
    "at",
    "outcome",
)
"""The columns of :class:`Evidence`, in order."""


@dataclass(frozen=True)
class _State:
    id: str
    org: str
    reviewers: tuple[str, ...]
    due: datetime
    started_by: str | None
    started_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    revoked: tuple[int, ...]
    items: tuple[CampaignItem, ...]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> _State:
        return cls(
            id=raw["id"],
            org=raw["org"],
            reviewers=tuple(raw["reviewers"]),
            due=raw["due"],
            started_by=raw["started_by"],
            started_at=raw["started_at"],
            closed_by=raw["closed_by"],
            closed_at=raw["closed_at"],
            revoked=tuple(raw["revoked"]),
            items=tuple(CampaignItem(*row) for row in raw["items"]),
        )


class Campaign:
    """An access review campaign of one org (:meth:`Graph.start_campaign`).

    A handle on the campaign in its graph: every property reads the graph's current
    state, and :meth:`decide` / :meth:`close` are ordinary, audited mutations.
    """

    __slots__ = ("_graph", "_state")

    def __init__(self, graph: Graph, raw: dict[str, Any]) -> None:
        self._graph = graph
        self._state = _State.of(raw)

    def _refresh(self) -> _State:
        self._state = _State.of(self._graph._campaign(self._state.id))
        return self._state

    @property
    def id(self) -> str:
        """``camp_1``, ``camp_2`` … in the order campaigns were started."""
        return self._state.id

    @property
    def org(self) -> str:
        return self._state.org

    @property
    def reviewers(self) -> tuple[str, ...]:
        """Who may decide items (emails, sorted)."""
        return self._state.reviewers

    @property
    def due(self) -> datetime:
        """When the review is due; ``review()`` reports it as ``review-overdue`` after."""
        return self._state.due

    @property
    def started_by(self) -> str | None:
        return self._state.started_by

    @property
    def started_at(self) -> datetime:
        return self._state.started_at

    @property
    def closed_at(self) -> datetime | None:
        return self._refresh().closed_at

    @property
    def closed_by(self) -> str | None:
        return self._refresh().closed_by

    @property
    def status(self) -> str:
        """``open`` or ``closed``."""
        return "open" if self._refresh().closed_at is None else "closed"

    @property
    def items(self) -> tuple[CampaignItem, ...]:
        """The frozen population: memberships by user, then grants by user and target."""
        return self._refresh().items

    @property
    def undecided(self) -> tuple[CampaignItem, ...]:
        """The items nobody decided."""
        return tuple(i for i in self.items if i.decision is None)

    def item(self, item: int | CampaignItem) -> CampaignItem:
        """One item, by number."""
        number = item.id if isinstance(item, CampaignItem) else item
        for it in self.items:
            if it.id == number:
                return it
        from accessgraph.exceptions import ValidationError

        raise ValidationError(
            f"invalid item `{number}`: an item of campaign `{self.id}` (1 to {len(self.items)})"
        )

    def decide(
        self,
        item: int | CampaignItem,
        *,
        keep: bool,
        reason: str | None = None,
        actor: str | None,
    ) -> CampaignItem:
        """Keep ``item`` (``keep=True``) or have it revoked when the campaign closes
        (``keep=False``), saying why. ``actor`` must be one of the reviewers, may not
        review their own access, and needs the authority the revocation would need
        (``PermissionDenied``, recorded as ``access.denied``, otherwise). A decision may
        be changed until the campaign closes."""
        number = item.id if isinstance(item, CampaignItem) else item
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            from accessgraph.exceptions import ValidationError

            raise ValidationError(f"invalid item `{number!r}`: an item number or a CampaignItem")
        raw = self._graph._decide_campaign_item(
            self.id, number, keep=bool(keep), reason=reason, actor=actor
        )
        self._state = _State.of(raw)
        return self.item(number)

    def close(self, *, actor: str | None) -> Evidence:
        """Close the campaign: revoke what was rejected (``member.removed`` /
        ``grant.removed`` events, authority-checked as usual), leave the rest, record
        ``campaign.closed``. Atomic: if one revocation is refused, nothing changes.
        Returns the evidence."""
        self._state = _State.of(self._graph._close_campaign(self.id, actor=actor))
        return self.evidence()

    def evidence(self) -> Evidence:
        """The evidence table: one row per item (the undecided ones too) with its
        reviewer, decision, reason, when, and — once closed — its outcome."""
        return Evidence(self._refresh())

    def __repr__(self) -> str:
        s = self._state
        decided = sum(1 for i in s.items if i.decision is not None)
        state = "open" if s.closed_at is None else "closed"
        return (
            f"<Campaign {s.id} of {s.org}: {state}, {decided}/{len(s.items)} decided, "
            f"due {s.due.date().isoformat()}>"
        )

    def _repr_html_(self) -> str:
        return self.evidence()._repr_html_()


def _outcome(s: _State, it: CampaignItem) -> str:
    if it.decision is None:
        return "undecided"
    if s.closed_at is None:
        return "pending close"
    if it.decision == "keep":
        return "kept"
    return "revoked" if it.id in s.revoked else "already gone"


class Evidence(Sequence[dict[str, Any]]):
    """A campaign's evidence for an auditor: one row (a dict) per item, in item order,
    with the columns of :data:`EVIDENCE_COLUMNS`. ``decision`` is ``keep``, ``revoke`` or
    ``undecided``; ``outcome`` is ``kept``, ``revoked``, ``already gone`` (rejected, but
    the access had gone before closing), ``undecided`` or, while open, ``pending close``.
    """

    __slots__ = ("_rows", "_state")

    def __init__(self, state: _State) -> None:
        self._state = state
        self._rows = tuple(
            {
                "item": it.id,
                "kind": it.kind,
                "user": it.user,
                "target": it.target,
                "role": it.role,
                "orphan": it.orphan,
                "reviewer": it.reviewer,
                "decision": it.decision or "undecided",
                "reason": it.reason,
                "at": it.at,
                "outcome": _outcome(state, it),
            }
            for it in state.items
        )

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        return dict(self._rows[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (dict(r) for r in self._rows)

    def _cells(self) -> list[list[Any]]:
        return [[r[c] for c in EVIDENCE_COLUMNS] for r in self._rows]

    def _summary(self) -> str:
        s = self._state
        counts = {"keep": 0, "revoke": 0, "undecided": 0}
        for r in self._rows:
            counts[str(r["decision"])] += 1
        state = (
            f"closed {s.closed_at.isoformat()} by {s.closed_by or 'the system'}"
            if s.closed_at
            else "open"
        )
        return (
            f"Access review {s.id} of {s.org}: started {s.started_at.isoformat()} by "
            f"{s.started_by or 'the system'}, due {s.due.isoformat()}, reviewers "
            f"{', '.join(s.reviewers)}; {state}. {len(self._rows)} items: "
            f"{counts['keep']} kept, {counts['revoke']} rejected, {counts['undecided']} undecided."
        )

    def to_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """The rows as CSV (header first); written to ``path`` too when given."""
        if path is not None:
            check_path(path)
        text = csv_table(EVIDENCE_COLUMNS, self._cells())
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text

    def to_markdown(self) -> str:
        """A Markdown report: the campaign in a sentence, then the table."""
        return f"{self._summary()}\n\n" + markdown_table(EVIDENCE_COLUMNS, self._cells())

    def to_html(self) -> str:
        """A standalone HTML table with the campaign as its caption."""
        return html_table(EVIDENCE_COLUMNS, self._cells(), caption=html.escape(self._summary()))

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (needs the ``pandas`` extra)."""
        with needs("pandas", "Evidence.to_pandas()"):
            import pandas as pd
        return pd.DataFrame(list(self), columns=list(EVIDENCE_COLUMNS))

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return f"<Evidence {self._state.id}: {len(self._rows)} items>"
