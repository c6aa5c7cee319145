"""Nothing the station inspected is lost: a part in flight while the window closes is recorded, and a database
that keeps refusing writes holds the part (the station controller takes one part at a time, ADR 0006), refuses
new inspections while it waits and tells the operator; Auto goes on by itself once the part is saved."""

from __future__ import annotations

from db.errors import DatabaseLockedError
from db.records import HistoryFilter
from desktop.controllers.demo_setup import ensure_demo_product
from line.events import ErrorCode, StationState
from line.problems import Severity
from tests.desktop.qt_catch import Catch
from tests.station_fakes import FakeInspector


def _locked(outcome):
    """A database another program keeps locked."""
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


def test_a_part_in_flight_while_the_window_closes_in_auto_is_recorded(qtbot, make_rig, database):
    inspector = FakeInspector(inspect_delay_s=0.6)
    rig = _ready_rig(qtbot, make_rig, database, inspector=inspector)
    rig.station.set_auto(True)
    qtbot.waitUntil(inspector.started.is_set, timeout=5000)
    rig.window.close()  # clean close while the inference thread is in the middle of an inspection
    assert rig.station._stopped and not rig.inference.is_running and not rig.recorder.is_running
    produced = len(inspector.inspected)
    assert produced >= 1
    assert _count(database) == produced  # every part the model inspected has its row
    assert rig.recorder.waiting == 0 and rig.recorder.kept == 0


def test_a_database_that_keeps_refusing_holds_the_part_refuses_new_ones_and_says_so(qtbot, make_rig, database):
    rig = _ready_rig(qtbot, make_rig, database)
    real_write, rig.write = rig.write, _locked
    shown = Catch(rig.station.outcome_shown)
    failed = Catch(rig.station.record_failed)
    rig.station.set_auto(True)
    failed.wait(qtbot, 1, timeout=10000)
    qtbot.wait(1200)  # Auto stays on, and waits: no new part is taken while this one is not saved
    assert len(shown.calls) == 1 and rig.recorder.waiting == 1
    assert rig.station.auto and rig.station.line.state is StationState.ERROR
    assert rig.station.line.has_fault(ErrorCode.DATABASE)
    banner = rig.window.problems
    text = banner.text()
    assert banner.isVisible() and banner.level is Severity.ERROR and "busy" in text
    assert "1 inspection waiting to be saved" in text and "new inspections wait until it is saved" in text
    assert "Retry saving" in text and banner.retry_button.text() == "Retry saving"
    assert "NOT SAVED (1 waiting)" in rig.window.status.database.text()
    assert rig.window.verdict.verdict_text() in ("PASS", "FAIL")  # the result stays on screen

    rig.station.inspect_now()  # refused, and it says so
    assert "New inspections are refused until it is saved" in rig.window.problems.text()
    assert len(shown.calls) == 1 and _count(database) == 0

    rig.write = real_write  # the lock is gone
    recorded = Catch(rig.station.inspection_recorded)
    rig.window.problems.retry_button.click()
    recorded.wait(qtbot, 3, timeout=10000)  # the kept part, then Auto goes on by itself
    rig.station.set_auto(False)
    qtbot.waitUntil(lambda: rig.station.line.in_flight is None and rig.recorder.waiting == 0, timeout=5000)
    qtbot.wait(200)
    assert _count(database) == len(shown.calls)  # every part shown has its row: nothing dropped
    assert not rig.station.line.has_fault(ErrorCode.DATABASE) and not rig.window.problems.isVisible()
    with qtbot.waitSignal(rig.station.outcome_shown, timeout=5000):  # inspecting by hand works again
        rig.station.inspect_now()
