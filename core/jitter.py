"""Small, realistic disturbances of a normal image: what a good part looks like on another day."""

from __future__ import annotations

import cv2
import numpy as np


def jitter(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Shift a few pixels, rotate a degree or two, change exposure slightly and add sensor noise."""
    h, w = image.shape[:2]
    angle = rng.uniform(-2.0, 2.0) * strength
    tx = rng.uniform(-0.03, 0.03) * w * strength
    ty = rng.uniform(-0.03, 0.03) * h * strength
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0 + rng.uniform(-0.02, 0.02) * strength)
    m[:, 2] += (tx, ty)
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if strength >= 1.0:
        out = _elastic(out, rng, strength)
    out = out.astype(np.float32)
    if strength >= 1.0:  # uneven lighting across the part
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        direction = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(direction) * (xx / w - 0.5) + np.sin(direction) * (yy / h - 0.5)) * rng.uniform(0, 0.2)
        out *= (1.0 + ramp)[..., None]
    gain = 1.0 + rng.uniform(-0.08, 0.08) * strength
    bias = rng.uniform(-8, 8) * strength
    out = out * gain + bias + rng.normal(0, 2.0 * strength, size=out.shape)
    return np.asarray(np.clip(out, 0, 255).astype(np.uint8))


def _elastic(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A smooth, small warp: parts of one product differ a little in shape."""
    h, w = image.shape[:2]
    amp = 0.012 * min(h, w) * strength
    coarse = rng.normal(0, 1, size=(2, 4, 4)).astype(np.float32)
    dx = cv2.resize(coarse[0], (w, h), interpolation=cv2.INTER_CUBIC) * amp
    dy = cv2.resize(coarse[1], (w, h), interpolation=cv2.INTER_CUBIC) * amp
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(image, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
