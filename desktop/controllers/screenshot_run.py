"""``--screenshot OUT.png``: run the station unattended until N frames were inspected and recorded, save a
picture of the main window and quit (exit code 0, or 1 when something failed before N records). Only frames
inspected in this run count: rows replayed from the unsaved spool of an earlier run are not frames."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from desktop.controllers.station import Station
from desktop.main_window import MainWindow

SETTLE_MS = 400
FRAME_WAIT_MS = 30000  # a source that delivers nothing for this long ends the run with an error  # let the history, statistics and chat catch up before the picture is taken


class ScreenshotRun(QObject):
    """Inspects exactly ``frames`` frames one after the other (each a frame newer than the last one inspected),
    so the picture shows the last of them with its record saved."""

    def __init__(self, station: Station, window: MainWindow, out: Path, frames: int, timeout_s: float = 1200.0) -> None:
        super().__init__(window)
        self.station, self.window, self.out, self.frames = station, window, Path(out), max(1, int(frames))
        self.recorded = 0
        self.exit_code: int | None = None
        self._shown: dict[int, object] = {}  # id -> outcome inspected in this run, until its row exists
        self._last_index = -1
        self._waited_ms = 0
        station.product_ready.connect(self._on_product_ready)
        station.model_ready.connect(self._on_model_ready)
        station.outcome_shown.connect(self._on_outcome_shown)
        station.part_recorded.connect(self._on_recorded)
        # Methods, not lambdas: Qt then runs them in the GUI thread even for the worker thread's signals.
        station.record_failed.connect(self._on_record_failed)
        station.model_failed.connect(self._on_model_failed)
        station.product_failed.connect(self._on_product_failed)
        station.inspection_failed.connect(self._on_inspection_failed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self._fail(f"timed out after {timeout_s:.0f} s"))
        self._timer.start(int(timeout_s * 1000))

    @Slot(str)
    def _on_record_failed(self, message: str) -> None:
        self._fail(f"an inspection was not saved: {message}")

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        self._fail(f"the model did not load: {message}")

    @Slot(int, str)
    def _on_product_failed(self, product_id: int, message: str) -> None:
        if product_id == self.station.product_id:  # a cancelled build reports nothing (core.errors.Cancelled)
            self._fail(message)

    @Slot(str)
    def _on_inspection_failed(self, message: str) -> None:
        self._fail(message)

    @Slot()
    def _on_model_ready(self) -> None:
        if self.station.product_id is None:
            self._fail("there is no product to inspect: create one and add a normal reference image")

    @Slot(int)
    def _on_product_ready(self, product_id: int) -> None:
        if self.exit_code is None and product_id == self.station.product_id and self.recorded == 0:
            self._inspect_next()

    def _inspect_next(self) -> None:
        """Inspect the newest frame once it is newer than the last one inspected."""
        if self.exit_code is not None:
            return
        frame = self.station.current_frame
        if frame is None or frame.index <= self._last_index:
            self._waited_ms += 50
            if self._waited_ms >= FRAME_WAIT_MS:
                problem = self.window.problems.text() or self.window.status.camera.text()
                self._fail(f"no new frame from the source in {FRAME_WAIT_MS // 1000} s ({problem})")
                return
            QTimer.singleShot(50, self._inspect_next)
            return
        self._waited_ms = 0
        self._last_index = frame.index
        self.station.inspect_now()

    @Slot(object)
    def _on_outcome_shown(self, outcome: object) -> None:
        self._shown[id(outcome)] = outcome

    @Slot(object, object)
    def _on_recorded(self, outcome: object, _record: object) -> None:
        if self._shown.pop(id(outcome), None) is not outcome:
            return  # a row replayed from the spool of an earlier run, not a frame of this run
        self.recorded += 1
        print(f"inspected and recorded {self.recorded}/{self.frames}", flush=True)
        if self.exit_code is not None:
            return
        if self.recorded >= self.frames:
            self._finish(0)
        else:
            self._inspect_next()

    def _fail(self, message: str) -> None:
        if self.exit_code is None:
            print(f"screenshot run: {message}", file=sys.stderr, flush=True)
            self._finish(1)

    def _finish(self, code: int) -> None:
        self.exit_code = code
        self._timer.stop()
        QTimer.singleShot(SETTLE_MS, self._grab)

    @Slot()
    def _grab(self) -> None:
        self.window.tabs.setCurrentIndex(0)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if not self.window.grab().save(str(self.out)):
            print(f"screenshot run: could not write {self.out}", file=sys.stderr, flush=True)
            self.exit_code = 1
        else:
            print(f"screenshot saved to {self.out}", flush=True)
        QApplication.instance().exit(self.exit_code or 0)
