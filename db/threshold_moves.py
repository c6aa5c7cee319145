"""The threshold-move guard in the database layer (core/threshold_guard.py has the arithmetic).

Before a threshold override is saved, the product's recent recorded failures (the newest ``RECENT_FAILURES``
FAIL inspections, leaving out those a review in force calls a false alarm) are compared with the new threshold.
When more than the admin's share (station setting ``threshold_guard_share``, default 10 %) would now pass, the
override needs a second person, an engineer or an admin other than the one making it, who logs in with their
own password and says why; without that GuardedDatabase.set_threshold_override raises
:class:`SecondConfirmationRequired` carrying the measured move, and nothing is saved. The move, the share and
who confirmed are in the override's audit event either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.threshold_guard import DEFAULT_GUARD_SHARE, RECENT_FAILURES, RecordedFailure, ThresholdMove

from .auth_errors import PermissionDenied
from .models import REVIEW_FALSE_ALARM, Inspection
from .reviews import label_in_force

THRESHOLD_GUARD_SETTING = "threshold_guard_share"


@dataclass(frozen=True)
class SecondConfirmation:
    """The second person's login and reason, given at the moment of the override."""

    name: str
    password: str
    reason: str


class SecondConfirmationRequired(PermissionDenied):
    """The override would let more than the admin's share of recent failures pass: a second engineer or admin must
    confirm it. ``move`` says what it does; ``limit_share`` is the share the admin set."""

    def __init__(self, message: str, *, move: ThresholdMove, limit_share: float) -> None:
        super().__init__(message, action="override_threshold")
        self.move = move
        self.limit_share = limit_share


def recent_failures(session: Session, product_id: int, n: int = RECENT_FAILURES) -> list[RecordedFailure]:
    """The product's newest ``n`` recorded failures that no review in force calls a false alarm, newest first."""
    out: list[RecordedFailure] = []
    query = (
        select(Inspection.id, Inspection.score, Inspection.regions)
        .where(Inspection.product_id == product_id, Inspection.verdict == "FAIL")
        .order_by(Inspection.time.desc(), Inspection.id.desc())
    )
    for inspection_id, score, regions in session.execute(query.execution_options(yield_per=200)):
        label = label_in_force(session, inspection_id)
        if label is not None and label.label == REVIEW_FALSE_ALARM:
            continue
        out.append(RecordedFailure(float(score), _locations(regions), f"#{inspection_id}"))
        if len(out) >= n:
            break
    return out


def _locations(regions: Any) -> tuple[str, ...]:
    found: list[str] = []
    for region in regions or ():
        location = region.get("location") if isinstance(region, dict) else None
        if location and location not in found:
            found.append(str(location))
    return tuple(found)


def guard_share(value: Any) -> float:
    """The stored setting as a share (the default when unset or unreadable)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        return DEFAULT_GUARD_SHARE
    return float(value)


__all__ = [
    "THRESHOLD_GUARD_SETTING",
    "SecondConfirmation",
    "SecondConfirmationRequired",
    "guard_share",
    "recent_failures",
]
