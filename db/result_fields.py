"""What the database records of one inspection's result: one typed object, built from the core's
``InspectionResult`` or given field by field (tests, imports). No aliases: a field has one name.

The repository validates the values (a known verdict, finite numbers, a known mode) when it records them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from core.result import InspectionResult

from .errors import ValidationError


@dataclass(frozen=True)
class ResultFields:
    verdict: str
    probability: float
    score: float
    threshold: float
    regions: Sequence[Any] = ()  # core.regions.Region objects or their dicts
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    encoder_id: str = ""
    calibration_id: str = ""
    overridden: bool = False  # an operator's threshold replaced the automatic one
    image_size: tuple[int, int] = (0, 0)  # width, height of the frame as inspected
    mode: str = "cold"  # "cold" (references only) or "line" (references + the line pool)
    pool_size: int = 0
    adapted_parts: int = 0  # the product's own map was fitted on this many of its parts (0: shipped features)

    @classmethod
    def of(cls, result: InspectionResult | ResultFields | Mapping[str, Any]) -> ResultFields:
        """The fields of a core result, of a ResultFields, or of a mapping with exactly these field names."""
        if isinstance(result, ResultFields):
            return result
        if isinstance(result, InspectionResult):
            return cls(
                verdict=result.verdict,
                probability=result.probability,
                score=result.score,
                threshold=result.threshold,
                regions=list(result.regions),
                timings_ms=dict(result.timings_ms),
                encoder_id=result.encoder_id,
                calibration_id=result.calibration_id,
                overridden=result.overridden,
                image_size=result.image_size,
                mode=result.mode,
                pool_size=result.pool_size,
                adapted_parts=result.adapted_parts,
            )
        if isinstance(result, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(result) - known)
            if unknown:
                raise ValidationError(
                    f"An inspection result has unknown fields {unknown} (expected {sorted(known)}); not recorded."
                )
            try:
                return cls(**dict(result))
            except TypeError as exc:  # a required field is missing
                raise ValidationError(f"An inspection result is incomplete ({exc}); not recorded.") from None
        raise ValidationError(f"An inspection result has an unknown form ({type(result).__name__}); not recorded.")


ResultInput = InspectionResult | ResultFields | Mapping[str, Any]

__all__ = ["ResultFields", "ResultInput"]
