"""Rendering an anomaly map for people: a colour heatmap, blended over the frame, with region boxes."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from core.result import Region


def normalise(anomaly_map: np.ndarray, threshold: float) -> np.ndarray:
    """0..1 where 0.5 is the decision threshold, so colours mean the same on every product."""
    t = max(float(threshold), 1e-6)
    return np.clip(anomaly_map / (2.0 * t), 0.0, 1.0).astype(np.float32)


# RGB of each of the 256 levels of OpenCV's JET colour map (applyColorMap gives BGR): every heatmap the station
# draws or stores uses this one table (the stored heatmap is a paletted PNG of it, line/heatmap_png.py).
JET_RGB: np.ndarray = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0, ::-1].copy()
_JET_LUT = JET_RGB.reshape(256, 1, 3)


def to_levels(normalised: np.ndarray) -> np.ndarray:
    """The colour-map level (H x W uint8) of each pixel of a ``normalise``d map (128 is the decision threshold)."""
    return np.ascontiguousarray((normalised * 255).astype(np.uint8))


def colorize_levels(level_map: np.ndarray) -> np.ndarray:
    """RGB uint8 of colour-map levels (``JET_RGB[level_map]``, through a table: about 1 ms for 320 x 320 px)."""
    return cv2.LUT(cv2.cvtColor(level_map, cv2.COLOR_GRAY2RGB), _JET_LUT)


def colorize(anomaly_map: np.ndarray, threshold: float) -> np.ndarray:
    """RGB uint8 heatmap (blue = normal, red = over the threshold)."""
    return colorize_levels(to_levels(normalise(anomaly_map, threshold)))


def overlay(
    frame: np.ndarray,
    anomaly_map: np.ndarray,
    threshold: float,
    alpha: float = 0.45,
    regions: Sequence[Region] = (),
) -> np.ndarray:
    """The frame with the heatmap blended in where it matters, and a box with its location word per region."""
    heat = colorize(anomaly_map, threshold).astype(np.float32)
    weight = alpha * np.clip(normalise(anomaly_map, threshold) * 1.6, 0.15, 1.0)[..., None]
    out = (frame.astype(np.float32) * (1 - weight) + heat * weight).astype(np.uint8)
    thick = max(1, round(max(frame.shape[:2]) / 300))
    for r in regions:
        x0, y0, x1, y1 = r.bbox
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (255, 255, 255), thick + 1)
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (220, 0, 0), thick)
        cv2.putText(
            out,
            r.location,
            (x0, max(12, y0 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thick,
            (255, 255, 255),
            thick,
            cv2.LINE_AA,
        )
    return out
