"""Synthetic parts made by the tests: a machined disk with rings on a plain background."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image


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


def make_texture(rng: np.random.Generator, size: int = 224) -> np.ndarray:
    """A woven surface: crossing threads with small irregularities, gray."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, 2)
    weave = np.sin(xx / 2.2 + phase[0]) * np.sin(yy / 2.2 + phase[1])
    img = 128 + 45 * weave + rng.normal(0, 6.0, (size, size)) + rng.uniform(-5, 5)
    return np.clip(np.repeat(img[..., None], 3, axis=2), 0, 255).astype(np.uint8)


def plant_scratch(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, width: int = 4) -> np.ndarray:
    out = image.copy()
    cv2.line(out, (x0, y0), (x1, y1), (235, 235, 235), width)
    return out


def misplace(image: np.ndarray, dx: int, dy: int, angle: float, seed: int = 0) -> np.ndarray:
    """The part as it sits out of its fixture: shifted and turned on the same background (the background that comes
    into view is the frame's own corner colour with the same sensor noise)."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 2] += (dx, dy)
    background = [int(v) for v in np.median(image[:8, :8].reshape(-1, 3), axis=0)]
    out = cv2.warpAffine(
        image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=background
    )
    covered = cv2.warpAffine(np.ones((h, w), np.uint8), m, (w, h), flags=cv2.INTER_NEAREST) > 0
    noise = np.random.default_rng(seed).normal(0, 2.0, out.shape)
    filled = np.where(covered[..., None], out, np.clip(out + noise, 0, 255))
    return filled.astype(np.uint8)


def write_category(
    cat: Path,
    rng: np.random.Generator,
    train: int,
    tests: Sequence[str],
    spot_at: Callable[[int], tuple[int, int]],
    mask_value: int | None = 255,
) -> None:
    """A category in the MVTec AD layout: ``train`` good parts in train/good (000.png ...), and for each test name a
    good part in test/good and a part with a planted spot (at ``spot_at(i)``) in test/spot; its mask NAME_mask.png
    in ground_truth/spot holds ``mask_value`` on the spot (None: no ground_truth/, image labels only)."""
    subs = ["train/good", "test/good", "test/spot"] + (["ground_truth/spot"] if mask_value is not None else [])
    for sub in subs:
        (cat / sub).mkdir(parents=True, exist_ok=True)
    for i in range(train):
        Image.fromarray(make_part(rng)).save(cat / f"train/good/{i:03d}.png")
    for i, name in enumerate(tests):
        Image.fromarray(make_part(rng)).save(cat / f"test/good/{name}.png")
        img, mask = plant_spot(make_part(rng), *spot_at(i))
        Image.fromarray(img).save(cat / f"test/spot/{name}.png")
        if mask_value is not None:
            Image.fromarray(mask.astype(np.uint8) * mask_value).save(cat / f"ground_truth/spot/{name}_mask.png")
