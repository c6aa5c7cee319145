"""2-D Perlin gradient noise, for DRAEM-style anomaly shapes."""

from __future__ import annotations

import numpy as np


def _fade(t: np.ndarray) -> np.ndarray:
    return np.asarray(6 * t**5 - 15 * t**4 + 10 * t**3)


def perlin_2d(shape: tuple[int, int], cells: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Noise in about [-1, 1] of ``shape`` (h, w) with ``cells`` (cy, cx) gradient cells."""
    h, w = shape
    cy, cx = cells
    angles = rng.uniform(0, 2 * np.pi, size=(cy + 1, cx + 1))
    grads = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    ys = np.linspace(0, cy, h, endpoint=False)
    xs = np.linspace(0, cx, w, endpoint=False)
    yi = ys.astype(int)
    xi = xs.astype(int)
    yf = (ys - yi)[:, None]
    xf = (xs - xi)[None, :]

    def dot(oy: int, ox: int) -> np.ndarray:
        g = grads[yi[:, None] + oy, xi[None, :] + ox]
        return np.asarray(g[..., 0] * (xf - ox) + g[..., 1] * (yf - oy))

    u, v = _fade(xf), _fade(yf)
    n00, n10, n01, n11 = dot(0, 0), dot(0, 1), dot(1, 0), dot(1, 1)
    top = n00 + u * (n10 - n00)
    bottom = n01 + u * (n11 - n01)
    return np.asarray((top + v * (bottom - top)) * np.sqrt(2))
