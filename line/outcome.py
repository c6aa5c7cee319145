"""What goes into the inference worker and what comes out of it, without Qt: build requests, inspect requests and
the outcome of one inspected frame (what the window shows, the database records and the PLC is told)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.heatmap import colorize_levels, normalise, to_levels
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
    # the colour-map level of each heatmap pixel (H x W uint8: heatmap_rgba's RGB is core.heatmap.JET_RGB[levels]),
    # made with it by heatmap_layers; the heatmap's file is then a paletted PNG (line/heatmap_png.py). None: not known.
    heatmap_levels: np.ndarray | None = None
    operator: str = ""  # who was logged in at the window when the part was inspected; "" for the line runner


def heatmap_layers(result: InspectionResult) -> tuple[np.ndarray, np.ndarray]:
    """The result's colour heatmap with an alpha channel (H x W x 4 uint8) for drawing over the frame, and its
    colour-map levels (H x W uint8): core.heatmap's colours."""
    level = normalise(result.anomaly_map, result.threshold)  # 0.5 is the threshold
    level_map = to_levels(level)
    rgb = colorize_levels(level_map)
    alpha = (np.clip((level - 0.15) * 2.5, 0.0, 1.0) * 255.0).astype(np.uint8)  # clearly normal areas see-through
    return cv2.merge([*cv2.split(rgb), alpha]), level_map


def heatmap_rgba(result: InspectionResult) -> np.ndarray:
    """The result's colour heatmap with an alpha channel (H x W x 4 uint8) for drawing over the frame."""
    return heatmap_layers(result)[0]
