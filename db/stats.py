"""Statistics for the QA view and the supervisors' chat questions. Exact counts, no sampling.

Every function takes the engine first and keyword-only arguments after it; times are timezone-aware. Ranges are
half-open: ``start <= time < end``. "Today" and "this week" are computed from the ``now`` you pass, in the time
zone of ``now`` (pass ``datetime.now(timezone.utc)`` for UTC days, or a local aware time for local days).
Weeks start on Monday 00:00. ``product`` is a product id, an exact product name, or None for all products.
Each function returns a small frozen dataclass; :class:`StatsQueries` offers the same calls bound to an engine.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from .lookup import product_row
from .models import REVIEW_CONFIRMED_DEFECT, REVIEW_FALSE_ALARM, Inspection
from .session import make_sessionmaker, reading
from .types import ensure_utc

ProductRef = int | str | None


# ------------------------------------------------------------------ results
class _Yield:
    """Share of passed parts, for results that count ``inspected`` and ``passed``."""

    inspected: int
    passed: int

    @property
    def yield_pct(self) -> float | None:
        return 100.0 * self.passed / self.inspected if self.inspected else None


@dataclass(frozen=True)
class YieldBucket(_Yield):
    start: datetime  # aligned to the hour / day (in the range's time zone), UTC-aware
    end: datetime
    inspected: int
    passed: int
    failed: int


@dataclass(frozen=True)
class YieldSeries(_Yield):
    product: str | None
    start: datetime
    end: datetime
    bucket: str  # "hour" or "day"
    buckets: tuple[YieldBucket, ...]
    inspected: int
    passed: int
    failed: int


@dataclass(frozen=True)
class ScoreDistribution:
    product: str | None
    start: datetime
    end: datetime
    scores: tuple[float, ...]  # in time order
    verdicts: tuple[str, ...]  # same order as scores
    threshold: float | None  # the threshold in use now (override, else calibration, else last recorded)
    threshold_overridden: bool

    def histogram(self, bins: int = 30) -> tuple[list[float], list[int]]:
        """(edges, counts) of the scores over ``bins`` equal bins spanning the scores and the threshold."""
        if not self.scores:
            return [], []
        values = list(self.scores) + ([self.threshold] if self.threshold is not None else [])
        lo, hi = min(values), max(values)
        if hi == lo:
            hi = lo + 1.0
        width = (hi - lo) / bins
        edges = [lo + i * width for i in range(bins)] + [hi]
        counts = [0] * bins
        for s in self.scores:
            counts[min(bins - 1, int((s - lo) / width))] += 1
        return edges, counts


@dataclass(frozen=True)
class RejectCount:
    product: str | None
    start: datetime
    end: datetime
    inspected: int
    rejected: int  # FAIL verdicts
    confirmed_defects: int  # rejects a person confirmed
    false_alarms: int  # rejects a person marked as false alarm

    @property
    def reject_rate_pct(self) -> float | None:
        return 100.0 * self.rejected / self.inspected if self.inspected else None


@dataclass(frozen=True)
class RateWindow:
    start: datetime
    end: datetime
    inspected: int
    failed: int

    @property
    def rate_pct(self) -> float | None:
        return 100.0 * self.failed / self.inspected if self.inspected else None


@dataclass(frozen=True)
class WeekComparison:
    product: str | None
    this_week: RateWindow  # Monday 00:00 .. now
    last_week: RateWindow  # the whole previous week

    @property
    def change_points(self) -> float | None:
        """This week's defect rate minus last week's, in percentage points (None when either week is empty)."""
        a, b = self.this_week.rate_pct, self.last_week.rate_pct
        return None if a is None or b is None else a - b


@dataclass(frozen=True)
class LocationCount:
    location: str
    regions: int  # defect regions found there
    inspections: int  # inspections with at least one region there


@dataclass(frozen=True)
class RegionLocations:
    product: str | None
    start: datetime
    end: datetime
    inspections: int  # FAIL inspections considered
    locations: tuple[LocationCount, ...]  # most frequent first

    @property
    def most_frequent(self) -> str | None:
        return self.locations[0].location if self.locations else None


# ------------------------------------------------------------------ helpers
def _range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    s, e = ensure_utc(start, "start"), ensure_utc(end, "end")
    if e < s:
        raise ValueError("end must not be before start")
    return s, e


AnySelect = TypeVar("AnySelect", bound="Select[*tuple[Any, ...]]")  # a select of any columns


def _scoped(
    session: Session, query: AnySelect, product: ProductRef, start: datetime, end: datetime
) -> tuple[AnySelect, str | None]:
    name = None
    if product is not None:
        row = product_row(session, product)
        query = query.where(Inspection.product_id == row.id)
        name = row.name
    return query.where(Inspection.time >= start, Inspection.time < end), name


def _zone(value: datetime) -> tzinfo:
    return value.tzinfo or UTC


def start_of_day(now: datetime) -> datetime:
    """Midnight of ``now``'s day, in ``now``'s time zone."""
    ensure_utc(now, "now")
    return _local_midnight(now.date(), _zone(now))


def start_of_week(now: datetime) -> datetime:
    """Monday 00:00 of ``now``'s week, in ``now``'s time zone."""
    ensure_utc(now, "now")
    return _local_midnight(now.date() - timedelta(days=now.weekday()), _zone(now))


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _bucket_edges(start: datetime, end: datetime, zone: tzinfo, unit: str) -> list[datetime]:
    """UTC boundaries of whole hours / local calendar days covering [start, end): first <= start, last >= end."""
    local = start.astimezone(zone)
    if unit == "hour":
        edge = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        edges = [edge]
        while edges[-1] < end or len(edges) < 2:
            edges.append(edges[-1] + timedelta(hours=1))
        return edges
    day = local.date()
    edges = [_local_midnight(day, zone).astimezone(UTC)]
    while edges[-1] < end or len(edges) < 2:
        day += timedelta(days=1)
        edges.append(_local_midnight(day, zone).astimezone(UTC))
    return edges


def _maker(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


# ------------------------------------------------------------------ queries
def _yield(engine: Engine, unit: str, product: ProductRef, start: datetime, end: datetime) -> YieldSeries:
    zone = _zone(start)
    s, e = _range(start, end)
    with reading(_maker(engine), "compute the yield") as session:
        query, name = _scoped(session, select(Inspection.time, Inspection.verdict), product, s, e)
        rows = session.execute(query).all()
    edges = _bucket_edges(s, e, zone, unit)
    starts = edges[:-1]
    passed = [0] * len(starts)
    failed = [0] * len(starts)
    for t, verdict in rows:
        i = bisect.bisect_right(starts, t) - 1
        if verdict == "PASS":
            passed[max(i, 0)] += 1
        else:
            failed[max(i, 0)] += 1
    buckets = tuple(
        YieldBucket(start=a, end=b, inspected=p + f, passed=p, failed=f)
        for a, b, p, f in zip(starts, edges[1:], passed, failed, strict=False)
    )
    return YieldSeries(name, s, e, unit, buckets, sum(passed) + sum(failed), sum(passed), sum(failed))


def yield_per_hour(engine: Engine, *, product: ProductRef = None, start: datetime, end: datetime) -> YieldSeries:
    """Inspected / passed / failed / yield % per hour between start and end (every hour listed, empty ones too)."""
    return _yield(engine, "hour", product, start, end)


def yield_per_day(engine: Engine, *, product: ProductRef = None, start: datetime, end: datetime) -> YieldSeries:
    """Inspected / passed / failed / yield % per calendar day (days in ``start``'s time zone)."""
    return _yield(engine, "day", product, start, end)


def score_distribution(
    engine: Engine, *, product: ProductRef = None, start: datetime, end: datetime
) -> ScoreDistribution:
    """All scores in the range (for a histogram) and the threshold in use."""
    s, e = _range(start, end)
    with reading(_maker(engine), "read the scores") as session:
        query, name = _scoped(
            session,
            select(
                Inspection.score, Inspection.verdict, Inspection.threshold, Inspection.threshold_overridden
            ).order_by(Inspection.time, Inspection.id),
            product,
            s,
            e,
        )
        rows = session.execute(query).all()
        threshold: float | None = None
        overridden = False
        if product is not None:
            prow = product_row(session, product)
            if prow.threshold_override is not None:
                threshold, overridden = float(prow.threshold_override), True
            elif prow.calibration and isinstance(prow.calibration.get("threshold"), (int, float)):
                threshold = float(prow.calibration["threshold"])
        if threshold is None and rows:
            threshold, overridden = float(rows[-1][2]), bool(rows[-1][3])
    return ScoreDistribution(
        product=name,
        start=s,
        end=e,
        scores=tuple(float(r[0]) for r in rows),
        verdicts=tuple(str(r[1]) for r in rows),
        threshold=threshold,
        threshold_overridden=overridden,
    )


def reject_count(engine: Engine, *, product: ProductRef = None, start: datetime, end: datetime) -> RejectCount:
    """How many parts were inspected and rejected (FAIL) in the range, and how reviews judged the rejects."""
    s, e = _range(start, end)
    with reading(_maker(engine), "count the rejects") as session:
        query, name = _scoped(
            session,
            select(Inspection.verdict, Inspection.review_status, func.count()).group_by(
                Inspection.verdict, Inspection.review_status
            ),
            product,
            s,
            e,
        )
        rows = session.execute(query).all()
    inspected = sum(int(n) for _, _, n in rows)
    rejected = sum(int(n) for v, _, n in rows if v == "FAIL")
    confirmed = sum(int(n) for v, r, n in rows if v == "FAIL" and r == REVIEW_CONFIRMED_DEFECT)
    false_alarms = sum(int(n) for v, r, n in rows if v == "FAIL" and r == REVIEW_FALSE_ALARM)
    return RejectCount(name, s, e, inspected, rejected, confirmed, false_alarms)


def rejects_today(engine: Engine, *, product: ProductRef = None, now: datetime) -> RejectCount:
    """Rejects from midnight (in ``now``'s time zone) until ``now``."""
    return reject_count(engine, product=product, start=start_of_day(now), end=now)


def _window(engine: Engine, product: ProductRef, start: datetime, end: datetime) -> tuple[RateWindow, str | None]:
    counts = reject_count(engine, product=product, start=start, end=end)
    return RateWindow(counts.start, counts.end, counts.inspected, counts.rejected), counts.product


def defect_rate_week_over_week(engine: Engine, *, product: ProductRef = None, now: datetime) -> WeekComparison:
    """FAIL rate of this week so far (Monday 00:00 .. now) against the whole of last week."""
    monday = start_of_week(now)
    last_monday = _local_midnight(monday.date() - timedelta(days=7), _zone(now))
    this_week, name = _window(engine, product, monday, now)
    last_week, _ = _window(engine, product, last_monday, monday)
    return WeekComparison(name, this_week, last_week)


def region_locations(
    engine: Engine, *, product: ProductRef = None, start: datetime, end: datetime, limit: int | None = None
) -> RegionLocations:
    """Where defect regions of rejected parts were found, most frequent first (ties by name)."""
    s, e = _range(start, end)
    with reading(_maker(engine), "count the defect locations") as session:
        query, name = _scoped(session, select(Inspection.regions).where(Inspection.verdict == "FAIL"), product, s, e)
        all_regions = [r for (r,) in session.execute(query).all()]
    regions: Counter[str] = Counter()
    inspections: Counter[str] = Counter()
    for items in all_regions:
        seen = set()
        for region in items or []:
            if not isinstance(region, dict):
                continue
            location = str(region.get("location") or "unknown")
            regions[location] += 1
            seen.add(location)
        inspections.update(seen)
    ordered = sorted(regions, key=lambda loc: (-regions[loc], -inspections[loc], loc))
    if limit is not None:
        ordered = ordered[: max(0, int(limit))]
    return RegionLocations(
        name, s, e, len(all_regions), tuple(LocationCount(loc, regions[loc], inspections[loc]) for loc in ordered)
    )


class StatsQueries:
    """The statistics bound to one engine (what the desktop and the chat hold on to)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def yield_per_hour(self, *, product: ProductRef = None, start: datetime, end: datetime) -> YieldSeries:
        return yield_per_hour(self.engine, product=product, start=start, end=end)

    def yield_per_day(self, *, product: ProductRef = None, start: datetime, end: datetime) -> YieldSeries:
        return yield_per_day(self.engine, product=product, start=start, end=end)

    def score_distribution(self, *, product: ProductRef = None, start: datetime, end: datetime) -> ScoreDistribution:
        return score_distribution(self.engine, product=product, start=start, end=end)

    def reject_count(self, *, product: ProductRef = None, start: datetime, end: datetime) -> RejectCount:
        return reject_count(self.engine, product=product, start=start, end=end)

    def rejects_today(self, *, product: ProductRef = None, now: datetime) -> RejectCount:
        return rejects_today(self.engine, product=product, now=now)

    def defect_rate_week_over_week(self, *, product: ProductRef = None, now: datetime) -> WeekComparison:
        return defect_rate_week_over_week(self.engine, product=product, now=now)

    def region_locations(
        self, *, product: ProductRef = None, start: datetime, end: datetime, limit: int | None = None
    ) -> RegionLocations:
        return region_locations(self.engine, product=product, start=start, end=end, limit=limit)


__all__ = [
    "LocationCount",
    "RateWindow",
    "RegionLocations",
    "RejectCount",
    "ScoreDistribution",
    "StatsQueries",
    "WeekComparison",
    "YieldBucket",
    "YieldSeries",
    "defect_rate_week_over_week",
    "region_locations",
    "reject_count",
    "rejects_today",
    "score_distribution",
    "start_of_day",
    "start_of_week",
    "yield_per_day",
    "yield_per_hour",
]
