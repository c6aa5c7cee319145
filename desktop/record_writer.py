"""The database writer: records inspections (image + heatmap files first, then the row) off the GUI thread.

Outcomes stay in ``unsaved`` until the database confirmed them, so a locked database, a read-only folder or a
full disk loses nothing: the window says what happened and ``retry()`` writes them again. With a spool, what is
still unsaved when the writer stops is kept on disk and written at the next start (``resume_spooled``).
"""
from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from db.errors import DatabaseError
from desktop.inference_worker import InspectionOutcome
from desktop.unsaved_spool import UnsavedSpool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordJob:
    key: int
    outcome: InspectionOutcome


class RecordWorker(QObject):
    recorded = Signal(int, object)  # job key, db.records.InspectionRecord
    failed = Signal(int, str)  # job key, message for people

    def __init__(self, inspections: Any, station: str = "", operator: str = "") -> None:
        super().__init__()
        self._inspections = inspections
        self.station = station
        self.operator = operator

    @Slot(object)
    def record(self, job: RecordJob) -> None:
        out = job.outcome
        try:
            record = self._inspections.record(
                product_id=out.product_id,
                result=out.result,
                image=out.frame.image,
                heatmap=out.heatmap_rgba[..., :3],
                station=self.station,
                operator=self.operator,
                source=out.frame.kind,
                source_name=out.frame.label or out.frame.source,
                model_ids={"encoder": out.result.encoder_id, "calibration": out.result.calibration_id},
            )
        except DatabaseError as exc:  # StorageError is a DatabaseError too
            self.failed.emit(job.key, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - never lose the result silently
            log.error("recording failed:\n%s", traceback.format_exc())
            self.failed.emit(job.key, f"The inspection could not be saved: {exc}")
            return
        self.recorded.emit(job.key, record)

    @Slot()
    def finish(self) -> None:
        """Queued after every job: ends the thread once everything before it was written."""
        QThread.currentThread().quit()


class RecordService(QObject):
    """GUI-side handle: ``submit`` an outcome; ``recorded``/``failed`` report back; ``retry`` resubmits."""

    recorded = Signal(object, object)  # InspectionOutcome, InspectionRecord
    failed = Signal(object, str)  # InspectionOutcome, message
    _submit = Signal(object)
    _finish = Signal()

    def __init__(
        self,
        inspections: Any,
        station: str = "",
        operator: str = "",
        parent: QObject | None = None,
        spool: UnsavedSpool | None = None,
    ) -> None:
        super().__init__(parent)
        self.spool = spool
        self._spooled: dict[int, Path] = {}  # job key -> spool file it came from
        self.thread = QThread()
        self.thread.setObjectName("db-writer")
        self.worker = RecordWorker(inspections, station, operator)
        self.worker.moveToThread(self.thread)
        self._submit.connect(self.worker.record)
        self._finish.connect(self.worker.finish)
        self.worker.recorded.connect(self._on_recorded)
        self.worker.failed.connect(self._on_failed)
        self.thread.finished.connect(self.worker.deleteLater)
        self.unsaved: dict[int, InspectionOutcome] = {}
        self.in_flight: set[int] = set()
        self.last_error: str | None = None
        self._next_key = 1

    def start(self) -> None:
        if not self.thread.isRunning():
            self.thread.start()

    def submit(self, outcome: InspectionOutcome) -> int:
        key = self._next_key
        self._next_key += 1
        self.unsaved[key] = outcome
        self._send(key)
        return key

    def resume_spooled(self) -> int:
        """Submit the outcomes an earlier run could not save; each spool file goes once its row exists."""
        if self.spool is None:
            return 0
        count = 0
        for path, outcome in self.spool.pending():
            if not isinstance(outcome, InspectionOutcome):
                continue
            key = self.submit(outcome)
            self._spooled[key] = path
            count += 1
        return count

    def retry(self) -> int:
        """Write every unsaved outcome again; returns how many were resubmitted."""
        keys = [k for k in sorted(self.unsaved) if k not in self.in_flight]
        for key in keys:
            self._send(key)
        return len(keys)

    def _send(self, key: int) -> None:
        self.in_flight.add(key)
        self._submit.emit(RecordJob(key, self.unsaved[key]))

    @Slot(int, object)
    def _on_recorded(self, key: int, record: object) -> None:
        self.in_flight.discard(key)
        outcome = self.unsaved.pop(key, None)
        path = self._spooled.pop(key, None)
        if path is not None:
            UnsavedSpool.done(path)
        if outcome is not None:
            self.recorded.emit(outcome, record)

    @Slot(int, str)
    def _on_failed(self, key: int, message: str) -> None:
        self.in_flight.discard(key)
        self.last_error = message
        outcome = self.unsaved.get(key)
        if outcome is not None:
            self.failed.emit(outcome, message)

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Write what was submitted, then end the thread; the answers are delivered before this returns."""
        if not self.thread.isRunning():
            self._keep_unsaved()
            return True
        self._finish.emit()
        if not self.thread.wait(int(timeout_s * 1000)):
            self.thread.quit()
            stopped = self.thread.wait(1000)
            self._keep_unsaved()
            return stopped
        QCoreApplication.sendPostedEvents(self)
        self._keep_unsaved()
        return True

    def _keep_unsaved(self) -> None:
        """Put what the database never took into the spool (outcomes already spooled keep their file)."""
        if self.spool is None:
            return
        fresh = [o for k, o in sorted(self.unsaved.items()) if k not in self._spooled]
        if fresh:
            written = self.spool.put(fresh)
            log.warning("%d unsaved inspection(s) kept in %s for the next start", len(written), self.spool.folder)
        self.unsaved.clear()
        self._spooled.clear()
