"""The last N recorded parts, newest first, for the filmstrip (each opens its inspection record)."""

from __future__ import annotations

import threading
from collections import deque

import cv2
import numpy as np

from line.events import PartSummary

RECENT_PARTS = 12
THUMBNAIL_PX = 96


def thumbnail(image: np.ndarray, size: int = THUMBNAIL_PX) -> np.ndarray:
    """A small copy of the frame (longest side ``size`` px), RGB uint8."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    if scale >= 1.0:
        return np.ascontiguousarray(image[..., :3]).copy()
    return cv2.resize(
        image[..., :3], (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )


class RecentParts:
    def __init__(self, size: int = RECENT_PARTS) -> None:
        self._parts: deque[PartSummary] = deque(maxlen=max(1, int(size)))
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._parts.maxlen or 0

    def seed(self, parts: list[PartSummary]) -> None:
        """Add these earlier parts (the last ones recorded before a restart) to those recorded since: each part
        once, newest (highest inspection id) first."""
        with self._lock:
            merged = {p.inspection_id: p for p in parts}
            merged.update({p.inspection_id: p for p in self._parts})  # a part recorded since keeps its summary
            newest = sorted(merged.values(), key=lambda p: p.inspection_id, reverse=True)
            self._parts.clear()
            self._parts.extend(newest[: self.size])

    def add(self, part: PartSummary) -> None:
        with self._lock:
            self._parts.appendleft(part)

    def parts(self) -> list[PartSummary]:
        """Newest first."""
        with self._lock:
            return list(self._parts)

    def __len__(self) -> int:
        return len(self._parts)
