"""The statistics tab on a real temporary database: the plotted numbers equal the hand-worked fixture."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import sqlite3
import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.result import FAIL, PASS, InspectionResult
from db.engine import DB_FILENAME
from db.repository import Database
from desktop.views.history.filters import local_day_start
from desktop.views.stats.statistics_view import BUCKET_DAY, BUCKET_HOUR, PAGE_EMPTY, PAGE_PLOTS, StatisticsView
from line.problems import Severity

DAY1 = date(2024, 3, 4)
DAY2 = date(2024, 3, 5)
THRESHOLD = 0.6

# (day, local hour, verdict, score) of product "gear".
GEAR = [
    (DAY1, 8, PASS, 0.20),
    (DAY1, 8, PASS, 0.25),
    (DAY1, 8, PASS, 0.30),
    (DAY1, 8, FAIL, 0.90),  # 75 %
    (DAY1, 9, PASS, 0.35),
    (DAY1, 9, PASS, 0.40),  # 100 %
    (DAY1, 11, FAIL, 0.95),
    (DAY1, 11, FAIL, 1.10),  # 0 %
    (DAY2, 10, PASS, 0.22),
    (DAY2, 10, PASS, 0.28),
    (DAY2, 10, PASS, 0.33),
    (DAY2, 10, PASS, 0.45),
    (DAY2, 10, FAIL, 0.80),  # 80 %
]  # day 1: 8 parts, 5 passed (62.5 %); day 2: 5 parts, 4 passed (80 %)
OTHER = [(DAY1, 8, FAIL, 2.0)]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute)).astimezone()


def result(verdict: str, score: float) -> InspectionResult:
    return InspectionResult(
        verdict=verdict,
        probability=0.9 if verdict == FAIL else 0.1,
        score=score,
        threshold=THRESHOLD,
        anomaly_map=np.zeros((24, 32), np.float32),
        regions=[],
        timings_ms={"total": 5.0},
        encoder_id="efficientnet-lite0",
        calibration_id="cal-1",
    )


@dataclass(frozen=True)
class Ids:
    gear: int
    other: int
    empty: int


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, Ids]:
    folder = tmp_path_factory.mktemp("stats") / "data"
    db = Database.open(folder)
    try:
        gear = db.products.create("gear").id
        db.products.save_calibration(gear, {"threshold": THRESHOLD})
        other = db.products.create("other").id
        empty = db.products.create("empty-line").id
        frame = np.zeros((24, 32, 3), np.uint8)
        for product, plan in ((gear, GEAR), (other, OTHER)):
            for i, (day, hour, verdict, score) in enumerate(plan):
                frame[0, 0, 0] += 1  # distinct frames
                db.inspections.record(
                    product_id=product, result=result(verdict, score), image=frame, time=local(day, hour, 5 + i)
                )
    finally:
        db.close()
    return folder, Ids(gear, other, empty)


@pytest.fixture
def db(template, tmp_path: Path) -> Iterator[Database]:
    shutil.copytree(template[0], tmp_path / "data")
    database = Database.open(tmp_path / "data", busy_timeout_ms=150)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def ids(template) -> Ids:
    return template[1]


@pytest.fixture
def view(qtbot, db: Database) -> Iterator[StatisticsView]:
    v = StatisticsView(db)
    qtbot.addWidget(v)
    v.resize(1000, 700)
    v.show()
    qtbot.waitUntil(lambda: v.product_combo.count() == 4 and not v.is_busy(), timeout=5000)
    yield v
    v.shutdown()


def show(qtbot, view: StatisticsView, first: date, last: date, **kwargs) -> None:
    with qtbot.waitSignal(view.statsUpdated, timeout=5000):
        view.set_range(first, last, **kwargs)


def centre(start: datetime, end: datetime) -> float:
    return (start.timestamp() + end.timestamp()) / 2


def test_yield_per_day_plots_the_fixture(qtbot, view: StatisticsView, ids: Ids) -> None:
    show(qtbot, view, DAY1, DAY2, product_id=ids.gear, bucket=BUCKET_DAY)
    x, heights = view.yield_plot.plotted_yield()
    day1, day2, day3 = local_day_start(DAY1), local_day_start(DAY2), local_day_start(DAY2 + timedelta(days=1))
    np.testing.assert_allclose(x, [centre(day1, day2), centre(day2, day3)])
    np.testing.assert_allclose(heights, [62.5, 80.0])
    cx, counts = view.yield_plot.plotted_counts()
    np.testing.assert_allclose(cx, x)
    np.testing.assert_array_equal(counts, [8, 5])
    assert view.stack.currentIndex() == PAGE_PLOTS
    assert "13 parts" in view.summary_label.text() and "9 passed, 4 failed" in view.summary_label.text()


def test_yield_per_hour_plots_the_fixture(qtbot, view: StatisticsView, ids: Ids) -> None:
    show(qtbot, view, DAY1, DAY1, product_id=ids.gear, bucket=BUCKET_HOUR)
    x, heights = view.yield_plot.plotted_yield()
    hours = [local(DAY1, h) for h in (8, 9, 11)]
    np.testing.assert_allclose(x, [h.timestamp() + 1800 for h in hours])
    np.testing.assert_allclose(heights, [75.0, 100.0, 0.0])
    # The failed share is stacked on top: an hour where everything failed still has a (red) bar.
    np.testing.assert_allclose(view.yield_plot.fail_bars.opts["height"], [25.0, 0.0, 100.0])
    _, counts = view.yield_plot.plotted_counts()
    expected = np.zeros(24)
    expected[[8, 9, 11]] = [4, 2, 2]
    np.testing.assert_array_equal(counts, expected)


def test_score_histogram_counts_and_threshold_line(qtbot, view: StatisticsView, ids: Ids) -> None:
    show(qtbot, view, DAY1, DAY2, product_id=ids.gear)
    edges, pass_counts, fail_counts = view.histogram.plotted_histogram()
    pass_scores = [s for _, _, v, s in GEAR if v == PASS]
    fail_scores = [s for _, _, v, s in GEAR if v == FAIL]
    assert edges[0] == pytest.approx(min(pass_scores)) and edges[-1] == pytest.approx(max(fail_scores))
    np.testing.assert_array_equal(pass_counts, np.histogram(pass_scores, bins=edges)[0])
    np.testing.assert_array_equal(fail_counts, np.histogram(fail_scores, bins=edges)[0])
    assert pass_counts.sum() == 9 and fail_counts.sum() == 4
    np.testing.assert_allclose(view.histogram.fail_bars.opts["y0"], pass_counts)  # stacked on the PASS bars
    assert view.histogram.plotted_threshold() == pytest.approx(THRESHOLD)
    assert view.histogram.threshold_label() == "threshold 0.600"


def test_operator_threshold_override_moves_the_line(qtbot, view: StatisticsView, db: Database, ids: Ids) -> None:
    db.products.set_threshold_override(ids.gear, 0.85, by="supervisor")
    show(qtbot, view, DAY1, DAY2, product_id=ids.gear)
    assert view.histogram.plotted_threshold() == pytest.approx(0.85)
    assert view.histogram.threshold_label() == "threshold 0.850 (an override)"


def test_empty_product_says_so_instead_of_an_empty_plot(qtbot, view: StatisticsView, ids: Ids) -> None:
    show(qtbot, view, DAY1, DAY2, product_id=ids.empty)
    assert view.stack.currentIndex() == PAGE_EMPTY
    assert view.empty_text() == "No inspections yet for empty-line between 2024-03-04 and 2024-03-05."
    show(qtbot, view, DAY2 + timedelta(days=1), DAY2 + timedelta(days=1), product_id=ids.gear)
    assert view.empty_text() == "No inspections yet for gear on 2024-03-06."
    show(qtbot, view, DAY1, DAY2, product_id=ids.gear)
    assert view.empty_text() == "" and view.stack.currentIndex() == PAGE_PLOTS


def test_all_products_sums_them_and_hides_the_threshold(qtbot, view: StatisticsView) -> None:
    show(qtbot, view, DAY1, DAY2, product_id=None, bucket=BUCKET_DAY)
    _, heights = view.yield_plot.plotted_yield()
    np.testing.assert_allclose(heights, [100.0 * 5 / 9, 80.0])
    _, pass_counts, fail_counts = view.histogram.plotted_histogram()
    assert (pass_counts.sum(), fail_counts.sum()) == (9, 5)
    assert view.histogram.plotted_threshold() is None
    assert "choose a product" in view.summary_label.text()


def test_bare_stats_queries_work_without_a_product_list(qtbot, db: Database) -> None:
    v = StatisticsView(db.stats)
    qtbot.addWidget(v)
    qtbot.waitUntil(lambda: not v.is_busy(), timeout=5000)
    try:
        assert v.product_combo.count() == 1
        show(qtbot, v, DAY1, DAY2, bucket=BUCKET_DAY)
        _, counts = v.yield_plot.plotted_counts()
        np.testing.assert_array_equal(counts, [9, 5])
    finally:
        v.shutdown()


@contextmanager
def locked_database(db: Database) -> Iterator[None]:
    other = sqlite3.connect(Path(db.store.root).parent / DB_FILENAME, isolation_level=None, timeout=0.1)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    deadline = _time.monotonic() + 5
    while True:
        db.engine.dispose()
        try:
            other.execute("BEGIN EXCLUSIVE")
            break
        except sqlite3.OperationalError:
            if _time.monotonic() > deadline:
                raise
            _time.sleep(0.05)
    other.execute("UPDATE products SET name = name")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_locked_database_shows_a_message_and_retry_recovers(
    qtbot, view: StatisticsView, db: Database, ids: Ids
) -> None:
    show(qtbot, view, DAY1, DAY2, product_id=ids.gear, bucket=BUCKET_DAY)
    with locked_database(db):
        view.set_range(DAY1, DAY1)
        qtbot.waitUntil(lambda: view.banner.level is Severity.ERROR and not view.is_busy(), timeout=5000)
        assert view.banner.text().startswith("The statistics could not be read.")
        assert "locked" in view.banner.text() and view.banner.retry_button.isVisible()
        assert view.stack.currentIndex() == PAGE_PLOTS  # the last good plots stay
    with qtbot.waitSignal(view.statsUpdated, timeout=5000):
        qtbot.mouseClick(view.banner.retry_button, Qt.MouseButton.LeftButton)
    assert view.banner.level is None
    _, counts = view.yield_plot.plotted_counts()
    np.testing.assert_array_equal(counts, [8])


def test_a_locked_database_at_start_shows_the_message_not_a_plot(qtbot, db: Database) -> None:
    with locked_database(db):
        v = StatisticsView(db)
        qtbot.addWidget(v)
        qtbot.waitUntil(lambda: v.banner.level is Severity.ERROR and not v.is_busy(), timeout=5000)
        try:
            assert "locked" in v.banner.text()
            assert v.empty_text() == "The statistics could not be read; see the message above."
        finally:
            v.shutdown()


class CountingStats:
    """The real statistics queries, counted, each read ``sleep_s`` slower."""

    def __init__(self, stats, sleep_s: float = 0.0) -> None:
        self._stats, self.sleep_s, self.reads = stats, sleep_s, 0

    def yield_per_day(self, **kw):
        self.reads += 1
        _time.sleep(self.sleep_s)
        return self._stats.yield_per_day(**kw)

    def yield_per_hour(self, **kw):
        self.reads += 1
        return self._stats.yield_per_hour(**kw)

    def score_distribution(self, **kw):
        return self._stats.score_distribution(**kw)


def test_a_hidden_tab_reads_new_parts_only_when_it_is_shown(qtbot, db: Database) -> None:
    """Operators keep the Live tab in front: the statistics of the whole range were re-read every 2 s anyway, and
    the read's cost grows with the shift (the soak's p99 latency grew with the rows)."""
    counting = CountingStats(db.stats)
    v = StatisticsView(counting, refresh_delay_ms=10)
    qtbot.addWidget(v)
    qtbot.waitUntil(lambda: not v.is_busy() and counting.reads == 1, timeout=5000)
    try:
        for i in range(20):
            v.on_inspection_recorded(i)  # hidden: noted only
        qtbot.wait(100)
        assert counting.reads == 1
        with qtbot.waitSignal(v.statsUpdated, timeout=5000):
            v.show()  # shown: one read brings it up to date
        assert counting.reads == 2
        with qtbot.waitSignal(v.statsUpdated, timeout=5000):
            for i in range(20):
                v.on_inspection_recorded(i)  # shown: a burst is one read
        qtbot.wait(100)
        assert counting.reads == 3
    finally:
        v.shutdown()


def test_pushed_reads_are_spaced_by_the_last_reads_cost(qtbot, db: Database) -> None:
    counting = CountingStats(db.stats, sleep_s=0.08)
    v = StatisticsView(counting, refresh_delay_ms=10)
    qtbot.addWidget(v)
    v.show()
    qtbot.waitUntil(lambda: not v.is_busy() and counting.reads == 1 and v.last_read_s > 0, timeout=5000)
    try:
        assert v.last_read_s >= 0.08
        v.on_inspection_recorded(1)
        assert v._push_timer.interval() >= 10 * 0.08 * 1000 - 1  # not the 10 ms asked: ten times the read
    finally:
        v.shutdown()
