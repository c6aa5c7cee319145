"""Normal scores from one reference: each half of it scored against a memory made of the other half.

Disturbed copies of a single reference (shifted, re-exposed) score far lower than other good parts do: they are
the same part. The other half of the same part is a better stand-in for another part: on a texture it is other
material, on an object it is other shape. So each of four halves (left, right, top, bottom) is scored as a frame
against a memory of the opposite half's patches, in every augmented view, and the results join the normal scores
that calibrate the verdict.

The reference is encoded once, whole, at the working resolution, so a patch near the cut keeps its full context;
a patch's half is decided by where it lies in the original image, so a flipped or rotated view cannot bring the
held-out half back into the memory. The cut is not widened into a margin: a feature at the part's centre (a bore)
cut in two is still found in the memory, mirrored. With 8% of the image kept out on each side of the cut, a
centred synthetic part's halves scored three times as high as other good parts did.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from core.decoder import image_score, patch_scores, smooth_map, weight_edges
from core.encoder import Encoder
from core.memory import augment_views, view_grids
from core.preprocess import working_image
from core.search import TORCH_SIMILARITY, Similarity
from core.settings import DecoderSettings

HALVES = ("left", "right", "top", "bottom")
CUT_MARGIN = 0.0  # share of the image on each side of the cut kept out of the memory (see above)


def _view_coords(h: int, w: int, augment: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each augmented view, the original (y, x) of every pixel, in [0, 1)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = (yy + 0.5) / h, (xx + 0.5) / w
    return list(zip(augment_views(yy, augment), augment_views(xx, augment), strict=False))


def _cell_coords(coords: np.ndarray, gh: int, gw: int) -> np.ndarray:
    """Original coordinate at the centre of each cell of a (gh, gw) feature grid over a view."""
    vh, vw = coords.shape
    rows = np.minimum(((np.arange(gh) + 0.5) * vh / gh).astype(int), vh - 1)
    cols = np.minimum(((np.arange(gw) + 0.5) * vw / gw).astype(int), vw - 1)
    return coords[np.ix_(rows, cols)]


def _held_out(half: str, y: np.ndarray, x: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """(held-out cells, memory cells) for one half, from the cells' original coordinates."""
    pos = {"left": x, "right": 1.0 - x, "top": y, "bottom": 1.0 - y}[half]
    return pos < 0.5, pos > 0.5 + margin


def split_half_maps(
    encoder: Encoder,
    reference: np.ndarray,
    settings: DecoderSettings,
    margin: float = CUT_MARGIN,
    grids: list[torch.Tensor] | None = None,
    search: Similarity = TORCH_SIMILARITY,
) -> list[np.ndarray]:
    """Four working-resolution maps, NaN outside the held-out half, one per half of ``reference``.

    ``grids``: the reference's :func:`core.memory.view_grids`, when the caller has encoded it already.
    """
    h, w = working_image(reference, settings).shape[:2]
    if grids is None:
        grids = view_grids(encoder, reference, settings)
    coords = [
        (_cell_coords(cy, g.shape[0], g.shape[1]), _cell_coords(cx, g.shape[0], g.shape[1]))
        for g, (cy, cx) in zip(grids, _view_coords(h, w, settings.augment), strict=False)
    ]
    grid = grids[0]
    gh, gw, _ = grid.shape
    maps = []
    for half in HALVES:
        bank = torch.cat(
            [
                g[torch.from_numpy(_held_out(half, cy, cx, margin)[1])]
                for g, (cy, cx) in zip(grids, coords, strict=False)
            ]
        )
        held, _ = _held_out(half, *coords[0], margin)
        rows = np.flatnonzero(held.any(axis=1))
        cols = np.flatnonzero(held.any(axis=0))
        sub = grid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        d = patch_scores(sub, bank, settings, frame_cells=(gh, gw), search=search)
        # The held-out cells' pixels in the working image, smoothed there, NaN elsewhere.
        y0, y1 = rows[0] * h // gh, (rows[-1] + 1) * h // gh
        x0, x1 = cols[0] * w // gw, (cols[-1] + 1) * w // gw
        full = np.full((h, w), np.nan, dtype=np.float32)
        full[y0:y1, x0:x1] = smooth_map(d.numpy(), (x1 - x0, y1 - y0), settings.blur_sigma)
        maps.append(full)
    return maps


def held_out_score(amap: np.ndarray, settings: DecoderSettings, edge_floor: float) -> float:
    """Image score of a held-out half's map (NaN elsewhere), weighted at the frame's edge as frames are."""
    valid = ~np.isnan(amap)
    weighted = weight_edges(np.where(valid, amap, 0.0).astype(np.float32), settings.edge_band, edge_floor)
    return image_score(weighted[valid], settings.top_fraction)
