"""``Review``: the findings of an access review, with filters and notebook views."""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, overload

from accessgraph._core import Finding
from accessgraph._extras import needs
from accessgraph._paths import check_path
from accessgraph._render import Html, html_table, markdown_table
from accessgraph.exceptions import ValidationError

if TYPE_CHECKING:
    import os

    import pandas as pd

    from accessgraph._progress import Progress
    from accessgraph._report import ReviewSource

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

    A review made by :meth:`Graph.review` remembers its graph and instant, which its HTML
    report (:meth:`to_html`) reads the access from; equality and hashing look at the
    findings only.
    """

    __slots__ = ("_findings", "_source")

    def __init__(self, findings: Iterable[Finding]) -> None:
        self._findings: tuple[Finding, ...] = tuple(findings)
        self._source: ReviewSource | None = None

    @classmethod
    def _of(cls, findings: Iterable[Finding], source: ReviewSource | None) -> Review:
        review = cls(findings)
        review._source = source
        return review

    def __len__(self) -> int:
        return len(self._findings)

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> Review: ...
    def __getitem__(self, index: int | slice) -> Finding | Review:
        if isinstance(index, slice):
            return Review._of(self._findings[index], self._source)
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
        return Review._of(
            (
                f
                for f in self._findings
                if _RANK[f.severity] >= floor
                and (rule is None or f.rule == rule)
                and (who is None or f.user == who)
            ),
            self._source,
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

    def to_html(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        title: str | None = None,
        max_people: int = 2000,
        progress: Progress | None = None,
    ) -> str:
        """The review as one self-contained HTML file, for people and auditors: a summary a
        manager reads in ten seconds, the findings by severity with their remediation,
        per org the users x projects heat map of effective roles with their sources
        (restricted, PII, external and expiring marked), and the access that expired or
        expires within ``expiring_days``. Inline CSS and JavaScript, no network (it opens
        offline, from a USB stick); sortable, filterable tables; a print stylesheet.

        The heat map and the expiry table are read from the graph :meth:`Graph.review` was
        called on, judged at the review's instant (a review built from bare findings shows
        the findings only; a graph changed since the review is noted in the report). A heat
        map shows at most ``max_people`` people per org. ``progress(done, total)`` hears
        each org. Writes the file too when ``path`` is given; returns the HTML."""
        from accessgraph import __version__
        from accessgraph._report import review_html

        if max_people < 1:
            raise ValidationError(f"invalid max_people `{max_people}`: at least 1")
        if path is not None:
            check_path(path)
        text = review_html(
            self._findings,
            self._source,
            title=title,
            max_people=max_people,
            progress=progress,
            version=__version__,
        )
        if path is not None:
            from pathlib import Path

            Path(path).write_text(text, encoding="utf-8")
        return text

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
