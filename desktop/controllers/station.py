"""The window's face of the station: wires capture -> inference -> recording -> window, and the operator's controls.

The station's state (the products and which are ready, the chosen one, the model, auto mode, the shift counters and
the last parts) lives in a Qt-free ``line.station_status.StationStatus`` (``self.line``), the same object the
headless line runner's controller (line/controller.py) drives; this class holds none of it, only what the window
shows. It owns the camera feed (desktop/controllers/camera_feed.py) and talks to the inference and database-writer threads only
through their signals, so the window stays responsive. Every problem lands in the window's banner and status bar
with what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Signal, Slot

from core.imageio import load_image_bytes
from core.memory import image_hash
from db.errors import DatabaseError
from db.models import REVIEW_CONFIRMED_DEFECT
from desktop.controllers.camera_feed import CameraFeed
from desktop.controllers.result_text import describe_result
from desktop.controllers.station_settings import StationSettings
from desktop.dialogs.products_dialog import ProductsDialog
from desktop.main_window import MainWindow
from desktop.workers.capture_thread import INITIAL_BACKOFF_S
from desktop.workers.db_task import DatabaseTaskRunner
from desktop.workers.inference_worker import (
    NO_REFERENCES_MESSAGE,
    InferenceService,
    InspectionOutcome,
    InspectRequest,
    ProductRequest,
    ReferenceSource,
)
from desktop.workers.record_writer import RecordService
from line.capture.mailbox import Frame
from line.capture.source import FrameSource
from line.capture.spec import SourceSpecError, source_from_spec
from line.catalog import decoder_settings
from line.events import CountersChanged, ErrorCode, PartRecorded, StationEvent
from line.station_status import StationStatus

log = logging.getLogger(__name__)

MANUAL_HOLD_S = 6.0  # how long a manual result stays on screen before the live picture returns
CAMERA_HINT = "Check the cable or the address, or choose another source."
QUEUE_FULL_MESSAGE = (
    "{waiting} inspections are waiting to be saved and the database still refuses them: {error} "
    "Auto mode is stopped and new inspections are refused until they are saved, so that nothing is lost. "
    "Fix the cause, then press Retry saving (the station also retries by itself)."
)


class Station(QObject):
    inspection_recorded = Signal(int)  # inspection id, once its row exists (history, statistics, chat)
    outcome_shown = Signal(object)  # InspectionOutcome
    record_failed = Signal(str)
    product_ready = Signal(int)
    model_ready = Signal()

    def __init__(
        self,
        window: MainWindow,
        database,
        inference: InferenceService,
        recorder: RecordService,
        data_dir: Path,
        settings: StationSettings | None = None,
        source_factory: Callable[[str], FrameSource] = source_from_spec,
        reconnect_backoff_s: float = INITIAL_BACKOFF_S,
        status: StationStatus | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.database = database
        self.inference = inference
        self.recorder = recorder
        self.data_dir = Path(data_dir)
        self.settings = settings or StationSettings()

        self._db_tasks = DatabaseTaskRunner(self)
        self.feed = CameraFeed(source_factory, reconnect_backoff_s, self)
        self.source_spec: str | None = None
        self.current_frame: Frame | None = None
        self.line = status or StationStatus()  # the station's state, shared with the line runner's controller
        self.line.bus.subscribe(self._on_line_event, PartRecorded, CountersChanged)
        self.last_outcome: InspectionOutcome | None = None
        self.last_record = None
        self.shown_record_id: int | None = None  # database id of the result on screen, once saved
        self.products_dialog: ProductsDialog | None = None
        self.chat_link = (
            None  # desktop.controllers.chat_link.ChatLink once attached; else answers hold the measured facts
        )
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

        inference.model_progress.connect(self._on_model_progress)
        inference.model_ready.connect(self._on_model_ready)
        inference.model_failed.connect(self._on_model_failed)
        inference.product_progress.connect(self._on_product_progress)
        inference.product_ready.connect(self._on_product_ready)
        inference.product_failed.connect(self._on_product_failed)
        inference.result_ready.connect(self._on_result)
        inference.inspection_failed.connect(self._on_inspection_failed)
        recorder.recorded.connect(self._on_recorded)
        recorder.failed.connect(self._on_record_failed)
        recorder.queue_full.connect(self._on_queue_full)
        self.feed.frame_arrived.connect(self._on_frame)
        self.feed.status_changed.connect(self._on_capture_status)
        self.feed.fps_changed.connect(self._on_capture_fps)
        window.counters.show_counts(self.line.counters.current())

    # -- the station's state (line/station_status.py) ---------------------------------------------------------
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

    def _on_line_event(self, event: StationEvent) -> None:
        """Events of the station's state, published in this (the GUI) thread: the counters and the filmstrip."""
        if isinstance(event, CountersChanged):
            self.window.counters.show_counts(event.counts)
        elif isinstance(event, PartRecorded):
            self.window.filmstrip.show_parts(self.line.recent.parts())

    # -- start / stop ---------------------------------------------------------------------------------------
    def start(self, source_spec: str, product_id: int | None = None) -> None:
        self.window.status.set_database(self._database_label())
        self.window.verdict.clear("Loading the inspection model…")
        self.window.live_view.set_placeholder("Connecting to the camera…")
        self.recorder.start()
        resumed = self.recorder.resume_spooled()
        if resumed:
            log.info("saving %d inspection(s) kept from the last run", resumed)
        self.inference.start()
        self.reload_products(select_id=product_id if product_id is not None else self.settings.product_id)
        self.open_source(source_spec)

    @Slot()
    def shutdown(self) -> None:
        """Stop the camera, the model and the writer, joining their threads (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self.products_dialog is not None:
            self.products_dialog.close()
            self.products_dialog.finish_writes(5000)  # a reference being saved reaches the database
        self.feed.stop()
        self.inference.stop()
        # Results the worker produced before it stopped are still queued to this object: record them now, before
        # the writer stops (a result arriving even later goes straight to the spool, see RecordService.submit).
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        self.recorder.stop()
        self._db_tasks.wait_idle(5000)
        if self.chat_link is not None:
            self.chat_link.shutdown()
        if self.recorder.unsaved:  # no spool, or the spool could not be written either (full disk)
            log.error(
                "%d inspection(s) were not saved and could not be kept: %s",
                len(self.recorder.unsaved),
                self.recorder.last_error,
            )

    def _database_label(self) -> str:
        url = self.database.engine.url
        return (
            Path(url.database).name if url.get_backend_name() == "sqlite" and url.database else url.get_backend_name()
        )

    # -- products -------------------------------------------------------------------------------------------
    def reload_products(self, select_id: int | None = None) -> None:
        try:
            products = self.database.products.list()
        except DatabaseError as exc:
            self.window.show_problem("database", str(exc), "error", "Retry", lambda: self.reload_products(select_id))
            return
        self.line.set_products({p.id: p.name for p in products})
        if select_id not in self.product_names:
            select_id = self.product_id if self.product_id in self.product_names else None
        if select_id is None and products:
            select_id = products[0].id
        self.window.controls.set_products(products, select_id)
        if not products:
            self.window.show_problem(
                "product",
                "No product yet. Create one and add at least one normal reference image.",
                "warning",
                "Open products…",
                self.open_products_dialog,
            )
        if select_id is not None and select_id != self.product_id:
            self.select_product(select_id)

    @Slot(int)
    def select_product(self, product_id: int) -> None:
        self.line.select_product(product_id)
        self.settings.product_id = product_id
        self.settings.save()
        self.window.verdict.clear(f"Product: {self.product_names.get(product_id, product_id)}")
        if self.model_loaded:
            self.request_build(product_id)

    def request_build(self, product_id: int) -> None:
        """Build (or load the saved) model of the product from its references, in the inference worker."""
        try:
            info = self.database.products.get(product_id)
            refs = self.database.references.list(product_id)
        except DatabaseError as exc:
            self.window.show_problem("database", str(exc), "error", "Retry", lambda: self.request_build(product_id))
            return
        self.product_names[product_id] = info.name
        self.line.product_preparing(product_id, 0.0, "Preparing")
        request = ProductRequest(
            product_id=product_id,
            name=info.name,
            references=tuple(
                ReferenceSource(label=r.original_name or f"reference #{r.id}", path=Path(r.image_file)) for r in refs
            ),
            cache_dir=self.data_dir / "cache",
            model_dir=self.data_dir / "models" / f"product-{product_id}",
            threshold_override=info.threshold_override,
            override_by=info.threshold_override_by,
            settings=decoder_settings(info.settings),
        )
        if refs:
            self.window.status.set_model(f"building {info.name}…")
        self.inference.build_product(request)

    @Slot(int)
    def on_review_saved(self, inspection_id: int) -> None:
        """A confirmed defect never stays in, or joins, its product's line pool (core/line_pool.py)."""

        def frame_key() -> tuple[int, str] | None:
            record = self.database.inspections.get(inspection_id)
            if record.review_status != REVIEW_CONFIRMED_DEFECT:
                return None
            with self.database.store.open(record.image_sha256) as fh:
                return record.product_id, image_hash(load_image_bytes(fh.read()))

        def done(found: tuple[int, str] | None) -> None:
            if found is not None:
                self.inference.forget_part(*found)

        self._db_tasks.run(frame_key, done, lambda exc: log.warning("review not passed to line mode: %s", exc))

    @Slot(int)
    def on_references_changed(self, product_id: int) -> None:
        """References were added, removed or replaced (products dialog, a false alarm in the history)."""
        self.reload_products(select_id=self.product_id)
        if product_id == self.product_id and self.model_loaded:
            self.request_build(product_id)
        elif self.product_id is None:
            self.select_product(product_id)

    @Slot()
    def open_products_dialog(self) -> None:
        if self.products_dialog is None:
            dialog = ProductsDialog(
                self.database.products,
                self.database.references,
                lambda: self.current_frame.image if self.current_frame is not None else None,
                parent=self.window,
                select=self.product_id,
            )
            dialog.references_changed.connect(self.on_references_changed)
            dialog.product_created.connect(lambda pid: self.reload_products(select_id=self.product_id or pid))
            # Worker-thread signals go to the dialog's own methods: Qt queues those to the GUI thread.
            self.inference.product_progress.connect(dialog.show_build_progress)
            self.inference.product_ready.connect(dialog.on_product_ready)
            self.inference.product_failed.connect(dialog.on_product_failed)
            self.products_dialog = dialog
        elif self.product_id is not None:
            self.products_dialog.refresh_products(select=self.product_id)
        self.products_dialog.show()
        self.products_dialog.raise_()

    # -- model feedback -------------------------------------------------------------------------------------
    @Slot(float, str)
    def _on_model_progress(self, fraction: float, message: str) -> None:
        self.window.status.set_progress(fraction if fraction < 1.0 else None, message)
        self.window.status.set_model(message.lower() if fraction < 1.0 else "loaded")

    @Slot(str)
    def _on_model_ready(self, encoder_id: str) -> None:
        self.line.set_model_ready(encoder_id)
        self.window.status.set_progress(None)
        self.window.status.set_model(encoder_id)
        self.window.clear_problem("model")
        self.model_ready.emit()
        if self.product_id is not None:
            self.request_build(self.product_id)
        else:
            self.window.verdict.clear("Choose or create a product")

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        self.line.raise_fault(ErrorCode.MODEL_FAILED, message)
        self.window.status.set_progress(None)
        self.window.status.set_model("NOT LOADED")
        self.window.verdict.clear("The inspection model is not available")
        self.window.show_problem("model", message, "error")

    @Slot(int, float, str)
    def _on_product_progress(self, product_id: int, fraction: float, message: str) -> None:
        if product_id == self.product_id:
            name = self.product_names.get(product_id, "")
            self.window.status.set_progress(fraction if fraction < 1.0 else None, f"{name}: {message}")
            if fraction < 1.0:
                self.window.verdict.clear(f"Preparing {name}: {message}")

    @Slot(int, object)
    def _on_product_ready(self, product_id: int, product) -> None:
        self.line.product_ready(product_id, product.name, product.calibration.effective_threshold)
        name = self.product_names.get(product_id, product.name)
        calibration = product.calibration.to_dict()
        self._db_tasks.run(  # off the GUI thread: a busy database must not freeze the window
            lambda: self.database.products.save_calibration(product_id, calibration),
            on_error=lambda exc: self.window.status.showMessage(f"Calibration not stored: {exc}", 10000),
        )  # the model works without it; each inspection row keeps its own threshold anyway
        if product_id != self.product_id:
            return
        self.window.status.set_progress(None)
        threshold = product.calibration.effective_threshold
        self.window.status.set_model(f"{product.encoder_id} · {name} ready (threshold {threshold:.3f})")
        self.window.clear_problem("product")
        self.window.verdict.clear(f"{name} ready. Press Space to inspect, or switch Auto on.")
        self.product_ready.emit(product_id)

    @Slot(int, str)
    def _on_product_failed(self, product_id: int, message: str) -> None:
        if message == "cancelled":
            return
        self.line.product_failed(product_id, message)
        if product_id != self.product_id:
            return
        self.window.status.set_progress(None)
        name = self.product_names.get(product_id, "")
        self.window.status.set_model(f"{name}: not ready")
        self.window.verdict.clear(NO_REFERENCES_MESSAGE if NO_REFERENCES_MESSAGE in message else f"{name} is not ready")
        self.window.show_problem("product", message, "error", "Open products…", self.open_products_dialog)

    # -- capture --------------------------------------------------------------------------------------------
    @Slot(str)
    def open_source(self, spec: str) -> None:
        self.source_spec = spec
        self.window.controls.set_source(spec)
        try:
            source = self.feed.open(spec)
        except SourceSpecError as exc:
            self.window.show_problem("camera", str(exc), "error")
            self.window.status.set_camera(spec, None, ok=False)
            if self.feed.capture is None:
                self.window.live_view.set_placeholder(f"No picture: {exc}")
                self.window.verdict.show_no_camera(f"No picture: {exc}\nChoose another source.")
            return
        self.settings.source = spec
        self.settings.save()
        self.window.clear_problem("camera")
        self.window.status.set_camera(source.name, None, state="paused" if self.feed.paused else None)

    @Slot(object)
    def _on_frame(self, frame: Frame) -> None:
        self.current_frame = frame
        self.window.verdict.camera_back()
        self.window.live_view.show_live(frame.image)
        if self.auto and self.product_id in self.ready_products:
            self.inference.submit(frame, self.product_id)

    @Slot(str, float)
    def _on_capture_fps(self, name: str, fps: float) -> None:
        self.window.status.set_camera(name, fps)

    @Slot(str, str, bool)
    def _on_capture_status(self, name: str, message: str, ok: bool) -> None:
        self.window.status.showMessage(message, 8000)
        if ok:
            self.window.clear_problem("camera")
            self.window.status.set_camera(name, None)
        else:
            self.window.status.set_camera(name, None, ok=False)
            self.window.live_view.set_placeholder(message)
            self.window.verdict.show_no_camera(f"{message}\n{CAMERA_HINT}")
            self.window.show_problem("camera", f"{message}. {CAMERA_HINT}", "warning")

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        if paused == self.feed.paused:
            return
        if paused:
            self.set_auto(False)
        self.feed.set_paused(paused)
        if self.feed.source is not None:
            self.window.status.set_camera(self.feed.source.name, None, state="paused" if paused else None)

    # -- inspecting -----------------------------------------------------------------------------------------
    def _can_inspect(self) -> bool:
        if self.product_id is None:
            self.window.show_problem(
                "product", "Choose or create a product first.", "warning", "Open products…", self.open_products_dialog
            )
            return False
        if self.product_id in self.product_errors:
            self.window.show_problem(
                "product", self.product_errors[self.product_id], "error", "Open products…", self.open_products_dialog
            )
            return False
        if self.product_id not in self.ready_products:
            self.window.status.showMessage("The product model is still being prepared; see the progress bar.", 5000)
            return False
        if self.current_frame is None:
            self.window.status.showMessage("No camera frame yet: wait for the camera or choose another source.", 5000)
            return False
        return True

    def _refuse_when_full(self) -> bool:
        """True (and says so) while the unsaved queue is at its bound: no new inspection until they are saved."""
        if not self.recorder.is_full:
            return False
        self._show_queue_full()
        return True

    @Slot()
    def inspect_now(self) -> None:
        if self._refuse_when_full():
            return
        if self._can_inspect():
            assert self.current_frame is not None and self.product_id is not None
            self.window.verdict.show_busy()
            self.inference.submit(self.current_frame, self.product_id)

    @Slot(bool)
    def set_auto(self, on: bool) -> None:
        if on and self._refuse_when_full():
            on = False
        self.line.set_auto(bool(on))
        self.window.controls.set_auto(self.auto)
        if not self.auto:
            self.inference.discard_pending()
        else:
            self.window.live_view.release_hold()
            if self.current_frame is not None and self.product_id in self.ready_products:
                self.inference.submit(self.current_frame, self.product_id)

    @Slot(object)
    def _on_result(self, outcome: InspectionOutcome) -> None:
        if self._stopped:  # delivered while shutting down: the window is going, the record is what counts
            self.recorder.submit(outcome)
            return
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
        self.window.status.set_learning(result.mode, result.pool_size, result.drift)
        if result.drift and self.window.problem_key() in (None, "drift"):  # never hides another problem
            self.window.show_problem(
                "drift",
                f"{outcome.product_name}: most of the recent parts failed. Has the camera moved, the light"
                " changed or another product come onto the line? The station is not learning from these parts;"
                " check the set-up, or switch the product.",
                "warning",
            )
        elif not result.drift:
            self.window.clear_problem("drift")
        self.window.clear_problem("inspection")
        self.window.chat.show_part_result(describe_result(result, outcome.product_name))
        if self.chat_link is not None:
            self.chat_link.set_part(outcome)
        self.recorder.submit(outcome)
        self.outcome_shown.emit(outcome)

    @Slot(object, str)
    def _on_inspection_failed(self, request: InspectRequest, message: str) -> None:
        self.window.verdict.clear("Not inspected")
        self.window.show_problem("inspection", message, "error")

    # -- recording ------------------------------------------------------------------------------------------
    @Slot(object, object)
    def _on_recorded(self, outcome: InspectionOutcome, record) -> None:
        self.last_record = record
        self.line.part_recorded(outcome, record, require_ack=False)  # shift counters and filmstrip
        if outcome is self.last_outcome:
            self.shown_record_id = record.id
        if self.chat_link is not None:
            self.chat_link.set_record(outcome, record.id)
        waiting = len(self.recorder.unsaved)
        if waiting:
            self.window.status.set_database(f"saved #{record.id}, {waiting} waiting", ok=False)
        else:
            self.window.status.set_database(f"{self._database_label()} · saved #{record.id}")
            self.window.clear_problem("database")
        self.inspection_recorded.emit(record.id)

    @Slot(object, str)
    def _on_record_failed(self, outcome: InspectionOutcome, message: str) -> None:
        waiting = len(self.recorder.unsaved)
        self.window.status.set_database(f"NOT SAVED ({waiting} waiting)", ok=False)
        if self.recorder.is_full:
            self._show_queue_full()
        else:
            retrying = " The station retries by itself." if self.recorder.retrying else ""
            self.window.show_problem(
                "database",
                f"{message} The result stays on screen; {waiting} inspection{'s' if waiting != 1 else ''} "
                f"waiting to be saved.{retrying}",
                "error",
                "Retry saving",
                self.retry_saving,
            )
        self.record_failed.emit(message)

    @Slot(int)
    def _on_queue_full(self, waiting: int) -> None:
        """The unsaved queue reached its bound: stop Auto and tell the operator what happened and what to do."""
        if self.auto:
            self.set_auto(False)
        self._show_queue_full()

    def _show_queue_full(self) -> None:
        waiting = len(self.recorder.unsaved)
        error = self.recorder.last_error or "the database has not confirmed them yet."
        self.window.status.set_database(f"NOT SAVED ({waiting} waiting) - Auto stopped", ok=False)
        self.window.show_problem(
            "database",
            QUEUE_FULL_MESSAGE.format(waiting=waiting, error=error),
            "error",
            "Retry saving",
            self.retry_saving,
        )

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

    def attach_chat(self, link) -> None:
        """Hand the chat panel's questions to the chat worker (desktop/controllers/chat_link.py) instead of the facts-only reply."""
        self.window.chat.send_requested.disconnect(self._on_chat_question)
        self.chat_link = link
        if self.last_outcome is not None:
            link.set_part(self.last_outcome)

    @Slot()
    def retry_saving(self) -> None:
        if self.recorder.retry():
            self.window.status.showMessage("Saving again…", 3000)
