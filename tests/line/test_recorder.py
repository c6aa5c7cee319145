"""The line's database writer (line/recorder.py), which the window uses too, on a real SQLite database: rows keep
the inspection's own time (also when replayed from the unsaved folder), writes refused by a lock are retried by
themselves once it goes, Retry saving ends the wait at once, and what is unsaved at stop survives a restart."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.result import InspectionResult
from db.engine import DB_FILENAME
from db.errors import DatabaseLockedError
from db.records import HistoryFilter
from line.capture.mailbox import Frame
from line.outcome import InspectionOutcome
from line.ports import RecordJob
from line.recorder import Recorder, database_writer
from line.unsaved_spool import UnsavedSpool
from tests.station_fakes import Answers

INSPECTED_AT = datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)


def _outcome(product_id: int, i: int, when: datetime | None = None) -> InspectionOutcome:
    img = np.full((32, 48, 3), 10 * i, np.uint8)
    result = InspectionResult("PASS", 0.1, 0.4, 1.0, np.zeros((32, 48), np.float32), [], {"total": 5.0}, "enc", "cal")
    out = InspectionOutcome(
        Frame(img, i, "Camera 0"), product_id, "widget", result, np.zeros((32, 48, 4), np.uint8), 12.0
    )
    return replace(out, finished_at=when.timestamp()) if when is not None else out


def _count(database) -> int:
    return database.history.query(HistoryFilter(limit=None)).total


def _recorder(write, tmp_path: Path | None = None, **kw) -> tuple[Recorder, Answers]:
    answers = Answers()
    spool = UnsavedSpool(tmp_path / "unsaved") if tmp_path is not None else None
    recorder = Recorder(write, answers, spool=spool, **kw)
    recorder.start()
    return recorder, answers


class Locked:
    """A database another program keeps locked until ``free`` is set; then the real writer."""

    def __init__(self, write) -> None:
        self.write, self.free, self.attempts = write, False, 0

    def __call__(self, outcome):
        self.attempts += 1
        if not self.free:
            raise DatabaseLockedError(
                "Could not record the inspection: the database is busy (locked by another program)."
            )
        return self.write(outcome)


def test_a_replayed_unsaved_row_keeps_its_inspection_time(database, tmp_path: Path):
    product = database.products.create("widget").id
    assert UnsavedSpool(tmp_path / "unsaved").put([_outcome(product, 1, INSPECTED_AT)]).written == 1
    recorder, answers = _recorder(database_writer(database), tmp_path)
    assert recorder.resume_spooled() == 1
    job, record = answers.wait("on_recorded")
    assert recorder.stop()
    assert job.seq is None  # not a part of this run's handshake
    assert database.inspections.get(record.id).time == INSPECTED_AT  # the inspection's minute, not the replay's


def test_a_late_write_keeps_the_inspection_time(database):
    product = database.products.create("widget").id
    recorder, answers = _recorder(database_writer(database))
    recorder.submit(RecordJob(1, _outcome(product, 2, INSPECTED_AT)))
    _job, record = answers.wait("on_recorded")
    assert recorder.stop()
    assert database.inspections.get(record.id).time == INSPECTED_AT


def test_writes_refused_by_a_lock_are_retried_by_themselves_in_order_once_it_clears(database, tmp_path: Path):
    product = database.products.create("widget").id
    recorder, answers = _recorder(database_writer(database), retry_delays_s=(0.2, 0.4))
    try:
        database.engine.dispose()
        blocker = sqlite3.connect(tmp_path / "data" / DB_FILENAME, timeout=0.1)
        blocker.execute("BEGIN EXCLUSIVE")  # another program holds the database
        try:
            recorder.submit(RecordJob(1, _outcome(product, 1)))
            recorder.submit(RecordJob(2, _outcome(product, 2)))
            answers.wait("on_record_failed", 3)  # automatic retries keep failing while the lock is held ...
            _job, message, will_retry = answers.of("on_record_failed")[0]
            assert "busy" in message and will_retry
            assert recorder.waiting == 2 and not answers.of("on_recorded")  # ... and nothing is lost
        finally:
            blocker.rollback()
            blocker.close()
        answers.wait("on_recorded", 2, timeout=10.0)  # no retry_now(): the writer notices by itself
        assert [job.seq for job, _ in answers.of("on_recorded")] == [1, 2] and _count(database) == 2
    finally:
        assert recorder.stop()


def test_retry_now_ends_the_wait_before_the_next_attempt(database):
    product = database.products.create("widget").id
    locked = Locked(database_writer(database))
    recorder, answers = _recorder(locked, retry_delays_s=(30.0,))
    try:
        recorder.submit(RecordJob(1, _outcome(product, 1)))
        answers.wait("on_record_failed")
        locked.free = True
        t0 = time.monotonic()
        assert recorder.retry_now()
        answers.wait("on_recorded", timeout=5.0)
        assert time.monotonic() - t0 < 5.0 and locked.attempts == 2
        assert not recorder.retry_now()  # nothing waits any more
    finally:
        assert recorder.stop()


def test_stop_does_not_wait_for_a_refusing_database_and_the_next_start_writes_in_order(database, tmp_path: Path):
    product = database.products.create("widget").id
    locked = Locked(database_writer(database))
    first, answers = _recorder(locked, tmp_path, retry_delays_s=(0.05,))
    first.submit(RecordJob(1, _outcome(product, 1)))
    first.submit(RecordJob(2, _outcome(product, 2)))
    answers.wait("on_record_failed", 2)
    t0 = time.monotonic()
    assert first.stop(timeout_s=10.0)
    assert time.monotonic() - t0 < 2.0  # stopping does not wait for a database that refuses
    entries = sorted((tmp_path / "unsaved").glob("*.json"))
    assert len(entries) == 2 and first.kept == 2 and first.not_kept == 0 and first.waiting == 0
    assert not list((tmp_path / "unsaved").glob("*.pkl"))

    second, again = _recorder(database_writer(database), tmp_path)
    assert second.resume_spooled() == 2
    again.wait("on_recorded", 2)
    assert second.stop()
    rows = database.history.query(HistoryFilter(limit=None)).records
    assert sorted(r.id for r in rows) == [r.id for _, r in again.of("on_recorded")]  # written in their order
    assert [p for p in (tmp_path / "unsaved").iterdir() if p.is_file()] == []  # every entry's files are gone
