"""Shared fixtures of the database tests: a migrated temporary station database and small frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.result import FAIL, PASS, InspectionResult, Region


@pytest.fixture
def make_frame():
    """Distinct small RGB frames: make_frame(seed) always gives the same pixels for the same seed."""

    def _make(seed: int, height: int = 24, width: int = 32) -> np.ndarray:
        return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)

    return _make


@pytest.fixture
def make_result():
    """A real core InspectionResult with the given verdict/score and region locations."""

    def _make(
        verdict: str = PASS,
        score: float = 0.5,
        threshold: float = 1.0,
        locations: tuple[str, ...] = (),
        probability: float | None = None,
        overridden: bool = False,
        **extra: Any,
    ) -> InspectionResult:
        regions = [
            Region(bbox=(i, i, i + 4, i + 4), area_pct=1.5 + i, location=loc, peak=score)
            for i, loc in enumerate(locations)
        ]
        return InspectionResult(
            verdict=verdict,
            probability=probability if probability is not None else (0.9 if verdict == FAIL else 0.1),
            score=score,
            threshold=threshold,
            anomaly_map=np.zeros((24, 32), np.float32),
            regions=regions,
            timings_ms={"features": 3.0, "total": 10.5},
            encoder_id="efficientnet-lite0",
            calibration_id="cal-1",
            overridden=overridden,
            **extra,
        )

    return _make


def _store_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def store_files():
    """store_files(root): every file under the image store (finals and temporaries), sorted."""
    return _store_files
