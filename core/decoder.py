"""Image decoder: compares a frame's patches with the in-context memory and returns a pixel anomaly map.

The map is the distance of each patch to its nearest normal patch (multi-scale features, unit norm), optionally
also to distant patches of the same frame (for textures and surfaces, where a part is its own best reference),
upsampled and smoothed. The image score is the mean of the highest map values, which is steadier than the max.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
import torch

from core.search import TORCH_SIMILARITY, Similarity
from core.settings import DecoderSettings

SELF_CANDIDATES = 1024  # most patches of a frame its own patches are compared with (all of them at 256 px)
RIDGE = 10.0  # ridge of the local reconstruction (settings.reconstruct > 1), in squared unit-feature distance: the
# larger, the closer to the plain nearest-patch distance (docs/benchmarks.md, "Reconstructing a patch ...")


def nearest_distance(query: torch.Tensor, bank: torch.Tensor, search: Similarity = TORCH_SIMILARITY) -> torch.Tensor:
    """Euclidean distance of each query row to its nearest bank row (rows are unit norm)."""
    best = search.best(query, bank.T.contiguous())
    return torch.sqrt(torch.clamp(2.0 - 2.0 * best, min=0.0))


GRAM_MOST = 4096  # largest memory whose Gram the reconstruction keeps (64 MB); larger ones gather features instead


@lru_cache(maxsize=4)
def _memory_gram(bank: torch.Tensor) -> torch.Tensor:
    """(m, m) similarities of a memory's rows with each other, kept while the memory is in use (tensors hash by
    identity: a product's memory is one tensor for its life)."""
    return bank @ bank.T


def reconstruction_distance(
    query: torch.Tensor, bank: torch.Tensor, k: int, search: Similarity = TORCH_SIMILARITY, ridge: float = RIDGE
) -> torch.Tensor:
    """Distance of each query row to the ridge-regularised affine span of its k nearest bank rows (rows are unit
    norm): with y = q - n1 and A the rows n_j - n1 (j = 2..k), the residual |y - A^T w| for w = (A A^T + ridge I)^-1
    A y. Never above the nearest-patch distance (w = 0 gives it), and equal to it as the ridge grows.

    For a memory of at most GRAM_MOST rows everything is written in similarities, so no neighbour's features are
    gathered (2.6x faster on a 384-px frame): the query's similarities to its k nearest rows come from the search,
    and the rows' similarities with each other from the memory's Gram, computed once per memory."""
    k = min(k, bank.shape[0])
    sim, idx = search.top(query, bank.T.contiguous(), k)
    d2 = torch.clamp(2.0 - 2.0 * sim[:, 0], min=0.0)  # |y|^2
    if k < 2:
        return torch.sqrt(d2)
    first, rest = idx[:, :1], idx[:, 1:]  # (n, 1), (n, k-1)
    if bank.shape[0] <= GRAM_MOST:
        gram = _memory_gram(bank)
        s_first = gram[first, rest]  # (n, k-1): n_j . n1
        s_rest = torch.take(gram, rest[:, :, None] * gram.shape[0] + rest[:, None, :])  # (n, k-1, k-1): n_i . n_j
        a_gram = s_rest - s_first[:, :, None] - s_first[:, None, :] + 1.0  # (n_i - n1) . (n_j - n1)
        b = sim[:, 1:] - sim[:, :1] - s_first + 1.0  # (n_j - n1) . (q - n1)
    else:
        a = bank[rest] - bank[first]  # (n, k-1, C): n_j - n1
        a_gram = torch.bmm(a, a.transpose(1, 2))
        b = torch.bmm(a, (query - bank[first[:, 0]]).unsqueeze(2)).squeeze(2)
    eye = torch.eye(k - 1, dtype=a_gram.dtype)
    w = torch.linalg.solve(a_gram + ridge * eye, b.unsqueeze(2)).squeeze(2)
    fit = (w * b).sum(dim=1)
    residual = d2 - 2.0 * fit + torch.einsum("ni,nij,nj->n", w, a_gram, w)
    return torch.sqrt(torch.clamp(residual, min=0.0))


@lru_cache(maxsize=8)
def _self_candidates(h: int, w: int, radius: int, most: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the patches a frame's patches are compared with (a fixed random sample of ``most`` when the
    frame has more), and the (h*w, n) bias that takes pairs lying within ``radius`` of each other out of the
    comparison: -4 on them (a similarity of unit rows is at least -1), 0 elsewhere."""
    n = h * w
    idx = torch.arange(n) if n <= most else torch.randperm(n, generator=torch.Generator().manual_seed(0))[:most]
    ys, xs = torch.div(torch.arange(n), w, rounding_mode="floor"), torch.arange(n) % w
    near = ((ys[:, None] - ys[None, idx]).abs() <= radius) & ((xs[:, None] - xs[None, idx]).abs() <= radius)
    return idx, near.to(torch.float32) * -4.0


def self_distance(
    grid: torch.Tensor, radius: int, most: int = SELF_CANDIDATES, search: Similarity = TORCH_SIMILARITY
) -> torch.Tensor:
    """Distance of each patch to its nearest patch of the same frame outside a (2r+1)^2 window.

    Large frames are compared with a fixed random sample of ``most`` of their own patches: a texture repeats, so a
    sample finds a match as well as all of them do (same AUROC on grid and hazelnut_toy at 384 px in trials), and
    the cost stays that of a 256-px frame. The window's pairs are taken out by a bias added in the product itself
    (one pass over the block instead of a product and a masked fill); a patch whose every candidate lies in its
    window gets similarity -2, as a masked fill gives.
    """
    h, w, c = grid.shape
    q = grid.reshape(-1, c)
    idx, bias = _self_candidates(h, w, radius, most)
    best = search.best(q, q[idx].T.contiguous(), bias).clamp_(min=-2.0)
    return torch.sqrt(torch.clamp(2.0 - 2.0 * best, min=0.0)).reshape(h, w)


def patch_scores(
    grid: torch.Tensor,
    bank: torch.Tensor,
    settings: DecoderSettings,
    frame_cells: tuple[int, int] | None = None,
    search: Similarity = TORCH_SIMILARITY,
) -> torch.Tensor:
    """(h, w) patch anomaly scores of one frame's feature grid (h, w, C). When the grid is a crop of a frame,
    ``frame_cells`` is the frame's grid size: the self-similarity window is a share of the frame, not the crop.
    ``search``: who runs the matrix products (core/search.py)."""
    h, w, c = grid.shape
    q = grid.reshape(-1, c)
    d = (
        reconstruction_distance(q, bank, settings.reconstruct, search)
        if settings.reconstruct > 1
        else nearest_distance(q, bank, search)
    ).reshape(h, w)
    if settings.self_similarity:
        radius = max(2, round(settings.self_radius * max(frame_cells or (h, w))))
        d = torch.minimum(d, self_distance(grid, radius, search=search))
    return d


def smooth_map(patch_map: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """Upsample (h, w) patch scores to size (w, h) and smooth with a Gaussian of sigma pixels."""
    m = cv2.resize(patch_map.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    if sigma > 0:
        k = int(2 * math.ceil(3 * sigma) + 1)
        m = cv2.GaussianBlur(m, (k, k), sigma, borderType=cv2.BORDER_REFLECT)
    return m


@lru_cache(maxsize=8)
def edge_weights(h: int, w: int, band: float, floor: float) -> np.ndarray:
    """(h, w) weights: ``floor`` on the frame's edge, rising linearly to 1 at ``band`` x the long side inwards.

    A CNN sees the frame's edge (zero padding, a cut-off pattern) as something no reference patch quite matches:
    on a woven grid every good frame lit up along its edges and corners and outscored real defects.
    """
    width = max(1.0, band * max(h, w))
    y = np.minimum(np.arange(h), np.arange(h)[::-1])[:, None]
    x = np.minimum(np.arange(w), np.arange(w)[::-1])[None, :]
    ramp = np.clip(np.minimum(y, x).astype(np.float32) / width, 0.0, 1.0)
    out: np.ndarray = (floor + (1.0 - floor) * ramp).astype(np.float32)
    out.setflags(write=False)
    return out


def weight_edges(anomaly_map: np.ndarray, band: float, floor: float) -> np.ndarray:
    if band <= 0 or floor >= 1.0:
        return anomaly_map
    return np.asarray(anomaly_map * edge_weights(anomaly_map.shape[0], anomaly_map.shape[1], band, floor))


def image_score(anomaly_map: np.ndarray, top_fraction: float) -> float:
    flat = anomaly_map.reshape(-1)
    if top_fraction <= 0:
        return float(flat.max())
    k = max(1, round(flat.size * top_fraction))
    return float(np.partition(flat, flat.size - k)[flat.size - k :].mean())
