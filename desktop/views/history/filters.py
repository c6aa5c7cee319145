"""Helpers around the history filter (``db.records.HistoryFilter``): local-day ranges, a human description and
a local check whether a freshly recorded inspection belongs to the rows on screen. No Qt here."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from db.records import HistoryFilter, InspectionRecord

VERDICT_ALL = "all"
REVIEWED_ALL = "all"
REVIEWED_YES = "reviewed"
REVIEWED_NO = "not_reviewed"
REVIEW_REQUESTED = "requested"  # marked for review by an operator, not labelled since

REVIEW_LABELS = {
    "none": "Not reviewed",
    "confirmed_defect": "Confirmed defect",
    "false_alarm": "False alarm",
}


def local_day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the station's local time zone, as an aware UTC datetime."""
    return datetime.combine(day, time.min).astimezone().astimezone(UTC)


def local_day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[start of ``first``, start of the day after ``last``) in local time, as aware UTC datetimes."""
    if last < first:
        first, last = last, first
    return local_day_start(first), local_day_start(last + timedelta(days=1))


def reviewed_value(choice: str) -> bool | None:
    """Filter-bar choice -> ``HistoryFilter.reviewed``."""
    return {REVIEWED_YES: True, REVIEWED_NO: False}.get(choice)


def requested_value(choice: str) -> bool | None:
    """Filter-bar choice -> ``HistoryFilter.review_requested``."""
    return True if choice == REVIEW_REQUESTED else None


def describe(f: HistoryFilter, product_name: str | None = None) -> str:
    """A short human description of the filter, for messages and export file names."""
    parts = [product_name or ("all products" if f.product_id is None else f"product {f.product_id}")]
    if f.verdict:
        parts.append(f"{f.verdict} only")
    if f.reviewed is True:
        parts.append("reviewed")
    elif f.reviewed is False:
        parts.append("not reviewed")
    if f.review_requested:
        parts.append("marked for review")
    if f.start is not None:
        parts.append(f"from {f.start.astimezone().date().isoformat()}")
    if f.end is not None:
        parts.append(f"until {(f.end.astimezone() - timedelta(microseconds=1)).date().isoformat()}")
    return ", ".join(parts)


def matches(f: HistoryFilter, record: InspectionRecord) -> bool:
    """Whether ``record`` belongs to the rows the filter selects (the same rules as the database query)."""
    if f.product_id is not None and record.product_id != f.product_id:
        return False
    if f.verdict is not None and record.verdict != f.verdict.upper():
        return False
    if f.start is not None and record.time < f.start:
        return False
    if f.end is not None and record.time >= f.end:
        return False
    if f.reviewed is True and record.review_status == "none":
        return False
    if f.reviewed is False and record.review_status != "none":
        return False
    if f.review_status is not None and record.review_status != f.review_status:
        return False
    if f.station is not None and record.station != f.station:
        return False
    if f.review_requested:  # a part just recorded has no request yet
        return False
    return True


__all__ = [
    "REVIEWED_ALL",
    "REVIEWED_NO",
    "REVIEWED_YES",
    "REVIEW_LABELS",
    "REVIEW_REQUESTED",
    "VERDICT_ALL",
    "describe",
    "local_day_range",
    "local_day_start",
    "matches",
    "requested_value",
    "reviewed_value",
]
