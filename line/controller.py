"""The station controller: one part from trigger to durably recorded verdict, the PLC handshake, product
switching and auto mode, with no Qt. The window, the OPC UA and Modbus servers and MQTT observe its
``status`` (line/station_status.py); the PLC servers call ``trigger``, ``acknowledge`` and ``select_recipe``.

One part:

    trigger(part_id) ─ refused? (busy, result not acknowledged, not ready, fault) -> the fault, nothing happens
        │ accepted: BUSY, the last result cleared
        ▼
    inference thread: acquire the frame (camera_link), inspect it (Inspector + the product's LinePool)
        ▼
    recorder thread: image files, then the row and its MQTT outbox message in one transaction
        ▼ recorded
    RESULT_READY (the PLC reads the result) ─ acknowledge() ─> READY
                                           └ no ack within ack_timeout_s -> ERROR ACK_TIMEOUT (the ack clears it)

In auto mode (no PLC) the station acknowledges by itself and takes the next part at once. A part the operator
triggers (the window's Inspect) is acknowledged by itself too: ``trigger(self_ack=True)``. The operator's product
switch waits for the part in flight (``select_recipe(when_idle=True)``); the PLC's is refused while Busy.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.calibration_warning import calibration_warning
from core.protocols import BuiltProduct
from db.errors import DatabaseError
from db.records import InspectionRecord
from line.capture.mailbox import Frame
from line.events import BuildFailure, ErrorCode, Fault
from line.outcome import InspectionOutcome
from line.ports import CameraPort, InferencePort, PartJob, ProductCatalog, RecordJob, RecordPort
from line.station_status import StationStatus, TriggerRefusedError

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 10.0
ACQUIRE_TIMEOUT_S = 2.0
AUTO_RETRY_S = 0.5  # auto mode: wait after a refused trigger (camera away, product building)


class StationController:
    def __init__(
        self,
        status: StationStatus,
        inference: InferencePort,
        recorder: RecordPort,
        camera: CameraPort,
        catalog: ProductCatalog,
        *,
        product: int | str | None = None,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        acquire_timeout_s: float = ACQUIRE_TIMEOUT_S,
        frame_files: Any = None,
    ) -> None:
        self.status = status
        self.inference = inference
        self.recorder = recorder
        self.camera = camera
        self.catalog = catalog
        self.wanted_product = product
        self.ack_timeout_s = float(ack_timeout_s)
        self.acquire_timeout_s = float(acquire_timeout_s)
        self.frame_files = frame_files  # line/frame_files.py: a part's frame is stored while it is inspected
        self._lock = threading.RLock()
        self._ack_timer: threading.Timer | None = None
        self._auto_timer: threading.Timer | None = None
        self._timers: set[threading.Timer] = set()  # every timer armed and not yet joined; stop() joins them all
        self._idle = threading.Condition()  # notified when no part is in flight
        self._stopped = False
        self._operator = ""  # who is logged in at the window (set_operator)
        self._recent_loader: threading.Thread | None = None  # reads the filmstrip's last parts at start
        self._pending_recipe: int | None = None  # the operator's switch, made once the part in flight is done
        inference.bind(self)
        recorder.bind(self)

    # -- start / stop -------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._seed_counters()  # before results kept from the last run are written: they are counted once
        self.recorder.start()
        self.recorder.resume_spooled()
        self.status.set_camera(False, f"{self.camera.name} is connecting", self.camera.name)
        self.camera.start(self._on_camera)
        self.refresh_products()
        self.inference.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Refuse new triggers, let the part in flight finish (within ``timeout_s``), then stop the threads. What
        the database has not taken by then is kept in the unsaved folder."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self.status.set_auto(False)
        self._cancel_timers()
        self.status.raise_fault(ErrorCode.STOPPING, "The station is stopping.")
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self.status.in_flight is not None and time.monotonic() < deadline:
                self._idle.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        self.camera.stop()
        if self._recent_loader is not None:
            self._recent_loader.join(max(1.0, deadline - time.monotonic()))
        self.inference.stop(max(1.0, deadline - time.monotonic()))
        self.recorder.stop(max(1.0, deadline - time.monotonic()))
        if self.frame_files is not None:
            self.frame_files.close()
        # no timer is armed once _stopped is set (_arm checks it under the lock): cancel and join every one left
        with self._lock:
            timers = list(self._timers)
            self._timers.clear()
        for timer in timers:
            timer.cancel()
        for timer in timers:  # cancelled ones end at once; one whose callback runs ends when _stopped turns it away
            if timer is not threading.current_thread():
                timer.join(max(1.0, deadline - time.monotonic()))

    def _seed_counters(self) -> None:
        """The shift's counts from the database, so that a restart continues them; the filmstrip's last parts are
        read in a thread of their own (a thumbnail is a whole frame's decode: a second or more for a dozen large
        frames, which the window's start must not wait for)."""
        start = self.status.counters.shift_start
        try:
            total, ng = self.catalog.shift_counts(start, datetime.now().astimezone())
        except DatabaseError as exc:
            log.warning("the shift's counts could not be read (%s); counting from zero", exc)
            return
        self.status.seed_counters(total, ng)
        self._recent_loader = threading.Thread(target=self._seed_recent, name="line-recent", daemon=True)
        self._recent_loader.start()

    def _seed_recent(self) -> None:
        try:
            recent = self.catalog.recent_parts(self.status.recent.size)
        except DatabaseError as exc:
            log.warning("the last parts could not be read (%s); the filmstrip starts empty", exc)
            return
        if not self._stopped:
            self.status.seed_recent(recent)

    # -- products -----------------------------------------------------------------------------------------------
    def refresh_products(self) -> dict[int, str]:
        try:
            names = self.catalog.names()
        except DatabaseError as exc:
            log.error("the products could not be read: %s", exc)
            return self.status.product_names
        self.status.set_products(names)
        if self.status.product_id is None:
            pid = self._resolve(self.wanted_product, names)
            if pid is None and self.wanted_product is not None:
                self.status.raise_fault(
                    ErrorCode.UNKNOWN_RECIPE,
                    f"The configured product {self.wanted_product!r} does "
                    f"not exist. Known products: {', '.join(names.values()) or 'none yet'}.",
                )
            if pid is not None:
                self._switch(pid)
        return names

    @staticmethod
    def resolve_product(wanted: int | str | None, names: dict[int, str]) -> int | None:
        """The id of the product ``wanted`` names (its id, or its name in any case); None when none does."""
        return StationController._resolve(wanted, names)

    @staticmethod
    def _resolve(wanted: int | str | None, names: dict[int, str]) -> int | None:
        if wanted is None:
            return None
        if isinstance(wanted, int) or (isinstance(wanted, str) and wanted.isdigit() and int(wanted) in names):
            return int(wanted) if int(wanted) in names else None
        lowered = str(wanted).strip().lower()
        return next((pid for pid, name in names.items() if name.lower() == lowered), None)

    def select_recipe(self, recipe_id: int, *, when_idle: bool = False) -> Fault | None:
        """The PLC (or the operator) switches the product. Returns the fault when refused (unknown id, busy).
        ``when_idle`` (the operator): while a part is in flight the switch waits for it instead of being refused."""
        with self._lock:
            names = self.status.product_names
            if recipe_id not in names:
                names = self.refresh_products()
            if recipe_id not in names:
                return self.status.raise_fault(
                    ErrorCode.UNKNOWN_RECIPE,
                    f"Recipe {recipe_id} is unknown. Known recipes: "
                    + (", ".join(f"{pid} ({n})" for pid, n in sorted(names.items())) or "none yet")
                    + ".",
                )
            if self.status.in_flight is not None or self.status.result_ready:
                if when_idle:
                    self._pending_recipe = recipe_id
                    return None
                return self.status.raise_fault(
                    ErrorCode.BUSY,
                    "The recipe can change only while the station is "
                    "Ready (no part in flight, the last result acknowledged).",
                )
            self._pending_recipe = None
            if recipe_id == self.status.product_id:
                return None
            self._switch(recipe_id)
            return None

    def rebuild_product(self, product_id: int) -> None:
        """The product's references or settings changed: read the products again and, when it is the chosen one,
        build its model anew (a build in progress is cancelled)."""
        names = self.refresh_products()
        if product_id == self.status.product_id and product_id in names and self.status.model_loaded:
            self._build(product_id)

    def forget_part(self, product_id: int, image_sha: str) -> None:
        """A reviewer confirmed the part defective: it leaves the product's line pool for good."""
        self.inference.forget_part(product_id, image_sha)

    def retry_saving(self) -> bool:
        """Write the result the database refused at once (the operator's Retry saving); False when none waits."""
        return self.recorder.retry_now()

    def _part_done(self) -> None:
        """No part in flight any more: make the operator's product switch that waited for it."""
        with self._lock:
            pending = self._pending_recipe
            if pending is None or self.status.in_flight is not None or self.status.result_ready:
                return
            self._pending_recipe = None
        self.select_recipe(pending, when_idle=True)

    def _switch(self, product_id: int) -> None:
        self.status.select_product(product_id)
        self.status.clear_fault(ErrorCode.UNKNOWN_RECIPE)
        try:
            settings = self.catalog.camera_settings(product_id)
        except DatabaseError as exc:
            log.warning("camera settings of product %s not read: %s", product_id, exc)
            settings = {}
        try:
            self.camera.apply_recipe(settings)
        except Exception as exc:  # noqa: BLE001 - a camera that refuses a setting keeps running with its own
            log.warning("the camera did not take the recipe's settings %s: %s", settings, exc)
        if self.status.model_loaded:
            self._build(product_id)

    def _build(self, product_id: int) -> None:
        try:
            request = self.catalog.request(product_id)
        except DatabaseError as exc:
            self.status.product_failed(product_id, str(exc), BuildFailure.DATABASE)
            return
        self.status.product_preparing(product_id, 0.0, "Preparing")
        self.inference.build_product(request)

    # -- the PLC's calls ----------------------------------------------------------------------------------------
    def trigger(self, part_id: str | None = None, *, self_ack: bool = False) -> Fault | None:
        """A part is in position: inspect it. None when taken; the fault (its code for the PLC) when refused.
        ``self_ack``: nobody acknowledges the result (the operator's Inspect); the station is Ready once it is
        recorded."""
        part_id = (str(part_id).strip() or None) if part_id is not None else None
        with self._lock:
            try:
                part = self.status.begin_part(part_id)
            except TriggerRefusedError as exc:
                return exc.fault
            self._cancel_ack_timer()
            after = time.monotonic()
            job = PartJob(
                part.seq,
                part_id,
                part.product_id,
                acquire=lambda: self._acquire(after),
                triggered_at=after,
                self_ack=self_ack,
            )
            self.inference.inspect(job)
            return None

    def _acquire(self, after: float) -> Frame:
        """In the inference thread: the part's frame, whose file starts being written at once."""
        frame = self.camera.acquire(after, self.acquire_timeout_s)
        if self.frame_files is not None:
            self.frame_files.start(frame)
        return frame

    def acknowledge(self) -> bool:
        """The PLC took the result: clear ResultReady and be Ready again (False when no result waited)."""
        with self._lock:
            self._cancel_ack_timer()
            done = self.status.acknowledge()
        if done:
            self._part_done()
        return done

    def set_auto(self, on: bool) -> None:
        """Auto mode: the station triggers itself, one part after the other, and acknowledges its own results."""
        self.status.set_auto(on)
        if on:
            if self.status.result_ready:
                self.acknowledge()
            self._auto_next()
        elif self._auto_timer is not None:
            self._auto_timer.cancel()

    def _auto_next(self) -> None:
        if not self.status.auto or self._stopped:
            return
        if self.trigger(None, self_ack=True) is not None:
            self._arm_auto_retry()

    # -- the inference thread's answers ------------------------------------------------------------------------
    def on_model_ready(self, encoder_id: str) -> None:
        self.status.set_model_ready(encoder_id)
        if self.status.product_id is not None:
            self._build(self.status.product_id)

    def on_model_failed(self, message: str) -> None:
        self.status.raise_fault(ErrorCode.MODEL_FAILED, message)

    def on_product_progress(self, product_id: int, fraction: float, message: str) -> None:
        if 0.0 < fraction < 1.0:
            self.status.product_preparing(product_id, fraction, message)

    def on_product_ready(self, product_id: int, product: BuiltProduct) -> None:
        calibration = product.calibration.to_dict()
        warning = calibration_warning(calibration, product.name)
        self.status.product_ready(product_id, product.name, product.calibration.effective_threshold, warning)
        try:
            self.catalog.save_calibration(product_id, calibration)
        except (DatabaseError, AttributeError) as exc:  # the model works without it; each row keeps its threshold
            log.warning("calibration of product %s not stored: %s", product_id, exc)
        if self.status.auto:
            self._auto_next()

    def on_product_failed(self, product_id: int, message: str, kind: BuildFailure = BuildFailure.FAILED) -> None:
        self.status.product_failed(product_id, message, kind)

    def on_product_adapted(self, product_id: int, product: BuiltProduct) -> None:
        """Line mode rebuilt the product on its own map: its new calibration is stored, and the window told."""
        calibration = product.calibration.to_dict()
        try:
            self.catalog.save_calibration(product_id, calibration)
        except (DatabaseError, AttributeError) as exc:
            log.warning("calibration of product %s not stored: %s", product_id, exc)
        log.info("product %s now uses features fitted on %d of its own parts", product.name, product.adapted_parts)
        self.status.product_adapted(
            product_id, product.name, product.adapted_parts, product.calibration.effective_threshold
        )

    def set_operator(self, name: str) -> None:
        """Who is logged in at the window ("" when nobody is): recorded with each part inspected from now on."""
        with self._lock:
            self._operator = str(name or "")

    def on_inspected(self, job: PartJob, outcome: InspectionOutcome) -> None:
        with self._lock:
            operator = self._operator
        if operator and not outcome.operator:
            outcome = dataclasses.replace(outcome, operator=operator)
        self.status.part_inspected(job.seq, outcome)
        self.recorder.submit(RecordJob(job.seq, outcome, self_ack=job.self_ack))

    def on_part_failed(self, job: PartJob, fault: Fault) -> None:
        log.warning("part %s not inspected: %s", job.part_id or job.seq, fault.text)
        self.status.part_failed(job.seq, fault)
        self._notify_idle()
        self._part_done()
        if self.status.auto:
            self._arm_auto_retry()

    # -- the recorder's answers --------------------------------------------------------------------------------
    def on_recorded(self, job: RecordJob, record: InspectionRecord) -> None:
        auto = self.status.auto
        self.status.part_recorded(job.outcome, record, job.seq, require_ack=not (auto or job.self_ack))
        self._notify_idle()
        if job.seq is None:
            return  # a result kept from an earlier run: counted, not part of the handshake
        self._part_done()
        if auto:
            self._auto_next()
        elif self.status.result_ready:
            self._start_ack_timer(job.seq)

    def on_record_failed(self, job: RecordJob, message: str, will_retry: bool) -> None:
        self.status.record_failed(job.outcome.part_id, message, self.recorder.waiting, will_retry)
        if will_retry:
            self.status.raise_fault(ErrorCode.DATABASE, f"{message} The result is kept and saved again by itself.")
        elif job.seq is not None:
            self.status.part_failed(
                job.seq,
                Fault(ErrorCode.RECORD_REFUSED, f"{message} The result is kept in the unsaved folder; see the log."),
            )
            self._notify_idle()
            self._part_done()

    # -- the camera's status -----------------------------------------------------------------------------------
    def _on_camera(self, ok: bool, message: str, fault: Fault | None) -> None:
        self.status.set_camera(ok, message, self.camera.name)
        if ok:
            self.status.clear_fault(ErrorCode.CAMERA_LOST)
            self.status.clear_fault(ErrorCode.CAMERA_NOT_FOUND)
            if self.status.auto:
                self._auto_next()
        elif fault is not None:
            other = ErrorCode.CAMERA_NOT_FOUND if fault.code is ErrorCode.CAMERA_LOST else ErrorCode.CAMERA_LOST
            self.status.clear_fault(other)
            self.status.raise_fault(fault.code, fault.text)

    # -- timers ---------------------------------------------------------------------------------------------------
    def _start_ack_timer(self, seq: int) -> None:
        with self._lock:
            self._cancel_ack_timer()
            if self.ack_timeout_s <= 0:
                return
            self._ack_timer = self._arm(self.ack_timeout_s, self._ack_timed_out, seq)

    def _arm_auto_retry(self) -> None:
        timer = self._arm(AUTO_RETRY_S, self._auto_next)
        if timer is not None:
            self._auto_timer = timer

    def _arm(self, delay_s: float, callback: Callable[..., None], *args: Any) -> threading.Timer | None:
        """Start a timer, unless the station is stopping (then None). Every timer is kept until stop() joins it, so
        no timer thread outlives the station."""
        with self._lock:
            if self._stopped:
                return None
            self._timers = {t for t in self._timers if t.is_alive()}
            timer = threading.Timer(delay_s, callback, args=args)
            timer.daemon = True
            self._timers.add(timer)
            timer.start()
            return timer

    def _ack_timed_out(self, seq: int) -> None:
        with self._lock:
            result = self.status.result
            if self.status.result_ready and result is not None and result.seq == seq:
                self.status.raise_fault(
                    ErrorCode.ACK_TIMEOUT,
                    f"The result of part {result.part_id or seq} was not acknowledged within {self.ack_timeout_s:g} s: "
                    "set ResultAck (the result stays readable until then).",
                )

    def _cancel_ack_timer(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_ack_timer()
        if self._auto_timer is not None:
            self._auto_timer.cancel()

    def _notify_idle(self) -> None:
        with self._idle:
            self._idle.notify_all()
