"""Anomaly simulation on normal images, with a matching text description.

Used to calibrate the verdict of each product (no defect samples needed) and to train the prompt learner.
Kinds: NSA-style cut-paste with Poisson blending from another normal image, DRAEM-style Perlin-noise texture
blends, scratches and spots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.perlin import perlin_2d
from core.regions import describe_locations, find_regions
from core.result import Region

KINDS = ("cutpaste", "perlin", "scratch", "spot")
_KIND_WORDS = {
    "cutpaste": "a misplaced patch of material",
    "perlin": "a discoloured, irregular area",
    "scratch": "a scratch",
    "spot": "a spot or stain",
}


@dataclass
class SimulatedAnomaly:
    image: np.ndarray  # RGB uint8, same size as the input
    mask: np.ndarray  # bool (H, W)
    kind: str
    regions: list[Region]
    description: str  # "Yes, there is an anomaly at the top left: a scratch covering about 1.2% of the part."

    @property
    def area_pct(self) -> float:
        return 100.0 * float(self.mask.mean())


def describe(kind: str, regions: list[Region], area_pct: float) -> str:
    where = describe_locations(regions) or "the center"
    size = f"about {area_pct:.1f}% of the part" if area_pct >= 0.1 else "less than 0.1% of the part"
    return f"Yes, there is an anomaly at {where}: {_KIND_WORDS.get(kind, 'a defect')} covering {size}."


NORMAL_DESCRIPTION = "No, there is no anomaly in this image; the part looks normal."


def _random_blob_mask(h: int, w: int, rng: np.random.Generator, max_frac: float = 0.08) -> np.ndarray:
    for _ in range(20):
        cells = int(rng.choice([2, 4, 8]))
        noise = perlin_2d((h, w), (cells, cells), rng)
        thr = np.quantile(noise, 1.0 - rng.uniform(0.005, max_frac))
        mask = noise > thr
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        if n > 1:
            keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            return np.asarray(labels == keep)
    y, x = rng.integers(h // 4, 3 * h // 4), rng.integers(w // 4, 3 * w // 4)
    mask = np.zeros((h, w), bool)
    cv2.circle(mask.view(np.uint8), (int(x), int(y)), max(3, min(h, w) // 12), 1, -1)
    return mask.astype(bool)


def _cutpaste(image: np.ndarray, source: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    src = cv2.resize(source, (w, h)) if source.shape[:2] != (h, w) else source
    ph = int(rng.uniform(0.06, 0.25) * h)
    pw = int(rng.uniform(0.06, 0.25) * w)
    ph, pw = max(ph, 6), max(pw, 6)
    sy, sx = rng.integers(0, h - ph), rng.integers(0, w - pw)
    patch = src[sy : sy + ph, sx : sx + pw].copy()
    if rng.random() < 0.5:
        turns = int(rng.integers(1, 4))
        if turns % 2 and (pw >= h - 2 or ph >= w - 2):  # on a long strip a quarter-turned patch would not fit
            turns = 2
        patch = np.ascontiguousarray(np.rot90(patch, turns))
        ph, pw = patch.shape[:2]
    patch = np.clip(patch.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30), 0, 255).astype(np.uint8)
    ty, tx = int(rng.integers(ph // 2 + 1, h - ph // 2 - 1)), int(rng.integers(pw // 2 + 1, w - pw // 2 - 1))
    pmask = np.zeros((ph, pw), np.uint8)
    cv2.ellipse(pmask, (pw // 2, ph // 2), (max(2, pw // 2 - 1), max(2, ph // 2 - 1)), 0, 0, 360, 255, -1)
    try:
        out = cv2.seamlessClone(
            patch, image, pmask.copy(), (tx, ty), cv2.MIXED_CLONE if rng.random() < 0.3 else cv2.NORMAL_CLONE
        )
    except cv2.error:
        out = image.copy()
        y0, x0 = ty - ph // 2, tx - pw // 2
        region = out[y0 : y0 + ph, x0 : x0 + pw]
        region[pmask > 0] = patch[pmask > 0]
    mask = np.zeros((h, w), bool)
    y0, x0 = ty - ph // 2, tx - pw // 2
    mask[y0 : y0 + ph, x0 : x0 + pw] = pmask > 0
    return out, mask


def _perlin_blend(image: np.ndarray, source: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    mask = _random_blob_mask(h, w, rng)
    tex = cv2.resize(source, (w, h)) if source.shape[:2] != (h, w) else source
    tex = np.ascontiguousarray(np.rot90(tex, int(rng.integers(0, 4))))
    tex = cv2.resize(tex, (w, h))
    tex = tex.astype(np.float32)
    if rng.random() < 0.5:  # colour / brightness shift (stains, discolouration)
        tex = tex * rng.uniform(0.4, 1.6, size=3) + rng.uniform(-60, 60, size=3)
    beta = rng.uniform(0.1, 0.6)
    soft = cv2.GaussianBlur(mask.astype(np.float32), (5, 5), 1.0)[..., None]
    out = image.astype(np.float32) * (1 - soft) + (beta * image.astype(np.float32) + (1 - beta) * tex) * soft
    return np.clip(out, 0, 255).astype(np.uint8), mask


def _scratch(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    out = image.copy()
    mask = np.zeros((h, w), np.uint8)
    x, y = float(rng.uniform(0.15, 0.85) * w), float(rng.uniform(0.15, 0.85) * h)
    angle = rng.uniform(0, np.pi)
    length = rng.uniform(0.1, 0.35) * min(h, w)
    thickness = max(1, round(min(h, w) / rng.uniform(80, 200)))
    pts = []
    for t in np.linspace(-0.5, 0.5, 12):
        bend = np.sin(t * np.pi * rng.uniform(0.5, 2)) * length * 0.08
        pts.append(
            (
                x + np.cos(angle) * t * length - np.sin(angle) * bend,
                y + np.sin(angle) * t * length + np.cos(angle) * bend,
            )
        )
    pts_arr = np.array(pts, np.int32).reshape(-1, 1, 2)
    cv2.polylines(mask, [pts_arr], False, 255, thickness + 2)
    shade = int(rng.choice([20, 235])) if rng.random() < 0.7 else int(255 - image.mean())
    colour = (shade, shade, shade)
    cv2.polylines(out, [pts_arr], False, colour, thickness + 1, cv2.LINE_AA)
    return out, mask > 0


def _spot(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    out = image.astype(np.float32)
    mask = np.zeros((h, w), np.uint8)
    cx, cy = int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.1, 0.9) * h)
    ax = max(2, int(rng.uniform(0.01, 0.06) * min(h, w)))
    ay = max(2, int(ax * rng.uniform(0.5, 1.5)))
    cv2.ellipse(mask, (cx, cy), (ax, ay), float(rng.uniform(0, 180)), 0, 360, 255, -1)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(1.0, ax / 4))[..., None]
    dark = rng.random() < 0.6
    target = np.array([15.0, 15.0, 15.0]) if dark else rng.uniform(0, 255, size=3)
    mixed = out * (1 - soft * 0.9) + target * soft * 0.9
    return np.clip(mixed, 0, 255).astype(np.uint8), mask > 0


def simulate_anomaly(
    image: np.ndarray,
    rng: np.random.Generator,
    others: Sequence[np.ndarray] = (),
    kind: str | None = None,
    min_visible_change: float = 15.0,
    min_visible_tries: int = 8,
) -> SimulatedAnomaly:
    """Plant one synthetic defect in a copy of ``image`` (RGB uint8) and describe it."""
    chosen = kind or str(rng.choice(KINDS))
    if chosen not in KINDS:
        raise ValueError(f"unknown anomaly kind {chosen!r}; choose one of {', '.join(KINDS)}")
    for _attempt in range(min_visible_tries):
        source = others[int(rng.integers(len(others)))] if len(others) else image
        if chosen == "cutpaste":
            out, mask = _cutpaste(image, source, rng)
        elif chosen == "perlin":
            out, mask = _perlin_blend(image, source, rng)
        elif chosen == "scratch":
            out, mask = _scratch(image, rng)
        else:
            out, mask = _spot(image, rng)
        mask = mask.astype(bool)
        if not mask.any():
            continue
        # A defect nobody could see teaches nothing: demand a visible change inside the mask.
        x, y, bw, bh = cv2.boundingRect(mask.astype(np.uint8))  # the mean over the mask, on its box alone
        box = (slice(y, y + bh), slice(x, x + bw))
        change = np.abs(out[box].astype(np.int16) - image[box].astype(np.int16)).max(axis=2)[mask[box]].mean()
        if change >= min_visible_change:
            break
        if kind is None:
            chosen = str(rng.choice(KINDS))
    kind = chosen
    regions = find_regions(mask.astype(np.float32), 0.5, min_area_pct=0.0)
    return SimulatedAnomaly(out, mask, kind, regions, describe(kind, regions, 100.0 * float(mask.mean())))
