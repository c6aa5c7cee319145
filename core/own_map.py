"""A product's own map: the station's patch features fitted further on the product's own good parts.

The shipped adaptor (core/adaptor.py) was trained on other products' simulated defects; a running line gives the
station something better: dozens of the product's own parts a few minutes after the start, nearly all good, none
labelled. Line mode takes the most typical of them (core/line_pool.py, the same admission rule as its pool) and,
once it holds ``ADAPT_AFTER`` of them, fits a linear map ``M`` (started at the identity, kept near it) of the
station's features so that another taken part's patches lie near a taken part's and the patches of a defect
simulated on one (core/simulation.py) lie far from them. The product is then rebuilt from its references with
``normalise(f @ M)`` as its features, and keeps that map across later rebuilds (docs/benchmarks.md, "A product's own
good parts teach the adaptor"; ADR 0011).

The fit runs in the thread that holds the encoder; ``pause`` is called between its small steps (one part encoded,
or a slice of one part's patches searched: a few to tens of milliseconds), so a line's inspections run in between instead of waiting
for the whole fit, and it returns True to stop the fit (:class:`~core.errors.Cancelled`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.atomic import atomic_open
from core.encoder import Encoder
from core.errors import Cancelled, InspectionError
from core.memory import patch_features
from core.simulation import simulate_anomaly

ADAPT_AFTER = 24  # taken parts before the map is fitted
ADAPT_STEPS = 30  # optimiser steps of the fit
MIN_PARTS = 3  # fewer parts cannot make pairs and their simulated defects
BATCH = 8  # pairs of parts per step
LEARNING_RATE = 1e-3
TEMPERATURE = 0.02  # of the margin's softplus
TOP_K = 8  # patches whose mean distance is a part's (or a defect's) score in the loss
REGULARISER = 1e-3  # weight of ||M - I||^2: the map stays near the shipped features
_QUERY_ROWS = 512  # query rows per slice of the search (a few ms each)
ENCODE_SHARE = 0.25  # of the progress: encoding the parts; the rest is the fit
MAP_FILE = "own_map.npy"
INFO_FILE = "own_map.json"

Pause = Callable[[], bool]
FitProgress = Callable[[float], None]


@dataclass(frozen=True)
class OwnMap:
    """The fitted map and where it came from."""

    weight: torch.Tensor  # (D, D) float32
    parts: int  # own parts it was fitted on
    steps: int
    adapted_at: str  # ISO 8601, UTC
    part_keys: tuple[str, ...] = ()  # the frames' hashes (the inspections that taught it)
    digest: str = field(default="")

    def __post_init__(self) -> None:
        if not self.digest:
            data = np.ascontiguousarray(self.weight.numpy(), dtype=np.float32).tobytes()
            object.__setattr__(self, "digest", hashlib.sha256(data).hexdigest()[:8])

    def apply(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w) unit features -> (B, D, h, w) unit features through the map."""
        w = self.weight.to(features.device, features.dtype)
        return F.normalize(torch.einsum("bchw,cd->bdhw", features, w), dim=1)

    def info(self) -> dict[str, Any]:
        return {
            "parts": self.parts,
            "steps": self.steps,
            "adapted_at": self.adapted_at,
            "digest": self.digest,
            "part_keys": list(self.part_keys),
        }

    def save(self, folder: Path) -> None:
        """own_map.npy and own_map.json, each written atomically (the json last)."""
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_open(folder / MAP_FILE) as fh:
            np.save(fh, self.weight.numpy().astype(np.float32), allow_pickle=False)
        with atomic_open(folder / INFO_FILE, "w", encoding="utf-8") as fh:
            json.dump(self.info(), fh, indent=1)

    @classmethod
    def load(cls, folder: Path) -> OwnMap | None:
        """The map saved in ``folder``; None where there is none. A damaged one is an InspectionError that says
        what happens next."""
        info_file, map_file = folder / INFO_FILE, folder / MAP_FILE
        if not info_file.is_file():
            return None
        fix = "the product goes back to the shipped features and learns its own parts again"
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
            raw = np.load(map_file, allow_pickle=False)
            weight = torch.from_numpy(np.ascontiguousarray(raw, dtype=np.float32))
            own = cls(
                weight=weight,
                parts=int(info["parts"]),
                steps=int(info["steps"]),
                adapted_at=str(info["adapted_at"]),
                part_keys=tuple(str(k) for k in info.get("part_keys", ())),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InspectionError(f"{folder}: the product's own map is unreadable ({exc}); {fix}") from None
        if raw.ndim != 2 or raw.shape[0] != raw.shape[1] or not np.isfinite(raw).all():
            raise InspectionError(f"{map_file}: the product's own map is not a finite square matrix; {fix}")
        if own.digest != info.get("digest", own.digest):
            raise InspectionError(f"{map_file}: the product's own map does not match its record; {fix}")
        return own


class MappedEncoder:
    """An encoder whose features go through a product's own map: the Encoder protocol, for that product only."""

    def __init__(self, base: Encoder, own: OwnMap) -> None:
        self.base = base
        self.own = own
        self.id = f"{base.id}+p{own.digest}"  # a product built with another map (or none) is rebuilt
        self.stride = base.stride
        self.device = base.device

    def features(self, images: list[np.ndarray]) -> torch.Tensor:
        return self.own.apply(self.base.features(images))


def cell_labels(mask: np.ndarray, h: int, w: int) -> np.ndarray:
    """Per feature cell of a simulated defect: 1 = defect (at least 30 % covered), 0 = normal (no defect within a
    cell), -1 = ignored (the defect's rim)."""
    cover = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    near = cv2.dilate((cover > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    lab = np.where(near, -1, 0).astype(np.int8)
    lab[cover >= 0.3] = 1
    return lab


def _nearest(query: torch.Tensor, bank: torch.Tensor, pause: Pause | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, index) of each query row's nearest bank row (unit rows; distance = 1 - cosine), in slices of
    ``_QUERY_ROWS`` rows with ``pause`` between them."""
    dist = torch.empty(query.shape[0])
    index = torch.empty(query.shape[0], dtype=torch.long)
    for i in range(0, query.shape[0], _QUERY_ROWS):
        _check(pause)
        best, arg = (query[i : i + _QUERY_ROWS] @ bank.T).max(dim=1)
        dist[i : i + _QUERY_ROWS] = 1.0 - best
        index[i : i + _QUERY_ROWS] = arg
    return dist, index


def _hardest(rows: torch.Tensor, bank_rows: torch.Tensor, w: torch.Tensor, pause: Pause | None) -> torch.Tensor:
    """The mean distance, through ``w``, of the TOP_K rows farthest from their nearest bank row, with its gradient.

    The nearest rows and the TOP_K are found without the gradient on every row; the distance is then taken again,
    with the gradient, on those TOP_K pairs alone: the same value and the same gradient as through the whole search
    (a top-k mean of minima only depends on the rows it selects), at a fraction of the cost."""
    with torch.no_grad():
        wd = w.detach()
        dist, index = _nearest(F.normalize(rows @ wd, dim=-1), F.normalize(bank_rows @ wd, dim=-1), pause)
        top = dist.topk(min(TOP_K, dist.numel())).indices
    a = F.normalize(rows[top] @ w, dim=-1)
    b = F.normalize(bank_rows[index[top]] @ w, dim=-1)
    return (1.0 - (a * b).sum(dim=1)).mean()


class _Adam:
    """Adam (Kingma and Ba; torch.optim.Adam's defaults) for the one matrix, written out: torch.optim's first step
    imports and sets up more than a second's worth of machinery, which a line would feel as one slow part."""

    def __init__(self, w: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.w, self.lr, self.betas, self.eps = w, lr, betas, eps
        self.m = torch.zeros_like(w)
        self.v = torch.zeros_like(w)
        self.t = 0

    @torch.no_grad()
    def step(self) -> None:
        g = self.w.grad
        if g is None:
            return
        self.t += 1
        b1, b2 = self.betas
        self.m.mul_(b1).add_(g, alpha=1.0 - b1)
        self.v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        m_hat = self.m / (1.0 - b1**self.t)
        v_hat = self.v / (1.0 - b2**self.t)
        self.w.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))


def _check(pause: Pause | None) -> None:
    if pause is not None and pause():
        raise Cancelled("fitting the product's own map was stopped")


@dataclass
class _Parts:
    normal: list[torch.Tensor]  # (patches, D) of each part
    anomaly: list[torch.Tensor]  # (patches, D) of its simulated defect
    cells: list[torch.Tensor]  # (patches,) its cell labels


def _encode(
    encoder: Encoder,
    parts: Sequence[np.ndarray],
    rng: np.random.Generator,
    pause: Pause | None,
    report: FitProgress,
) -> _Parts:
    """Each part's features and those of a defect simulated on it (clones: the encoder may hand out inference
    tensors, which autograd cannot keep)."""
    out = _Parts([], [], [])
    for i, work in enumerate(parts):
        _check(pause)
        grid = patch_features(encoder, work)
        out.normal.append(grid.reshape(-1, grid.shape[-1]).clone())
        sim = simulate_anomaly(work, rng, [p for j, p in enumerate(parts) if j != i])
        _check(pause)
        f = patch_features(encoder, sim.image)
        out.anomaly.append(f.reshape(-1, f.shape[-1]).clone())
        out.cells.append(torch.from_numpy(cell_labels(sim.mask, f.shape[0], f.shape[1]).astype(np.int64)).reshape(-1))
        report(ENCODE_SHARE * (i + 1) / len(parts))
    return out


def fit_own_map(
    encoder: Encoder,
    parts: Sequence[np.ndarray],
    keys: Sequence[str] = (),
    steps: int = ADAPT_STEPS,
    seed: int = 0,
    pause: Pause | None = None,
    progress: FitProgress | None = None,
) -> OwnMap:
    """The map fitted on ``parts`` (working-size RGB images of the product's own good parts, at least MIN_PARTS)."""
    if len(parts) < MIN_PARTS:
        raise InspectionError(f"the product's own map needs at least {MIN_PARTS} parts, not {len(parts)}")
    report = progress or (lambda f: None)
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    with torch.inference_mode(False):
        data = _encode(encoder, parts, rng, pause, report)
    dim = data.normal[0].shape[1]
    eye = torch.eye(dim)
    w = eye.clone().requires_grad_(True)
    opt = _Adam(w, LEARNING_RATE)
    n = len(parts)
    with torch.inference_mode(False), torch.enable_grad():
        for step in range(steps):
            w.grad = None
            for _ in range(BATCH):
                _check(pause)
                r, q = torch.randperm(n, generator=g)[:2].tolist()  # memory part r, another part q
                q2 = int(torch.randint(n - 1, (1,), generator=g))  # a good part other than r
                q2 += int(q2 >= r)
                lab = data.cells[q]
                if not bool((lab == 1).any()):
                    continue
                bank = data.normal[r]
                normal = _hardest(data.normal[q2], bank, w, pause)  # another good part's worst patches
                defect = _hardest(data.anomaly[q][lab == 1], bank, w, pause)  # the simulated defect's
                (F.softplus((normal - defect) / TEMPERATURE) / BATCH).backward()
            (REGULARISER * ((w - eye) ** 2).sum()).backward()
            opt.step()
            report(ENCODE_SHARE + (1.0 - ENCODE_SHARE) * (step + 1) / steps)
    weight = w.detach().clone()
    if not bool(torch.isfinite(weight).all()) or not math.isfinite(float(weight.abs().max())):
        raise InspectionError("fitting the product's own map diverged; the product keeps the shipped features")
    return OwnMap(
        weight=weight,
        parts=n,
        steps=steps,
        adapted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        part_keys=tuple(keys),
    )
