"""The Live tab shows the shift's counters and a filmstrip of the last parts, both from the station's Qt-free state
(line/station_status.py); a part in the filmstrip says which record it opens."""

from __future__ import annotations

from db.records import HistoryFilter
from desktop.controllers.demo_setup import ensure_demo_product
from line.events import PartRecorded


def test_counters_and_filmstrip_follow_the_recorded_parts(qtbot, make_rig, database):
    product = ensure_demo_product(database)
    rig = make_rig()
    ids: list[int] = []
    rig.station.inspection_recorded.connect(ids.append)
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("demo", product.id)
    assert "0 parts" in rig.window.counters.text() and "yield —" in rig.window.counters.text()
    events: list = []
    rig.station.line.bus.subscribe(events.append, PartRecorded)
    rig.station.set_auto(True)
    qtbot.waitUntil(lambda: len(ids) >= 3, timeout=10000)
    rig.station.set_auto(False)
    qtbot.waitUntil(lambda: rig.station.line.in_flight is None, timeout=5000)  # the last part is recorded ...
    qtbot.wait(300)  # ... and its events have reached the window
    n = len(ids)
    counts = rig.station.line.counters.current()
    assert counts.total == n and counts.ok + counts.ng == n
    text = rig.window.counters.text()
    assert f"{n} parts" in text and f"OK {counts.ok}" in text and f"NG {counts.ng}" in text and "yield" in text
    strip = rig.window.filmstrip
    assert len(strip.buttons) == min(n, 12)
    newest = strip.buttons[0]
    assert newest.property("inspection_id") == ids[-1]
    assert newest.text().split()[0] in ("PASS", "FAIL") and not newest.icon().isNull()
    with qtbot.waitSignal(strip.part_clicked, timeout=2000) as clicked:
        newest.click()
    assert clicked.args == [ids[-1]]
    assert [e.part.inspection_id for e in events][-1] == ids[-1]


def test_after_a_restart_the_filmstrip_continues_with_the_last_recorded_parts(qtbot, make_rig, database):
    product = ensure_demo_product(database)
    first = make_rig()
    ids: list[int] = []
    first.station.inspection_recorded.connect(ids.append)
    with qtbot.waitSignal(first.station.product_ready, timeout=10000):
        first.station.start("demo", product.id)
    first.station.set_auto(True)
    qtbot.waitUntil(lambda: len(ids) >= 3, timeout=10000)
    first.close()
    recorded = database.history.query(HistoryFilter(limit=None)).records  # newest first
    database.inspections.get(recorded[1].id).image_file.unlink()  # one row's picture lost: it stays, without it

    again = make_rig()
    with qtbot.waitSignal(again.station.product_ready, timeout=10000):
        again.station.start("demo", product.id)
    qtbot.waitUntil(lambda: len(again.window.filmstrip.buttons) == min(len(recorded), 12), timeout=5000)
    buttons = again.window.filmstrip.buttons
    assert [b.property("inspection_id") for b in buttons] == [r.id for r in recorded[:12]]
    assert [b.text().split()[0] for b in buttons] == [r.verdict for r in recorded[:12]]
    assert not buttons[0].icon().isNull() and buttons[1].icon().isNull()
    assert f"{len(recorded)} parts" in again.window.counters.text()  # the counters agree with the strip


def test_a_folder_source_tells_the_operator_which_files_it_skips(qtbot, make_rig, database, tmp_path):
    import cv2

    from line.capture.folder_source import FolderSource
    from tests.station_fakes import good_part

    folder = tmp_path / "parts"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), good_part(1))
    (folder / "b_damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    product = ensure_demo_product(database)
    rig = make_rig(source_factory=lambda spec: FolderSource(folder, fps=20.0))
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("folder", product.id)
    qtbot.waitUntil(lambda: "source-files" in rig.window.problem_keys(), timeout=5000)
    text = rig.window.problems.text()
    assert "b_damaged.png" in text and "1 file in" in text and "replace or remove it" in text
    cv2.imwrite(str(folder / "b_damaged.png"), good_part(2))  # the operator replaces the damaged file
    qtbot.waitUntil(lambda: "source-files" not in rig.window.problem_keys(), timeout=5000)


def test_a_folder_moved_away_is_a_lost_source_not_damaged_files(qtbot, make_rig, database, tmp_path):
    """The fault harness's camera scenario (the folder renamed away and back) showed "6 files ... cannot be read
    ... damaged" for files that were only gone for a moment."""
    import cv2

    from line.capture.folder_source import FolderSource
    from tests.station_fakes import good_part

    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"part{i}.png"), good_part(i))
    product = ensure_demo_product(database)
    rig = make_rig(source_factory=lambda spec: FolderSource(folder, fps=50.0), backoff_s=0.05)
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("folder", product.id)
    qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=5000)
    gone = tmp_path / "parts-away"
    folder.rename(gone)
    qtbot.waitUntil(lambda: "camera" in rig.window.problem_keys(), timeout=5000)
    gone.rename(folder)
    qtbot.waitUntil(lambda: "camera" not in rig.window.problem_keys(), timeout=10000)
    assert "source-files" not in rig.window.problem_keys()
