"""The line runner's inference thread: a plain Python thread and a command queue, no Qt.

It loads the Inspector once, builds products (a newer build cancels the one running) and, for each triggered
part, acquires the frame from the camera and inspects it against the product and its line pool
(line/product_models.py). Answers go to the bound listener (the controller), from this thread.

When a product's pool has taken enough parts, the thread fits the product's own map and rebuilds the product with
it (core/own_map.py) in the time between parts: the work is split into steps of tens of milliseconds, and a part
that arrives meanwhile is inspected between two steps (against the product as it was) instead of waiting for the
whole fit; any other command (a build, a review, stop) stops the fit, which starts again at the next quiet moment.
"""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from core.errors import Cancelled, InspectionError, NoReferencesError
from core.protocols import BuiltProduct, InspectorProtocol
from core.reference_preview import PreviewRequest, preview_reference
from line.capture.camera_link import CameraError
from line.events import BuildFailure, ErrorCode, Fault
from line.outcome import InspectionOutcome, InspectRequest, ProductRequest
from line.ports import InferenceListener, PartJob, PreviewReply
from line.product_models import ProductModels

log = logging.getLogger(__name__)

ADAPT_IDLE_S = 0.05  # the queue quiet this long before a product's own map is fitted (it yields to parts anyway)


@dataclass(frozen=True)
class _Build:
    request: ProductRequest
    generation: int


@dataclass(frozen=True)
class _Forget:
    product_id: int
    image_sha: str


@dataclass(frozen=True)
class _Preview:
    request: PreviewRequest
    reply: PreviewReply


class _Control(Enum):
    LOAD = "load"
    STOP = "stop"
    ADAPT = "adapt"  # not queued: the thread's own, when the queue is quiet and a product is due


_Command = _Build | _Forget | _Preview | PartJob | _Control


class _Unbound:
    """The listener before the controller binds one: what the thread reports goes nowhere."""

    def on_model_ready(self, encoder_id: str) -> None: ...
    def on_model_failed(self, message: str) -> None: ...
    def on_product_progress(self, product_id: int, fraction: float, message: str) -> None: ...
    def on_product_ready(self, product_id: int, product: BuiltProduct) -> None: ...
    def on_product_failed(self, product_id: int, message: str, kind: BuildFailure = BuildFailure.FAILED) -> None: ...
    def on_product_adapted(self, product_id: int, product: BuiltProduct) -> None: ...
    def on_inspected(self, job: PartJob, outcome: InspectionOutcome) -> None: ...
    def on_part_failed(self, job: PartJob, fault: Fault) -> None: ...


def _message(exc: BaseException) -> str:
    return str(exc) or exc.__class__.__name__


class InferenceEngine:
    def __init__(
        self, inspector_factory: Callable[[], InspectorProtocol], listener: InferenceListener | None = None
    ) -> None:
        self._factory = inspector_factory
        self._listener: InferenceListener = listener if listener is not None else _Unbound()
        self._queue: queue.Queue[_Command] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._generation = 0  # of the newest build: an older build in progress sees it and stops
        self._stopping = threading.Event()
        self._deferred: deque[_Command] = deque()  # commands that arrived while a product's own map was being fitted
        self.inspector: InspectorProtocol | None = None
        self.models: ProductModels | None = None

    def bind(self, listener: InferenceListener) -> None:
        self._listener = listener

    # -- the controller's side ----------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="line-inference", daemon=True)
            self._thread.start()
            self._queue.put(_Control.LOAD)

    def build_product(self, request: ProductRequest) -> None:
        self._generation += 1
        self._queue.put(_Build(request, self._generation))

    def inspect(self, job: PartJob) -> None:
        self._queue.put(job)

    def forget_part(self, product_id: int, image_sha: str) -> None:
        self._queue.put(_Forget(product_id, image_sha))

    def preview_reference(self, request: PreviewRequest, reply: PreviewReply) -> None:
        """Rebuild the product with a candidate reference and score its recent failures (core/reference_preview),
        in this thread (the Inspector is thread-confined); ``reply`` is called from here with the answer."""
        self._queue.put(_Preview(request, reply))

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Finish the command in progress (a build is cancelled), drop the rest, save the pools, join."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        self._queue.put(_Control.STOP)
        thread.join(timeout_s)
        return not thread.is_alive()

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the thread ---------------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                command = self._next_command()
                if command is _Control.STOP:
                    break
                if self._stopping.is_set() and isinstance(command, PartJob):
                    self._listener.on_part_failed(command, Fault(ErrorCode.STOPPING, "The station is stopping."))
                    continue
                try:
                    self._handle(command)
                except Exception:  # noqa: BLE001 - the thread must survive anything a command does
                    log.error("inference command failed:\n%s", traceback.format_exc())
        finally:
            if self.models is not None:
                self.models.save_pools()

    def _next_command(self) -> _Command:
        """The next command: one deferred during a fit first; where a product's own map is due, the fit once the
        queue has been quiet for ADAPT_IDLE_S."""
        if self._deferred:
            return self._deferred.popleft()
        if self.models is not None and not self._stopping.is_set() and self.models.adaptation_due() is not None:
            try:
                return self._queue.get(timeout=ADAPT_IDLE_S)
            except queue.Empty:
                return _Control.ADAPT
        return self._queue.get()

    def _between_steps(self) -> bool:
        """Called between the fit's small steps: inspects the parts queued meanwhile; returns True (stop the fit)
        when the station stops or any other command is waiting (it runs once the fit has stopped)."""
        while not self._stopping.is_set():
            try:
                command = self._queue.get_nowait()
            except queue.Empty:
                return False
            if isinstance(command, PartJob):
                try:
                    self._inspect(command)
                except Exception:  # noqa: BLE001 - as in the main loop: the thread survives anything
                    log.error("inference command failed:\n%s", traceback.format_exc())
                continue
            self._deferred.append(command)
            return True
        return True

    def _adapt(self) -> None:
        if self.models is None:
            return
        pid = self.models.adaptation_due()
        if pid is None:
            return
        try:
            product = self.models.adapt(pid, self._between_steps)
        except Cancelled:
            return  # tried again at the next quiet moment
        if product is not None:
            self._listener.on_product_adapted(pid, product)

    def _handle(self, command: _Command) -> None:
        if command is _Control.LOAD:
            self._load()
        elif command is _Control.ADAPT:
            self._adapt()
        elif isinstance(command, _Build):
            self._build(command)
        elif isinstance(command, PartJob):
            self._inspect(command)
        elif isinstance(command, _Forget) and self.models is not None:
            self.models.forget_part(command.product_id, command.image_sha)
        elif isinstance(command, _Preview):
            self._preview(command)

    def _load(self) -> None:
        if self.inspector is not None:
            return
        try:
            inspector = self._factory()
        except InspectionError as exc:
            self._listener.on_model_failed(_message(exc))
            return
        except Exception as exc:  # noqa: BLE001
            log.error("model load failed:\n%s", traceback.format_exc())
            self._listener.on_model_failed(
                f"The inspection model could not be loaded: {_message(exc)}. Reinstall the station."
            )
            return
        self.inspector = inspector
        self.models = ProductModels(inspector)
        self._listener.on_model_ready(inspector.encoder_id)

    def _build(self, command: _Build) -> None:
        request, pid = command.request, command.request.product_id
        if self.models is None:
            self._listener.on_product_failed(
                pid,
                "The inspection model is not loaded; see the log.",
                BuildFailure.MODEL_NOT_LOADED,
            )
            return

        def cancelled() -> bool:
            return command.generation != self._generation or self._stopping.is_set()

        if cancelled():
            return  # a newer build is queued behind this one
        try:
            product = self.models.build(
                request, lambda frac, msg: self._listener.on_product_progress(pid, float(frac), str(msg)), cancelled
            )
        except Cancelled:
            return  # a newer build of the product is queued, or the station stops: nothing to report
        except NoReferencesError as exc:
            self._listener.on_product_failed(pid, _message(exc), BuildFailure.NO_REFERENCES)
            return
        except InspectionError as exc:
            if not cancelled():
                self._listener.on_product_failed(pid, _message(exc), BuildFailure.FAILED)
            return
        except Exception as exc:  # noqa: BLE001
            log.error("product build failed:\n%s", traceback.format_exc())
            self._listener.on_product_failed(pid, f"Building product {request.name!r} failed: {_message(exc)}")
            return
        self._listener.on_product_ready(pid, product)

    def _preview(self, command: _Preview) -> None:
        request = command.request
        entry = self.models.products.get(request.product_id) if self.models is not None else None
        if entry is None or self.inspector is None:
            command.reply(request, None, "the product's model is not ready, so the effect cannot be measured")
            return
        try:
            preview = preview_reference(
                self.inspector, list(request.references), request.candidate, request.failures, entry[1]
            )
        except InspectionError as exc:
            command.reply(request, None, _message(exc))
            return
        except Exception as exc:  # noqa: BLE001 - told to the reviewer; the thread goes on
            log.error("reference preview failed:\n%s", traceback.format_exc())
            command.reply(request, None, f"the preview failed: {_message(exc)}")
            return
        command.reply(request, preview, None)

    def _inspect(self, job: PartJob) -> None:
        try:
            frame = job.acquire()
        except CameraError as exc:
            self._listener.on_part_failed(job, exc.fault)
            return
        if self.models is None:
            self._listener.on_part_failed(job, Fault(ErrorCode.NOT_READY, "The inspection model is not loaded."))
            return
        try:
            outcome = self.models.inspect(InspectRequest(frame, job.product_id, part_id=job.part_id))
        except InspectionError as exc:
            self._listener.on_part_failed(job, Fault(ErrorCode.INSPECTION_FAILED, _message(exc)))
            return
        except Exception as exc:  # noqa: BLE001
            log.error("inspection failed:\n%s", traceback.format_exc())
            self._listener.on_part_failed(
                job, Fault(ErrorCode.INSPECTION_FAILED, f"Inspection failed: {_message(exc)}")
            )
            return
        self._listener.on_inspected(job, outcome)
