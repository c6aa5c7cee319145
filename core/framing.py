"""Framing: where a part lies in its frame, so that every frame of a product is compared at the same scale.

A product is *framed as an object* when each of its references shows the part on a plain background: the frame's
outer band is one colour and the part stands apart from it without filling the frame. Each frame of such a product
(reference, calibration copy or inspected part alike) is then cropped to a square around its part, so that a part
that lies further from the camera, or off centre, is compared at the reference's scale. Textures, surfaces and
parts that fill the frame are framed whole, as before.

The constants below were set before any measurement, from what a plain background is (a band of 3% of the frame,
a colour difference of 6 robust standard deviations of that band and at least 12 CIELAB units), not fitted on the
shared categories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

OBJECT = "object"
WHOLE = "whole"
AUTO = "auto"
FRAMINGS = (AUTO, OBJECT, WHOLE)

_ANALYSIS_PX = 256  # the frame is looked at this size on its longer side
_BAND = 0.03  # the outer band taken as background, share of the longer side
_MADS = 6.0  # a pixel is the part when it differs from the background by this many robust deviations ...
_MIN_DIFF = 12.0  # ... and at least this many CIELAB units
_MAX_BORDER_PART = 0.2  # at most this share of the outer band may be part (a part may touch the frame's edge)
_AREA = (0.02, 0.85)  # the part covers between these shares of the frame
_MIN_PIECE = 0.1  # what differs from the background in pieces under this share of the largest is ignored
_CLOSE = 0.03  # gaps in the part up to this share of the longer side are closed
MARGIN = 0.06  # the crop extends this share of the part's size beyond it on each side


@dataclass(frozen=True)
class Box:
    """A square in frame pixels: its left, top and side (it may reach beyond the frame)."""

    x0: float
    y0: float
    side: float


def _foreground(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(part mask at analysis size, outer band mask, analysis scale): what differs from the outer band in colour or
    in detail (a part's edges and texture, where its colour is close to the background's), closed into one
    silhouette with its holes filled; None when the band itself has detail (a surface or texture fills the frame)."""
    h, w = image.shape[:2]
    scale = _ANALYSIS_PX / float(max(h, w))
    size = (max(16, round(w * scale)), max(16, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if small.ndim == 2 or small.shape[2] == 1:
        small = cv2.cvtColor(small.reshape(size[1], size[0]), cv2.COLOR_GRAY2RGB)
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    sh, sw = lab.shape[:2]
    b = max(2, round(_BAND * max(sh, sw)))
    band = np.ones((sh, sw), dtype=bool)
    band[b:-b, b:-b] = False
    part = np.zeros((sh, sw), dtype=bool)
    # colour: distance to the band's median colour; detail: the lightness gradient's size
    lightness = cv2.GaussianBlur(lab[..., 0], (3, 3), 0)
    gradient = cv2.magnitude(cv2.Sobel(lightness, cv2.CV_32F, 1, 0), cv2.Sobel(lightness, cv2.CV_32F, 0, 1))
    if float(np.percentile(gradient[band], 90)) > _MIN_DIFF:  # the band has detail: a surface, not a background
        return None
    colour = np.linalg.norm(lab - np.median(lab[band], axis=0), axis=2)
    for value, floor in ((gradient, _MIN_DIFF),):
        ring = value[band]
        centre = float(np.median(ring))
        spread = 1.4826 * float(np.median(np.abs(ring - centre)))
        part |= value > max(centre + _MADS * spread, floor)
    k = max(3, round(_CLOSE * max(sh, sw)) | 1)
    mask = cv2.morphologyEx(
        part.astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    )
    return _fill_holes(mask), band, scale


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with every region it encloses filled (what the frame's edge cannot reach is inside the part)."""
    padded = np.pad(mask, 1)
    reach = padded.copy()
    cv2.floodFill(reach, None, (0, 0), 1)
    out: np.ndarray = mask | (reach[1:-1, 1:-1] == 0).astype(np.uint8)
    return out


def object_box(image: np.ndarray) -> Box | None:
    """The square around the part of a frame that shows one on a plain background, else None."""
    found = _foreground(image)
    if found is None:
        return None
    part, band, scale = found
    sh, sw = part.shape
    if float(part[band].mean()) > _MAX_BORDER_PART:
        return None
    n, _, stats, _ = cv2.connectedComponentsWithStats(part)
    if n <= 1:
        return None
    largest = int(stats[1:, cv2.CC_STAT_AREA].max())
    pieces = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= _MIN_PIECE * largest]
    area = sum(int(stats[i, cv2.CC_STAT_AREA]) for i in pieces)
    if not _AREA[0] * sh * sw <= area <= _AREA[1] * sh * sw:
        return None
    # a piece of a tenth of the part's size or more counts, so that a second body in view widens the crop rather than
    # being cut away; specks on the background do not move it
    x0 = min(int(stats[i, cv2.CC_STAT_LEFT]) for i in pieces)
    y0 = min(int(stats[i, cv2.CC_STAT_TOP]) for i in pieces)
    x1 = max(int(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH]) for i in pieces)
    y1 = max(int(stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT]) for i in pieces)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * MARGIN) / scale
    cx, cy = (x0 + x1) / 2.0 / scale, (y0 + y1) / 2.0 / scale
    return Box(cx - side / 2.0, cy - side / 2.0, side)


def silhouette(work: np.ndarray, grow: float = 0.03) -> np.ndarray | None:
    """(h, w) bool mask of the part in a working image framed as an object (its outer band is background), grown
    by ``grow`` x its longer side; None when no part stands out."""
    found = _foreground(work)
    if found is None:
        return None
    part, _, _ = found
    h, w = work.shape[:2]
    k = max(3, round(grow * _ANALYSIS_PX) | 1)
    part = cv2.dilate(part, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mask: np.ndarray = cv2.resize(part, (w, h), interpolation=cv2.INTER_NEAREST) > 0
    return mask


def choose_framing(references: Sequence[np.ndarray]) -> str:
    """``object`` when every reference shows its part on a plain background, else ``whole``."""
    return OBJECT if references and all(object_box(r) is not None for r in references) else WHOLE


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    """The box's square of the frame at the frame's own scale; beyond the frame, its edge pixels repeated."""
    out = max(16, round(box.side))
    k = out / box.side
    m = np.array([[k, 0.0, -box.x0 * k], [0.0, k, -box.y0 * k]], dtype=np.float32)
    return cv2.warpAffine(image, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def paste_map(crop_map: np.ndarray, box: Box, frame_wh: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """The crop's map placed where the crop lies in a frame of ``frame_wh`` (w, h), drawn at ``size`` (w, h); the
    frame outside the crop is background and gets the crop map's lowest value."""
    ch, cw = crop_map.shape
    fw, fh = frame_wh
    sx, sy = size[0] / fw, size[1] / fh
    # output pixel (u, v) -> frame (u / sx, v / sy) -> crop map ((u / sx - x0) * cw / side, ...)
    kx, ky = cw / box.side, ch / box.side
    m = np.array([[kx / sx, 0.0, -box.x0 * kx], [0.0, ky / sy, -box.y0 * ky]], dtype=np.float32)
    out: np.ndarray = cv2.warpAffine(
        crop_map.astype(np.float32),
        m,
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=float(crop_map.min()),
    )
    return out
