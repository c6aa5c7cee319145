"""Line mode: the product learns from the parts it inspects, with no label and no threshold to set.

A running line inspects hundreds of parts an hour, nearly all good. The most typical of the recent parts join a
bounded pool (their patches, thinned to a small coreset), and each frame is scored twice: against the references
alone ("cold") and against the references *and* the pool ("line"):

- **Robust to defects in the pool.** For each patch of the frame the nearest patch is found in each pooled part
  separately, and the patch counts as normal only as far as it matches at least a third of the pooled parts (an
  order statistic of the per-part similarities; MuSc's idea of scoring against other unlabeled images with an
  aggregation a few anomalous ones cannot sway). Failed parts never join, so a burst of one defect keeps failing.
- **Admission by the references' own score.** A part joins only when it passes and its cold score is among the
  lowest ``ADMIT_QUANTILE`` of the recent parts: the pool cannot talk itself into accepting what it already likes.
- **Which score decides.** Where defects are frequent and the references rank them poorly, defective parts reach
  the pool anyway and the line score can rank worse than the cold one. So the verdict uses the line score only
  while its recent scores split into a good and a bad mode at least as clearly as the cold scores do
  (:func:`two_mode_gain`; label-free, measured on the product's own stream).
- **Threshold from the stream.** Once enough parts have been seen, the threshold is where the recent scores'
  lower (good) mode ends (:func:`stream_threshold`), never above the cold-start threshold from the references.
- **The product's own map.** The parts admitted this way are also kept (their working-size images, up to
  ``ADAPT_AFTER``) for the product's own map (core/own_map.py): once that many are taken, the station fits the
  map on them and rebuilds the product with it, and the stream starts again on the new scores.
- **Drift is noticed, not learned.** When most of the recent parts fail (a camera knocked out of position, another
  product on the line), the pool takes no part, the threshold falls back to the references' own and the result
  carries a drift warning.
"""

from __future__ import annotations

import io
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from core.atomic import atomic_open
from core.coreset import greedy_coreset
from core.errors import InspectionError
from core.own_map import ADAPT_AFTER

POOL_SIZE = 48  # most pooled parts (oldest out first)
PART_PATCHES = 192  # coreset patches kept of each pooled part
MIN_POOL = 3  # pooled parts before the pool takes part in scoring
ROBUST_SHARE = 0.5  # a frame's patch is as normal as its match in half of the pooled parts
STREAM_WINDOW = 64  # recent scores the line threshold, the admission and the choice of score look at
MIN_STREAM = 16  # recent scores before the threshold follows the stream
MIN_ADMIT = 8  # recent scores before any part is admitted
ADMIT_QUANTILE = 0.15  # a part joins only when it scores in the lowest 15% of the recent parts
TAIL_MADS = 3.0  # one-mode stream: threshold at the median + this many (scaled) median absolute deviations
# Two modes only where the evidence for them is strong (a BIC difference above 6, Kass and Raftery's "strong"): a
# line of good parts whose scores happen to clump (20 good parts, a gain of 0.6) is one mode, not good and bad.
MIN_SPLIT_GAIN = 6.0
DRIFT_WINDOW = 12  # recent parts watched for drift
# Scoring frames against the pool is off by default: on the shared categories' test streams (1 reference, seeds 0-2,
# docs/benchmarks.md) it moved image AUROC by at most +0.001 and cost casting 0.034 (its stream is 75% defective
# and its references rank poorly, so defective parts reach the pool), while the stream's threshold alone lifted the
# balanced verdict accuracy without moving any ranking. With it off, no part's features are stored, only the scores
# (and, for the product's own map, the admitted parts' images until ADAPT_AFTER are taken).
POOL_SCORING = False
DRIFT_SHARE = 0.75  # drift when this share of the recent parts failed
# Line mode fits the product's own map on its taken parts (core/own_map.py; docs/benchmarks.md, "A product's own good
# parts teach the adaptor").
ADAPT = True
_ROWS = 256


@dataclass
class PooledPart:
    key: str  # the frame's hash: a review of that inspection finds its part here
    features: torch.Tensor  # (PART_PATCHES, C) float32 unit rows
    score: float  # its image score when it was inspected, before it joined


@dataclass
class TakenPart:
    """A part line mode took for the product's own map: its working-size image (and that image as PNG, for the
    pool's file)."""

    key: str
    image: np.ndarray  # RGB uint8, the working size
    png: bytes = b""

    def __post_init__(self) -> None:
        if not self.png:
            ok, buf = cv2.imencode(".png", cv2.cvtColor(self.image, cv2.COLOR_RGB2BGR))
            self.png = buf.tobytes() if ok else b""


@dataclass
class LineState:
    """What a result says about line mode (stored with the inspection, shown in the window)."""

    mode: str  # "cold" (references only) or "line" (references + pool)
    pool_size: int
    threshold: float
    drift: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "pool_size": self.pool_size,
            "line_threshold": round(self.threshold, 6),
            "drift": self.drift,
        }


@dataclass
class LinePool:
    """One product's pool of recent unlabeled parts. Thread-confined, like the inspector that uses it."""

    capacity: int = POOL_SIZE
    scoring: bool = POOL_SCORING  # the pool scores frames (True) or only the stream's threshold is learned (False)
    parts: deque[PooledPart] = field(default_factory=deque)
    recent_failed: deque[bool] = field(default_factory=lambda: deque(maxlen=DRIFT_WINDOW))
    recent_scores: deque[float] = field(default_factory=lambda: deque(maxlen=STREAM_WINDOW))  # cold scores
    recent_line: deque[float] = field(default_factory=lambda: deque(maxlen=STREAM_WINDOW))  # line scores
    excluded: set[str] = field(default_factory=set)  # confirmed defects: never join
    adapt: bool = ADAPT  # take parts for the product's own map (core/own_map.py)
    taken: list[TakenPart] = field(default_factory=list)  # parts taken for it, until it is fitted
    adapted: int = 0  # parts the product's own map was fitted on (0: not yet)
    adapting: float | None = None  # how far the fit of the own map is, while it runs (not saved)
    _stack: torch.Tensor | None = None
    _taken_saved: tuple[str, ...] | None = None  # keys of the taken parts last written (None: never)

    def __len__(self) -> int:
        return len(self.parts)

    @property
    def learned(self) -> int:
        """How many parts line mode is learning from: pooled parts, or recent scores where the pool does not score."""
        return len(self.parts) if self.scoring else len(self.recent_scores)

    @property
    def collecting(self) -> bool:
        """Parts are being taken for the product's own map."""
        return self.adapt and not self.adapted and len(self.taken) < ADAPT_AFTER

    @property
    def ready_to_adapt(self) -> bool:
        """Enough parts are taken: the product's own map can be fitted."""
        return self.adapt and not self.adapted and len(self.taken) >= ADAPT_AFTER

    def adopt(self, parts: int) -> None:
        """The product was rebuilt with its own map fitted on ``parts`` parts: the stream starts again on its
        scores (the old ones were measured with other features), the taken parts are let go."""
        self.adapted = parts
        self.adapting = None
        self.taken.clear()
        self.parts.clear()
        self.recent_scores.clear()
        self.recent_line.clear()
        self._stack = None

    @property
    def active(self) -> bool:
        """The pool is large enough to score against."""
        return self.scoring and len(self.parts) >= MIN_POOL

    @property
    def uses_line_scores(self) -> bool:
        """Whether the verdict uses the score against references + pool (see the module's docstring)."""
        if not self.active or self.drift:
            return False
        if len(self.recent_line) < MIN_STREAM:
            return True
        return two_mode_gain(list(self.recent_line)) >= two_mode_gain(
            list(self.recent_scores)[-len(self.recent_line) :]
        )

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

    def threshold(self, cold_threshold: float, line_scores: bool) -> float:
        """The threshold from the recent scores of the kind that decides (:func:`stream_threshold`); never above
        the cold one."""
        recent = self.recent_line if line_scores else self.recent_scores
        if len(recent) < MIN_STREAM or self.drift:
            return cold_threshold
        return float(min(cold_threshold, stream_threshold(list(recent))))

    # -- learning ----------------------------------------------------------------------------------------------
    def observe(
        self,
        key: str | Callable[[], str],
        grid: torch.Tensor,
        score: float,
        cold_threshold: float,
        failed: bool,
        line_score: float | None = None,
        work: np.ndarray | None = None,
    ) -> bool:
        """Record one inspected part: its cold ``score`` (references only) and, while the pool is active, its
        ``line_score``. It is admitted when it passed, its cold score is below the references' own threshold
        and among the lowest of the recent parts, no drift is under way and no review said it is defective; an
        admitted part joins the pool where the pool scores, and is taken for the product's own map (``work``, its
        working-size image) while parts are being collected. ``key`` (the frame's hash) may be a function: it is
        then called only for a part that would be admitted, not for every part. Returns whether it was admitted."""
        self.recent_failed.append(bool(failed))
        recent = np.asarray(self.recent_scores, dtype=np.float64)
        self.recent_scores.append(float(score))
        if line_score is not None:
            self.recent_line.append(float(line_score))
        if failed or score > cold_threshold or self.drift or recent.size < MIN_ADMIT:
            return False
        if score > float(np.quantile(recent, ADMIT_QUANTILE)):
            return False
        key = key() if callable(key) else key
        if key in self.excluded:
            return False
        if work is not None and self.collecting:
            self.taken.append(TakenPart(key, np.ascontiguousarray(work, dtype=np.uint8)))
        if not self.scoring:
            return True
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
        before = len(self.parts) + len(self.taken)
        self.parts = deque(p for p in self.parts if p.key != key)
        self.taken = [t for t in self.taken if t.key != key]
        self._stack = None
        return len(self.parts) + len(self.taken) < before

    def clear(self) -> None:
        self.parts.clear()
        self.taken.clear()
        self.recent_failed.clear()
        self.recent_scores.clear()
        self.recent_line.clear()
        self._stack = None

    # -- persistence -------------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """One .npz (no pickles), written atomically."""
        feats = (
            torch.stack([p.features for p in self.parts]).numpy().astype(np.float16)
            if self.parts
            else np.zeros((0, PART_PATCHES, 0), np.float16)
        )
        buf = io.BytesIO()
        np.savez(
            buf,
            features=feats,
            scores=np.asarray([p.score for p in self.parts], np.float64),
            keys=np.asarray([p.key for p in self.parts], dtype=np.str_),
            excluded=np.asarray(sorted(self.excluded), dtype=np.str_),
            recent_failed=np.asarray(list(self.recent_failed), bool),
            capacity=np.asarray(self.capacity),
            recent_scores=np.asarray(list(self.recent_scores), np.float64),
            scoring=np.asarray(self.scoring),
            recent_line=np.asarray(list(self.recent_line), np.float64),
            adapt=np.asarray(self.adapt),
            adapted=np.asarray(self.adapted),
        )
        self._save_taken(taken_path(path))
        with atomic_open(path) as fh:
            fh.write(buf.getvalue())

    def _save_taken(self, path: Path) -> None:
        """The taken parts' images, PNG-encoded, in a file of their own, written only when they changed."""
        keys = tuple(t.key for t in self.taken)
        if keys == self._taken_saved:
            return
        pngs = [np.frombuffer(t.png, np.uint8) for t in self.taken]
        buf = io.BytesIO()
        np.savez(
            buf,
            keys=np.asarray(keys, dtype=np.str_),
            png=np.concatenate(pngs) if pngs else np.zeros(0, np.uint8),
            sizes=np.asarray([len(b) for b in pngs], np.int64),
        )
        with atomic_open(path) as fh:
            fh.write(buf.getvalue())
        self._taken_saved = keys

    def _load_taken(self, path: Path) -> None:
        if not path.is_file():
            return
        with np.load(path, allow_pickle=False) as z:
            offsets = np.concatenate([[0], np.cumsum(z["sizes"])])
            png = z["png"]
            for i, key in enumerate(z["keys"]):
                raw = png[offsets[i] : offsets[i + 1]]
                image = cv2.imdecode(raw, cv2.IMREAD_COLOR)
                if image is None:
                    raise ValueError(f"taken part {i + 1} of {path.name} does not decode")
                self.taken.append(TakenPart(str(key), cv2.cvtColor(image, cv2.COLOR_BGR2RGB), raw.tobytes()))
        self._taken_saved = tuple(t.key for t in self.taken)

    @classmethod
    def load(cls, path: Path) -> LinePool:
        try:
            with np.load(path, allow_pickle=False) as z:
                scoring = bool(z["scoring"]) if "scoring" in z.files else POOL_SCORING
                pool = cls(capacity=int(z["capacity"]), scoring=scoring)
                pool.excluded = {str(k) for k in z["excluded"]}
                pool.recent_failed.extend(bool(v) for v in z["recent_failed"])
                for name, window in (("recent_scores", pool.recent_scores), ("recent_line", pool.recent_line)):
                    window.extend(float(v) for v in (z[name] if name in z.files else ()))
                for key, f, s in zip(z["keys"], z["features"], z["scores"], strict=False):
                    pool.parts.append(PooledPart(str(key), torch.from_numpy(f.astype(np.float32)), float(s)))
                pool.adapt = bool(z["adapt"]) if "adapt" in z.files else ADAPT
                pool.adapted = int(z["adapted"]) if "adapted" in z.files else 0
            pool._load_taken(taken_path(path))
        except (OSError, KeyError, ValueError) as exc:
            raise InspectionError(f"{path}: line pool is unreadable ({exc}); the product starts a new pool") from None
        return pool

    def keys(self) -> Iterable[str]:
        return (p.key for p in self.parts)


def taken_path(pool_path: Path) -> Path:
    """The file of a pool's taken parts, beside the pool's own."""
    return pool_path.with_name(f"{pool_path.stem}_taken.npz")


def _two_mode_split(x: np.ndarray) -> tuple[float, float] | None:
    """(BIC gain of two Gaussians over one, crossing point) for sorted log scores, or None when too few.

    Every split of the sorted scores into a lower and an upper class is tried (cumulative sums keep it to a
    fraction of a millisecond); the most likely one is compared with a single Gaussian by BIC, and the crossing
    point is where the classes' weighted densities cross, between their means.
    """
    n = x.size
    m = max(3, n // 10)  # smallest class
    if n < max(MIN_STREAM, 2 * m) or float(np.ptp(x)) < 1e-6:
        return None
    floor = 1e-4  # variance floor (log units squared)
    c1, c2 = np.cumsum(x), np.cumsum(x * x)
    k = np.arange(m, n - m + 1)  # lower class = x[:k]
    mu0, mu1 = c1[k - 1] / k, (c1[-1] - c1[k - 1]) / (n - k)
    v0 = np.maximum(c2[k - 1] / k - mu0**2, floor)
    v1 = np.maximum((c2[-1] - c2[k - 1]) / (n - k) - mu1**2, floor)
    ll2 = k * np.log(k / n) + (n - k) * np.log((n - k) / n) - 0.5 * (k * np.log(v0) + (n - k) * np.log(v1))
    best = int(np.argmax(ll2))
    ll1 = -0.5 * n * math.log(max(float(np.var(x)), floor))
    gain = (-2 * ll1 + 2 * math.log(n)) - (-2 * float(ll2[best]) + 5 * math.log(n))  # shared constants cancel
    kb = int(k[best])
    a, b = float(mu0[best]), float(mu1[best])
    grid = np.linspace(a, b, 200)
    dens0 = kb / n * np.exp(-0.5 * (grid - a) ** 2 / v0[best]) / math.sqrt(v0[best])
    dens1 = (n - kb) / n * np.exp(-0.5 * (grid - b) ** 2 / v1[best]) / math.sqrt(v1[best])
    above = dens1 > dens0
    return gain, float(grid[int(np.argmax(above))] if above.any() else b)


def _sorted_logs(scores: list[float]) -> np.ndarray:
    return np.sort(np.log(np.maximum(np.asarray(scores, dtype=np.float64), 1e-9)))


def two_mode_gain(scores: list[float]) -> float:
    """How clearly the scores split into a lower and an upper mode (BIC gain; <= 0: one mode)."""
    split = _two_mode_split(_sorted_logs(scores))
    return max(0.0, split[0]) if split is not None else 0.0


def stream_threshold(scores: list[float]) -> float:
    """Where good parts end in a stream of scores, most of which are good parts, without labels.

    Two modes (a run of defects, or a test set full of them): where the two modes' densities cross. One mode (a
    line of good parts): the median plus ``TAIL_MADS`` scaled median absolute deviations.
    """
    x = _sorted_logs(scores)
    med = float(np.median(x))
    mad = max(1.4826 * float(np.median(np.abs(x - med))), 0.01)
    split = _two_mode_split(x)
    if split is None or split[0] <= MIN_SPLIT_GAIN:
        return math.exp(med + TAIL_MADS * mad)
    return math.exp(split[1])
