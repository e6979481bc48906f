"""``Review``: the findings of an access review, with filters and notebook views."""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, overload

from accessgraph._core import Finding
from accessgraph._extras import needs
from accessgraph._render import Html, html_table, markdown_table
from accessgraph.exceptions import ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SEVERITIES", "Review"]

SEVERITIES: tuple[str, ...] = ("high", "medium", "low", "info")
"""The severities, most serious first."""

_RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}
_COLUMNS = ("rule", "severity", "org", "user", "target", "message", "remediation")
_SHOWN = ("severity", "rule", "org", "user", "target", "message", "remediation")
"""The order of the columns in the Markdown and HTML views."""
_HEADER = tuple("finding" if c == "message" else c for c in _SHOWN)
_COLOURS = {"high": "#cf222e", "medium": "#bf8700", "low": "#0969da", "info": "#57606a"}


class Review(Sequence[Finding]):
    """An access review: findings sorted by severity (high first), then rule, org, user.

    Each :class:`Finding` has ``rule`` (a stable id such as ``expired-access``),
    ``severity`` (``high``, ``medium``, ``low`` or ``info``), ``org``, ``user``,
    ``target``, ``message`` and ``remediation``.
    """

    __slots__ = ("_findings",)

    def __init__(self, findings: Iterable[Finding]) -> None:
        self._findings: tuple[Finding, ...] = tuple(findings)

    def __len__(self) -> int:
        return len(self._findings)

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> Review: ...
    def __getitem__(self, index: int | slice) -> Finding | Review:
        if isinstance(index, slice):
            return Review(self._findings[index])
        return self._findings[index]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._findings)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Review):
            return NotImplemented
        return self._findings == other._findings

    def __hash__(self) -> int:
        return hash(self._findings)

    def __repr__(self) -> str:
        counts = " ".join(f"{k}={v}" for k, v in self.counts.items())
        return f"<Review {len(self._findings)} findings: {counts}>"

    @property
    def counts(self) -> dict[str, int]:
        """The number of findings of each severity, most serious first."""
        out = dict.fromkeys(SEVERITIES, 0)
        for f in self._findings:
            out[f.severity] += 1
        return out

    def filter(
        self,
        severity: str | None = None,
        rule: str | None = None,
        user: str | None = None,
    ) -> Review:
        """The findings at least as serious as ``severity`` (``"medium"`` keeps high and
        medium), of one ``rule`` and/or about one ``user``."""
        if severity is not None and severity not in _RANK:
            raise ValidationError(f"invalid severity `{severity}`: one of {', '.join(SEVERITIES)}")
        floor = _RANK[severity] if severity is not None else 0
        who = user.lower() if user is not None else None
        return Review(
            f
            for f in self._findings
            if _RANK[f.severity] >= floor
            and (rule is None or f.rule == rule)
            and (who is None or f.user == who)
        )

    def to_records(self) -> list[dict[str, str | None]]:
        """The findings as dicts (``rule``, ``severity``, ``org``, ``user``, ``target``,
        ``message``, ``remediation``)."""
        return [{c: getattr(f, c) for c in _COLUMNS} for f in self._findings]

    def to_pandas(self) -> pd.DataFrame:
        """The findings as a pandas DataFrame (needs the ``pandas`` extra)."""
        with needs("pandas", "Review.to_pandas()"):
            import pandas as pd
        return pd.DataFrame(self.to_records(), columns=list(_COLUMNS))

    def to_markdown(self) -> str:
        """A Markdown report: a table of the findings, most serious first."""
        if not self._findings:
            return "No findings.\n"
        return markdown_table(_HEADER, ([getattr(f, c) for c in _SHOWN] for f in self._findings))

    def _repr_html_(self) -> str:
        summary = ", ".join(f"{n} {s}" for s, n in self.counts.items() if n)
        rows = (
            [
                Html(f"<strong>{f.severity}</strong>", f'style="color:{_COLOURS[f.severity]}"'),
                Html(f"<code>{html.escape(f.rule)}</code>"),
                f.org,
                f.user,
                f.target,
                f.message,
                f.remediation,
            ]
            for f in self._findings
        )
        caption = f"Access review: {len(self._findings)} findings"
        caption += f" ({summary})" if summary else ""
        return html_table(_HEADER, rows, caption=caption)
