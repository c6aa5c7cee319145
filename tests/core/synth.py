"""Synthetic parts made by the tests: a machined disk with rings on a plain background."""
from __future__ import annotations

import cv2
import numpy as np


def make_part(rng: np.random.Generator, size: int = 224, shift: int = 3) -> np.ndarray:
    img = np.full((size, size, 3), (70, 90, 110), np.float32)
    cx = size // 2 + int(rng.integers(-shift, shift + 1))
    cy = size // 2 + int(rng.integers(-shift, shift + 1))
    r = int(size * 0.36)
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    disk = d < r
    rings = 170 + 25 * np.sin(d / 3.0)
    for c in range(3):
        img[..., c][disk] = rings[disk] * (1.0, 0.95, 0.85)[c]
    cv2.circle(img, (cx, cy), r // 4, (60, 60, 60), -1)  # the bore
    img += rng.normal(0, 2.0, img.shape) + rng.uniform(-4, 4)
    return np.clip(img, 0, 255).astype(np.uint8)


def plant_spot(image: np.ndarray, x: int, y: int, radius: int = 10) -> tuple[np.ndarray, np.ndarray]:
    out = image.copy()
    cv2.circle(out, (x, y), radius, (20, 200, 30), -1)
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.circle(mask, (x, y), radius, 1, -1)
    return out, mask.astype(bool)
