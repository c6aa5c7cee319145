"""A lot report: one product over a date range, with its yield, its rejects and the reviews of its inspections
(who reviewed what, when and why). Built from the database only (no Qt); db/report_pdf.py prints it.

    report = build_lot_report(database, "widget", start, end)      # start inclusive, end exclusive (tz-aware)
    report.inspected, report.rejected, report.yield_rate, report.reviews
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .models import REVIEW_CONFIRMED_DEFECT, REVIEW_FALSE_ALARM, Inspection, Review
from .records import HistoryFilter, InspectionRecord
from .repository import Database
from .reviews import LABELS_IN_FORCE
from .session import make_sessionmaker, reading
from .types import ensure_utc, utc_now


@dataclass(frozen=True)
class ReviewLine:
    review_id: int
    inspection_id: int
    part_id: str | None
    verdict: str  # the inspection's own verdict (never edited)
    label: str  # confirmed_defect / false_alarm / needs_review
    by: str
    at: datetime
    reason: str | None
    superseded: bool  # a later review of the same inspection replaced this one


@dataclass(frozen=True)
class RejectLine:
    inspection_id: int
    time: datetime
    part_id: str | None
    probability: float
    locations: tuple[str, ...]
    label_in_force: str | None  # the review in force, if any


@dataclass(frozen=True)
class LotReport:
    product: str
    product_id: int
    start: datetime
    end: datetime
    inspected: int
    passed: int
    rejected: int
    false_alarms: int  # rejects whose review in force says false alarm
    confirmed_defects: int
    rejects: tuple[RejectLine, ...]
    reviews: tuple[ReviewLine, ...]
    threshold_in_use: float | None
    threshold_override_by: str | None
    generated_at: datetime

    @property
    def yield_rate(self) -> float | None:
        return self.passed / self.inspected if self.inspected else None

    @property
    def reviewers(self) -> tuple[str, ...]:
        return tuple(sorted({r.by for r in self.reviews}))


def build_lot_report(
    database: Database, product: str | int, start: datetime, end: datetime, *, now: datetime | None = None
) -> LotReport:
    """The report of ``product`` (name or id) for inspections with ``start <= time < end``."""
    start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
    if end <= start:
        from .errors import ValidationError

        raise ValidationError("The report's end must be after its start.")
    info = database.products.get(product)
    records: list[InspectionRecord] = []
    offset = 0
    while True:  # every inspection of the range, a page at a time, oldest first
        page = database.history.query(
            HistoryFilter(product_id=info.id, start=start, end=end, limit=1000, offset=offset, newest_first=False)
        )
        records += page.records
        offset += len(page.records)
        if not page.records or offset >= page.total:
            break
    by_id = {r.id: r for r in records}
    maker = make_sessionmaker(database.engine)
    with reading(maker, "read the reviews") as session:
        rows = session.scalars(
            select(Review)
            .join(Inspection, Inspection.id == Review.inspection_id)
            .where(Inspection.product_id == info.id, Inspection.time >= start, Inspection.time < end)
            .order_by(Review.inspection_id, Review.id)
        ).all()
        superseded = {r.supersedes_id for r in rows if r.supersedes_id is not None}
        in_force: dict[int, str] = {}
        reviews = []
        for row in rows:
            insp = by_id.get(row.inspection_id)
            if row.label in LABELS_IN_FORCE:  # the newest label wins (rows come in id order)
                in_force[row.inspection_id] = row.label
            reviews.append(
                ReviewLine(
                    review_id=row.id,
                    inspection_id=row.inspection_id,
                    part_id=insp.part_id if insp is not None else None,
                    verdict=insp.verdict if insp is not None else "",
                    label=row.label,
                    by=row.by,
                    at=ensure_utc(row.at, "at"),
                    reason=row.reason,
                    superseded=row.id in superseded,
                )
            )
    rejects = tuple(
        RejectLine(
            inspection_id=r.id,
            time=r.time,
            part_id=r.part_id,
            probability=r.probability,
            locations=tuple(str(reg.get("location", "")) for reg in r.regions),
            label_in_force=in_force.get(r.id),
        )
        for r in records
        if r.verdict == "FAIL"
    )
    passed = sum(r.verdict == "PASS" for r in records)
    return LotReport(
        product=info.name,
        product_id=info.id,
        start=start,
        end=end,
        inspected=len(records),
        passed=passed,
        rejected=len(records) - passed,
        false_alarms=sum(1 for r in rejects if r.label_in_force == REVIEW_FALSE_ALARM),
        confirmed_defects=sum(1 for r in rejects if r.label_in_force == REVIEW_CONFIRMED_DEFECT),
        rejects=rejects,
        reviews=tuple(reviews),
        threshold_in_use=info.threshold_in_use,
        threshold_override_by=info.threshold_override_by if info.threshold_override is not None else None,
        generated_at=ensure_utc(now or utc_now(), "now"),
    )


__all__ = ["LotReport", "RejectLine", "ReviewLine", "build_lot_report"]
