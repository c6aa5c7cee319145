"""The heatmap's file in the image store, encoded cheaply: a paletted PNG with the same pixels.

A heatmap is the anomaly map through the JET colour map (line/outcome.py ``heatmap_layers``): one of 256 colours a
pixel. Stored as an 8-bit palette PNG (the level of each pixel, the colour map as its palette) it decodes to
exactly the RGB pixels an RGB PNG of it holds, with a third of the data to compress: about 1.5 ms instead of about
12 ms for a 320 x 320 heatmap on the 2-core station PC (docs/benchmarks-plant.md), and a file of the same size.
The record of a part waits for this file, so it is on the path from the trigger to ResultReady.

An outcome without its levels (one read back from the unsaved folder) has them worked out again from its anomaly
map and threshold, and checked against its pixels, so that its file is the same as the one a first, refused
attempt wrote; a heatmap that is not its result's colour map (a test's) is stored as an RGB PNG. Either way the
file holds the pixels the window showed.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from core.heatmap import JET_RGB, normalise
from db.image_store import StoredFile, encode_png

COMPRESS_LEVEL = 1  # a heatmap is smooth: level 1 is within ~15 % of level 3's size at half the time


def levels_of(outcome: Any) -> np.ndarray | None:
    """The heatmap's colour-map levels: those made with it, else worked out from the result's anomaly map and
    checked against the pixels; None when the heatmap is not its result's colour map."""
    rgb = outcome.heatmap_rgba[..., :3]
    levels = getattr(outcome, "heatmap_levels", None)
    if levels is not None:
        return levels if np.shape(levels) == rgb.shape[:2] else None
    amap = getattr(outcome.result, "anomaly_map", None)
    if amap is None or np.shape(amap) != rgb.shape[:2]:
        return None
    levels = np.ascontiguousarray((normalise(np.asarray(amap), outcome.result.threshold) * 255).astype(np.uint8))
    drawn = cv2.LUT(cv2.cvtColor(levels, cv2.COLOR_GRAY2RGB), JET_RGB.reshape(256, 1, 3))
    return levels if np.array_equal(drawn, rgb) else None


def heatmap_png(outcome: Any) -> bytes:
    """The PNG bytes of the outcome's heatmap (its RGB channels): paletted where its levels are known."""
    levels = levels_of(outcome)
    if levels is None:
        return encode_png(np.ascontiguousarray(outcome.heatmap_rgba[..., :3]))
    from PIL import Image

    height, width = levels.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(levels, dtype=np.uint8).tobytes())
    image.putpalette(JET_RGB.tobytes())
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=COMPRESS_LEVEL)
    return buf.getvalue()


def store_heatmap(store: Any, outcome: Any) -> StoredFile:
    """Put the outcome's heatmap into the image store (db.image_store.ImageStore: fsync'd, content-addressed);
    the StoredFile carries its size, as the database's record wants."""
    height, width = outcome.heatmap_rgba.shape[:2]
    stored: StoredFile = store.put_bytes(heatmap_png(outcome), suffix=".png")
    return replace(stored, width=int(width), height=int(height))
