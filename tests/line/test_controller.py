"""The station controller without Qt: one part from trigger to durable record, the handshake's rules, recipes,
faults (camera gone, database locked), auto mode, and nothing lost when it stops."""

from __future__ import annotations

import threading

from db.errors import DatabaseLockedError
from db.records import HistoryFilter
from line.events import (
    CountersChanged,
    ErrorCode,
    FaultRaised,
    PartRecorded,
    ResultCleared,
    StateChanged,
    StationState,
    TriggerRefused,
)
from line.recorder import database_writer
from tests.station_fakes import FakeInspector, ScriptedSource, wait_until


def _rows(database) -> int:
    return database.history.query(HistoryFilter(limit=None)).total


def test_one_part_from_trigger_to_recorded_result_and_acknowledgement(make_line, database):
    rig = make_line().start()
    seen_rows: list[int] = []
    rig.bus.subscribe(lambda e: seen_rows.append(_rows(database)), PartRecorded)
    assert rig.controller.trigger("P-0001") is None
    wait_until(lambda: rig.status.state is StationState.RESULT_READY, 5, "ResultReady")
    assert seen_rows == [1]  # the row existed when the result was announced
    snap = rig.status.snapshot()
    assert snap.result.part_id == "P-0001" and snap.result_ready and snap.error_code is ErrorCode.NONE
    record = database.inspections.get(snap.result.inspection_id)
    assert record.part_id == "P-0001" and record.station == "test-line"
    [message] = database.outbox.pending()
    assert message.payload["part_id"] == "P-0001" and message.payload["verdict"] in ("PASS", "FAIL")
    states = [e.state for e in rig.of_type(StateChanged)]
    assert states[-2:] == [StationState.BUSY, StationState.RESULT_READY]

    assert rig.controller.acknowledge()
    assert rig.status.state is StationState.READY
    assert rig.status.snapshot().result.part_id == "P-0001"  # readable until the next trigger
    assert rig.controller.trigger("P-0002") is None
    assert rig.of_type(ResultCleared)
    wait_until(lambda: rig.status.state is StationState.RESULT_READY, 5, "the second result")
    assert rig.status.snapshot().result.part_id == "P-0002"
    assert rig.status.snapshot().counts.total == 2


def test_trigger_while_busy_is_refused_with_a_code(make_line):
    rig = make_line(inspector=FakeInspector(inspect_delay_s=0.5)).start()
    assert rig.controller.trigger("A") is None
    fault = rig.controller.trigger("B")
    assert fault is not None and fault.code is ErrorCode.BUSY
    assert rig.status.snapshot().error_code is ErrorCode.BUSY
    assert rig.of_type(TriggerRefused)[-1].part_id == "B"
    wait_until(lambda: rig.status.state is StationState.RESULT_READY, 5, "the first result")
    assert rig.status.snapshot().result.part_id == "A"


def test_trigger_before_the_acknowledgement_is_refused(make_line):
    rig = make_line().start()
    rig.controller.trigger("A")
    wait_until(lambda: rig.status.result_ready, 5, "the result")
    fault = rig.controller.trigger("B")
    assert fault.code is ErrorCode.RESULT_NOT_ACKNOWLEDGED
    rig.controller.acknowledge()
    assert rig.controller.trigger("B") is None
    assert rig.status.snapshot().error_code is ErrorCode.NONE  # an accepted trigger clears the last refusal


def test_a_result_not_acknowledged_in_time_raises_an_error_the_ack_clears(make_line):
    rig = make_line(ack_timeout_s=0.3).start()
    rig.controller.trigger("A")
    wait_until(lambda: rig.status.state is StationState.ERROR, 5, "the ack timeout")
    snap = rig.status.snapshot()
    assert snap.error_code is ErrorCode.ACK_TIMEOUT and "not acknowledged" in snap.error_text
    assert snap.result_ready  # the result stays readable
    assert rig.controller.acknowledge()
    assert rig.status.state is StationState.READY and rig.status.snapshot().error_code is ErrorCode.NONE


def test_unknown_recipe_is_refused_and_a_known_one_switches(make_line, database):
    other = database.products.create("bracket")
    from tests.station_fakes import good_part

    database.references.add(other.id, [good_part(3)])
    rig = make_line().start()
    fault = rig.controller.select_recipe(999)
    assert fault.code is ErrorCode.UNKNOWN_RECIPE and "999" in fault.text and "bracket" in fault.text
    assert rig.status.state is StationState.READY  # still on its old recipe
    assert rig.controller.select_recipe(other.id) is None
    wait_until(lambda: rig.status.state is StationState.READY and rig.status.product_id == other.id, 5, "the switch")
    rig.controller.trigger("B1")
    wait_until(lambda: rig.status.result_ready, 5, "the result")
    assert database.inspections.get(rig.status.result.inspection_id).product_name == "bracket"


def test_trigger_before_any_product_is_ready_is_refused(make_line):
    rig = make_line(inspector=FakeInspector(build_delay_s=1.0))
    rig.start(ready=False)
    fault = rig.controller.trigger("early")
    assert fault is not None and fault.code is ErrorCode.NOT_READY
    wait_until(lambda: rig.status.state is StationState.READY, 10, "the product")
    assert rig.controller.trigger("later") is None


def test_a_product_without_references_gives_its_own_code(make_line, database):
    database.products.create("empty")
    rig = make_line(product="empty")
    rig.start(ready=False)
    wait_until(lambda: rig.status.product_errors, 5, "the build failure")
    fault = rig.controller.trigger("x")
    assert fault.code is ErrorCode.RECIPE_NOT_READY and "reference" in fault.text


def test_a_configured_product_that_does_not_exist_is_an_error(make_line):
    rig = make_line(product="no-such-product")
    rig.start(ready=False)
    snap = rig.status.snapshot()
    assert (
        snap.error_code is ErrorCode.UNKNOWN_RECIPE
        and "no-such-product" in snap.error_text
        and "widget" in snap.error_text
    )


def test_camera_unplugged_mid_run_is_an_error_the_plc_sees_and_it_reconnects(make_line, database):
    source = ScriptedSource(frames_per_session=10**6)
    rig = make_line(source=source).start()
    rig.controller.trigger("A")
    wait_until(lambda: rig.status.result_ready, 5, "the first result")
    rig.controller.acknowledge()
    source.unplugged = True
    rig.controller.trigger("B")  # the read fails: the part gets no verdict, the camera is reported lost
    wait_until(lambda: rig.status.state is StationState.ERROR, 5, "the camera error")
    snap = rig.status.snapshot()
    assert snap.error_code is ErrorCode.CAMERA_LOST and "Camera 7" in snap.error_text
    fault = rig.controller.trigger("C")
    assert fault.code is ErrorCode.CAMERA_LOST
    source.unplugged = False
    wait_until(lambda: rig.status.state is StationState.READY, 5, "the reconnection")
    assert rig.camera.reconnects >= 1
    assert rig.controller.trigger("D") is None
    wait_until(lambda: rig.status.result_ready, 5, "the result after reconnecting")
    assert [r.part_id for r in database.history.query(HistoryFilter(limit=None)).records] == ["D", "A"]


def test_a_locked_database_is_an_error_and_the_result_comes_once_it_is_free(make_line, database):
    failures = {"left": 3}
    real = database_writer(database, topic="t")

    def flaky(outcome):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise DatabaseLockedError("Could not record the inspection: the database is busy (locked).")
        return real(outcome)

    rig = make_line(writer=flaky).start()
    rig.controller.trigger("A")
    wait_until(lambda: any(e.fault.code is ErrorCode.DATABASE for e in rig.of_type(FaultRaised)), 5, "the fault")
    wait_until(lambda: rig.status.result_ready, 5, "the result after the lock")
    assert rig.status.snapshot().error_code is ErrorCode.NONE
    assert _rows(database) == 1 and database.outbox.count_pending() == 1


def test_auto_mode_inspects_part_after_part_and_counts_them(make_line, database):
    rig = make_line().start()
    rig.controller.set_auto(True)
    wait_until(lambda: rig.status.counters.current().total >= 6, 10, "six parts")
    rig.controller.set_auto(False)
    wait_until(lambda: rig.status.in_flight is None, 5, "the last part")
    counts = rig.status.counters.current()
    assert counts.total == _rows(database) and counts.ok + counts.ng == counts.total and counts.ng >= 1
    assert rig.of_type(CountersChanged)[-1].counts == counts
    recent = rig.status.recent.parts()
    assert recent[0].inspection_id > recent[-1].inspection_id  # newest first
    assert recent[0].thumbnail is not None and max(recent[0].thumbnail.shape[:2]) <= 96


def test_stopping_keeps_an_unsaved_result_and_the_next_start_records_it(make_line, database, tmp_path):
    gate = threading.Event()
    real = database_writer(database, topic="t")

    def locked(outcome):
        if not gate.is_set():
            raise DatabaseLockedError("Could not record the inspection: the database is busy (locked).")
        return real(outcome)

    rig = make_line(writer=locked).start()
    rig.controller.trigger("kept")
    wait_until(lambda: rig.status.has_fault(ErrorCode.DATABASE), 5, "the database fault")
    rig.stop()
    assert rig.recorder.kept == 1 and _rows(database) == 0
    gate.set()
    again = make_line(writer=locked).start()
    wait_until(lambda: _rows(database) == 1, 5, "the kept result")
    assert database.history.query(HistoryFilter(limit=None)).records[0].part_id == "kept"
    assert not list((tmp_path / "data" / "unsaved").glob("*.json"))
    wait_until(lambda: again.status.counters.current().total == 1, 5, "the kept result to be counted once")


def test_the_frame_file_is_written_while_the_part_is_inspected(make_line, database):
    rig = make_line(inspector=FakeInspector(inspect_delay_s=0.3)).start()
    rig.controller.trigger("F1")
    wait_until(lambda: rig.status.result_ready, 5, "the result")
    record = database.inspections.get(rig.status.result.inspection_id)
    assert record.image_file.is_file() and database.store.verify(record.image_sha256)
    assert not rig.frame_files._futures  # taken by the recorder, nothing left behind


def test_frame_files_fall_back_when_nothing_was_written_ahead(database):
    import numpy as np

    from line.capture.mailbox import Frame
    from line.frame_files import FrameFiles

    files = FrameFiles(database.store)
    frame = Frame(np.zeros((8, 8, 3), np.uint8), 1, "t")
    assert files.take(frame) is None
    files.start(frame)
    stored = files.take(frame)
    assert stored.width == 8 and stored.path.is_file()
    files.close()


def test_the_operators_part_needs_no_ack_and_their_switch_waits_for_it_the_plcs_is_refused(make_line, database):
    from tests.station_fakes import good_part

    other = database.products.create("bracket")
    database.references.add(other.id, good_part(3))
    rig = make_line(inspector=FakeInspector(inspect_delay_s=0.5)).start()
    widget = rig.status.product_id
    assert rig.controller.trigger("A", self_ack=True) is None
    assert rig.controller.select_recipe(other.id).code is ErrorCode.BUSY  # the PLC's switch while Busy
    assert rig.controller.select_recipe(other.id, when_idle=True) is None  # the operator's: once A is done
    assert rig.status.product_id == widget
    wait_until(lambda: rig.status.product_id == other.id, 5, "the switch after the part")
    wait_until(lambda: rig.status.state is StationState.READY, 5, "the other product to be ready")
    assert not rig.status.result_ready  # the operator's part was not waiting for an acknowledgement
    [record] = database.history.query(HistoryFilter(limit=None)).records
    assert record.part_id == "A" and record.product_id == widget


def test_no_timer_thread_outlives_stop_while_auto_mode_retries(make_line, monkeypatch):
    """Auto mode against a camera that is away arms a retry timer after every refused trigger; stopping at any
    moment of that leaves no timer thread behind (one armed while stop() ran once escaped it)."""
    import random

    import line.controller

    monkeypatch.setattr(line.controller, "AUTO_RETRY_S", 0.001)
    rng = random.Random(0)
    for _ in range(12):
        before = {t.ident for t in threading.enumerate()}
        source = ScriptedSource()
        source.unplugged = True
        rig = make_line(source=source).start(ready=False)
        rig.controller.set_auto(True)
        threading.Event().wait(rng.uniform(0.0, 0.05))
        rig.stop()
        left = [t for t in threading.enumerate() if t.is_alive() and t.ident not in before]
        assert [t.name for t in left] == []


def test_a_restart_continues_the_filmstrip_from_the_database(make_line, database):
    from line.events import RecentPartsLoaded

    rig = make_line().start()
    for name in ("R1", "R2", "R3"):
        assert rig.controller.trigger(name) is None
        wait_until(lambda: rig.status.result_ready, 5, f"the result of {name}")
        rig.controller.acknowledge()
    rig.stop()
    again = make_line().start()
    wait_until(lambda: again.of_type(RecentPartsLoaded), 5, "the last parts (read in a thread of their own)")
    parts = again.status.recent.parts()
    assert [p.part_id for p in parts] == ["R3", "R2", "R1"]  # newest first, as the filmstrip shows them
    assert all(p.thumbnail is not None and max(p.thumbnail.shape[:2]) <= 96 for p in parts)
    [loaded] = again.of_type(RecentPartsLoaded)
    assert [p.inspection_id for p in loaded.parts] == [p.inspection_id for p in parts]
    assert again.status.counters.current().total == 3


def test_parts_recorded_before_the_last_parts_are_read_keep_their_place():
    from line.events import PartSummary
    from line.recent_parts import RecentParts

    def part(i: int) -> PartSummary:
        return PartSummary(i, f"P{i}", 1, "widget", "PASS", 0.1, float(i))

    recent = RecentParts(size=4)
    recent.add(part(7))  # recorded after the start, before the database's last parts arrived
    recent.seed([part(7), part(5), part(4), part(3), part(2)])  # the query saw part 7 too
    assert [p.inspection_id for p in recent.parts()] == [7, 5, 4, 3]


def test_a_product_that_cannot_see_its_simulated_defects_is_ready_with_a_warning(make_line):
    from line.events import ProductReady

    rig = make_line(inspector=FakeInspector(detectable=0.1)).start()
    [ready] = rig.of_type(ProductReady)
    assert ready.warning is not None and "10%" in ready.warning and ready.name in ready.warning
    assert "photograph" in ready.warning  # it says what to do


def test_a_product_that_sees_its_simulated_defects_is_ready_without_one(make_line):
    from line.events import ProductReady

    rig = make_line(inspector=FakeInspector(detectable=0.8)).start()
    assert [e.warning for e in rig.of_type(ProductReady)] == [None]
