"""What the history list shows: the filter chosen in the filter bar, as a plain value (no Qt, no database)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

VERDICT_ALL = "all"
REVIEWED_ALL = "all"
REVIEWED_YES = "reviewed"
REVIEWED_NO = "not_reviewed"


@dataclass(frozen=True)
class HistoryFilters:
    """Product, verdict, time range and review state of the rows to show.

    ``since`` is inclusive, ``until`` exclusive; both are timezone-aware (UTC) or None for "no bound".
    """

    product_id: int | None = None
    verdict: str = VERDICT_ALL  # "PASS", "FAIL" or "all"
    since: datetime | None = None
    until: datetime | None = None
    reviewed: str = REVIEWED_ALL  # "reviewed", "not_reviewed" or "all"

    def describe(self, product_name: str | None = None) -> str:
        """A short human description, used in messages and export file names."""
        parts = [product_name or ("all products" if self.product_id is None else f"product {self.product_id}")]
        if self.verdict != VERDICT_ALL:
            parts.append(self.verdict)
        if self.reviewed == REVIEWED_YES:
            parts.append("reviewed")
        elif self.reviewed == REVIEWED_NO:
            parts.append("not reviewed")
        if self.since is not None:
            parts.append(f"from {self.since.astimezone().date().isoformat()}")
        if self.until is not None:
            parts.append(f"until {(self.until.astimezone() - timedelta(seconds=1)).date().isoformat()}")
        return ", ".join(parts)


def local_day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the station's local time zone, as an aware UTC datetime."""
    return datetime.combine(day, time.min).astimezone().astimezone(timezone.utc)


def local_day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[start of ``first``, start of the day after ``last``) in local time, as aware UTC datetimes."""
    if last < first:
        first, last = last, first
    return local_day_start(first), local_day_start(last + timedelta(days=1))


__all__ = [
    "HistoryFilters",
    "VERDICT_ALL",
    "REVIEWED_ALL",
    "REVIEWED_YES",
    "REVIEWED_NO",
    "local_day_start",
    "local_day_range",
]
