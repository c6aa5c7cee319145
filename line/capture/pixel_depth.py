"""Camera frames deeper than 8 bits (Mono10, Mono12, Mono16, their Bayer and RGB forms) as the 8-bit images the
inspection core reads: the top 8 of the bits the pixel format says are used, never a wrap or the top 8 of 16."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

# the depth a pixel format names: Mono12 / Mono12p / BayerRG10 / RGB16Packed -> 12, 12, 10, 16
_DEPTH = re.compile(r"(?:Mono|Bayer[A-Z]{2}|RGB|BGR)(\d+)")


def significant_bits(pixel_format: str, dtype: np.dtype[Any]) -> int:
    """How many of a pixel's bits carry the image: the pixel format's depth (a Mono12 frame arrives as uint16 with
    values up to 4095), else the whole type."""
    m = _DEPTH.match(pixel_format or "")
    whole = dtype.itemsize * 8
    return min(int(m.group(1)), whole) if m else whole


def to_8bit(array: np.ndarray, pixel_format: str) -> np.ndarray:
    """The frame as uint8: unchanged when it is, else shifted down to its pixel format's top 8 significant bits."""
    if array.dtype == np.uint8:
        return array
    shift = max(0, significant_bits(pixel_format, array.dtype) - 8)
    return np.asarray(np.clip(array >> shift, 0, 255), dtype=np.uint8)
