"""What goes into the inference worker and what comes out of it, without Qt: build requests, inspect requests and
the outcome of one inspected frame (what the window shows, the database records and the PLC is told)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.heatmap import colorize, normalise
from core.result import InspectionResult
from core.settings import DecoderSettings
from line.capture.mailbox import Frame

NO_REFERENCES_MESSAGE = "Add at least one normal reference image"


@dataclass(frozen=True)
class ReferenceSource:
    """One normal reference for a build: a file (decoded in the worker) or pixels already in memory."""

    label: str  # what people call it in messages (the original file name)
    path: Path | None = None
    image: np.ndarray | None = None


@dataclass(frozen=True)
class ProductRequest:
    product_id: int
    name: str
    references: tuple[ReferenceSource, ...]
    cache_dir: Path | None = None  # memory-bank cache (core)
    model_dir: Path | None = None  # where the built model (bank + calibration) is saved and loaded from
    threshold_override: float | None = None
    override_by: str | None = None
    settings: DecoderSettings | None = None  # the product's decoder settings; None: the inspector's defaults


@dataclass(frozen=True)
class InspectRequest:
    frame: Frame
    product_id: int
    requested_at: float = field(default_factory=time.monotonic)
    part_id: str | None = None  # the PLC's id of the part (line mode); None for the window's own inspections


@dataclass(frozen=True)
class InspectionOutcome:
    """Everything about one inspected frame the window shows and the database records."""

    frame: Frame
    product_id: int
    product_name: str
    result: InspectionResult
    heatmap_rgba: np.ndarray  # colour heatmap; alpha grows with the anomaly so normal areas stay see-through
    latency_ms: float  # from capture to result
    finished_at: float = field(default_factory=time.time)
    part_id: str | None = None  # the PLC's part id, when a PLC triggered it


def heatmap_rgba(result: InspectionResult) -> np.ndarray:
    """The result's colour heatmap with an alpha channel (H x W x 4 uint8) for drawing over the frame."""
    rgb = colorize(result.anomaly_map, result.threshold)
    level = normalise(result.anomaly_map, result.threshold)  # 0.5 is the threshold
    alpha = np.clip((level - 0.15) * 2.5, 0.0, 1.0) * 255.0  # clearly normal areas stay see-through
    return np.dstack([rgb, alpha.astype(np.uint8)])
