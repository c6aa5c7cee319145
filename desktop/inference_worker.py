"""The inference worker: ONE long-lived thread that loads the Inspector once, builds product models and inspects.

``InferenceService`` lives in the GUI thread and owns the thread; ``InferenceWorker`` lives in the thread. Requests
go in through queued signals, results come back through signals. Frames wait in a one-slot mailbox, so while
the model is busy only the newest frame is kept: stale requests are dropped, never queued.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import ImageReadError, InspectionError, ReferencesError
from core.heatmap import colorize, normalise
from core.imageio import check_array, load_image
from core.inspector import DEFAULT_SETTINGS, resolve_settings
from core.line_pool import LinePool
from core.memory import image_hash
from core.product import ProductModel
from core.result import InspectionResult
from core.settings import DecoderSettings
from line.capture.mailbox import Frame, LatestFrameMailbox

log = logging.getLogger(__name__)

NO_REFERENCES_MESSAGE = "Add at least one normal reference image"
POOL_FILE = "line_pool.npz"  # the product's line pool, beside its saved model
POOL_SAVE_EVERY = 10  # inspections between saves of a product's pool (and at stop): a crash loses at most these


@dataclass(frozen=True)
class ReferenceSource:
    """One normal reference for a build: a file (decoded in the worker) or pixels already in memory."""

    label: str  # what people call it in messages (the original file name)
    path: Path | None = None
    image: np.ndarray | None = None


@dataclass(frozen=True)
class ProductRequest:
    product_id: int
    name: str
    references: tuple[ReferenceSource, ...]
    cache_dir: Path | None = None  # memory-bank cache (core)
    model_dir: Path | None = None  # where the built model (bank + calibration) is saved and loaded from
    threshold_override: float | None = None
    override_by: str | None = None
    settings: DecoderSettings | None = None  # the product's decoder settings; None: the inspector's defaults


@dataclass(frozen=True)
class InspectRequest:
    frame: Frame
    product_id: int
    requested_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class InspectionOutcome:
    """Everything about one inspected frame the window shows and the database records."""

    frame: Frame
    product_id: int
    product_name: str
    result: InspectionResult
    heatmap_rgba: np.ndarray  # colour heatmap; alpha grows with the anomaly so normal areas stay see-through
    latency_ms: float  # from capture to result
    finished_at: float = field(default_factory=time.time)


def heatmap_rgba(result: InspectionResult) -> np.ndarray:
    """The result's colour heatmap with an alpha channel (H x W x 4 uint8) for drawing over the frame."""
    rgb = colorize(result.anomaly_map, result.threshold)
    level = normalise(result.anomaly_map, result.threshold)  # 0.5 is the threshold
    alpha = np.clip((level - 0.15) * 2.5, 0.0, 1.0) * 255.0  # clearly normal areas stay see-through
    return np.dstack([rgb, alpha.astype(np.uint8)])


def _message(exc: BaseException) -> str:
    return str(exc) or exc.__class__.__name__


class InferenceWorker(QObject):
    """Runs in the inference thread. Keeps the Inspector and every built product warm."""

    model_progress = Signal(float, str)
    model_ready = Signal(str)  # description (encoder id)
    model_failed = Signal(str)
    product_progress = Signal(int, float, str)  # product id, fraction, message
    product_ready = Signal(int, object)  # product id, ProductModel
    product_failed = Signal(int, str)  # product id, message for people
    result_ready = Signal(object)  # InspectionOutcome
    inspection_failed = Signal(object, str)  # InspectRequest, message

    def __init__(self, inspector_factory: Callable[[], Any], pending: LatestFrameMailbox, cancel: threading.Event) -> None:
        super().__init__()
        self._factory = inspector_factory
        self._pending = pending
        self._cancel = cancel
        self.inspector: Any = None
        self.products: dict[int, tuple[str, Any]] = {}
        self.pools: dict[int, LinePool] = {}  # line mode: each product's pool of recent parts
        self._pool_files: dict[int, Path] = {}
        self._unsaved_pool: dict[int, int] = {}  # inspections since the pool was last saved

    @Slot()
    def load_model(self) -> None:
        if self.inspector is not None:
            self.model_ready.emit(str(getattr(self.inspector, "encoder_id", "ready")))
            return
        self.model_progress.emit(0.0, "Loading the inspection model")
        try:
            self.inspector = self._factory()
        except InspectionError as exc:
            self.model_failed.emit(_message(exc))
            return
        except Exception as exc:  # noqa: BLE001 - any failure is shown, the window stays up
            log.error("model load failed:\n%s", traceback.format_exc())
            self.model_failed.emit(f"The inspection model could not be loaded: {_message(exc)}. Reinstall the station.")
            return
        self.model_progress.emit(1.0, "Model loaded")
        self.model_ready.emit(str(getattr(self.inspector, "encoder_id", "ready")))

    @Slot(object)
    def build_product(self, request: ProductRequest) -> None:
        pid = request.product_id
        if self.inspector is None:
            self.product_failed.emit(pid, "The inspection model is not loaded yet; it loads at start-up.")
            return
        if not request.references:
            self.products.pop(pid, None)
            self.product_failed.emit(pid, f"{NO_REFERENCES_MESSAGE} to product {request.name!r}.")
            return
        self._cancel.clear()
        try:
            images = []
            for i, ref in enumerate(request.references):
                if self._cancel.is_set():
                    raise InspectionError("cancelled")
                self.product_progress.emit(pid, 0.1 * i / len(request.references), f"Reading {ref.label}")
                images.append(ref.image if ref.image is not None else self._read_reference(ref))
            product = self._load_saved(request, images)
            self.pools[pid] = self._pool_for(request, fresh=product is None)
            if product is None:
                product = self.inspector.build_product(
                    images,
                    name=request.name,
                    progress=lambda frac, msg: self.product_progress.emit(pid, 0.1 + 0.9 * float(frac), str(msg)),
                    cancel=self._cancel.is_set,
                    cache_dir=request.cache_dir,
                    **({"settings": request.settings} if request.settings is not None else {}),
                )
                self._save(request, product)
            if request.threshold_override is not None:
                product = product.with_threshold_override(request.threshold_override, by=request.override_by or "operator")
        except InspectionError as exc:
            if self._cancel.is_set():
                self.product_failed.emit(pid, "cancelled")
            else:
                self.product_failed.emit(pid, _message(exc))
            return
        except Exception as exc:  # noqa: BLE001
            log.error("product build failed:\n%s", traceback.format_exc())
            self.product_failed.emit(pid, f"Building product {request.name!r} failed: {_message(exc)}")
            return
        self.products[pid] = (request.name, product)
        self.product_progress.emit(pid, 1.0, "Ready")
        self.product_ready.emit(pid, product)

    def _load_saved(self, request: ProductRequest, images: list[np.ndarray]) -> ProductModel | None:
        """The saved model of this product when it was built from exactly these references by this encoder."""
        if request.model_dir is None or not (request.model_dir / "product.json").is_file():
            return None
        try:
            saved = ProductModel.load(request.model_dir)
        except (InspectionError, OSError, ValueError, KeyError) as exc:
            log.warning("saved model of %s not used: %s", request.name, exc)
            return None
        checked = [check_array(img) for img in images]
        hashes = tuple(image_hash(img) for img in checked)
        wanted = resolve_settings(request.settings or DEFAULT_SETTINGS, checked)
        if (
            saved.reference_hashes != hashes
            or saved.encoder_id != self.inspector.encoder_id
            or saved.settings.to_dict() != wanted.to_dict()
        ):
            return None
        if not saved.calibration_current:
            log.info("saved model of %s was calibrated by an older rule; recalibrating", request.name)
            self.product_progress.emit(request.product_id, 0.1, "Recalibrating: the saved model used an older rule")
            return None
        self.product_progress.emit(request.product_id, 0.9, "Loaded the saved model")
        return saved

    def _pool_for(self, request: ProductRequest, fresh: bool) -> LinePool:
        """The product's saved line pool when its saved model is reused; a new, empty one when it is rebuilt (new
        references, another rule): what the pool learned was measured against the old memory."""
        self._pool_files.pop(request.product_id, None)
        if request.model_dir is None:
            return LinePool()
        path = request.model_dir / POOL_FILE
        self._pool_files[request.product_id] = path
        if fresh or not path.is_file():
            return LinePool()
        try:
            return LinePool.load(path)
        except InspectionError as exc:
            log.warning("%s", exc)
            return LinePool()

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

    @Slot(int, str)
    def forget_part(self, product_id: int, image_sha: str) -> bool:
        """A reviewer confirmed the part defective: it leaves the product's pool and never joins it."""
        pool = self.pools.get(product_id)
        if pool is None:
            return False
        was_in = pool.exclude(image_sha)
        self._unsaved_pool[product_id] = self._unsaved_pool.get(product_id, 0) + 1
        self.save_pools()
        return was_in

    @staticmethod
    def _save(request: ProductRequest, product: ProductModel) -> None:
        if request.model_dir is None:
            return
        try:
            product.save(request.model_dir)
        except OSError as exc:  # the model still works; it is rebuilt at the next start
            log.warning("could not save the model of %s in %s: %s", request.name, request.model_dir, exc)

    @staticmethod
    def _read_reference(ref: ReferenceSource) -> np.ndarray:
        try:
            return load_image(ref.path)
        except ImageReadError as exc:
            raise ReferencesError(
                f"Reference image {ref.label} cannot be read ({exc}). Remove or replace it in Products."
            ) from exc

    @Slot()
    def process_pending(self) -> None:
        request = self._pending.take()
        if request is None:
            return  # an older wake-up: its frame was superseded and already handled
        entry = self.products.get(request.product_id)
        if self.inspector is None or entry is None:
            self.inspection_failed.emit(request, "The product model is not ready yet; wait for the progress bar to finish.")
            return
        name, product = entry
        pool = self.pools.get(request.product_id)
        try:
            result = self.inspector.inspect(request.frame.image, product, pool=pool)
            heat = heatmap_rgba(result)
        except InspectionError as exc:
            self.inspection_failed.emit(request, _message(exc))
            return
        except Exception as exc:  # noqa: BLE001
            log.error("inspection failed:\n%s", traceback.format_exc())
            self.inspection_failed.emit(request, f"Inspection failed: {_message(exc)}")
            return
        if pool is not None:
            pid = request.product_id
            self._unsaved_pool[pid] = self._unsaved_pool.get(pid, 0) + 1
            if self._unsaved_pool[pid] >= POOL_SAVE_EVERY:
                self.save_pools()
        latency = (time.monotonic() - request.frame.timestamp) * 1000.0
        self.result_ready.emit(InspectionOutcome(request.frame, request.product_id, name, result, heat, latency))


class InferenceService(QObject):
    """GUI-side handle of the inference thread: submit frames, build products, stop."""

    _load_requested = Signal()
    _build_requested = Signal(object)
    _forget_requested = Signal(int, str)
    _wake = Signal()

    def __init__(self, inspector_factory: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending = LatestFrameMailbox()  # holds the newest InspectRequest
        self._cancel = threading.Event()
        self.thread = QThread()
        self.thread.setObjectName("inference")
        self.worker = InferenceWorker(inspector_factory, self._pending, self._cancel)
        self.worker.moveToThread(self.thread)
        self._load_requested.connect(self.worker.load_model)
        self._build_requested.connect(self.worker.build_product)
        self._wake.connect(self.worker.process_pending)
        self._forget_requested.connect(self.worker.forget_part)
        self.thread.finished.connect(self.worker.deleteLater)
        # Re-exported signals, for readability at the call sites.
        self.model_progress = self.worker.model_progress
        self.model_ready = self.worker.model_ready
        self.model_failed = self.worker.model_failed
        self.product_progress = self.worker.product_progress
        self.product_ready = self.worker.product_ready
        self.product_failed = self.worker.product_failed
        self.result_ready = self.worker.result_ready
        self.inspection_failed = self.worker.inspection_failed

    @property
    def dropped(self) -> int:
        """Inspect requests replaced by a newer frame before the model got to them."""
        return self._pending.dropped

    def start(self) -> None:
        """Start the thread and load the model in it (once)."""
        if not self.thread.isRunning():
            self.thread.start()
        self._load_requested.emit()

    def build_product(self, request: ProductRequest) -> None:
        """Build (or load from cache) a product model; a build in progress is cancelled first."""
        self._cancel.set()
        self._build_requested.emit(request)

    def forget_part(self, product_id: int, frame_key: str) -> None:
        """A reviewer confirmed this part defective: take it out of the product's line pool for good."""
        self._forget_requested.emit(product_id, frame_key)

    def cancel_build(self) -> None:
        self._cancel.set()

    def submit(self, frame: Frame, product_id: int) -> None:
        """Ask for an inspection of ``frame``; replaces any frame still waiting."""
        if self._pending.put(InspectRequest(frame, product_id)):
            self._wake.emit()

    def discard_pending(self) -> None:
        """Forget the frame still waiting (Auto switched off); the one being inspected still reports."""
        self._pending.take()

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Cancel what can be cancelled, end the thread and join it."""
        self._cancel.set()
        self._pending.take()
        if not self.thread.isRunning():
            return True
        self.thread.quit()
        stopped = self.thread.wait(int(timeout_s * 1000))
        if stopped:  # the thread has ended: its pools can be written from here
            self.worker.save_pools()
        return stopped
