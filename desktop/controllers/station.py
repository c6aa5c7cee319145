"""The window's face of the station: the operator's controls drive the Qt-free station controller
(line/controller.py), and the window shows what the controller's events say.

The station's state and policy (products and which are ready, the chosen one, the model, auto mode, the part in
flight, faults, the shift counters and the last parts) live in ``line.controller.StationController`` and its
``StationStatus`` (``self.line``), the same objects the headless line runner and the PLC servers use; this class
holds none of it, only what the window shows. A part goes the controller's way: trigger, the line's inference
thread acquires the frame (from the window's camera feed, desktop/controllers/feed_camera.py) and inspects it, the
line's recorder thread writes it, and the controller's events come back to this thread through one Qt adapter
(desktop/workers/event_relay.py). Nothing here waits on a thread: every call into the controller returns at once.
Every problem lands in the window's banner and status bar with what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import QObject, Qt, Signal, Slot

from core.imageio import load_image_bytes
from core.memory import image_hash
from db.auth_errors import PermissionDenied
from db.errors import DatabaseError
from db.models import REVIEW_CONFIRMED_DEFECT
from db.roles import AUTO_MODE, INSPECT, HasRole, require
from desktop.controllers.camera_feed import CameraFeed
from desktop.controllers.feed_camera import FeedCamera
from desktop.controllers.result_text import describe_result
from desktop.controllers.station_settings import StationSettings
from desktop.dialogs.products_dialog import ProductsDialog
from desktop.main_window import MainWindow
from desktop.workers.db_task import DatabaseTaskRunner
from desktop.workers.event_relay import EventRelay
from desktop.workers.inference_worker import InferenceService
from line.capture.capture_loop import INITIAL_BACKOFF_S
from line.capture.mailbox import Frame
from line.capture.source import FrameSource
from line.capture.spec import SourceSpecError, source_from_spec
from line.catalog import DatabaseCatalog
from line.controller import ACK_TIMEOUT_S, ACQUIRE_TIMEOUT_S, StationController
from line.events import (
    AutoModeChanged,
    BuildFailure,
    CountersChanged,
    ErrorCode,
    Fault,
    FaultRaised,
    ModelReady,
    PartFailed,
    PartInspected,
    PartRecorded,
    PartTriggered,
    ProductAdapted,
    ProductFailed,
    ProductPreparing,
    ProductReady,
    ProductSelected,
    RecentPartsLoaded,
    RecordFailed,
    StationEvent,
)
from line.outcome import NO_REFERENCES_MESSAGE, InspectionOutcome
from line.problems import Severity
from line.recorder import Recorder
from line.station_status import StationStatus

log = logging.getLogger(__name__)

MANUAL_HOLD_S = 6.0  # how long a manual result stays on screen before the live picture returns
CAMERA_HINT = "Check the cable or the address, or choose another source."
NO_FRAME_YET = "No camera frame yet: wait for the camera or choose another source."
STILL_PREPARING = "The product model is still being prepared; see the progress bar."
CAMERA_CODES = frozenset({ErrorCode.CAMERA_LOST, ErrorCode.CAMERA_NOT_FOUND, ErrorCode.CAMERA_TIMEOUT})
STOP_TIMEOUT_S = 10.0  # closing: how long the part in flight may take to be inspected and recorded


class Station(QObject):
    inspection_recorded = Signal(int)  # inspection id, once its row exists (history, statistics, chat)
    part_recorded = Signal(object, object)  # InspectionOutcome, db.records.InspectionRecord (spooled rows too)
    outcome_shown = Signal(object)  # InspectionOutcome
    inspection_failed = Signal(str)
    record_failed = Signal(str)
    model_ready = Signal()
    model_failed = Signal(str)
    product_progress = Signal(int, float, str)  # product id, fraction, message
    product_ready = Signal(int)
    product_failed = Signal(int, str)

    def __init__(
        self,
        window: MainWindow,
        database: Any,
        inference: InferenceService,
        recorder: Recorder,
        data_dir: Path,
        settings: StationSettings | None = None,
        source_factory: Callable[[str], FrameSource] = source_from_spec,
        reconnect_backoff_s: float = INITIAL_BACKOFF_S,
        status: StationStatus | None = None,
        frame_files: Any = None,
        *,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        acquire_timeout_s: float = ACQUIRE_TIMEOUT_S,
        after_trigger: bool = False,
    ) -> None:
        """``ack_timeout_s`` / ``acquire_timeout_s``: the handshake's, as ``[station]`` and ``[camera]`` of a station
        config say; ``after_trigger``: a part's frame is the first one after its trigger (the window serves a PLC,
        desktop/controllers/plant_link.py)."""
        super().__init__(window)
        self.window = window
        self.database = database
        self.inference = inference
        self.recorder = recorder
        self.data_dir = Path(data_dir)
        self.settings = settings or StationSettings()

        self._db_tasks = DatabaseTaskRunner(self)
        self.feed = CameraFeed(source_factory, reconnect_backoff_s, self)
        self.camera = FeedCamera(after_trigger=after_trigger)
        self.camera.on_recipe = self.feed.configure  # the recipe's exposure and gain, applied in the capture thread
        self.line = status or StationStatus()  # the station's state, the same object the line runner shows
        self.controller = StationController(
            self.line,
            inference.engine,
            recorder,
            self.camera,
            DatabaseCatalog(database, self.data_dir),
            frame_files=frame_files,
            ack_timeout_s=ack_timeout_s,
            acquire_timeout_s=acquire_timeout_s,
        )
        self.endpoints: Any = None  # line.runner_endpoints.StationEndpoints the window hosts (host_endpoints)
        self.events = EventRelay(self.line.bus, self)
        self.events.event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)
        self.source_spec: str | None = None
        self.current_frame: Frame | None = None
        self.last_outcome: InspectionOutcome | None = None
        self.last_record: Any = None
        self.shown_record_id: int | None = None  # database id of the result on screen, once saved
        self.products_dialog: ProductsDialog | None = None
        self._dialog_repositories: tuple[Any, Any] | None = None  # the logged-in user's (use_guarded_writes)
        self.chat_link: Any = None  # desktop.controllers.chat_link.ChatLink once attached
        self._stopped = False

        w = window
        w.controls.product_selected.connect(self.select_product)
        w.controls.source_selected.connect(self.open_source)
        w.controls.inspect_clicked.connect(self.inspect_now)
        w.controls.auto_toggled.connect(self.set_auto)
        w.controls.pause_toggled.connect(self.set_paused)
        w.controls.products_clicked.connect(self.open_products_dialog)
        w.closing.connect(self.shutdown)
        w.live_view.hold_released.connect(w.verdict.mark_stale)
        w.chat.send_requested.connect(self._on_chat_question)
        self.feed.frame_arrived.connect(self._on_frame)
        self.feed.status_changed.connect(self._on_capture_status)
        self.feed.fps_changed.connect(self._on_capture_fps)
        self.feed.files_skipped.connect(self._on_files_skipped)
        window.counters.show_counts(self.line.counters.current())

    # -- the station's state (line/station_status.py), read-only here ------------------------------------------
    @property
    def product_id(self) -> int | None:
        return self.line.product_id

    @property
    def product_names(self) -> dict[int, str]:
        return self.line.product_names

    @property
    def ready_products(self) -> set[int]:
        return self.line.ready_products

    @property
    def product_errors(self) -> dict[int, str]:
        """Why a product's model could not be built."""
        return self.line.product_errors

    @property
    def model_loaded(self) -> bool:
        return self.line.model_loaded

    @property
    def auto(self) -> bool:
        return self.line.auto

    # -- start / stop ---------------------------------------------------------------------------------------
    def start(self, source_spec: str, product_id: int | None = None) -> None:
        wanted = product_id if product_id is not None else self.settings.product_id
        self.window.status.set_database(self._database_label())
        self.window.status.set_model("loading the inspection model…")
        self.window.verdict.clear("Loading the inspection model…")
        self.window.live_view.set_placeholder("Connecting to the camera…")
        self.controller.wanted_product = wanted
        self.controller.start()  # the unsaved results of the last run, the camera port, the products, the model
        self.reload_products(select_id=wanted)
        self.open_source(source_spec)

    @Slot()
    def shutdown(self) -> None:
        """Stop the camera, the controller's threads (the part in flight is recorded first) and the feed
        (idempotent). What the database has not taken by then goes to the unsaved folder."""
        if self._stopped:
            return
        self._stopped = True
        if self.endpoints is not None:
            self.endpoints.stop_plc()  # no trigger from a PLC any more
        if self.products_dialog is not None:
            self.products_dialog.close()
            self.products_dialog.finish_writes(5000)  # a reference being saved reaches the database
        self.camera.close()  # a part still waiting for a frame gives up: no frame is taken from here on
        self.controller.stop(timeout_s=STOP_TIMEOUT_S)
        if self.endpoints is not None:
            self.endpoints.stop_mqtt()  # what the controller recorded last goes out
        self.feed.stop()
        self.events.close()
        self._db_tasks.wait_idle(5000)
        if self.chat_link is not None:
            self.chat_link.shutdown()
        if self.recorder.not_kept:  # the unsaved folder could not take them either (full disk)
            log.error(
                "%d inspection(s) were not saved and could not be kept: %s",
                self.recorder.not_kept,
                self.recorder.last_error,
            )

    def host_endpoints(self, endpoints: Any) -> None:
        """Serve this station to the plant too (line.runner_endpoints.StationEndpoints: OPC UA, Modbus, MQTT, as
        views of the same controller); they stop with the window: the PLC servers first, MQTT after the controller."""
        self.endpoints = endpoints

    def _database_label(self) -> str:
        url = self.database.engine.url
        if url.get_backend_name() == "sqlite" and url.database:
            return Path(url.database).name
        return str(url.get_backend_name())

    # -- products -------------------------------------------------------------------------------------------
    def reload_products(self, select_id: int | None = None) -> None:
        try:
            products = self.database.products.list()
        except DatabaseError as exc:
            self.window.show_problem(
                "database", str(exc), Severity.ERROR, "Retry", lambda: self.reload_products(select_id)
            )
            return
        self.controller.refresh_products()
        names = {p.id: p.name for p in products}
        if select_id not in names:
            select_id = self.product_id if self.product_id in names else None
        if select_id is None and products:
            select_id = products[0].id
        self.window.controls.set_products(products, select_id)
        if not products:
            self.window.show_problem(
                "product",
                "No product yet. Create one and add at least one normal reference image.",
                Severity.WARNING,
                "Open products…",
                self.open_products_dialog,
            )
        if select_id is not None and select_id != self.product_id:
            self.select_product(select_id)

    @Slot(int)
    def select_product(self, product_id: int) -> None:
        """The operator's choice: the controller switches now, or once the part in flight is done."""
        fault = self.controller.select_recipe(product_id, when_idle=True)
        if fault is not None:
            self.window.show_problem("product", fault.text, Severity.ERROR, "Open products…", self.open_products_dialog)
            return
        self.settings.product_id = product_id
        self.settings.save()

    def request_build(self, product_id: int) -> None:
        """Build the product's model again from its references (or load the saved one), in the inference thread."""
        self.controller.rebuild_product(product_id)

    @Slot(int)
    def on_review_saved(self, inspection_id: int) -> None:
        """A confirmed defect never stays in, or joins, its product's line pool (core/line_pool.py)."""
        self._forget_part(inspection_id, only_confirmed=True)

    def on_review_requested(self, inspection_id: int) -> None:
        """A part an operator doubts is not learned as normal: it leaves the line pool, for good (the pool has other
        parts; a doubted one is not worth the risk)."""
        self._forget_part(inspection_id, only_confirmed=False)

    def _forget_part(self, inspection_id: int, *, only_confirmed: bool) -> None:
        def frame_key() -> tuple[int, str] | None:
            record = self.database.inspections.get(inspection_id)
            if only_confirmed and record.review_status != REVIEW_CONFIRMED_DEFECT:
                return None
            with self.database.store.open(record.image_sha256) as fh:
                return record.product_id, image_hash(load_image_bytes(fh.read()))

        def done(found: tuple[int, str] | None) -> None:
            if found is not None:
                self.controller.forget_part(*found)

        self._db_tasks.run(frame_key, done, lambda exc: log.warning("review not passed to line mode: %s", exc))

    @Slot(int)
    def on_references_changed(self, product_id: int) -> None:
        """References were added, removed or replaced (products dialog, a false alarm in the history)."""
        self.reload_products(select_id=self.product_id)
        if product_id == self.product_id:
            self.controller.rebuild_product(product_id)
        elif self.product_id is None:
            self.select_product(product_id)

    def use_guarded_writes(self, products: Any, references: Any) -> None:
        """The products dialog writes as the logged-in user: role checked, audited (desktop/controllers/
        guarded_writes.py); without this it uses the plain repositories (a screenshot run has nobody logged in)."""
        self._dialog_repositories = (products, references)

    @Slot()
    def open_products_dialog(self) -> None:
        if self.products_dialog is None:
            products, references = self._dialog_repositories or (self.database.products, self.database.references)
            dialog = ProductsDialog(
                products,
                references,
                lambda: self.current_frame.image if self.current_frame is not None else None,
                parent=self.window,
                select=self.product_id,
            )
            dialog.references_changed.connect(self.on_references_changed)
            dialog.product_created.connect(lambda pid: self.reload_products(select_id=self.product_id or pid))
            self.products_dialog = dialog  # build progress reaches it from _on_event
        elif self.product_id is not None:
            self.products_dialog.refresh_products(select=self.product_id)
        self.products_dialog.show()
        self.products_dialog.raise_()

    # -- the controller's events, in this (the GUI) thread ------------------------------------------------------
    @Slot(object)
    def _on_event(self, event: StationEvent) -> None:
        if self._stopped:
            return  # the window is going; the controller has recorded what it had
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, event)

    def _on_model_ready(self, event: ModelReady) -> None:
        self.window.status.set_progress(None)
        self.window.status.set_model(event.encoder_id)
        self.window.clear_problem("model")
        self.model_ready.emit()
        if self.product_id is None:
            self.window.verdict.clear("Choose or create a product")

    def _on_fault(self, event: FaultRaised) -> None:
        if event.fault.code is ErrorCode.MODEL_FAILED:
            self.window.status.set_progress(None)
            self.window.status.set_model("NOT LOADED")
            self.window.verdict.clear("The inspection model is not available")
            self.window.show_problem("model", event.fault.text, Severity.ERROR)
            self.model_failed.emit(event.fault.text)

    def _on_product_selected(self, event: ProductSelected) -> None:
        if event.product_id is not None:
            self.window.controls.show_product(event.product_id)  # also when the PLC or a waiting switch made it
            self.window.verdict.clear(f"Product: {event.name or event.product_id}")

    def _on_product_preparing(self, event: ProductPreparing) -> None:
        if self.products_dialog is not None:
            self.products_dialog.show_build_progress(event.product_id, event.fraction, event.message)
        if event.product_id != self.product_id:
            return
        name = self.product_names.get(event.product_id, "")
        if event.fraction <= 0.0:
            self.window.status.set_model(f"building {name}…")
            return
        self.product_progress.emit(event.product_id, event.fraction, event.message)
        self.window.status.set_progress(event.fraction, f"{name}: {event.message}")
        self.window.verdict.clear(f"Preparing {name}: {event.message}")

    def _on_product_ready(self, event: ProductReady) -> None:
        if self.products_dialog is not None:
            self.products_dialog.on_product_ready(event.product_id, event.warning)
        if event.product_id != self.product_id:
            return
        name = self.product_names.get(event.product_id, event.name)
        threshold = f" (threshold {event.threshold:.3f})" if event.threshold is not None else ""
        self.window.status.set_progress(None)
        self.window.status.set_model(f"{name} ready{threshold} · {self.line.encoder_id}")
        if event.warning:
            self.window.show_problem(
                "product", event.warning, Severity.WARNING, "Open products…", self.open_products_dialog
            )
        else:
            self.window.clear_problem("product")
        self.window.verdict.clear(f"{name} ready. Press Space to inspect, or switch Auto on.")
        self.product_ready.emit(event.product_id)

    def _on_product_adapted(self, event: ProductAdapted) -> None:
        if event.product_id != self.product_id:
            return
        name = self.product_names.get(event.product_id, event.name)
        self.window.status.set_model(
            f"{name} adapted to {event.parts} of its own parts (threshold {event.threshold:.3f}) · {self.line.encoder_id}"
        )

    def _on_product_failed(self, event: ProductFailed) -> None:
        if self.products_dialog is not None:
            self.products_dialog.on_product_failed(event.product_id, event.message)
        self.product_failed.emit(event.product_id, event.message)
        if event.product_id != self.product_id:
            return
        name = self.product_names.get(event.product_id, "")
        self.window.status.set_progress(None)
        self.window.status.set_model(f"{name}: not ready")
        no_refs = event.kind is BuildFailure.NO_REFERENCES
        self.window.verdict.clear(NO_REFERENCES_MESSAGE if no_refs else f"{name} is not ready")
        self.window.show_problem("product", event.message, Severity.ERROR, "Open products…", self.open_products_dialog)

    def _on_auto_changed(self, event: AutoModeChanged) -> None:
        self.window.controls.set_auto(event.on)

    def _on_part_triggered(self, event: PartTriggered) -> None:
        if not self.auto:
            self.window.verdict.show_busy()

    def _on_part_inspected(self, event: PartInspected) -> None:
        outcome: InspectionOutcome = event.outcome
        result = outcome.result
        self.last_outcome = outcome
        self.shown_record_id = None
        when = outcome.frame.label or f"frame {outcome.frame.index}"
        self.window.live_view.show_result(
            outcome.frame.image,
            outcome.heatmap_rgba,
            result,
            f"{outcome.product_name}: {when}",
            hold_s=None if self.auto else MANUAL_HOLD_S,
        )
        self.window.verdict.show_result(result)
        self.window.status.set_latency(outcome.latency_ms, result.timings_ms.get("total"))
        self.window.status.set_learning(
            result.mode, result.pool_size, result.drift, result.adapted_parts, result.adapting
        )
        if result.drift and self.window.problem_key() in (None, "drift"):  # never hides another problem
            self.window.show_problem(
                "drift",
                f"{outcome.product_name}: most of the recent parts failed. Has the camera moved, the light"
                " changed or another product come onto the line? The station is not learning from these parts;"
                " check the set-up, or switch the product.",
                Severity.WARNING,
            )
        elif not result.drift:
            self.window.clear_problem("drift")
        self.window.clear_problem("inspection")
        self.window.chat.show_part_result(describe_result(result, outcome.product_name))
        if self.chat_link is not None:
            self.chat_link.set_part(outcome)
        self.outcome_shown.emit(outcome)

    def _on_part_failed(self, event: PartFailed) -> None:
        code = event.fault.code
        if code is ErrorCode.STOPPING:
            return
        self.inspection_failed.emit(event.fault.text)
        if code in CAMERA_CODES and not self.camera.connected:
            return  # the camera's own banner says it and what to do
        self.window.verdict.clear("Not inspected")
        self.window.show_problem("inspection", event.fault.text, Severity.ERROR)

    def _on_part_recorded(self, event: PartRecorded) -> None:
        record, outcome = event.record, event.outcome
        self.window.filmstrip.show_parts(self.line.recent.parts())
        self.last_record = record
        if outcome is self.last_outcome:
            self.shown_record_id = record.id
        if self.chat_link is not None:
            self.chat_link.set_record(outcome, record.id)
        waiting = self.recorder.waiting
        if waiting:
            self.window.status.set_database(f"saved #{record.id}, {waiting} waiting", ok=False)
        else:
            self.window.status.set_database(f"{self._database_label()} · saved #{record.id}")
            self.window.clear_problem("database")
        self.inspection_recorded.emit(record.id)
        self.part_recorded.emit(outcome, record)

    def _on_counters(self, event: CountersChanged) -> None:
        self.window.counters.show_counts(event.counts)

    def _on_recent_parts(self, event: RecentPartsLoaded) -> None:
        self.window.filmstrip.show_parts(event.parts)

    def _on_record_failed(self, event: RecordFailed) -> None:
        waiting = event.waiting
        self.window.status.set_database(f"NOT SAVED ({waiting} waiting)", ok=False)
        if event.will_retry:
            plural = "s" if waiting != 1 else ""
            self.window.show_problem(
                "database",
                f"{event.message} The result stays on screen; {waiting} inspection{plural} waiting to be saved. "
                "The station retries by itself, and new inspections wait until it is saved (Auto goes on by itself "
                "then), so that nothing is lost. Fix the cause, or press Retry saving.",
                Severity.ERROR,
                "Retry saving",
                self.retry_saving,
            )
        else:
            self.window.show_problem(
                "database",
                f"{event.message} It can never be saved as it is: it is kept in the unsaved folder; see the log.",
                Severity.ERROR,
            )
        self.record_failed.emit(event.message)

    _handlers: ClassVar[dict[type, Callable[[Station, Any], None]]] = {
        ModelReady: _on_model_ready,
        FaultRaised: _on_fault,
        ProductSelected: _on_product_selected,
        ProductPreparing: _on_product_preparing,
        ProductReady: _on_product_ready,
        ProductAdapted: _on_product_adapted,
        ProductFailed: _on_product_failed,
        AutoModeChanged: _on_auto_changed,
        PartTriggered: _on_part_triggered,
        PartInspected: _on_part_inspected,
        PartFailed: _on_part_failed,
        PartRecorded: _on_part_recorded,
        CountersChanged: _on_counters,
        RecentPartsLoaded: _on_recent_parts,
        RecordFailed: _on_record_failed,
    }

    # -- capture --------------------------------------------------------------------------------------------
    @Slot(str)
    def open_source(self, spec: str) -> None:
        self.source_spec = spec
        self.window.controls.set_source(spec)
        try:
            source = self.feed.open(spec)
        except SourceSpecError as exc:
            self.window.show_problem("camera", str(exc), Severity.ERROR)
            self.window.status.set_camera(spec, None, ok=False)
            if self.feed.capture is None:
                self.window.live_view.set_placeholder(f"No picture: {exc}")
                self.window.verdict.show_no_camera(f"No picture: {exc}\nChoose another source.")
            return
        self.camera.set_source(source.name)
        self.settings.source = spec
        self.settings.save()
        self.window.clear_problem("camera")
        self.window.clear_problem("source-files")  # the previous source's damaged files are not this one's
        self.window.status.set_camera(source.name, None, state="paused" if self.feed.paused else None)

    @Slot(object)
    def _on_frame(self, frame: Frame) -> None:
        self.current_frame = frame
        self.camera.offer(frame)
        self.window.verdict.camera_back()
        self.window.live_view.show_live(frame.image)

    @Slot(str, float)
    def _on_capture_fps(self, name: str, fps: float) -> None:
        self.window.status.set_camera(name, fps)

    @Slot(str, str, bool)
    def _on_capture_status(self, name: str, message: str, ok: bool) -> None:
        self.camera.report(ok, message)
        self.window.status.showMessage(message, 8000)
        if ok:
            self.window.clear_problem("camera")
            self.window.status.set_camera(name, None)
        else:
            self.window.status.set_camera(name, None, ok=False)
            self.window.live_view.set_placeholder(message)
            self.window.verdict.show_no_camera(f"{message}\n{CAMERA_HINT}")
            self.window.show_problem("camera", f"{message}. {CAMERA_HINT}", Severity.WARNING)

    @Slot(str)
    def _on_files_skipped(self, message: str) -> None:
        if message:
            self.window.show_problem("source-files", message, Severity.WARNING)
        else:  # the damaged files were replaced or removed
            self.window.clear_problem("source-files")

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        if paused == self.feed.paused:
            return
        if paused:
            self.set_auto(False)
        self.feed.set_paused(paused)
        self.camera.set_paused(paused)
        if self.feed.source is not None:
            self.window.status.set_camera(self.feed.source.name, None, state="paused" if paused else None)

    # -- the operator's controls ------------------------------------------------------------------------------
    who: Callable[[], HasRole | None] | None = None  # who is logged in (desktop/app.py); None: nobody is asked

    def _refused(self, action: str) -> bool:
        """The role table (db/roles.py) applied to the person at the window, whatever the buttons show."""
        if self.who is None:
            return False
        try:
            require(self.who(), action)
        except PermissionDenied as exc:
            self.window.status.showMessage(str(exc), 8000)
            return True
        return False

    @Slot()
    def inspect_now(self) -> None:
        """Inspect the part in front of the camera (the frame on screen, or the next one)."""
        if self._stopped or self._refused(INSPECT):
            return
        fault = self.controller.trigger(None, self_ack=True)
        if fault is not None:
            self._explain_refusal(fault)

    @Slot(bool)
    def set_auto(self, on: bool) -> None:
        """Auto mode on or off; switching it off is never refused (stopping the line is always allowed)."""
        if on and self._refused(AUTO_MODE):
            self.window.controls.set_auto(self.auto)
            return
        self.controller.set_auto(bool(on) and not self._stopped)
        self.window.controls.set_auto(self.auto)
        if self.auto:
            self.window.live_view.release_hold()

    @Slot()
    def retry_saving(self) -> None:
        if self.controller.retry_saving():
            self.window.status.showMessage("Saving again…", 3000)

    def _explain_refusal(self, fault: Fault) -> None:
        """Why Inspect did nothing, in the operator's words, with what to do."""
        code = fault.code
        if code is ErrorCode.NOT_READY and self.product_id is None:
            self.window.show_problem(
                "product",
                "Choose or create a product first.",
                Severity.WARNING,
                "Open products…",
                self.open_products_dialog,
            )
        elif code in (ErrorCode.RECIPE_NOT_READY, ErrorCode.UNKNOWN_RECIPE):
            self.window.show_problem("product", fault.text, Severity.ERROR, "Open products…", self.open_products_dialog)
        elif code is ErrorCode.NOT_READY and self.model_loaded:
            self.window.status.showMessage(STILL_PREPARING, 5000)
        elif code in CAMERA_CODES and self.current_frame is None:
            self.window.status.showMessage(NO_FRAME_YET, 5000)
        elif code is ErrorCode.DATABASE or (code is ErrorCode.BUSY and self.line.has_fault(ErrorCode.DATABASE)):
            held = next((f for f in self.line.faults if f.code is ErrorCode.DATABASE), fault)
            self.window.show_problem(
                "database",
                f"{held.text} New inspections are refused until it is saved.",
                Severity.ERROR,
                "Retry saving",
                self.retry_saving,
            )
        elif code is ErrorCode.BUSY:
            self.window.status.showMessage("The last part is still being inspected and saved.", 3000)
        else:
            self.window.status.showMessage(fault.text, 5000)

    # -- chat ---------------------------------------------------------------------------------------------------
    @Slot(str)
    def _on_chat_question(self, question: str) -> None:
        """Without a language model the station answers with the measured facts of the shown result."""
        outcome = self.last_outcome
        if outcome is None:
            answer = "No part has been inspected yet: press Space (Inspect) first, then ask about it."
        else:
            answer = (
                "The language model is not available, so here are the measured facts of the part on screen: "
                + describe_result(outcome.result, outcome.product_name, self.shown_record_id)
            )
        self.window.chat.append_message("assistant", answer)

    def attach_chat(self, link: Any) -> None:
        """Hand the chat panel's questions to the chat worker (desktop/controllers/chat_link.py) instead of the
        facts-only reply."""
        self.window.chat.send_requested.disconnect(self._on_chat_question)
        self.chat_link = link
        if self.last_outcome is not None:
            link.set_part(self.last_outcome)
