"""The history table model: rows read page by page in the background, pushes at the top, 100 000 rows."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time
from datetime import UTC, datetime

import numpy as np
import pytest
from PySide6.QtCore import Qt
from sqlalchemy import text

from core.result import FAIL, PASS, InspectionResult
from db.records import HistoryFilter, InspectionRecord
from db.repository import Database
from desktop.views.history.history_table_model import COL_TIME, COL_VERDICT, HistoryTableModel
from desktop.views.history.history_view import HistoryView
from desktop.views.history.page_loader import HistoryPageLoader

BULK_START = "2024-01-01"  # bulk rows are one second apart from here (UTC)


def result(verdict: str = PASS) -> InspectionResult:
    return InspectionResult(
        verdict=verdict,
        probability=0.9 if verdict == FAIL else 0.1,
        score=1.5 if verdict == FAIL else 0.3,
        threshold=1.0,
        anomaly_map=np.zeros((24, 32), np.float32),
        regions=[],
        timings_ms={"total": 5.0},
        encoder_id="efficientnet-lite0",
        calibration_id="cal-1",
    )


def bulk_insert(db: Database, product_id: int, count: int) -> InspectionRecord:
    """``count`` inspections (every 10th a FAIL) sharing one stored frame, written in one SQL statement.

    Recording 100 000 parts one by one through the repository would take minutes; the rows are what matters.
    Returns the record whose frame they share (it is the newest inspection).
    """
    seed = db.inspections.record(product_id=product_id, result=result(), image=np.zeros((24, 32, 3), np.uint8))
    with db.engine.begin() as conn:
        conn.execute(
            text(
                """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
                INSERT INTO inspections (time, product_id, station, operator, source, verdict, probability, score,
                    threshold, threshold_overridden, calibration_id, encoder_id, model_ids, width, height, image_path,
                    image_sha256, regions, timings, review_status)
                SELECT datetime(:start, '+' || i || ' seconds') || '.000000', :pid, 'line-1', '', 'camera',
                    CASE WHEN i % 10 = 0 THEN 'FAIL' ELSE 'PASS' END, 0.1, 0.3, 1.0, 0, 'cal-1', 'efficientnet-lite0',
                    '{}', 32, 24, :path, :sha, '[]', '{}', 'none'
                FROM n
                """
            ),
            dict(count=count, start=BULK_START, pid=product_id, path=seed.image_path, sha=seed.image_sha256),
        )
    return seed


@pytest.fixture
def db(database: Database) -> Database:
    return database


@pytest.fixture
def small(db: Database) -> tuple[Database, int]:
    product = db.products.create("widget-a").id
    bulk_insert(db, product, 49)  # 50 rows with the seed
    return db, product


def make_model(qtbot, db: Database, page_size: int) -> HistoryTableModel:
    loader = HistoryPageLoader(db.history.query)
    model = HistoryTableModel(loader, None, page_size=page_size)
    model._test_loader = loader  # keep the loader alive as long as the model  # type: ignore[attr-defined]
    return model


def all_ids(db: Database, **kwargs) -> list[int]:
    return [r.id for r in db.history.query(HistoryFilter(limit=None, **kwargs)).records]


def touch_all(model: HistoryTableModel) -> None:
    for row in range(model.rowCount()):
        model.index(row, COL_TIME).data()


def test_rows_are_read_page_by_page_and_match_the_database(qtbot, small) -> None:
    db, _ = small
    model = make_model(qtbot, db, page_size=8)
    with qtbot.waitSignal(model.loadFinished, timeout=5000) as done:
        model.set_filter(HistoryFilter())
    assert done.args == [50] and model.rowCount() == 50
    assert len(model.loaded_records()) == 8  # only the first page was read

    assert model.index(45, COL_TIME).data() == "Loading..."
    qtbot.waitUntil(lambda: model.record_at(45) is not None, timeout=5000)
    assert len(model.loaded_records()) == 16  # the page holding row 45, nothing else
    assert model.index(45, COL_VERDICT).data() in (PASS, FAIL)

    touch_all(model)
    qtbot.waitUntil(lambda: len(model.loaded_records()) == 50, timeout=5000)
    assert [r.id for r in model.loaded_records()] == all_ids(db)


def test_pushed_inspection_lands_on_top_even_while_pages_are_in_flight(qtbot, small) -> None:
    db, product = small
    model = make_model(qtbot, db, page_size=8)
    with qtbot.waitSignal(model.loadFinished, timeout=5000):
        model.set_filter(HistoryFilter(product_id=product))
    model.index(30, COL_TIME).data()  # a page request leaves ...
    new = db.inspections.record(product_id=product, result=result(FAIL), image=np.ones((24, 32, 3), np.uint8))
    assert model.insert_record(new)  # ... and the station pushes a new part before it is answered
    assert model.rowCount() == 51 and model.record_at(0).id == new.id
    touch_all(model)
    qtbot.waitUntil(lambda: len(model.loaded_records()) == 51, timeout=5000)
    assert [r.id for r in model.loaded_records()] == all_ids(db, product_id=product)


def test_pushed_inspection_outside_the_filter_changes_nothing(qtbot, small) -> None:
    db, product = small
    model = make_model(qtbot, db, page_size=8)
    with qtbot.waitSignal(model.loadFinished, timeout=5000):
        model.set_filter(HistoryFilter(product_id=product, verdict=FAIL))
    assert model.rowCount() == 4  # rows 10, 20, 30, 40 of the bulk are FAILs
    new = db.inspections.record(product_id=product, result=result(PASS), image=np.ones((24, 32, 3), np.uint8))
    assert model.insert_record(new)
    assert model.rowCount() == 4 and model.row_of(new.id) is None


def test_review_updates_the_row_in_place(qtbot, small) -> None:
    db, _ = small
    model = make_model(qtbot, db, page_size=8)
    with qtbot.waitSignal(model.loadFinished, timeout=5000):
        model.set_filter(HistoryFilter(verdict=FAIL))
    target = model.record_at(1)
    with qtbot.waitSignal(model.dataChanged, timeout=1000):
        model.update_record(db.inspections.confirm_defect(target.id, by="qa"))
    assert model.record_at(1).review_status == "confirmed_defect"
    assert model.index(1, model.columnCount() - 1).data() == "Confirmed defect"


def test_one_hundred_thousand_rows_stay_responsive(qtbot, db: Database) -> None:
    product = db.products.create("bulk").id
    seed = bulk_insert(db, product, 100_000)
    view = HistoryView(db, db.store, page_size=100)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    started = time.perf_counter()
    view.show()
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=10000)
    first_page_s = time.perf_counter() - started
    try:
        assert view.model.rowCount() == 100_001
        assert first_page_s < 3.0, f"first page took {first_page_s:.2f} s"
        assert len(view.model.loaded_records()) <= 200  # what is on screen, not the table
        assert view.model.record_at(0).id == seed.id

        # Jump to the end: only the last page is read, and it holds the oldest inspection.
        view.table.scrollToBottom()
        qtbot.waitUntil(lambda: view.model.record_at(100_000) is not None, timeout=10000)
        oldest = view.model.record_at(100_000)
        assert oldest.time == datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)
        assert len(view.model.loaded_records()) <= 400

        # Filtering the 100 000 rows: exact count, first page only.
        view.filter_bar.set_filters(product_id=None, verdict=FAIL)
        qtbot.waitUntil(lambda: not view.model.is_loading, timeout=10000)
        assert view.model.rowCount() == 10_000
        assert all(r.verdict == FAIL for r in view.model.loaded_records())
        assert view.model.index(0, COL_VERDICT).data(Qt.ItemDataRole.DisplayRole) == FAIL
    finally:
        view.shutdown()
