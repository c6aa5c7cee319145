"""Defect regions: connected components of the thresholded map, with size and a location word.

Positions are named on a 3x3 grid of the frame, as AnomalyGPT words them: "top left", "top", "top right", "left",
"center", "right", "bottom left", "bottom", "bottom right". A region is named after the cell holding most of its
pixels, so a long diagonal scratch whose centroid falls in an empty middle cell is still named where it lies.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.result import Region

_ROWS = ("top", "", "bottom")
_COLS = ("left", "", "right")


def location_word(cx: float, cy: float, width: int, height: int) -> str:
    col = min(2, max(0, int(3 * cx / max(width, 1))))
    row = min(2, max(0, int(3 * cy / max(height, 1))))
    words = " ".join(w for w in (_ROWS[row], _COLS[col]) if w)
    return words or "center"


def _cell(x: np.ndarray, size: int) -> np.ndarray:
    return np.clip((3 * (x + 0.5) / max(size, 1)).astype(np.int64), 0, 2)


def majority_location(ys: np.ndarray, xs: np.ndarray, width: int, height: int) -> str:
    """The location word of the 3x3 cell that holds most of the pixels (ys, xs) of a map of this size."""
    counts = np.bincount(_cell(ys, height) * 3 + _cell(xs, width), minlength=9)
    best = int(np.argmax(counts))
    return location_word((best % 3 + 0.5) * width / 3, (best // 3 + 0.5) * height / 3, width, height)


def find_regions(
    anomaly_map: np.ndarray,
    threshold: float,
    min_area_pct: float = 0.02,
    max_regions: int = 10,
    frame_size: tuple[int, int] | None = None,
) -> list[Region]:
    """Connected components where the map exceeds ``threshold``, largest peak first.

    With ``frame_size`` (w, h) the map may be a smaller copy of the frame's map (same aspect): boxes and centres
    are given in frame pixels, which saves labelling a full-resolution map.
    """
    h, w = anomaly_map.shape
    fw, fh = frame_size or (w, h)
    sx, sy = fw / w, fh / h
    mask = (anomaly_map > threshold).astype(np.uint8)
    if not mask.any():
        return []
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    total = float(h * w)
    regions: list[Region] = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        area_pct = 100.0 * area / total
        if area_pct < min_area_pct:
            continue
        ys, xs = np.nonzero(labels[y : y + bh, x : x + bw] == i)
        ys, xs = ys + y, xs + x
        peak = float(anomaly_map[ys, xs].max())
        cx, cy = float(centroids[i][0] + 0.5) * sx - 0.5, float(centroids[i][1] + 0.5) * sy - 0.5
        box = (round(x * sx), round(y * sy), round((x + bw) * sx), round((y + bh) * sy))
        regions.append(
            Region(
                bbox=box,
                area_pct=area_pct,
                location=majority_location(ys, xs, w, h),
                peak=peak,
                centroid=(cx, cy),
            )
        )
    regions.sort(key=lambda r: r.peak, reverse=True)
    return regions[:max_regions]


def describe_locations(regions: list[Region]) -> str:
    """ "the top left and the center" style phrase, distinct words in order of severity."""
    words: list[str] = []
    for r in regions:
        if r.location not in words:
            words.append(r.location)
    if not words:
        return ""
    phrases = [f"the {w}" for w in words]
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]
