"""Issue 15: the start-up clean-up of both faces. A file that a crash left without its row is moved to the
quarantine folder when the line runner (or the window) starts; the files of an inspection still waiting in the
unsaved folder stay, and that inspection is recorded with them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from core.result import InspectionResult
from db.image_store import encode_png, sha256_bytes
from db.orphan_files import quarantine_folder_of
from db.records import HistoryFilter
from db.repository import Database
from line.capture.mailbox import Frame
from line.config import parse_config
from line.outcome import InspectionOutcome
from line.runner import LineRunner
from line.startup_cleanup import prepare_data_folder
from line.unsaved_spool import UnsavedSpool
from tests.station_fakes import FakeInspector, good_part, wait_until, write_parts


def _age(path: Path, seconds: float = 120.0) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _unsaved_outcome(product_id: int) -> InspectionOutcome:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    result = InspectionResult("PASS", 0.1, 0.2, 1.0, np.zeros((40, 56), np.float32), [], {"total": 1.0}, "e", "c")
    heat = rng.integers(0, 256, (40, 56, 4), dtype=np.uint8)
    return InspectionOutcome(Frame(image, 1, "Camera 0"), product_id, "widget", result, heat, 5.0, part_id="P-7")


def test_the_files_of_an_unsaved_inspection_stay_and_it_is_recorded_with_them(database, product, tmp_path):
    outcome = _unsaved_outcome(product.id)
    # the database refused the row after the files were written, and the close kept the outcome
    frame_file = database.store.put_png(outcome.frame.image).path
    heat_file = database.store.put_png(outcome.heatmap_rgba[..., :3]).path
    orphan = database.store.put_png(good_part(9)).path  # a crash's file: no row, no unsaved entry
    spool = UnsavedSpool(tmp_path / "data" / "unsaved")
    assert spool.put([outcome]).written == 1
    for path in (frame_file, heat_file, orphan):
        _age(path)

    sweep = prepare_data_folder(database, spool)

    assert [p.name for p in sweep.moved] == [orphan.name] and sweep.kept == 2
    assert frame_file.is_file() and heat_file.is_file()
    record = database.inspections.record(
        product_id=product.id, result=outcome.result, image=outcome.frame.image, heatmap=outcome.heatmap_rgba[..., :3]
    )
    assert record.image_file == frame_file and record.heatmap_file == heat_file
    assert sha256_bytes(encode_png(outcome.frame.image)) == record.image_sha256


def test_the_line_runner_moves_a_crash_s_file_to_the_quarantine_at_start(tmp_path, database, product):
    orphan = database.store.put_png(good_part(11)).path
    _age(orphan)
    camera = write_parts(tmp_path / "camera")
    text = (
        f'[station]\ndata_dir = "{tmp_path / "data"}"\nproduct = "widget"\nname = "cell-7"\n'
        f'[camera]\nsource = "folder:{camera}"\ntrigger = "software"\n'
    )
    runner = LineRunner(parse_config(text), inspector_factory=FakeInspector)
    runner.start()
    try:
        wait_until(lambda: (quarantine_folder_of(database.store) / orphan.name).is_file(), 10, "the orphan moved")
        assert not orphan.exists()
        references = database.references.list(product.id)
        assert references and all(r.image_file.is_file() for r in references)
    finally:
        runner.stop()
    with Database.open(tmp_path / "data") as again:
        assert again.history.query(HistoryFilter(limit=None)).total == 0


def test_a_temporary_file_of_an_interrupted_write_is_removed_at_start(database, tmp_path):
    """The kill -9 loop of the window left ``19/.tmp-….part`` after the next start: Database.open removes only
    temporary files older than an hour."""
    shard = database.store.root / "19"
    shard.mkdir(parents=True, exist_ok=True)
    stale, fresh = shard / ".tmp-killed.part", shard / ".tmp-writing.part"
    stale.write_bytes(b"\x89PNG half")
    fresh.write_bytes(b"\x89PNG in progress")
    _age(stale, 30)

    prepare_data_folder(database, UnsavedSpool(tmp_path / "data" / "unsaved"))

    assert not stale.exists()
    assert fresh.exists()  # a write in progress (another program's) is left alone
