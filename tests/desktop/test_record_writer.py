"""The database writer on a real SQLite database: rows keep the inspection's own time (also when replayed from
the spool), and writes refused by a lock are retried by themselves once the lock goes."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.result import InspectionResult
from db.engine import DB_FILENAME
from db.records import HistoryFilter
from desktop.workers.inference_worker import InspectionOutcome
from desktop.workers.record_writer import RecordService
from line.capture.mailbox import Frame
from line.unsaved_spool import UnsavedSpool
from tests.desktop.qt_catch import Catch

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


def test_a_replayed_spool_row_keeps_its_inspection_time(qtbot, database, tmp_path: Path):
    product = database.products.create("widget").id
    spool = UnsavedSpool(tmp_path / "unsaved")
    assert spool.put([_outcome(product, 1, INSPECTED_AT)]).written == 1
    service = RecordService(database.inspections, spool=UnsavedSpool(tmp_path / "unsaved"))
    service.start()
    with qtbot.waitSignal(service.recorded, timeout=10000) as saved:
        assert service.resume_spooled() == 1
    assert service.stop()
    record = database.inspections.get(saved.args[1].id)
    assert record.time == INSPECTED_AT  # the inspection's minute, not the replay's


def test_a_late_write_keeps_the_inspection_time(qtbot, database):
    product = database.products.create("widget").id
    service = RecordService(database.inspections)
    service.start()
    with qtbot.waitSignal(service.recorded, timeout=10000) as saved:
        service.submit(_outcome(product, 2, INSPECTED_AT))
    assert service.stop()
    assert database.inspections.get(saved.args[1].id).time == INSPECTED_AT


def test_writes_refused_by_a_lock_are_retried_by_themselves_once_it_clears(qtbot, database, tmp_path: Path):
    product = database.products.create("widget").id
    service = RecordService(database.inspections, retry_delays_s=(0.2, 0.4))
    recorded, failed = Catch(service.recorded), Catch(service.failed)
    service.start()
    try:
        database.engine.dispose()
        blocker = sqlite3.connect(tmp_path / "data" / DB_FILENAME, timeout=0.1)
        blocker.execute("BEGIN EXCLUSIVE")  # another program holds the database
        try:
            service.submit(_outcome(product, 1))
            service.submit(_outcome(product, 2))
            failed.wait(qtbot, 2)
            assert "busy" in failed.calls[0][1] and len(service.unsaved) == 2
            failed.wait(qtbot, 4)  # automatic retries keep failing while the lock is held ...
            assert len(service.unsaved) == 2 and not recorded.calls  # ... and nothing is lost
        finally:
            blocker.rollback()
            blocker.close()
        recorded.wait(qtbot, 2, timeout=10000)  # no retry() call: the writer notices by itself
        assert not service.unsaved and _count(database) == 2
    finally:
        assert service.stop()
