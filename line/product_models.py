"""The built products of one inspector and their line pools (core/line_pool.py), without Qt or threads of its own.

Used from exactly one thread (the Inspector is thread-confined): the station's inference thread (line/inference.py,
in the window and in the line runner alike) holds one. Building reuses the product's saved model when it was made from the same
references by the same encoder and rule; each product keeps one LinePool, saved beside its model every
``POOL_SAVE_EVERY`` inspections and at stop; a rebuilt model starts a fresh pool.

Once a product's pool has taken enough of its parts, :meth:`ProductModels.adapt` fits the product's own map on them
and rebuilds the product with it (core/own_map.py); the map is saved beside the model and every later build of the
product (new references, a restart) uses it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.errors import Cancelled, ImageReadError, InspectionError, NoReferencesError, ReferencesError
from core.imageio import check_array, load_image
from core.inspector import resolve_settings
from core.line_pool import LinePool
from core.memory import image_hash
from core.own_map import OwnMap, Pause
from core.product import ProductModel
from core.protocols import BuiltProduct, InspectorProtocol
from line.outcome import (
    NO_REFERENCES_MESSAGE,
    InspectionOutcome,
    InspectRequest,
    ProductRequest,
    ReferenceSource,
    heatmap_layers,
)

log = logging.getLogger(__name__)

POOL_FILE = "line_pool.npz"  # the product's line pool, beside its saved model
POOL_SAVE_EVERY = 10  # inspections between saves of a product's pool (and at stop): a crash loses at most these

Progress = Callable[[float, str], None]


class ProductNotReady(InspectionError):
    """The product asked for has no built model in this worker (never built, failed, or its references removed)."""


class ProductModels:
    """Product id -> (name, built model) and product id -> LinePool, for one inspector."""

    def __init__(self, inspector: InspectorProtocol) -> None:
        self.inspector = inspector
        self.products: dict[int, tuple[str, BuiltProduct]] = {}
        self.pools: dict[int, LinePool] = {}
        self._pool_files: dict[int, Path] = {}
        self._unsaved_pool: dict[int, int] = {}  # inspections since the pool was last saved
        self._requests: dict[int, tuple[ProductRequest, list[np.ndarray]]] = {}  # what each product was built from
        self._adapt_failed: set[int] = set()  # products whose own map could not be fitted (until the next build)

    # -- building -----------------------------------------------------------------------------------------------
    def build(self, request: ProductRequest, progress: Progress, cancel: Callable[[], bool]) -> BuiltProduct:
        """Build (or load the saved) model of the product; raises InspectionError with a message for people."""
        pid = request.product_id
        if not request.references:
            self.products.pop(pid, None)
            raise NoReferencesError(f"{NO_REFERENCES_MESSAGE} to product {request.name!r}.")
        images = []
        for i, ref in enumerate(request.references):
            if cancel():
                raise Cancelled("building the product was cancelled")
            progress(0.1 * i / len(request.references), f"Reading {ref.label}")
            images.append(ref.image if ref.image is not None else read_reference(ref))
        own = own_map_of(request)
        saved = self._load_saved(request, images, progress, own)
        self.pools[pid] = self._pool_for(request, fresh=saved is None, adapted=own.parts if own is not None else 0)
        product: BuiltProduct
        if saved is not None:
            product = saved
        else:
            product = self.inspector.build_product(
                images,
                name=request.name,
                progress=lambda frac, msg: progress(0.1 + 0.9 * float(frac), str(msg)),
                cancel=cancel,
                cache_dir=request.cache_dir,
                settings=request.settings,
                own_map=own,
            )
            save_model(request, product)
        self._requests[pid] = (request, images)
        self._adapt_failed.discard(pid)
        if request.threshold_override is not None:
            product = product.with_threshold_override(request.threshold_override, by=request.override_by or "operator")
        self.products[pid] = (request.name, product)
        return product

    def _load_saved(
        self, request: ProductRequest, images: list[np.ndarray], progress: Progress, own: OwnMap | None
    ) -> ProductModel | None:
        """The saved model of this product when it was built from exactly these references by this encoder (with
        the product's own map ``own``, where it has one)."""
        if request.model_dir is None or not (request.model_dir / "product.json").is_file():
            return None
        try:
            saved = ProductModel.load(request.model_dir)
        except (InspectionError, OSError, ValueError, KeyError) as exc:
            log.warning("saved model of %s not used: %s", request.name, exc)
            return None
        checked = [check_array(img) for img in images]
        hashes = tuple(image_hash(img) for img in checked)
        wanted = resolve_settings(request.settings, checked)
        if (
            saved.reference_hashes != hashes
            or saved.encoder_id != self.inspector.encoder_id_for(own)
            or saved.settings.to_dict() != wanted.to_dict()
        ):
            return None
        if not saved.calibration_current:
            log.info("saved model of %s was calibrated by an older rule; recalibrating", request.name)
            progress(0.1, "Recalibrating: the saved model used an older rule")
            return None
        progress(0.9, "Loaded the saved model")
        return saved

    def _pool_for(self, request: ProductRequest, fresh: bool, adapted: int) -> LinePool:
        """The product's saved line pool when its saved model is reused; a new, empty one when it is rebuilt (new
        references, another rule): what the pool learned was measured against the old memory. ``adapted``: the
        parts of the product's own map (0: none); a new pool starts from it, and a saved pool whose map is gone
        takes parts for a new one."""
        self._pool_files.pop(request.product_id, None)
        new = LinePool(adapted=adapted)
        if request.model_dir is None:
            return new
        path = request.model_dir / POOL_FILE
        self._pool_files[request.product_id] = path
        if fresh or not path.is_file():
            return new
        try:
            pool = LinePool.load(path)
        except InspectionError as exc:
            log.warning("%s", exc)
            return new
        if not adapted:
            pool.adapted = 0
        return pool

    # -- inspecting -----------------------------------------------------------------------------------------------
    def inspect(self, request: InspectRequest) -> InspectionOutcome:
        """Inspect the request's frame against its product (and the product's pool); raises InspectionError."""
        entry = self.products.get(request.product_id)
        if entry is None:
            raise ProductNotReady("The product model is not ready yet; wait for the progress bar to finish.")
        name, product = entry
        pool = self.pools.get(request.product_id)
        result = self.inspector.inspect(request.frame.image, product, pool=pool)
        heat, levels = heatmap_layers(result)
        if pool is not None:
            pid = request.product_id
            self._unsaved_pool[pid] = self._unsaved_pool.get(pid, 0) + 1
            if self._unsaved_pool[pid] >= POOL_SAVE_EVERY:
                self.save_pools()
        latency = (time.monotonic() - request.frame.timestamp) * 1000.0
        return InspectionOutcome(
            request.frame,
            request.product_id,
            name,
            result,
            heat,
            latency,
            part_id=request.part_id,
            heatmap_levels=levels,
        )

    # -- the product's own map -----------------------------------------------------------------------------------
    def adaptation_due(self) -> int | None:
        """A product whose pool has taken enough parts for its own map, or None."""
        for pid, pool in self.pools.items():
            if pool.ready_to_adapt and pid in self.products and pid in self._requests and pid not in self._adapt_failed:
                return pid
        return None

    def adapt(self, product_id: int, pause: Pause) -> BuiltProduct | None:
        """Fit the product's own map on the parts its pool took and rebuild it with it; ``pause`` is called between
        small steps (inspections run there) and returns True to stop (Cancelled: tried again later). Returns the
        adapted product, or None where the fit failed (logged; not tried again until the product is rebuilt)."""
        pool, (name, product) = self.pools[product_id], self.products[product_id]
        request, images = self._requests[product_id]
        taken = list(pool.taken)

        def progress(fraction: float, message: str) -> None:
            pool.adapting = float(fraction)

        pool.adapting = 0.0
        t0 = time.monotonic()
        try:
            adapted = self.inspector.adapt_product(
                product,
                images,
                [t.image for t in taken],
                [t.key for t in taken],
                pause=pause,
                progress=progress,
            )
        except Cancelled:
            pool.adapting = None
            raise
        except InspectionError as exc:
            pool.adapting = None
            self._adapt_failed.add(product_id)
            log.warning("the own map of %s could not be fitted: %s", name, exc)
            return None
        pool.adopt(adapted.adapted_parts)
        self.products[product_id] = (name, adapted)
        save_model(request, adapted)
        self._unsaved_pool[product_id] = self._unsaved_pool.get(product_id, 0) + 1
        self.save_pools()
        log.info(
            "%s adapted to %d of its own parts in %.1f s (threshold %.3f)",
            name,
            adapted.adapted_parts,
            time.monotonic() - t0,
            adapted.calibration.effective_threshold,
        )
        return adapted

    # -- the pools ------------------------------------------------------------------------------------------------
    def save_pools(self) -> None:
        """Write every product's pool that learned something since its last save (a failure is logged)."""
        for pid, n in list(self._unsaved_pool.items()):
            path, pool = self._pool_files.get(pid), self.pools.get(pid)
            if n and path is not None and pool is not None:
                try:
                    pool.save(path)
                    self._unsaved_pool[pid] = 0
                except OSError as exc:
                    log.warning("could not save the line pool in %s: %s", path, exc)

    def forget_part(self, product_id: int, image_sha: str) -> bool:
        """A reviewer confirmed the part defective: it leaves the product's pool and never joins it; where the
        product's own map was fitted with it, the map is fitted again on later parts."""
        pool = self.pools.get(product_id)
        if pool is None:
            return False
        was_in = pool.exclude(image_sha)
        name, product = self.products.get(product_id, ("", None))
        own = product.own_map if product is not None else None
        if own is not None and image_sha in own.part_keys:
            # the product's own map was fitted with this part among its good ones: it learns a new one from the
            # parts to come (the product keeps the present one until then)
            pool.adapted = 0
            pool.taken.clear()
            log.warning("%s: a part the own map was fitted on is a confirmed defect; the map is fitted again", name)
            was_in = True
        self._unsaved_pool[product_id] = self._unsaved_pool.get(product_id, 0) + 1
        self.save_pools()
        return was_in


def own_map_of(request: ProductRequest) -> OwnMap | None:
    """The product's own map saved beside its model, or None (none yet, or damaged: logged, and learned again)."""
    if request.model_dir is None:
        return None
    try:
        return OwnMap.load(request.model_dir)
    except InspectionError as exc:
        log.warning("%s", exc)
        return None


def save_model(request: ProductRequest, product: BuiltProduct) -> None:
    if request.model_dir is None:
        return
    try:
        product.save(request.model_dir)
    except OSError as exc:  # the model still works; it is rebuilt at the next start
        log.warning("could not save the model of %s in %s: %s", request.name, request.model_dir, exc)


def read_reference(ref: ReferenceSource) -> np.ndarray:
    if ref.path is None:
        raise ReferencesError(f"Reference {ref.label} has neither an image nor a file; add it again.")
    try:
        return load_image(ref.path)
    except ImageReadError as exc:
        raise ReferencesError(
            f"Reference image {ref.label} cannot be read ({exc}). Remove or replace it in Products."
        ) from exc
