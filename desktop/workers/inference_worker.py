"""The inference worker: ONE long-lived thread that loads the Inspector once, builds product models and inspects.

``InferenceService`` lives in the GUI thread and owns the thread; ``InferenceWorker`` lives in the thread. Requests
go in through queued signals, results come back through signals. Frames wait in a one-slot mailbox, so while
the model is busy only the newest frame is kept: stale requests are dropped, never queued.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import InspectionError
from core.reference_preview import PreviewRequest, preview_reference
from line.capture.mailbox import Frame, LatestFrameMailbox
from line.outcome import (  # noqa: F401 - re-exported: the window's modules import them from here
    NO_REFERENCES_MESSAGE,
    InspectionOutcome,
    InspectRequest,
    ProductRequest,
    ReferenceSource,
    heatmap_rgba,
)
from line.product_models import POOL_FILE, POOL_SAVE_EVERY, ProductModels  # noqa: F401

log = logging.getLogger(__name__)


def _message(exc: BaseException) -> str:
    return str(exc) or exc.__class__.__name__


class InferenceWorker(QObject):
    """Runs in the inference thread. Keeps the Inspector and every built product warm (line/product_models.py)."""

    model_progress = Signal(float, str)
    model_ready = Signal(str)  # description (encoder id)
    model_failed = Signal(str)
    product_progress = Signal(int, float, str)  # product id, fraction, message
    product_ready = Signal(int, object)  # product id, ProductModel
    product_failed = Signal(int, str)  # product id, message for people
    result_ready = Signal(object)  # InspectionOutcome
    inspection_failed = Signal(object, str)  # InspectRequest, message
    preview_ready = Signal(int, object)  # token, core.reference_preview.ReferencePreview
    preview_failed = Signal(int, str)  # token, message for people

    def __init__(
        self, inspector_factory: Callable[[], Any], pending: LatestFrameMailbox, cancel: threading.Event
    ) -> None:
        super().__init__()
        self._factory = inspector_factory
        self._pending = pending
        self._cancel = cancel
        self.inspector: Any = None
        self.models: ProductModels | None = None

    @property
    def products(self) -> dict[int, tuple[str, Any]]:
        return self.models.products if self.models is not None else {}

    @property
    def pools(self) -> dict:
        """Line mode: each product's pool of recent parts."""
        return self.models.pools if self.models is not None else {}

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
        self.models = ProductModels(self.inspector)
        self.model_progress.emit(1.0, "Model loaded")
        self.model_ready.emit(str(getattr(self.inspector, "encoder_id", "ready")))

    @Slot(object)
    def build_product(self, request: ProductRequest) -> None:
        pid = request.product_id
        if self.models is None:
            self.product_failed.emit(pid, "The inspection model is not loaded yet; it loads at start-up.")
            return
        if request.references:
            self._cancel.clear()
        try:
            product = self.models.build(
                request, lambda frac, msg: self.product_progress.emit(pid, float(frac), str(msg)), self._cancel.is_set
            )
        except InspectionError as exc:
            if request.references and self._cancel.is_set():
                self.product_failed.emit(pid, "cancelled")
            else:
                self.product_failed.emit(pid, _message(exc))
            return
        except Exception as exc:  # noqa: BLE001
            log.error("product build failed:\n%s", traceback.format_exc())
            self.product_failed.emit(pid, f"Building product {request.name!r} failed: {_message(exc)}")
            return
        self.product_progress.emit(pid, 1.0, "Ready")
        self.product_ready.emit(pid, product)

    def save_pools(self) -> None:
        """Write every product's pool that learned something since its last save (a failure is logged)."""
        if self.models is not None:
            self.models.save_pools()

    @Slot(object)
    def preview_reference(self, request: PreviewRequest) -> None:
        """Rebuild the product with the candidate reference and score its recent failures (core/reference_preview)."""
        entry = self.products.get(request.product_id)
        if self.inspector is None or entry is None:
            self.preview_failed.emit(
                request.token, "the product's model is not ready, so the effect cannot be measured"
            )
            return
        try:
            preview = preview_reference(
                self.inspector, list(request.references), request.candidate, request.failures, entry[1]
            )
        except InspectionError as exc:
            self.preview_failed.emit(request.token, _message(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown to the reviewer, the window stays up
            log.error("reference preview failed:\n%s", traceback.format_exc())
            self.preview_failed.emit(request.token, f"the preview failed: {_message(exc)}")
            return
        self.preview_ready.emit(request.token, preview)

    @Slot(int, str)
    def forget_part(self, product_id: int, image_sha: str) -> bool:
        """A reviewer confirmed the part defective: it leaves the product's pool and never joins it."""
        return self.models.forget_part(product_id, image_sha) if self.models is not None else False

    @Slot()
    def process_pending(self) -> None:
        request = self._pending.take()
        if request is None:
            return  # an older wake-up: its frame was superseded and already handled
        if self.models is None:
            self.inspection_failed.emit(
                request, "The product model is not ready yet; wait for the progress bar to finish."
            )
            return
        try:
            outcome = self.models.inspect(request)
        except InspectionError as exc:
            self.inspection_failed.emit(request, _message(exc))
            return
        except Exception as exc:  # noqa: BLE001
            log.error("inspection failed:\n%s", traceback.format_exc())
            self.inspection_failed.emit(request, f"Inspection failed: {_message(exc)}")
            return
        self.result_ready.emit(outcome)


class InferenceService(QObject):
    """GUI-side handle of the inference thread: submit frames, build products, stop."""

    _load_requested = Signal()
    _build_requested = Signal(object)
    _forget_requested = Signal(int, str)
    _preview_requested = Signal(object)
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
        self._preview_requested.connect(self.worker.preview_reference)
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
        self.preview_ready = self.worker.preview_ready
        self.preview_failed = self.worker.preview_failed

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

    def preview_reference(self, request: PreviewRequest) -> None:
        """Ask the worker what a new reference would do (answers with preview_ready / preview_failed)."""
        self._preview_requested.emit(request)

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
