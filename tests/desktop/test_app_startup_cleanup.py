"""Issue 15: the window's start runs the start-up clean-up before its database writer: a file a crash left
without its row is in the quarantine folder afterwards, and the run's own inspections keep their files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import core.inspector
import main as entry
from db.orphan_files import quarantine_folder_of
from db.records import HistoryFilter
from db.repository import Database
from tests.station_fakes import FakeInspector, good_part


@pytest.fixture
def fake_model(monkeypatch):
    monkeypatch.setattr(core.inspector, "Inspector", lambda **kw: FakeInspector())


def test_the_window_moves_a_crash_s_file_to_the_quarantine_at_start(qtbot, fake_model, tmp_path: Path):
    data = tmp_path / "data"
    with Database.open(data) as db:
        orphan = db.store.put_png(good_part(3)).path
        quarantine = quarantine_folder_of(db.store)
    then = time.time() - 120
    os.utime(orphan, (then, then))

    assert (
        entry.main(["--demo", "--data-dir", str(data), "--screenshot", str(tmp_path / "s.png"), "--frames", "2"]) == 0
    )

    assert not orphan.exists() and (quarantine / orphan.name).is_file()
    with Database.open(data) as db:
        records = db.history.query(HistoryFilter(limit=None)).records
        assert len(records) == 2 and all(r.image_file.is_file() and r.heatmap_file.is_file() for r in records)
