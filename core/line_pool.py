"""Line mode: the product learns from the parts it inspects, with no label and no threshold to set.

A running line inspects hundreds of parts an hour, nearly all good. Each part that passes joins a bounded pool of
recent parts (its patches, thinned to a small coreset, and the score it had when it was inspected). A frame is then
scored against the references *and* the pool:

- **Robust to defects in the pool.** For each patch of the frame the nearest patch is found in each pooled part
  separately, and the patch counts as normal only as far as it matches at least a third of the pooled parts (the
  order statistic of the per-part similarities; MuSc's idea of scoring against other unlabeled images with an
  aggregation a few anomalous ones cannot sway). A defect that slipped into a few pooled parts cannot hide itself:
  a burst of one defect keeps failing, since a failed part never joins and an escaped one is outvoted.
- **Threshold from the stream.** The pooled parts' own scores are real, held-out good parts of this product on this
  camera: the threshold sits above their upper range by as much as their spread (``LINE_SPREAD``), never above the
  cold-start threshold from the references.
- **Drift is noticed, not learned.** When most of the recent parts fail (a camera knocked out of position, another
  product on the line), the pool stops taking parts and the result carries a drift warning.

Admission uses the cold-start threshold (from the references alone), not the line threshold, so the line threshold
cannot talk itself down by admitting only the parts it already likes.
"""
from __future__ import annotations

import io
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.atomic import atomic_open
from core.coreset import greedy_coreset
from core.errors import InspectionError

POOL_SIZE = 48  # most pooled parts (oldest out first)
PART_PATCHES = 192  # coreset patches kept of each pooled part
MIN_POOL = 3  # pooled parts before the pool takes part in scoring and in the threshold
ROBUST_SHARE = 1.0 / 3.0  # a frame's patch is as normal as its match in this share of the pooled parts
LINE_SPREAD = 1.0  # line threshold = upper pooled score + this x (upper - median), log scale
LINE_QUANTILE = 0.9  # the "upper" pooled score
DRIFT_WINDOW = 12  # recent parts watched for drift
DRIFT_SHARE = 0.75  # drift when this share of the recent parts failed
_ROWS = 256


@dataclass
class PooledPart:
    key: str  # the frame's hash: a review of that inspection finds its part here
    features: torch.Tensor  # (PART_PATCHES, C) float32 unit rows
    score: float  # its image score when it was inspected, before it joined


@dataclass
class LineState:
    """What a result says about line mode (stored with the inspection, shown in the window)."""

    mode: str  # "cold" (references only) or "line" (references + pool)
    pool_size: int
    threshold: float
    drift: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "pool_size": self.pool_size, "line_threshold": round(self.threshold, 6),
                "drift": self.drift}


@dataclass
class LinePool:
    """One product's pool of recent unlabeled parts. Thread-confined, like the inspector that uses it."""

    capacity: int = POOL_SIZE
    parts: deque[PooledPart] = field(default_factory=deque)
    recent_failed: deque[bool] = field(default_factory=lambda: deque(maxlen=DRIFT_WINDOW))
    excluded: set[str] = field(default_factory=set)  # confirmed defects: never join
    _stack: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.parts)

    @property
    def active(self) -> bool:
        return len(self.parts) >= MIN_POOL

    @property
    def drift(self) -> bool:
        window = self.recent_failed
        return len(window) == window.maxlen and sum(window) >= DRIFT_SHARE * len(window)

    # -- scoring -----------------------------------------------------------------------------------------------
    def pool_distance(self, query: torch.Tensor) -> torch.Tensor:
        """(Q,) distance of each query row to the pool: the robust order statistic of its per-part nearest
        similarities (see the module's docstring)."""
        if self._stack is None:
            self._stack = torch.cat([p.features for p in self.parts]).T.contiguous()
        n = len(self.parts)
        k = max(1, math.ceil(ROBUST_SHARE * n))  # k-th best part
        per_part = self._stack.shape[1] // n
        out = torch.empty(query.shape[0])
        for start in range(0, query.shape[0], _ROWS):
            sim = (query[start : start + _ROWS] @ self._stack).reshape(-1, n, per_part).amax(dim=2)
            out[start : start + _ROWS] = torch.topk(sim, k, dim=1).values[:, -1]
        return torch.sqrt(torch.clamp(2.0 - 2.0 * out, min=0.0))

    def threshold(self, cold_threshold: float) -> float:
        """The line threshold: above the pooled parts' upper scores by their spread; at most the cold one."""
        if not self.active:
            return cold_threshold
        s = np.log(np.maximum([p.score for p in self.parts], 1e-9))
        hi, med = float(np.quantile(s, LINE_QUANTILE)), float(np.median(s))
        return float(min(cold_threshold, math.exp(hi + LINE_SPREAD * max(hi - med, 0.01))))

    # -- learning ----------------------------------------------------------------------------------------------
    def observe(self, key: str, grid: torch.Tensor, score: float, cold_threshold: float, failed: bool) -> bool:
        """Record one inspected part; it joins the pool when it passes the references' own threshold, no drift is
        under way and no review said it is defective. Returns whether it joined."""
        self.recent_failed.append(bool(failed))
        if failed or score > cold_threshold or self.drift or key in self.excluded:
            return False
        flat = grid.reshape(-1, grid.shape[-1])
        size = min(PART_PATCHES, flat.shape[0])
        idx = greedy_coreset(flat, size) if size < flat.shape[0] else torch.arange(flat.shape[0])
        feats = flat[idx]
        if feats.shape[0] < PART_PATCHES:  # tiny frames: repeat rows so every part has the same count
            feats = feats[torch.arange(PART_PATCHES) % feats.shape[0]]
        self.parts.append(PooledPart(key, feats.contiguous(), float(score)))
        while len(self.parts) > self.capacity:
            self.parts.popleft()
        self._stack = None
        return True

    def exclude(self, key: str) -> bool:
        """A reviewer confirmed the part defective: it leaves the pool and never joins. Returns whether it was in."""
        self.excluded.add(key)
        before = len(self.parts)
        self.parts = deque(p for p in self.parts if p.key != key)
        self._stack = None
        return len(self.parts) < before

    def clear(self) -> None:
        self.parts.clear()
        self.recent_failed.clear()
        self._stack = None

    # -- persistence -------------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """One .npz (no pickles), written atomically."""
        feats = (torch.stack([p.features for p in self.parts]).numpy().astype(np.float16) if self.parts
                 else np.zeros((0, PART_PATCHES, 0), np.float16))
        buf = io.BytesIO()
        np.savez(
            buf, features=feats, scores=np.asarray([p.score for p in self.parts], np.float64),
            keys=np.asarray([p.key for p in self.parts], dtype=np.str_),
            excluded=np.asarray(sorted(self.excluded), dtype=np.str_),
            recent_failed=np.asarray(list(self.recent_failed), bool), capacity=np.asarray(self.capacity),
        )
        with atomic_open(path) as fh:
            fh.write(buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "LinePool":
        try:
            with np.load(path, allow_pickle=False) as z:
                pool = cls(capacity=int(z["capacity"]))
                pool.excluded = set(str(k) for k in z["excluded"])
                pool.recent_failed.extend(bool(v) for v in z["recent_failed"])
                for key, f, s in zip(z["keys"], z["features"], z["scores"]):
                    pool.parts.append(PooledPart(str(key), torch.from_numpy(f.astype(np.float32)), float(s)))
        except (OSError, KeyError, ValueError) as exc:
            raise InspectionError(f"{path}: line pool is unreadable ({exc}); the product starts a new pool") from None
        return pool

    def keys(self) -> Iterable[str]:
        return (p.key for p in self.parts)
