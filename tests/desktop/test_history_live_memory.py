"""Issue 15: memory grew by 13-17 kB per frame in Auto, roughly linearly; tracemalloc over 1 100 frames of Auto
(the window with the fake inspector) put almost all of the Python growth on the History view's records of the
live rows, about 4.5 kB each, held up to the model's bound. The bound is now 1 000 rows: this test pushes three
times the default bound as a shift in Auto does and checks that the memory the model holds stops growing at the
bound, with records as the database returns them (three regions each)."""

from __future__ import annotations

import gc
import json
import tracemalloc

import numpy as np
import pytest
from sqlalchemy import text

from core.result import PASS, InspectionResult
from db.records import HistoryFilter
from db.repository import Database
from desktop.views.history.history_table_model import CACHE_ROWS, HistoryTableModel
from desktop.views.history.page_loader import HistoryPageLoader

REGIONS = [
    {"bbox": [i, i, i + 9, i + 7], "area_pct": 1.25 + i, "location": "top left", "peak": 2.5, "centroid": [4.5, 3.5]}
    for i in range(3)
]


@pytest.fixture
def db(database: Database) -> Database:
    return database


def _bulk(db: Database, product_id: int, count: int) -> None:
    result = InspectionResult(PASS, 0.1, 0.3, 1.0, np.zeros((24, 32), np.float32), [], {"total": 5.0}, "enc", "cal")
    seed = db.inspections.record(product_id=product_id, result=result, image=np.zeros((24, 32, 3), np.uint8))
    with db.engine.begin() as conn:
        conn.execute(
            text(
                """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
                INSERT INTO inspections (time, product_id, station, operator, source, verdict, probability, score,
                    threshold, threshold_overridden, calibration_id, encoder_id, model_ids, width, height, image_path,
                    image_sha256, heatmap_path, heatmap_sha256, regions, timings, review_status, part_id)
                SELECT datetime('2030-01-01', '+' || i || ' seconds') || '.000000', :pid, 'line-1', 'anna', 'camera',
                    'PASS', 0.1, 0.3, 1.0, 0, 'cal-1', 'efficientnet-lite0', '{"encoder": "e", "calibration": "c"}',
                    320, 320, :path, :sha, :path, :sha, :regions, '{"total": 41.5, "features": 30.25}', 'none',
                    'P-' || i
                FROM n
                """
            ),
            dict(count=count, pid=product_id, path=seed.image_path, sha=seed.image_sha256, regions=json.dumps(REGIONS)),
        )


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_live_rows_stop_costing_memory_at_the_default_bound(qtbot, db: Database) -> None:
    product = db.products.create("widget").id
    model = HistoryTableModel(HistoryPageLoader(db.history.query), None, page_size=100)
    with qtbot.waitSignal(model.loadFinished, timeout=5000):
        model.set_filter(HistoryFilter(product_id=product))  # no rows yet: every push below lands on top
    _bulk(db, product, 3 * CACHE_ROWS)  # the station records them one after the other, pushing each

    def push(offset: int, count: int) -> None:
        for first in range(offset, offset + count, 100):
            page = db.history.query(
                HistoryFilter(product_id=product, newest_first=False, offset=first + 1, limit=100)
            )  # fresh records as the History reads them (+1: the seed row comes first)
            for record in page.records:
                assert model.insert_record(record)

    tracemalloc.start()
    try:
        start = _traced()
        push(0, CACHE_ROWS)
        at_bound = _traced()
        push(CACHE_ROWS, 2 * CACHE_ROWS)
        after = _traced()
    finally:
        tracemalloc.stop()

    per_row = (at_bound - start) / CACHE_ROWS
    assert model.held_rows <= CACHE_ROWS
    assert after - at_bound < 0.05 * (at_bound - start), (
        f"{(after - at_bound) / 2 / CACHE_ROWS:.0f} B per row past the bound"
    )
    assert per_row * CACHE_ROWS < 16 * 2**20, f"{per_row:.0f} B per held row"
