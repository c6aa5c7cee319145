"""Nothing the inference worker produced is lost: a result arriving while the window closes is recorded, and a
database that keeps refusing writes fills a bounded queue that stops Auto mode and tells the operator."""

from __future__ import annotations

import threading

from db.errors import DatabaseLockedError
from db.records import HistoryFilter
from desktop.controllers.demo_setup import ensure_demo_product
from tests.desktop.qt_catch import Catch
from tests.station_fakes import FakeInspector


class SlowInspector(FakeInspector):
    """Says when an inspection starts, then takes its time: the window can close in the middle of it."""

    def __init__(self, inspect_delay_s: float) -> None:
        super().__init__(inspect_delay_s=inspect_delay_s)
        self.started = threading.Event()

    def inspect(self, frame, product, pool=None):
        self.started.set()
        return super().inspect(frame, product)


class LockedInspections:
    """A database another program keeps locked."""

    def record(self, **kw):
        raise DatabaseLockedError("Could not record the inspection: the database is busy (locked by another program).")


def _count(database) -> int:
    return database.history.query(HistoryFilter(limit=None)).total


def _ready_rig(qtbot, make_rig, database, **kw):
    product = ensure_demo_product(database)
    rig = make_rig(**kw)
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("demo", product.id)
    qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=5000)
    return rig


def test_a_result_arriving_while_the_window_closes_in_auto_is_recorded(qtbot, make_rig, database):
    inspector = SlowInspector(inspect_delay_s=0.6)
    rig = _ready_rig(qtbot, make_rig, database, inspector=inspector)
    rig.station.set_auto(True)
    qtbot.waitUntil(inspector.started.is_set, timeout=5000)
    rig.window.close()  # clean close while the worker is in the middle of an inspection
    assert rig.station._stopped and not rig.inference.thread.isRunning()
    produced = len(inspector.inspected)
    assert produced >= 1
    assert _count(database) == produced  # every result the worker produced has its row
    assert not rig.recorder.unsaved


def test_the_unsaved_bound_stops_auto_and_tells_the_operator(qtbot, make_rig, database):
    rig = _ready_rig(qtbot, make_rig, database)
    rig.recorder.max_unsaved = 3
    rig.recorder.worker._inspections = LockedInspections()
    shown = Catch(rig.station.outcome_shown)
    full = Catch(rig.recorder.queue_full)
    rig.station.set_auto(True)
    full.wait(qtbot, 1, timeout=10000)
    assert not rig.station.auto and not rig.window.controls.auto_button.isChecked()
    qtbot.wait(300)  # a result already on its way still arrives ...
    waiting = len(rig.recorder.unsaved)
    assert waiting >= 3 and waiting == len(shown.calls)  # ... and is kept: nothing dropped
    text = rig.window.banner.text()
    assert rig.window.banner.isVisible() and rig.window.banner.level == "error"
    assert f"{waiting} inspections are waiting to be saved" in text and "busy" in text
    assert "Auto mode is stopped" in text and "new inspections are refused" in text and "Retry saving" in text
    assert rig.window.banner.retry_button.text() == "Retry saving"
    assert "Auto stopped" in rig.window.status.database.text()

    rig.station.inspect_now()  # refused, and it says so
    rig.station.set_auto(True)
    qtbot.wait(300)
    assert len(shown.calls) == waiting and not rig.station.auto
    assert "new inspections are refused" in rig.window.banner.text()

    rig.recorder.worker._inspections = database.inspections  # the lock is gone
    rig.window.banner.retry_button.click()
    qtbot.waitUntil(lambda: not rig.recorder.unsaved, timeout=10000)
    assert _count(database) == waiting
    qtbot.waitUntil(lambda: not rig.window.banner.isVisible(), timeout=5000)
    with qtbot.waitSignal(rig.station.outcome_shown, timeout=5000):  # inspecting works again
        rig.station.inspect_now()
