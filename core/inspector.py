"""The inspector: load the encoder once, build products from normal references, inspect frames."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch

from core.calibration import edge_floor_from_maps, fit_calibration
from core.decoder import image_score, patch_scores, smooth_map, weight_edges
from core.encoder import Encoder, load_encoder
from core.errors import InspectionError, NoReferencesError
from core.imageio import check_array
from core.line_pool import LinePool
from core.memory import (
    build_bank,
    encode_references,
    image_hash,
    patch_features,
    reference_patches,
    view_grids,
)
from core.openvino_encoder import OpenVinoEncoder, torch_threads_beside_openvino
from core.openvino_search import OpenVinoSimilarity
from core.own_map import ADAPT_STEPS, MappedEncoder, OwnMap, Pause, fit_own_map
from core.prefetch import Prefetch
from core.preprocess import working_image
from core.product import ProductModel
from core.regions import find_regions
from core.result import InspectionResult
from core.search import TORCH_SIMILARITY, Similarity
from core.self_calibration import (
    BuildSteps,
    CalibrationMaps,
    choose_held_out,
    disturbed_copies,
    held_out_maps,
    leave_one_out_maps,
    simulated_pairs,
    split_maps,
)
from core.settings import DecoderSettings
from core.simulation import SimulatedAnomaly
from core.split_normals import held_out_score

Progress = Callable[[float, str], None]

DEFAULT_SETTINGS = DecoderSettings()  # the one set of defaults: DecoderSettings' own (core/settings.py)
# Automatic working resolution: 256 px, or 384 px where the references are so large (native size at least
# DETAIL_FACTOR x 256) that 256 px would shrink fine structure such as a woven grid below the feature stride.
AUTO_RESOLUTIONS = (256, 384)
DETAIL_FACTOR = 1.75
MAPPED_KEPT = 8  # products' own maps kept ready (a station runs a few products)


def choose_resolution(references: Sequence[np.ndarray]) -> int:
    """Working resolution for a product from the median native size (square root of the area) of its references."""
    native = float(np.median([np.sqrt(r.shape[0] * r.shape[1]) for r in references]))
    low, high = AUTO_RESOLUTIONS
    return high if native >= DETAIL_FACTOR * low else low


def resolve_settings(settings: DecoderSettings | None, references: Sequence[np.ndarray]) -> DecoderSettings:
    """The settings (the defaults where None) with an automatic resolution (0) replaced by the one chosen for these
    references."""
    settings = settings or DEFAULT_SETTINGS
    if settings.resolution > 0 or not references:
        return settings
    return replace(settings, resolution=choose_resolution(references))


class _Scored(NamedTuple):
    amap: np.ndarray
    score: float
    timings: dict[str, float]
    grid: torch.Tensor
    line: tuple[np.ndarray, float] | None
    work: np.ndarray


class Inspector:
    """Holds the warm encoder. Thread-confined: use one instance from one thread at a time."""

    def __init__(self, encoder: str | Encoder = "efficientnet-lite0", device: str = "auto", threads: int | None = None):
        """``threads``: torch's CPU threads (the search, the coreset, the simulated defects); None = half the cores
        beside the OpenVINO encoder, whose own pool has them all (ADR 0008), else torch's choice."""
        t0 = time.perf_counter()
        self.encoder: Encoder = load_encoder(encoder, device) if isinstance(encoder, str) else encoder
        if threads:
            torch.set_num_threads(threads)
        elif isinstance(self.encoder, OpenVinoEncoder):
            torch.set_num_threads(torch_threads_beside_openvino())
        # The search's matrix products run where the encoder runs: beside the OpenVINO encoder on OpenVINO's pool,
        # which has every core and is idle while the search runs (ADR 0008).
        self.search: Similarity = (
            OpenVinoSimilarity(self.encoder.threads) if isinstance(self.encoder, OpenVinoEncoder) else TORCH_SIMILARITY
        )
        self.startup_ms = (time.perf_counter() - t0) * 1000.0
        self._mapped: dict[str, Inspector] = {}  # own map's digest -> this inspector with that map (core/own_map.py)

    @property
    def encoder_id(self) -> str:
        return self.encoder.id

    def mapped(self, own: OwnMap | None) -> Inspector:
        """This inspector with a product's own map after its encoder (itself for None): same encoder, same
        search, same thread. Products built with a map are inspected by it (:meth:`inspect` finds it)."""
        if own is None:
            return self
        found = self._mapped.get(own.digest)
        if found is None:
            found = copy.copy(self)
            found.encoder = MappedEncoder(self.encoder, own)
            found._mapped = {}
            if len(self._mapped) >= MAPPED_KEPT:
                self._mapped.pop(next(iter(self._mapped)))
            self._mapped[own.digest] = found
        return found

    def encoder_id_for(self, own: OwnMap | None) -> str:
        """The encoder id a product built with ``own`` (or without a map) carries."""
        return self.mapped(own).encoder_id

    # --- scoring -------------------------------------------------------------------------------------------
    def raw_map(
        self, image: np.ndarray, bank: torch.Tensor, settings: DecoderSettings
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Working-resolution map of one RGB frame against a memory (bank features) before edge weighting, and
        timings. Public for calibration studies (tools/calibration_study.py), which replay the product build."""
        amap, timings, _, _, _ = self._raw_map_grid(image, bank, settings, None)
        return amap, timings

    def _raw_map_grid(
        self, image: np.ndarray, bank: torch.Tensor, settings: DecoderSettings, pool: LinePool | None
    ) -> tuple[np.ndarray, dict[str, float], torch.Tensor, np.ndarray | None, np.ndarray]:
        """:meth:`raw_map`, the frame's grid, where the pool of recent parts is active the map against the
        references and the pool as well (None otherwise), and the working-size frame."""
        t0 = time.perf_counter()
        work = working_image(image, settings)
        grid = patch_features(self.encoder, work)
        t1 = time.perf_counter()
        pm_t = patch_scores(grid, bank, settings, search=self.search)
        line_t = None
        if pool is not None and pool.active:
            line_t = torch.minimum(pm_t, pool.pool_distance(grid.reshape(-1, grid.shape[-1])).reshape(pm_t.shape))
        t2 = time.perf_counter()
        size = (work.shape[1], work.shape[0])
        amap = smooth_map(pm_t.numpy(), size, settings.blur_sigma)
        line_map = smooth_map(line_t.numpy(), size, settings.blur_sigma) if line_t is not None else None
        t3 = time.perf_counter()
        timings = {"features": (t1 - t0) * 1e3, "search": (t2 - t1) * 1e3, "map": (t3 - t2) * 1e3}
        return amap, timings, grid, line_map, work

    def _map_only(self, image: np.ndarray, bank: torch.Tensor, settings: DecoderSettings) -> np.ndarray:
        return self.raw_map(image, bank, settings)[0]

    @staticmethod
    def finish_map(amap: np.ndarray, settings: DecoderSettings, edge_floor: float) -> tuple[np.ndarray, float]:
        """The map weighted at the frame's edge as the calibration says, and its image score."""
        amap = weight_edges(amap, settings.edge_band, edge_floor)
        return amap, image_score(amap, settings.top_fraction)

    def _score(
        self,
        image: np.ndarray,
        bank: torch.Tensor,
        settings: DecoderSettings,
        edge_floor: float = 1.0,
        pool: LinePool | None = None,
    ) -> _Scored:
        """Working-resolution map, image score, timings and feature grid of one RGB frame against the references,
        (map, score) against the references and the pool where the pool is active, and the working-size frame."""
        raw, timings, grid, raw_line, work = self._raw_map_grid(image, bank, settings, pool)
        t0 = time.perf_counter()
        amap, score = self.finish_map(raw, settings, edge_floor)
        line = self.finish_map(raw_line, settings, edge_floor) if raw_line is not None else None
        timings["map"] += (time.perf_counter() - t0) * 1e3
        return _Scored(amap, score, timings, grid, line, work)

    # --- products ------------------------------------------------------------------------------------------
    def build_product(
        self,
        references: Sequence[np.ndarray],
        name: str = "product",
        settings: DecoderSettings | None = None,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
        cache_dir: Path | None = None,
        seed: int = 0,
        own_map: OwnMap | None = None,
    ) -> ProductModel:
        """Memory bank + self-calibration from k >= 1 normal references (RGB uint8 arrays of any size); with
        ``own_map``, on the features through the product's own map."""
        if own_map is not None and not isinstance(self.encoder, MappedEncoder):
            built = self.mapped(own_map).build_product(references, name, settings, progress, cancel, cache_dir, seed)
            return replace(built, own_map=own_map)
        if not references:
            raise NoReferencesError("no normal reference images: add at least one image of a good part")
        refs = [check_array(r, f"reference {i + 1}") for i, r in enumerate(references)]
        settings = resolve_settings(settings, refs)
        steps = BuildSteps(len(refs), progress, cancel)
        rng = np.random.default_rng(seed)
        held_out = choose_held_out(len(refs), rng)
        bank_refs = [r for j, r in enumerate(refs) if j not in held_out]
        loo = len(refs) >= 2 and not held_out
        # The disturbed copies and their simulated defects are made in a thread of their own, ahead of their
        # scoring (core/prefetch.py), with the generator's draws in the same order: from here when nothing else
        # draws from it first (the memory and the held-out maps do not), else after the leave-one-out maps.
        copies = None if loo else Prefetch(disturbed_copies(refs, rng), name="build-copies")
        try:
            return self._build(refs, name, settings, steps, rng, held_out, bank_refs, loo, copies, cancel, cache_dir)
        finally:
            if copies is not None:
                copies.close()

    def adapt_product(
        self,
        product: ProductModel,
        references: Sequence[np.ndarray],
        parts: Sequence[np.ndarray],
        keys: Sequence[str] = (),
        seed: int = 0,
        pause: Pause | None = None,
        progress: Progress | None = None,
        steps: int = ADAPT_STEPS,
    ) -> ProductModel:
        """``product`` rebuilt from its ``references`` on features fitted to ``parts``, its own good parts
        (working-size images; core/own_map.py). ``pause`` is called between small steps and returns True to stop
        (Cancelled). The operator's threshold override, where there is one, stays."""
        report = progress or (lambda f, m: None)
        own = fit_own_map(self.encoder, parts, keys, steps, seed, pause, progress=lambda f: report(0.8 * f, "fitting"))
        built = self.build_product(
            references,
            name=product.name,
            settings=product.settings,
            progress=lambda f, m: report(0.8 + 0.2 * f, str(m)),
            cancel=pause,
            seed=seed,
            own_map=own,
        )
        old = product.calibration
        if old.overridden:
            calibration = replace(
                built.calibration,
                override_threshold=old.override_threshold,
                override_by=old.override_by,
                override_at=old.override_at,
            )
            built = replace(built, calibration=calibration)
        return built

    def _build(
        self,
        refs: list[np.ndarray],
        name: str,
        settings: DecoderSettings,
        steps: BuildSteps,
        rng: np.random.Generator,
        held_out: Sequence[int],
        bank_refs: list[np.ndarray],
        loo: bool,
        copies: Prefetch[tuple[np.ndarray, SimulatedAnomaly]] | None,
        cancel: Callable[[], bool] | None,
        cache_dir: Path | None,
    ) -> ProductModel:
        single = len(refs) == 1
        # The memory is assembled from per-reference pieces; leave-one-out memories reuse them, and one reference's
        # views are encoded once, for the memory and for the halves' check.
        pieces = encode_references(self.encoder, refs, settings, steps.memory, cancel) if loo else None
        grids = view_grids(self.encoder, refs[0], settings) if single else None
        if single:
            pieces = [reference_patches(self.encoder, refs[0], settings, grids)]
        bank = build_bank(
            self.encoder, bank_refs, settings, progress=steps.memory, cancel=cancel, cache_dir=cache_dir, pieces=pieces
        )
        # Normal and anomalous maps first: the normal ones decide how much the frame's edge is weighted down, then
        # both are scored with that weight.
        maps = CalibrationMaps()
        held_out_maps(self._map_only, refs, held_out, bank.features, settings, steps, maps)
        if loo and pieces is not None:
            leave_one_out_maps(self._map_only, refs, pieces, settings, rng, steps, maps)
            steps.step("self-calibration: halves of the reference", count=False)
        if copies is None:
            with Prefetch(disturbed_copies(refs, rng), name="build-copies") as later:
                simulated_pairs(self._map_only, later, bank.features, settings, steps, maps)
        else:
            simulated_pairs(self._map_only, copies, bank.features, settings, steps, maps)
        if single:
            split_maps(self.encoder, refs[0], settings, grids, steps, maps, self.search)
        edge_floor = edge_floor_from_maps(maps.normal, settings.edge_band)
        normal_scores = [self.finish_map(m, settings, edge_floor)[1] for m in maps.normal]
        anomaly_scores = [self.finish_map(m, settings, edge_floor)[1] for m in maps.anomalous]
        split_scores = [held_out_score(m, settings, edge_floor) for m in maps.split]
        calibration = fit_calibration(
            normal_scores,
            anomaly_scores,
            normals_are_real=len(refs) >= 2,
            held_out=bool(held_out),
            edge_floor=edge_floor,
            split_scores=split_scores,
        )
        evidence: dict[str, list[float] | list[str]] = {
            k: [round(v, 6) for v, kk in zip(normal_scores, maps.kinds, strict=True) if kk == k]
            for k in ("held_out", "loo", "jitter")
        }
        evidence.update(
            split=[round(v, 6) for v in split_scores],
            simulated=[round(v, 6) for v in anomaly_scores],
            simulated_kind=maps.simulated_kind,
            simulated_area=maps.simulated_area,
        )
        steps.report(1.0, f"ready: threshold {calibration.threshold:.3f}")
        return ProductModel(
            name=name,
            settings=settings,
            bank=bank,
            calibration=calibration,
            reference_hashes=tuple(image_hash(r) for r in refs),
            encoder_id=self.encoder.id,
            info={
                "bank_mb": round(bank.nbytes / 1e6, 2),
                "references": len(refs),
                "held_out": len(held_out),
                "evidence": evidence,
            },
        )

    # --- inspection ----------------------------------------------------------------------------------------
    def inspect(self, frame: np.ndarray, product: ProductModel, pool: LinePool | None = None) -> InspectionResult:
        """Verdict, map and regions of one frame. With ``pool`` (line mode, core/line_pool.py) the threshold follows
        the stream of recent parts once enough were seen, the frame is scored against the pool of recent parts too
        where the pool scores, and the part is then offered to the pool; an operator's threshold override wins."""
        if product.own_map is not None and not isinstance(self.encoder, MappedEncoder):
            return self.mapped(product.own_map).inspect(frame, product, pool)
        t0 = time.perf_counter()
        frame = check_array(frame, "frame")
        if product.encoder_id != self.encoder.id:
            raise InspectionError(
                f"product {product.name!r} was built with {product.encoder_id}, this station runs"
                f" {self.encoder.id}; rebuild the product's references"
            )
        calibration = product.calibration
        pool_size = pool.learned if pool is not None else 0
        amap, score, timings, grid, line, work = self._score(
            frame, product.bank.features, product.settings, calibration.edge_floor, pool
        )
        t1 = time.perf_counter()
        cold_score = score
        use_line = False
        if pool is not None and line is not None and pool.uses_line_scores:
            use_line = True
            amap, score = line
        mode = "cold"
        if pool is not None and not calibration.overridden:
            t_line = pool.threshold(calibration.threshold, use_line)
            if use_line or t_line != calibration.threshold:
                mode = "line"
            calibration = replace(calibration, threshold=t_line)
        verdict, probability = calibration.decide(score)
        drift = False
        if pool is not None:
            pool.observe(
                lambda: image_hash(frame),  # only an admitted part needs its key (reviews find it by it)
                grid,
                cold_score,
                product.calibration.threshold,
                verdict == "FAIL",
                line_score=line[1] if line is not None else None,
                work=work if pool.collecting else None,
            )
            drift = pool.drift
        h, w = frame.shape[:2]
        full = cv2.resize(amap, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        threshold = calibration.effective_threshold
        regions = find_regions(amap, threshold, frame_size=(w, h)) if verdict == "FAIL" else []
        if verdict == "FAIL" and not regions:
            regions = find_regions(amap, float(amap.max()) * 0.9, frame_size=(w, h))
        t2 = time.perf_counter()
        timings["verdict"] = (t2 - t1) * 1e3
        timings["total"] = (t2 - t0) * 1e3
        return InspectionResult(
            verdict=verdict,
            probability=probability,
            score=score,
            threshold=threshold,
            anomaly_map=full,
            regions=regions,
            timings_ms=timings,
            encoder_id=self.encoder.id,
            calibration_id=product.calibration.id,
            overridden=product.calibration.overridden,
            image_size=(w, h),
            mode=mode,
            pool_size=pool_size,
            drift=drift,
            adapted_parts=product.adapted_parts,
            adapting=pool.adapting if pool is not None else None,
        )
