"""The result of one inspection: what the station shows, stores and talks about."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PASS = "PASS"
FAIL = "FAIL"


@dataclass(frozen=True)
class Region:
    """One connected defect region of the thresholded anomaly map (pixel coordinates of the input frame)."""

    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)
    area_pct: float  # area in % of the part (the whole frame)
    location: str  # "top left" ... "center" ... "bottom right"
    peak: float  # highest anomaly score inside the region
    centroid: tuple[float, float] = (0.0, 0.0)  # x, y

    def to_dict(self) -> dict[str, Any]:
        return {
            "bbox": [int(v) for v in self.bbox],
            "area_pct": round(float(self.area_pct), 3),
            "location": self.location,
            "peak": round(float(self.peak), 4),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Region:
        return cls(
            bbox=tuple(int(v) for v in d["bbox"]),  # type: ignore[arg-type]
            area_pct=float(d["area_pct"]),
            location=str(d["location"]),
            peak=float(d["peak"]),
        )


@dataclass
class InspectionResult:
    """Verdict, probability, score, pixel map and regions of one frame.

    ``anomaly_map`` is float32 at the frame's resolution, in the same units as ``score`` and ``threshold``
    (map values above ``threshold`` are anomalous). ``probability`` is the calibrated probability that the part
    is defective.
    """

    verdict: str
    probability: float
    score: float
    threshold: float
    anomaly_map: np.ndarray
    regions: list[Region]
    timings_ms: dict[str, float]
    encoder_id: str
    calibration_id: str
    overridden: bool = False  # True where an operator threshold replaced the automatic one
    image_size: tuple[int, int] = (0, 0)  # width, height
    extra: dict[str, Any] = field(default_factory=dict)
    mode: str = "cold"  # "cold": scored against the references; "line": references + the pool of recent parts
    pool_size: int = 0  # parts in the product's line pool when this frame was scored
    drift: bool = False  # most recent parts failed: camera moved or another product? (line mode)
    adapted_parts: int = 0  # the product's features were fitted on this many of its own parts (0: shipped ones)
    adapting: float | None = None  # line mode is fitting the product's own map: how far (0-1); None otherwise

    @property
    def is_defective(self) -> bool:
        return self.verdict == FAIL

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the map)."""
        return {
            "verdict": self.verdict,
            "probability": round(float(self.probability), 4),
            "score": round(float(self.score), 4),
            "threshold": round(float(self.threshold), 4),
            "threshold_overridden": self.overridden,
            "regions": [r.to_dict() for r in self.regions],
            "timings_ms": {k: round(float(v), 2) for k, v in self.timings_ms.items()},
            "encoder_id": self.encoder_id,
            "calibration_id": self.calibration_id,
            "mode": self.mode,
            "pool_size": self.pool_size,
            "drift": self.drift,
            "adapted_parts": self.adapted_parts,
        }
