"""What a threshold move does to the product's recent failures, before it is saved.

An override (or a recalibration) that raises the threshold can make real defects pass. Before it takes effect the
product's recently recorded failures are compared with the new threshold: a failure whose recorded score is not above
it would now PASS. ``assess_threshold_move`` counts them, by the defect region where they were found; above a share
the admin sets (station setting ``threshold_guard_share``) the move needs a second person's confirmation
(db/threshold_moves.py enforces that).

    move = assess_threshold_move(failures, before=0.44, after=0.83)
    move.would_pass, move.share, move.would_pass_by_location, move.summary()
    needs_second_confirmation(move, limit_share=0.1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

DEFAULT_GUARD_SHARE = 0.10  # more than 10 % of the recent failures passing under the new threshold: ask a second person
RECENT_FAILURES = 40  # how many of the product's newest recorded failures are checked
NO_REGION = "no region recorded"


@dataclass(frozen=True)
class RecordedFailure:
    score: float  # the anomaly score the station recorded (a part FAILs when its score is above the threshold)
    locations: tuple[str, ...] = ()  # where its regions were ("top left", ...), as recorded
    label: str = ""  # how people call it (the inspection number)


@dataclass(frozen=True)
class ThresholdMove:
    threshold_before: float
    threshold_after: float
    failures: int  # recent failures compared
    would_pass: int  # of them, how many the new threshold passes
    would_pass_by_location: dict[str, int] = field(default_factory=dict)
    would_pass_labels: tuple[str, ...] = ()

    @property
    def share(self) -> float:
        return self.would_pass / self.failures if self.failures else 0.0

    def as_dict(self) -> dict[str, object]:
        """For the audit trail."""
        return {
            "threshold_before": self.threshold_before,
            "threshold_after": self.threshold_after,
            "failures_checked": self.failures,
            "would_pass": self.would_pass,
            "would_pass_by_location": dict(self.would_pass_by_location),
            "would_pass_inspections": list(self.would_pass_labels),
        }

    def summary(self) -> str:
        """One paragraph for the person deciding."""
        head = f"The threshold moves from {self.threshold_before:.3f} to {self.threshold_after:.3f}."
        if not self.failures:
            return head + " The product has no recorded failures to check it against."
        if not self.would_pass:
            return head + f" All {self.failures} recent recorded failures would still fail."
        where = ", ".join(f"{k}: {v}" for k, v in sorted(self.would_pass_by_location.items(), key=lambda kv: -kv[1]))
        return (
            head + f" {self.would_pass} of the {self.failures} recent recorded failures ({100 * self.share:.0f}%)"
            f" would now PASS ({where})."
        )


def assess_threshold_move(failures: Sequence[RecordedFailure], before: float, after: float) -> ThresholdMove:
    """Which of ``failures`` (recorded FAILs) the threshold ``after`` would pass: those scoring at or below it (the rule of core/calibration.py)."""
    passed = [f for f in failures if float(f.score) <= float(after)]
    where: Counter[str] = Counter()
    for f in passed:
        where.update(set(f.locations) or {NO_REGION})
    return ThresholdMove(
        threshold_before=float(before),
        threshold_after=float(after),
        failures=len(failures),
        would_pass=len(passed),
        would_pass_by_location=dict(where),
        would_pass_labels=tuple(f.label for f in passed),
    )


def needs_second_confirmation(move: ThresholdMove, limit_share: float) -> bool:
    """True when more than ``limit_share`` of the recent failures would pass (0 means: any failure passing)."""
    return move.would_pass > 0 and move.share > float(limit_share)


def check_guard_share(value: object) -> float:
    """A share the admin may set: a number from 0 to 1 (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"the share must be a number from 0 to 1 (got {value!r})")
    return float(value)


__all__ = [
    "DEFAULT_GUARD_SHARE",
    "NO_REGION",
    "RECENT_FAILURES",
    "RecordedFailure",
    "ThresholdMove",
    "assess_threshold_move",
    "check_guard_share",
    "needs_second_confirmation",
]
