"""Self-calibration of a product: the maps of parts known to be good and of simulated defects, made from the
references alone, from which core/calibration.py fits the verdict threshold.

Each source of evidence is one small function, chosen by how many references there are:

- ``held_out_maps``: many references (more than ``HOLD_OUT_ABOVE``): a few stay out of the memory and are scored
  against it, real held-out normals;
- ``leave_one_out_maps``: 2 to ``HOLD_OUT_ABOVE`` references: each is scored against a memory of the others;
- ``split_maps``: one reference: each half of it against a memory of the other half;
- ``simulated_pairs``: always: a disturbed copy of a reference (normal) and the same copy with a simulated defect
  (anomalous), so the two distributions differ by the defect alone.

They share a :class:`BuildSteps` that counts the work done and reports progress with the time left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.encoder import Encoder
from core.errors import Cancelled
from core.jitter import jitter
from core.memory import cap_bank
from core.search import TORCH_SIMILARITY, Similarity
from core.settings import DecoderSettings
from core.simulation import SimulatedAnomaly, simulate_anomaly
from core.split_normals import split_half_maps

Progress = Callable[[float, str], None]
RawMap = Callable[[np.ndarray, torch.Tensor, DecoderSettings], np.ndarray]  # image, memory -> map

N_JITTER_NORMALS = 12
N_SIMULATED = 24
MAX_LEAVE_ONE_OUT = 6
HOLD_OUT_ABOVE = 16  # with more references than this, a few are held out of the memory for calibration
CALIBRATION_JITTER = 0.3  # disturbance of the reference copies used for self-calibration
MEMORY_SHARE = 0.4  # share of the progress bar spent building the memory; the rest is self-calibration


class BuildSteps:
    """Progress of one product build: ``report`` clamps the fraction and adds the time left; ``step`` counts one
    unit of self-calibration; ``check_cancel`` raises when the operator cancelled."""

    def __init__(self, n_references: int, progress: Progress | None, cancel: Callable[[], bool] | None) -> None:
        self._progress = progress
        self._cancel = cancel
        self._started = time.perf_counter()
        self.total = (min(n_references, MAX_LEAVE_ONE_OUT) if n_references >= 2 else 1) + N_JITTER_NORMALS + N_SIMULATED
        self.done = 0

    def report(self, frac: float, msg: str) -> None:
        if self._progress is None:
            return
        frac = max(0.0, min(1.0, frac))
        elapsed = time.perf_counter() - self._started
        if 0.15 <= frac < 1.0 and elapsed > 1.0:  # enough done to say how long the rest takes
            msg = f"{msg} (about {max(1, round(elapsed * (1.0 - frac) / frac))} s left)"
        self._progress(frac, msg)

    def memory(self, frac: float, msg: str) -> None:
        """Progress of the memory build (the first ``MEMORY_SHARE`` of the bar)."""
        self.report(MEMORY_SHARE * frac, msg)

    def step(self, msg: str, count: bool = True) -> None:
        if count:
            self.done += 1
        self.report(MEMORY_SHARE + (1.0 - MEMORY_SHARE) * self.done / self.total, msg)

    def check_cancel(self) -> None:
        if self._cancel is not None and self._cancel():
            raise Cancelled("building the product was cancelled")


@dataclass
class CalibrationMaps:
    """The raw maps self-calibration produced: normal ones (with what each is) and anomalous ones."""

    normal: list[np.ndarray] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # "held_out", "loo" or "jitter", one per normal map
    anomalous: list[np.ndarray] = field(default_factory=list)
    simulated_kind: list[str] = field(default_factory=list)
    simulated_area: list[float] = field(default_factory=list)
    split: list[np.ndarray] = field(default_factory=list)

    def add_normal(self, amap: np.ndarray, kind: str) -> None:
        self.normal.append(amap)
        self.kinds.append(kind)


def choose_held_out(n_references: int, rng: np.random.Generator) -> list[int]:
    """The references kept out of the memory to be scored against it (none unless there are many)."""
    if n_references <= HOLD_OUT_ABOVE:
        return []
    return sorted(int(i) for i in rng.choice(n_references, MAX_LEAVE_ONE_OUT, replace=False))


def held_out_maps(
    raw_map: RawMap,
    refs: Sequence[np.ndarray],
    held_out: Sequence[int],
    bank: torch.Tensor,
    settings: DecoderSettings,
    steps: BuildSteps,
    out: CalibrationMaps,
) -> None:
    for i in held_out:
        steps.check_cancel()
        out.add_normal(raw_map(refs[i], bank, settings), "held_out")
        steps.step(f"held-out reference check {steps.done + 1}")


def leave_one_out_maps(
    raw_map: RawMap,
    refs: Sequence[np.ndarray],
    pieces: Sequence[torch.Tensor],
    settings: DecoderSettings,
    rng: np.random.Generator,
    steps: BuildSteps,
    out: CalibrationMaps,
) -> None:
    """Each of up to ``MAX_LEAVE_ONE_OUT`` references against a memory assembled from the others' pieces (the
    same per-reference pieces as the product's memory, so each reference is encoded and thinned once)."""
    for i in rng.choice(len(refs), size=min(len(refs), MAX_LEAVE_ONE_OUT), replace=False):
        steps.check_cancel()
        feats = cap_bank(torch.cat([pieces[j] for j in range(len(refs)) if j != i]), settings)
        out.add_normal(raw_map(refs[int(i)], feats, settings), "loo")
        steps.step(f"leave-one-out check {steps.done + 1}")


def disturbed_copies(
    refs: Sequence[np.ndarray], rng: np.random.Generator, count: int | None = None
) -> Iterator[tuple[np.ndarray, SimulatedAnomaly]]:
    """``N_SIMULATED`` disturbed copies of the references and a simulated defect on each, in order, drawn from
    ``rng`` (made ahead of their scoring by core.prefetch during a build: the same draws in the same order)."""
    for j in range(N_SIMULATED if count is None else count):
        base = jitter(refs[j % len(refs)], rng, strength=CALIBRATION_JITTER)
        yield base, simulate_anomaly(base, rng, others=list(refs))


def simulated_pairs(
    raw_map: RawMap,
    copies: Iterable[tuple[np.ndarray, SimulatedAnomaly]],
    bank: torch.Tensor,
    settings: DecoderSettings,
    steps: BuildSteps,
    out: CalibrationMaps,
) -> None:
    """Score the disturbed copies (``disturbed_copies``) with their simulated defect (anomalous); the first
    ``N_JITTER_NORMALS`` copies are scored without the defect as well (normal).

    (Making the copies and defects at the working size instead would cut a 1024-px build from 7.3 to about 5 s,
    but it changed the edge weight and thresholds: grid's balanced verdict 0.955 -> 0.859, ball_screw's image
    AUROC 0.920 -> 0.909 in the 1-shot run of docs/benchmarks.md. They stay at native size.)"""
    for j, (base, sim) in enumerate(copies):
        steps.check_cancel()
        if j < N_JITTER_NORMALS:
            out.add_normal(raw_map(base, bank, settings), "jitter")
            steps.done += 1
        out.anomalous.append(raw_map(sim.image, bank, settings))
        out.simulated_kind.append(sim.kind)
        out.simulated_area.append(round(sim.area_pct, 4))
        steps.step(f"self-calibration: simulated defect {j + 1}/{N_SIMULATED}")


def split_maps(
    encoder: Encoder,
    ref: np.ndarray,
    settings: DecoderSettings,
    grids: list[torch.Tensor] | None,
    steps: BuildSteps,
    out: CalibrationMaps,
    search: Similarity = TORCH_SIMILARITY,
) -> None:
    """One reference: each half of it against a memory of the other half stands in for another good part."""
    steps.check_cancel()
    out.split = split_half_maps(encoder, ref, settings, grids=grids, search=search)
    steps.step("self-calibration: halves of the reference")
