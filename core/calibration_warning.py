"""A product whose own calibration says it cannot see defects: the warning the station shows after a build.

The calibration scores simulated defects on copies of the references beside the references' own variation (their
halves, leave-one-out or held-out scores). Where most simulated defects score no higher than that variation, the
references differ from each other (position, size, lighting) more than a defect differs from a good part, and the
verdict will pass most real defects: with 4 references of shared casting impellers, 8-25 % of the simulated
defects scored above the references' own variation and the station then passed 98.9 % of the defective parts
(docs/benchmarks.md, "A product that cannot see its defects"). Nothing here changes the verdict; it tells the
operator before the first part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fewer than this share of the simulated defects above the highest normal stand-in: the product is flagged. Every
# 1-reference product of the five shared categories is above it (lowest 0.38), as is every 2- and 4-reference
# product but casting's (4 references: 0.08-0.25; 2 references, seed 0: 0.21).
MIN_DETECTABLE = 0.30


def calibration_warning(calibration: Mapping[str, Any], name: str = "this product") -> str | None:
    """A message for the operator where the calibration (``Calibration.to_dict()``) sees few of its simulated
    defects; None otherwise, and for calibrations saved without the figure."""
    stats = calibration.get("stats") or {}
    detectable = stats.get("detectable")
    if not isinstance(detectable, (int, float)) or detectable >= MIN_DETECTABLE:
        return None
    return (
        f"{name}: only {detectable:.0%} of the defects the station simulated on its references stand out from"
        " the references' own differences, so most real defects may pass. The references differ from each other"
        " (position, size, lighting) more than a defect differs from a good part: photograph them as the line"
        " will see parts, in the same place and light, or use fewer, consistent ones."
    )
