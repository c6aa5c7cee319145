"""Faults at the station: camera gone mid-run, database locked or read-only, disk full while saving, corrupt
reference file, product without references. Each gives a clear message, loses nothing, writes no half record."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from db.engine import DB_FILENAME
from db.image_store import ImageStore
from db.records import HistoryFilter
from db.repository import Database
from desktop.controllers.demo_setup import ensure_demo_product
from line.outcome import NO_REFERENCES_MESSAGE
from line.recorder import database_writer
from tests.desktop.qt_catch import Catch
from tests.station_fakes import ScriptedSource


def _count(database) -> int:
    return database.history.query(HistoryFilter(limit=None)).total


def _inspect_once(qtbot, rig) -> None:
    qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=5000)
    with qtbot.waitSignal(rig.station.outcome_shown, timeout=5000):
        rig.station.inspect_now()


def _ready_rig(qtbot, make_rig, database, **kw):
    product = ensure_demo_product(database)
    rig = make_rig(**kw)
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("demo", product.id)
    return rig


def test_locked_database_keeps_the_result_and_saves_it_on_retry(qtbot, make_rig, database, tmp_path: Path):
    rig = _ready_rig(qtbot, make_rig, database)
    blocker = sqlite3.connect(tmp_path / "data" / DB_FILENAME, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with qtbot.waitSignal(rig.station.record_failed, timeout=10000) as failed:
            _inspect_once(qtbot, rig)
        assert "busy" in failed.args[0]
        banner = rig.window.problems
        assert banner.isVisible() and "busy" in banner.text() and "1 inspection waiting" in banner.text()
        assert banner.retry_button.isVisible() and banner.retry_button.text() == "Retry saving"
        assert "NOT SAVED" in rig.window.status.database.text()
        assert rig.window.verdict.verdict_text() in ("PASS", "FAIL")  # the result stays on screen
        assert rig.recorder.waiting == 1
    finally:
        blocker.rollback()
        blocker.close()
    assert _count(database) == 0
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000):
        banner.retry_button.click()
    assert _count(database) == 1 and rig.recorder.waiting == 0
    assert not banner.isVisible()


def test_disk_full_while_saving_the_image_writes_no_record(qtbot, make_rig, database, monkeypatch):
    rig = _ready_rig(qtbot, make_rig, database)

    def disk_full(final, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ImageStore, "_write_atomic", staticmethod(disk_full))
    with qtbot.waitSignal(rig.station.record_failed, timeout=10000) as failed:
        _inspect_once(qtbot, rig)
    assert "full" in failed.args[0] and "Free some space" in failed.args[0]
    assert "full" in rig.window.problems.text()
    assert _count(database) == 0  # files first: no row without its image
    assert not list(database.store.root.glob("??/.tmp-*"))  # and no half-written file
    monkeypatch.undo()  # space freed
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000) as saved:
        rig.station.retry_saving()
    record = database.inspections.get(saved.args[0])
    assert record.image_file.is_file() and record.heatmap_file.is_file()
    assert _count(database) == 1


def test_read_only_database_says_so_and_keeps_the_result(qtbot, make_rig, database, tmp_path: Path):
    ensure_demo_product(database)
    data = tmp_path / "data"
    url = f"sqlite:///file:{(data / DB_FILENAME).as_posix()}?mode=ro&uri=true"
    read_only = Database.open(data, url=url, migrate=False)
    try:
        product = read_only.products.get("Demo disk")
        rig = make_rig()
        rig.write = database_writer(read_only, station="test-station")  # the station's writer sees a read-only file
        with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
            rig.station.start("demo", product.id)
        with qtbot.waitSignal(rig.station.record_failed, timeout=10000) as failed:
            _inspect_once(qtbot, rig)
        assert "read-only" in failed.args[0] and "writable" in failed.args[0]
        assert "read-only" in rig.window.problems.text()
        assert rig.recorder.waiting == 1 and _count(database) == 0
        rig.write = database_writer(database, station="test-station")  # made writable again
        with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000):
            rig.window.problems.retry_button.click()
        assert _count(database) == 1
    finally:
        read_only.close()


def test_camera_gone_mid_run_shows_status_and_reconnects(qtbot, make_rig, database):
    source = ScriptedSource(drops=1, frames_per_session=5)
    rig = _ready_rig(qtbot, make_rig, database, source_factory=lambda spec: source, backoff_s=0.4)
    banner = rig.window.problems
    qtbot.waitUntil(lambda: "Camera 7 disconnected - reconnecting in 0.4 s" in banner.text(), timeout=5000)
    assert banner.isVisible() and "Check the cable" in banner.text()
    assert "disconnected" in rig.window.status.camera.text()
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=5000)
    frames_before = rig.station.current_frame.index
    qtbot.waitUntil(lambda: rig.station.current_frame.index > frames_before, timeout=5000)
    assert rig.station.feed.capture.reconnects == 1


def test_missing_camera_retries_without_hanging(qtbot, make_rig, database):
    rig = _ready_rig(qtbot, make_rig, database, source_factory=lambda spec: ScriptedSource(open_failures=10**6))
    qtbot.waitUntil(lambda: "Camera 7 is not connected - retrying" in rig.window.problems.text(), timeout=5000)
    rig.station.inspect_now()  # nothing to inspect: a hint, no crash
    assert "No camera frame yet" in rig.window.status.currentMessage()


def test_verdict_badge_says_no_camera_while_no_frames_arrive_and_prompts_again_after(qtbot, make_rig, database):
    source = ScriptedSource(drops=1, frames_per_session=10**9)
    rig = _ready_rig(qtbot, make_rig, database, source_factory=lambda spec: source)
    badge = rig.window.verdict
    qtbot.waitUntil(lambda: "Press Space to inspect" in badge.detail_text(), timeout=5000)
    source.open_failures = 10**6  # the cable is pulled: reading stops, reopening fails
    source.frames_per_session = 0
    qtbot.waitUntil(lambda: badge.verdict_text() == "NO CAMERA", timeout=5000)
    assert "Camera 7" in badge.detail_text() and "Check the cable" in badge.detail_text()
    assert "Press Space" not in badge.detail_text()
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):  # the product gets ready meanwhile
        rig.station.request_build(rig.station.product_id)
    assert badge.verdict_text() == "NO CAMERA" and "Press Space" not in badge.detail_text()
    source.open_failures = 0  # plugged in again: the prompt is back with the first frame
    qtbot.waitUntil(lambda: "Press Space to inspect" in badge.detail_text(), timeout=10000)
    assert badge.verdict_text() == "—" and rig.station.feed.capture.reconnects == 1


def test_unknown_source_spec_is_explained(qtbot, make_rig, database):
    rig = _ready_rig(qtbot, make_rig, database)
    from line.capture.spec import source_from_spec

    rig.station.feed.source_factory = source_from_spec
    rig.station.open_source("/no/such/camera.mp4")
    assert "/no/such/camera.mp4 does not exist" in rig.window.problems.text()
    assert rig.station.feed.capture.running  # the camera that worked keeps running


def test_corrupt_reference_file_is_named_in_the_window(qtbot, make_rig, database):
    product = ensure_demo_product(database)
    ref = database.references.list(product.id)[1]
    Path(ref.image_file).write_bytes(b"\x89PNG\r\n\x1a\n damaged on disk")
    rig = make_rig()
    failed = Catch(rig.station.product_failed)
    rig.station.start("demo", product.id)
    failed.wait(qtbot)
    text = rig.window.problems.text()
    assert ref.original_name == "good_2.png" and "good_2.png" in text and "Remove or replace it" in text
    assert rig.window.problems.retry_button.text() == "Open products…"
    assert product.id not in rig.station.ready_products


def test_product_without_references_asks_for_one(qtbot, make_rig, database):
    product = database.products.create("bracket-7")
    rig = make_rig()
    failed = Catch(rig.station.product_failed)
    rig.station.start("demo", product.id)
    failed.wait(qtbot)
    assert NO_REFERENCES_MESSAGE in rig.window.problems.text()
    assert NO_REFERENCES_MESSAGE in rig.window.verdict.detail_text()
    rig.window.clear_problem("product")  # the operator dismissed it
    qtbot.waitUntil(lambda: rig.station.line.camera_ok, timeout=5000)
    rig.station.inspect_now()  # says again what is missing
    assert NO_REFERENCES_MESSAGE in rig.window.problems.text()
    assert NO_REFERENCES_MESSAGE in rig.window.status.currentMessage()
    assert _count(database) == 0


def test_a_product_that_cannot_see_its_defects_is_ready_with_a_warning_in_the_window(qtbot, make_rig, database):
    from tests.station_fakes import FakeInspector

    rig = _ready_rig(qtbot, make_rig, database, inspector=FakeInspector(detectable=0.12))
    banner = rig.window.problems
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=5000)
    assert "12%" in banner.text() and "most real defects may pass" in banner.text()
    assert "ready" in rig.window.status.model.text()  # a warning, not a failure: the station still inspects
    _inspect_once(qtbot, rig)
    assert rig.window.verdict.verdict_text() in ("PASS", "FAIL")
