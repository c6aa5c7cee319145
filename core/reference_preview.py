"""What a new normal reference would do to a product, measured before it takes effect.

A false alarm added as a reference is how an operator teaches the station that a look is normal. Done blindly it can
teach it that defects are normal: a reference that carries a faint defect, or one that differs from the others,
raises the threshold and widens the memory. So before a reference is added, the product is rebuilt with it (the
same build and calibration as for real) and the product's recent failures are scored again: how many of them would
now pass, and where their defects were.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import Cancelled
from core.protocols import BuiltProduct, InspectorProtocol
from core.result import PASS
from core.settings import DecoderSettings
from core.threshold_guard import NO_REGION, ThresholdMove

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class RecentFailure:
    frame: np.ndarray  # RGB uint8
    locations: tuple[str, ...] = ()  # where its regions were ("top left", ...), as recorded
    label: str = ""  # how people call it (the inspection number)


@dataclass(frozen=True)
class PreviewRequest:
    """Across the thread seam: measure what adding ``candidate`` as a normal reference would do to a product."""

    token: int
    product_id: int
    references: tuple[np.ndarray, ...]  # the product's references as they are now (RGB uint8)
    candidate: np.ndarray
    failures: tuple[RecentFailure, ...]


@dataclass(frozen=True)
class ReferencePreview:
    """What the new reference does: the threshold move measured on the recent failures (the same
    :class:`core.threshold_guard.ThresholdMove` an override is judged by), and the product built with it."""

    move: ThresholdMove
    product: BuiltProduct | None = None  # the product built with the new reference (reused when it is accepted)

    @property
    def threshold_before(self) -> float:
        return self.move.threshold_before

    @property
    def threshold_after(self) -> float:
        return self.move.threshold_after

    @property
    def failures(self) -> int:
        return self.move.failures

    @property
    def would_pass(self) -> int:
        return self.move.would_pass

    @property
    def would_pass_by_location(self) -> dict[str, int]:
        return self.move.would_pass_by_location

    @property
    def share(self) -> float:
        return self.move.share

    def summary(self) -> str:
        """One paragraph for the person deciding."""
        m = self.move
        head = (
            f"With this image as a normal reference the threshold moves from {m.threshold_before:.3f} to"
            f" {m.threshold_after:.3f}."
        )
        if not m.failures:
            return head + " The product has no recent failures to check it against."
        if not m.would_pass:
            return head + f" All {m.failures} recent failures would still fail."
        where = ", ".join(f"{k}: {v}" for k, v in sorted(m.would_pass_by_location.items(), key=lambda kv: -kv[1]))
        return (
            head + f" {m.would_pass} of the {m.failures} recent failures ({100 * m.share:.0f}%) would"
            f" now PASS ({where})."
        )


def preview_reference(
    inspector: InspectorProtocol,
    references: Sequence[np.ndarray],
    candidate: np.ndarray,
    recent_failures: Sequence[RecentFailure],
    current: BuiltProduct,
    settings: DecoderSettings | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ReferencePreview:
    """Rebuild the product with ``candidate`` added to ``references`` and score ``recent_failures`` with it.

    ``inspector`` is a :class:`core.inspector.Inspector` (``build_product`` and ``inspect``); ``current`` is the
    product as it is now (its threshold is the "before")."""
    build = inspector.build_product
    inspect = inspector.inspect
    report = progress or (lambda f, m: None)
    product = build(
        [*references, candidate],
        name=current.name,
        settings=settings or current.settings,
        progress=lambda f, m: report(0.7 * f, f"building with the new reference: {m}"),
        cancel=cancel,
        own_map=current.own_map,  # on the features the product uses now
    )
    passed: list[RecentFailure] = []
    for i, failure in enumerate(recent_failures):
        if cancel and cancel():
            raise Cancelled("the preview of the new reference was cancelled")
        if inspect(failure.frame, product).verdict == PASS:
            passed.append(failure)
        report(0.7 + 0.3 * (i + 1) / max(1, len(recent_failures)), f"recent failure {i + 1}/{len(recent_failures)}")
    where: Counter[str] = Counter()
    for f in passed:
        where.update(set(f.locations) or {NO_REGION})
    move = ThresholdMove(
        threshold_before=current.calibration.effective_threshold,
        threshold_after=product.calibration.effective_threshold,
        failures=len(recent_failures),
        would_pass=len(passed),
        would_pass_by_location=dict(where),
        would_pass_labels=tuple(f.label for f in passed),
    )
    return ReferencePreview(move, product)
