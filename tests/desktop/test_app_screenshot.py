"""`main.py --demo --screenshot OUT.png --frames N`: the whole station unattended, real database and worker."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

import core.inspector
import main as entry
from db.records import HistoryFilter
from db.repository import Database
from tests.station_fakes import FakeInspector


@pytest.fixture
def fake_model(monkeypatch):
    monkeypatch.setattr(core.inspector, "Inspector", lambda **kw: FakeInspector())


def test_demo_screenshot_run_inspects_records_and_saves_the_window(qtbot, fake_model, tmp_path: Path, capsys):
    out = tmp_path / "shots" / "station.png"
    data = tmp_path / "data"
    rc = entry.main(["--demo", "--data-dir", str(data), "--screenshot", str(out), "--frames", "3"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "inspected and recorded 3/3" in printed and f"screenshot saved to {out}" in printed
    image = QImage(str(out))
    assert image.width() >= 1000 and image.height() >= 600
    with Database.open(data) as db:
        page = db.history.query(HistoryFilter(limit=None))
        assert page.total == 3  # exactly N frames, one after the other
        assert {r.product_name for r in page.records} == {"Demo disk"}
        assert all(r.source == "demo" for r in page.records)
        assert len(db.references.list(page.records[0].product_id)) == 3
    # a second start reuses the demo product and its references
    rc = entry.main(["--demo", "--data-dir", str(data), "--screenshot", str(out), "--frames", "1"])
    assert rc == 0
    with Database.open(data) as db:
        assert len(db.products.list()) == 1


def test_rows_replayed_from_the_spool_are_not_counted_as_frames(qtbot, fake_model, tmp_path: Path, capsys):
    from datetime import datetime

    import numpy as np

    from core.result import InspectionResult
    from desktop.workers.inference_worker import InspectionOutcome
    from line.capture.mailbox import Frame
    from line.unsaved_spool import RESERVE_NAME, UnsavedSpool

    data = tmp_path / "data"
    out = tmp_path / "station.png"
    assert entry.main(["--demo", "--data-dir", str(data), "--screenshot", str(out), "--frames", "1"]) == 0
    with Database.open(data) as db:
        product = db.products.list()[0]
    old = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    result = InspectionResult("PASS", 0.1, 0.2, 1.0, np.zeros((32, 48), np.float32), [], {"total": 1.0}, "e", "c")
    kept = [
        InspectionOutcome(
            Frame(np.full((32, 48, 3), 50 + i, np.uint8), i, "Demo camera", "demo"),
            product.id,
            product.name,
            result,
            np.zeros((32, 48, 4), np.uint8),
            5.0,
            finished_at=old.timestamp(),
        )
        for i in range(3)
    ]
    assert UnsavedSpool(data / "unsaved").put(kept).written == 3  # an earlier run could not save these
    capsys.readouterr()

    assert entry.main(["--demo", "--data-dir", str(data), "--screenshot", str(out), "--frames", "2"]) == 0
    assert "inspected and recorded 2/2" in capsys.readouterr().out
    with Database.open(data) as db:
        records = db.history.query(HistoryFilter(limit=None)).records
    assert len(records) == 1 + 3 + 2  # the first run, the replayed rows, and 2 frames inspected in this run
    assert sum(r.time == old for r in records) == 3  # the replayed rows keep their own time
    # nothing waits any more (the reserve of a full disk, line/unsaved_spool.py, is not an entry)
    assert not [p for p in (data / "unsaved").iterdir() if p.is_file() and p.name != RESERVE_NAME]


def test_unusable_data_folder_exits_with_a_message(qtbot, fake_model, tmp_path: Path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    rc = entry.main(["--demo", "--data-dir", str(blocker / "data"), "--screenshot", str(tmp_path / "x.png")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error:" in err and "data folder" in err.lower()


def test_a_source_that_gives_no_frames_ends_the_unattended_run_with_its_reason(
    qtbot, fake_model, tmp_path, capsys, monkeypatch
):
    import desktop.controllers.screenshot_run as run

    monkeypatch.setattr(run, "FRAME_WAIT_MS", 500)
    rc = entry.main(
        [
            "--demo",
            "--source",
            str(tmp_path / "gone.mp4"),
            "--data-dir",
            str(tmp_path / "data"),
            "--screenshot",
            str(tmp_path / "x.png"),
            "--frames",
            "1",
        ]
    )
    assert rc == 1
    err = capsys.readouterr().err
    assert "no new frame from the source" in err and "gone.mp4 does not exist" in err
    assert (tmp_path / "x.png").is_file()  # the picture shows the problem


def test_unattended_run_without_any_product_stops_at_once(qtbot, fake_model, tmp_path, capsys):
    data = tmp_path / "data"
    frames = tmp_path / "frames"
    frames.mkdir()
    rc = entry.main(["--source", f"folder:{frames}", "--data-dir", str(data), "--screenshot", str(tmp_path / "y.png")])
    assert rc == 1
    assert "no product to inspect" in capsys.readouterr().err
