"""The database writer: records inspections (image + heatmap files first, then the row) off the GUI thread.

Outcomes stay in ``unsaved`` until the database confirmed them, so a locked database, a read-only folder or a
full disk loses nothing: the window says what happened, the writer retries by itself with growing waits
(desktop/workers/write_retry.py) and ``retry()`` writes them again at once. At most ``MAX_UNSAVED`` wait in memory: when
that many are waiting, ``queue_full`` fires and the station stops Auto and refuses new inspections until they
are saved (results already on their way are still kept, never dropped). With a spool, what is still unsaved when
the writer stops is kept on disk and written at the next start (``resume_spooled``); only entries actually
written count as kept.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from db.errors import DatabaseError
from desktop.workers.inference_worker import InspectionOutcome
from desktop.workers.write_retry import RETRY_DELAYS_S, RetryBackoff, is_transient
from line.unsaved_spool import UnsavedSpool

log = logging.getLogger(__name__)

# At most this many inspections wait in memory for the database (about 1.2 MB each at the demo camera's size,
# so ~120 MB). Reaching it stops Auto mode with a message in the window; see RecordService.queue_full.
MAX_UNSAVED = 100


@dataclass(frozen=True)
class RecordJob:
    key: int
    outcome: InspectionOutcome


def inspected_at(outcome: InspectionOutcome) -> datetime:
    """The inspection's own time (when its result was ready), stored as its row's time even when written late."""
    return datetime.fromtimestamp(outcome.finished_at, UTC)


class RecordWorker(QObject):
    recorded = Signal(int, object)  # job key, db.records.InspectionRecord
    failed = Signal(int, object)  # job key, the error (a DatabaseError, or another exception)

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
                time=inspected_at(out),
                station=self.station,
                operator=self.operator,
                source=out.frame.kind,
                source_name=out.frame.label or out.frame.source,
                model_ids={"encoder": out.result.encoder_id, "calibration": out.result.calibration_id},
            )
        except DatabaseError as exc:  # StorageError is a DatabaseError too
            self.failed.emit(job.key, exc)
            return
        except Exception as exc:  # noqa: BLE001 - never lose the result silently
            log.error("recording failed:\n%s", traceback.format_exc())
            self.failed.emit(job.key, exc)
            return
        self.recorded.emit(job.key, record)

    @Slot()
    def finish(self) -> None:
        """Queued after every job: ends the thread once everything before it was written."""
        QThread.currentThread().quit()


def error_message(error: BaseException) -> str:
    """The error in words for people: the database layer's own message, else what happened and what to do."""
    if isinstance(error, DatabaseError):
        return str(error)
    return f"The inspection could not be saved: {error}"


class RecordService(QObject):
    """GUI-side handle: ``submit`` an outcome; ``recorded``/``failed`` report back; ``retry`` resubmits."""

    recorded = Signal(object, object)  # InspectionOutcome, InspectionRecord
    failed = Signal(object, str)  # InspectionOutcome, message
    queue_full = Signal(int)  # inspections waiting, once the bound (max_unsaved) is reached
    _submit = Signal(object)
    _finish = Signal()

    def __init__(
        self,
        inspections: Any,
        station: str = "",
        operator: str = "",
        parent: QObject | None = None,
        spool: UnsavedSpool | None = None,
        *,
        max_unsaved: int = MAX_UNSAVED,
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
    ) -> None:
        super().__init__(parent)
        self.spool = spool
        self.max_unsaved = max(1, int(max_unsaved))
        self._spooled: dict[int, Path] = {}  # job key -> spool entry it came from
        self._backlog: list[Path] = []  # spool entries of an earlier run not read yet (read as the queue drains)
        self.thread = QThread()
        self.thread.setObjectName("db-writer")
        self.worker = RecordWorker(inspections, station, operator)
        self.worker.moveToThread(self.thread)
        self._submit.connect(self.worker.record)
        self._finish.connect(self.worker.finish)
        self.worker.recorded.connect(self._on_recorded)
        self.worker.failed.connect(self._on_failed)
        self.thread.finished.connect(self.worker.deleteLater)
        self._retry = RetryBackoff(retry_delays_s, self)
        self._retry.due.connect(self._retry_due)
        self.unsaved: dict[int, InspectionOutcome] = {}
        self.in_flight: set[int] = set()
        self.retrying: set[int] = set()  # keys whose last failure passes by itself: retried automatically
        self.last_error: str | None = None
        self.kept = 0  # outcomes written to the spool when the writer stopped (entries actually written)
        self.not_kept = 0  # outcomes that could not be written there either: lost when the station closes
        self._full_reported = False
        self._stopped = False
        self._next_key = 1

    @property
    def is_full(self) -> bool:
        """As many inspections wait for the database as the bound allows: take no new ones until they are saved."""
        return len(self.unsaved) >= self.max_unsaved

    def start(self) -> None:
        if not self.thread.isRunning():
            self.thread.start()

    def submit(self, outcome: InspectionOutcome) -> int:
        """Queue ``outcome`` for the database. After ``stop`` it goes straight to the spool (a late result)."""
        key = self._add(outcome)
        if self._stopped:
            log.warning("an inspection arrived after the database writer stopped; it goes to the spool")
            self._keep_unsaved()
            return key
        self._send(key)
        if self.is_full and not self._full_reported:
            self._full_reported = True
            log.error(
                "%d inspections are waiting for the database (bound %d): %s",
                len(self.unsaved),
                self.max_unsaved,
                self.last_error,
            )
            self.queue_full.emit(len(self.unsaved))
        return key

    def _add(self, outcome: InspectionOutcome) -> int:
        key = self._next_key
        self._next_key += 1
        self.unsaved[key] = outcome
        return key

    def resume_spooled(self) -> int:
        """Queue the outcomes an earlier run could not save; returns how many entries wait on disk. They are read
        a batch at a time as the queue drains (the bound holds); each entry goes once its row exists."""
        if self.spool is None:
            return 0
        self._backlog = self.spool.entries()
        count = len(self._backlog)
        self._feed_backlog()
        return count

    def _feed_backlog(self) -> None:
        room = max(1, self.max_unsaved // 2)
        while self._backlog and len(self.unsaved) < room and not self._stopped and self.spool is not None:
            path = self._backlog.pop(0)
            outcome = self.spool.load(path)
            if outcome is None:
                continue  # quarantined, with a log line
            key = self._add(outcome)
            self._spooled[key] = path
            self._send(key)

    def retry(self) -> int:
        """Write every unsaved outcome again; returns how many were resubmitted."""
        keys = [k for k in sorted(self.unsaved) if k not in self.in_flight]
        for key in keys:
            self._send(key)
        return len(keys)

    def _send(self, key: int) -> None:
        self.in_flight.add(key)
        self._submit.emit(RecordJob(key, self.unsaved[key]))

    @Slot()
    def _retry_due(self) -> None:
        """The next automatic retry: one outcome probes the database; its success sends the others."""
        if self._stopped or self.in_flight:
            return  # an answer is on its way: a failure schedules the next retry, a success sends the rest
        waiting = [k for k in sorted(self.retrying) if k in self.unsaved]
        if waiting:
            self._send(waiting[0])

    @Slot(int, object)
    def _on_recorded(self, key: int, record: object) -> None:
        self.in_flight.discard(key)
        self.retrying.discard(key)
        outcome = self.unsaved.pop(key, None)
        path = self._spooled.pop(key, None)
        if path is not None and self.spool is not None:
            self.spool.done(path)
        if len(self.unsaved) < self.max_unsaved:
            self._full_reported = False
        if outcome is not None:
            self.recorded.emit(outcome, record)
        self._retry.reset()
        if self.retrying and not self._stopped:  # the database accepts writes again: send what waits
            for k in sorted(self.retrying):
                if k in self.unsaved and k not in self.in_flight:
                    self._send(k)
        self._feed_backlog()

    @Slot(int, object)
    def _on_failed(self, key: int, error: object) -> None:
        self.in_flight.discard(key)
        message = error_message(error) if isinstance(error, BaseException) else str(error)
        self.last_error = message
        if isinstance(error, BaseException) and is_transient(error):
            self.retrying.add(key)
        else:
            self.retrying.discard(key)  # fails the same way every time: only the operator's Retry sends it again
        if self.retrying and not self._stopped:
            self._retry.schedule()
        outcome = self.unsaved.get(key)
        if outcome is not None:
            self.failed.emit(outcome, message)

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Write what was submitted, then end the thread; the answers are delivered before this returns. What is
        still unsaved then goes to the spool (``kept`` / ``not_kept`` say how that went)."""
        self._stopped = True  # no automatic retry or spool read from here on
        self._retry.cancel()
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
        """Put what the database never took into the spool (outcomes from the spool keep their entry). Only what
        was actually written counts as kept; the rest stays in ``unsaved`` and is reported as not kept."""
        for key in list(self._spooled):
            self.unsaved.pop(key, None)
        self._spooled.clear()
        self.in_flight.clear()
        if self.spool is None or not self.unsaved:
            self.not_kept = len(self.unsaved)
            if self.unsaved:
                log.error("%d inspection(s) could NOT be kept: this station has no spool folder", len(self.unsaved))
            return
        fresh = sorted(self.unsaved.items())
        report = self.spool.put([outcome for _, outcome in fresh])
        for (key, _), path in zip(fresh, report.paths, strict=False):
            if path is not None:
                self.unsaved.pop(key, None)
                self.retrying.discard(key)
        self.retrying &= set(self.unsaved)
        self.kept += report.written
        self.not_kept = len(self.unsaved)
        if report.written:
            log.warning("%d unsaved inspection(s) kept in %s for the next start", report.written, self.spool.folder)
        if report.failed:
            log.error(
                "%d unsaved inspection(s) could NOT be kept in %s (%s); they are lost when the station closes",
                report.failed,
                self.spool.folder,
                report.message(),
            )
