"""Resizing frames to the working resolution while keeping their aspect ratio."""

from __future__ import annotations

import cv2
import numpy as np

from core.settings import DecoderSettings

GRID = 16  # both feature strides divide this


def working_size(width: int, height: int, resolution: int) -> tuple[int, int]:
    """(w, h) with about resolution**2 pixels, the frame's aspect ratio, both multiples of 16, at least 64."""
    if resolution <= 0:  # 0 means "chosen per product": the caller skipped core.inspector.resolve_settings
        raise ValueError(f"working resolution {resolution}: resolve automatic settings before resizing")
    scale = (resolution * resolution / float(width * height)) ** 0.5
    w = max(64, round(width * scale / GRID) * GRID)
    h = max(64, round(height * scale / GRID) * GRID)
    return w, h


def resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    if image.shape[1] == w and image.shape[0] == h:
        return image
    shrinking = w < image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def to_working(image: np.ndarray, resolution: int) -> np.ndarray:
    return resize_to(image, working_size(image.shape[1], image.shape[0], resolution))


def working_image(image: np.ndarray, settings: DecoderSettings) -> np.ndarray:
    """The frame as the decoder sees it: aspect kept (default) or squashed to a square (plain baseline)."""
    if settings.extra.get("squash"):
        return resize_to(image, (settings.resolution, settings.resolution))
    return to_working(image, settings.resolution)
