"""The line runner's database writer: a plain thread that records results in the order they came, one at a time.

A result is kept until the database confirmed it. A failure that passes by itself (locked, read-only, full,
unreachable: line/write_errors.py) is retried with growing waits, and the results behind it wait their turn, so
the order of the rows (and of the MQTT outbox) is the order of the parts. What is still unsaved when the writer
stops goes to the unsaved folder (line/unsaved_spool.py) and is written at the next start with its own time.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db.errors import DatabaseError
from db.records import InspectionRecord

if TYPE_CHECKING:
    from db.guarded import GuardedDatabase
    from db.repository import Database
    from db.users import UserInfo
    from line.frame_files import FrameFiles
from line.heatmap_png import store_heatmap
from line.outcome import InspectionOutcome
from line.ports import RecordJob, RecordListener
from line.unsaved_spool import UnsavedSpool
from line.write_errors import is_transient

log = logging.getLogger(__name__)

LINE_RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # a line cannot wait long: retry soon, then less often

Writer = Callable[[InspectionOutcome], InspectionRecord]  # records one outcome durably


def inspected_at(outcome: InspectionOutcome) -> datetime:
    """The inspection's own time (when its result was ready), stored as its row's time even when written late."""
    return datetime.fromtimestamp(outcome.finished_at, UTC)


def database_writer(
    database: Database,
    *,
    station: str = "",
    operator: str = "",
    topic: str | None = None,
    guarded: GuardedDatabase | None = None,
    actor: UserInfo | None = None,
    frame_files: FrameFiles | None = None,
) -> Writer:
    """Record through ``database.inspections.record`` (or, with a technical user, ``guarded.record_inspection``,
    which checks the user's right to inspect), with the part id and the MQTT outbox message in one transaction.
    With ``frame_files`` (line/frame_files.py) a frame already written while it was inspected is not written again.
    The heatmap goes in as a paletted PNG of the same pixels (line/heatmap_png.py), the cheap encoding."""

    def write(out: InspectionOutcome) -> InspectionRecord:
        stored = frame_files.take(out.frame) if frame_files is not None else None
        kwargs: dict[str, Any] = dict(
            product_id=out.product_id,
            result=out.result,
            image=stored if stored is not None else out.frame.image,
            heatmap=store_heatmap(database.store, out),
            time=inspected_at(out),
            station=station,
            source=out.frame.kind,
            source_name=out.frame.label or out.frame.source,
            model_ids={"encoder": out.result.encoder_id, "calibration": out.result.calibration_id},
            part_id=out.part_id,
            outbox_topic=topic,
        )
        who = out.operator or operator  # the person logged in when the part was inspected, else the writer's own
        if guarded is not None and actor is not None:
            return guarded.record_inspection(actor, operator=who or actor.name, **kwargs)
        return database.inspections.record(operator=who, **kwargs)

    return write


def _message(error: BaseException) -> str:
    if isinstance(error, DatabaseError):
        return str(error)
    return f"The inspection could not be saved: {error}"


class Recorder:
    def __init__(
        self,
        write: Writer,
        listener: RecordListener | None = None,
        spool: UnsavedSpool | None = None,
        retry_delays_s: tuple[float, ...] = LINE_RETRY_DELAYS_S,
    ) -> None:
        self._write = write
        self._listener = listener
        self.spool = spool
        self.retry_delays_s = tuple(retry_delays_s) or LINE_RETRY_DELAYS_S
        self._jobs: deque[RecordJob] = deque()
        self._refused: list[RecordJob] = []  # failed the same way every time: kept for the spool at stop
        self._spooled: dict[int, Path] = {}  # id(job) -> the unsaved-folder entry it came from
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._wake = threading.Event()  # ends the wait before a retry (retry_now, stop)
        self._draining = False  # stop() asked: write what waits, do not wait for a failing database
        self._thread: threading.Thread | None = None
        self.recorded = 0
        self.kept = 0  # written to the unsaved folder at stop
        self.not_kept = 0  # could not be written there either (logged)
        self.last_error: str | None = None

    def bind(self, listener: RecordListener) -> None:
        self._listener = listener

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._jobs)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._draining = False
            self._thread = threading.Thread(target=self._run, name="line-recorder", daemon=True)
            self._thread.start()

    def submit(self, job: RecordJob) -> None:
        with self._cond:
            if self._thread is None or self._stop.is_set():
                log.warning("a result arrived after the database writer stopped; it goes to the unsaved folder")
                self._jobs.append(job)
                self._keep_unsaved_locked()
                return
            self._jobs.append(job)
            self._cond.notify()

    def resume_spooled(self) -> int:
        """Queue what an earlier run could not save (before any new result); returns how many entries were read."""
        if self.spool is None:
            return 0
        count = 0
        with self._cond:
            for path in self.spool.entries():
                outcome = self.spool.load(path)
                if outcome is None:
                    continue  # quarantined, with a log line
                job = RecordJob(None, outcome)
                self._spooled[id(job)] = path
                self._jobs.append(job)
                count += 1
            self._cond.notify()
        if count:
            log.info("saving %d inspection(s) kept from the last run", count)
        return count

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Write what waits (within ``timeout_s``), then end the thread; what is left goes to the unsaved folder."""
        thread = self._thread
        if thread is not None:
            with self._cond:
                self._draining = True
                self._cond.notify()
            self._wake.set()
            thread.join(timeout_s)
        with self._cond:
            self._stop.set()
            self._cond.notify_all()
        self._wake.set()
        if thread is not None:
            thread.join(2.0)
        self._thread = None
        with self._cond:
            self._keep_unsaved_locked()
        return thread is None or not thread.is_alive()

    # -- the thread ---------------------------------------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        while True:
            with self._cond:
                while not self._jobs and not self._stop.is_set() and not self._draining:
                    self._cond.wait()
                if self._stop.is_set() or (self._draining and not self._jobs):
                    return
                job = self._jobs[0]
            try:
                record = self._write(job.outcome)
            except Exception as exc:  # noqa: BLE001 - never lose the result silently
                if not isinstance(exc, DatabaseError):
                    log.error("recording failed:\n%s", traceback.format_exc())
                message = _message(exc)
                self.last_error = message
                transient = is_transient(exc)
                if not transient:
                    with self._cond:
                        self._jobs.popleft()
                        self._refused.append(job)
                self._tell_failed(job, message, transient)
                if transient:
                    delay = self.retry_delays_s[min(attempt, len(self.retry_delays_s) - 1)]
                    attempt += 1
                    if self._draining:
                        return  # stopping: it goes to the unsaved folder rather than waiting for the database
                    if self._pause(delay):
                        return
                continue
            attempt = 0
            with self._cond:
                self._jobs.popleft()
                path = self._spooled.pop(id(job), None)
            if path is not None and self.spool is not None:
                self.spool.done(path)
            self.recorded += 1
            self._tell_recorded(job, record)

    def retry_now(self) -> bool:
        """Write what waits at once instead of after the retry wait (the operator's Retry saving); False when
        nothing waits."""
        with self._cond:
            if not self._jobs:
                return False
        self._wake.set()
        return True

    def _pause(self, delay: float) -> bool:
        """Wait ``delay`` before the next attempt (retry_now and stop end it early); True when stopping."""
        self._wake.wait(delay)
        self._wake.clear()
        return self._stop.is_set()

    # The bound listener is called from this thread; one that fails is logged, never the end of the thread.
    def _tell_recorded(self, job: RecordJob, record: InspectionRecord) -> None:
        if self._listener is not None:
            try:
                self._listener.on_recorded(job, record)
            except Exception:
                log.exception("the recorder's listener failed in on_recorded")

    def _tell_failed(self, job: RecordJob, message: str, will_retry: bool) -> None:
        if self._listener is not None:
            try:
                self._listener.on_record_failed(job, message, will_retry)
            except Exception:
                log.exception("the recorder's listener failed in on_record_failed")

    def _keep_unsaved_locked(self) -> None:
        jobs = [j for j in list(self._jobs) + self._refused if id(j) not in self._spooled]
        self._spooled.clear()  # entries from the unsaved folder keep their file: nothing to write
        self._jobs.clear()
        self._refused.clear()
        if not jobs:
            return
        if self.spool is None:
            self.not_kept += len(jobs)
            log.error("%d inspection(s) could NOT be kept: this station has no unsaved folder", len(jobs))
            return
        report = self.spool.put([j.outcome for j in jobs])
        self.kept += report.written
        self.not_kept += report.failed
        if report.written:
            log.warning("%d unsaved inspection(s) kept in %s for the next start", report.written, self.spool.folder)
        if report.failed:
            log.error(
                "%d unsaved inspection(s) could NOT be kept in %s (%s)",
                report.failed,
                self.spool.folder,
                report.message(),
            )
