"""Issue 15: the window closed on a full disk with 8 inspections neither saved nor kept. With the unsaved
folder's reserve (taken at start), the close keeps what waits for the database; what the reserve cannot hold
is counted as not kept (and logged), never reported kept. The window's writer is the line's recorder. The disk is a fake one: the spool's
writes fail with ENOSPC past a quota, as on a full file system (the tests run unprivileged)."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from core.result import InspectionResult
from db.errors import StorageError
from line.capture.mailbox import Frame
from line.outcome import InspectionOutcome
from line.ports import RecordJob
from line.recorder import Recorder
from line.unsaved_spool import UnsavedSpool
from tests.station_fakes import Answers

REAL_WRITE = UnsavedSpool._write
ENTRY_BYTES = 40_000  # one entry of the 48 x 64 outcomes below is about 34 kB (frame, heatmap, map, JSON)


def full_database(_outcome: InspectionOutcome) -> None:
    raise StorageError("The disk holding the database is full, so nothing was saved.")


def _outcome(i: int) -> InspectionOutcome:
    rng = np.random.default_rng(i)
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    result = InspectionResult(
        "FAIL", 0.9, 1.2, 1.0, rng.random((48, 64), dtype=np.float32), [], {"total": 5.0}, "e", "c"
    )
    return InspectionOutcome(
        Frame(img, i, "Camera 0"), 1, "widget", result, rng.integers(0, 256, (48, 64, 4), np.uint8), 9.0
    )


@pytest.fixture
def full_disk(monkeypatch):
    def install(folder: Path, quota: int) -> None:
        def write(path: Path, data: bytes, written: list[Path]) -> None:
            used = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            if used + len(data) > quota:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            REAL_WRITE(path, data, written)

        monkeypatch.setattr(UnsavedSpool, "_write", staticmethod(write))

    return install


@pytest.mark.parametrize(("entries_reserved", "kept"), [(6, 4), (2, 2)])
def test_the_close_on_a_full_disk_keeps_what_the_reserve_holds(tmp_path, full_disk, entries_reserved, kept):
    spool = UnsavedSpool(tmp_path / "unsaved", reserve_bytes=entries_reserved * ENTRY_BYTES)
    assert spool.reserve_space()
    answers = Answers()
    service = Recorder(full_database, answers, spool=spool, retry_delays_s=(30.0,))
    service.start()
    for i in range(4):
        service.submit(RecordJob(i + 1, _outcome(i)))
    answers.wait("on_record_failed")
    full_disk(spool.folder, quota=spool.reserve_bytes + 100)  # the rest of the disk filled up meanwhile

    assert service.stop(timeout_s=5.0)  # no wait for the 30 s retry: stopping ends it

    assert (service.kept, service.not_kept, service.waiting) == (kept, 4 - kept, 0)
    assert len(UnsavedSpool(spool.folder).pending()) == kept
