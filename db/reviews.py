"""Reading reviews: each inspection's reviews, oldest first, and the one that counts now.

Reviews are only ever added (db/guarded.py ``review`` / ``mark_for_review``): a later label supersedes the earlier
one (``supersedes_id``) and the inspection's own verdict is never edited. The label in force is the newest
confirmed_defect / false_alarm row; a needs_review row is an operator's request and labels nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from .models import REVIEW_CONFIRMED_DEFECT, REVIEW_FALSE_ALARM, REVIEW_NEEDS_REVIEW, Review
from .session import reading

LABELS_IN_FORCE = (REVIEW_CONFIRMED_DEFECT, REVIEW_FALSE_ALARM)


@dataclass(frozen=True)
class ReviewInfo:
    id: int
    inspection_id: int
    at: datetime
    by: str
    label: str
    reason: str | None
    supersedes_id: int | None
    added_reference: bool


def review_info(row: Review) -> ReviewInfo:
    return ReviewInfo(
        id=row.id,
        inspection_id=row.inspection_id,
        at=row.at,
        by=row.by,
        label=row.label,
        reason=row.reason,
        supersedes_id=row.supersedes_id,
        added_reference=bool(row.added_reference),
    )


def label_in_force(session: Session, inspection_id: int) -> Review | None:
    return session.scalars(
        select(Review)
        .where(Review.inspection_id == inspection_id, Review.label.in_(LABELS_IN_FORCE))
        .order_by(Review.id.desc())
        .limit(1)
    ).first()


class ReviewQueries:
    def __init__(self, maker: sessionmaker[Session]) -> None:
        self._maker = maker

    def for_inspection(self, inspection_id: int) -> list[ReviewInfo]:
        """Every review of the inspection, oldest first (superseded ones included)."""
        with reading(self._maker, "read the reviews") as session:
            rows = session.scalars(
                select(Review).where(Review.inspection_id == inspection_id).order_by(Review.id)
            ).all()
            return [review_info(r) for r in rows]

    def in_force(self, inspection_id: int) -> ReviewInfo | None:
        """The label that counts now (the newest confirmed_defect / false_alarm), or None when not reviewed."""
        with reading(self._maker, "read the reviews") as session:
            row = label_in_force(session, inspection_id)
            return review_info(row) if row is not None else None

    def pending(self) -> list[int]:
        """Ids of inspections marked for review and not labelled since, oldest request first."""
        with reading(self._maker, "read the reviews") as session:
            return [int(r[0]) for r in session.execute(open_requests().order_by(func.min(Review.id))).all()]

    def open_request(self, inspection_id: int) -> ReviewInfo | None:
        """The operator's first request not answered by a label since, or None."""
        with reading(self._maker, "read the reviews") as session:
            found = session.execute(open_requests().where(Review.inspection_id == inspection_id)).first()
            row = session.get(Review, int(found[1])) if found is not None else None
            return review_info(row) if row is not None else None


def open_requests() -> Select[int, int]:
    """(inspection id, first request id) of each inspection marked for review and not labelled since."""
    last_label = (
        select(Review.inspection_id, func.max(Review.id).label("last"))
        .where(Review.label.in_(LABELS_IN_FORCE))
        .group_by(Review.inspection_id)
        .subquery()
    )
    return (
        select(Review.inspection_id, func.min(Review.id).label("first"))
        .outerjoin(last_label, last_label.c.inspection_id == Review.inspection_id)
        .where(Review.label == REVIEW_NEEDS_REVIEW)
        .where((last_label.c.last.is_(None)) | (Review.id > last_label.c.last))
        .group_by(Review.inspection_id)
    )


__all__ = ["LABELS_IN_FORCE", "ReviewInfo", "ReviewQueries", "label_in_force", "open_requests", "review_info"]
