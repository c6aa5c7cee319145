"""Issue 15: with the data folder's disk full, the window closed with 8 inspections neither saved nor kept (the
unsaved folder is on the same full disk). The start-up reserves space in the unsaved folder; a close on a full
disk releases it and keeps what waits there, and what still does not fit is reported as not kept, never as kept.

The disk is a fake one (tests run unprivileged, no tmpfs): every write of the spool fails with ENOSPC once the
folder's files would pass a quota, just as a write on a full file system does."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import numpy as np
import pytest

from core.result import InspectionResult
from db.errors import StorageError
from line.capture.mailbox import Frame
from line.outcome import InspectionOutcome
from line.ports import RecordJob
from line.recorder import Recorder
from line.spool_codec import encode
from line.unsaved_spool import RESERVE_NAME, UnsavedSpool

REAL_WRITE = UnsavedSpool._write


def _outcome(i: int) -> InspectionOutcome:
    rng = np.random.default_rng(i)
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    result = InspectionResult(
        "FAIL", 0.9, 1.2, 1.0, rng.random((48, 64), dtype=np.float32), [], {"total": 5.0}, "e", "c"
    )
    heat = rng.integers(0, 256, (48, 64, 4), dtype=np.uint8)
    return InspectionOutcome(Frame(img, i, "Camera 0"), 1, "widget", result, heat, 12.0, part_id=f"P{i}")


def _entry_bytes(outcome: InspectionOutcome) -> int:
    encoded = encode(outcome)
    return len(encoded.document) + sum(len(d) for d in encoded.files.values())


def _used(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def full_disk(monkeypatch):
    """``full_disk(folder, quota)``: the spool's writes in ``folder`` fail with ENOSPC past ``quota`` bytes."""

    def install(folder: Path, quota: int) -> None:
        def write(path: Path, data: bytes, written: list[Path]) -> None:
            if _used(folder) + len(data) > quota:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            REAL_WRITE(path, data, written)

        monkeypatch.setattr(UnsavedSpool, "_write", staticmethod(write))

    return install


def _unsaved_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))


def test_the_reserve_keeps_what_waits_when_the_disk_is_full_at_close(tmp_path, full_disk, caplog):
    outcomes = [_outcome(i) for i in range(3)]
    reserve = 3 * max(_entry_bytes(o) for o in outcomes) + 4096
    spool = UnsavedSpool(tmp_path / "unsaved", reserve_bytes=reserve)
    assert spool.reserve_space()
    assert (tmp_path / "unsaved" / RESERVE_NAME).stat().st_blocks * 512 >= reserve  # real blocks, not sparse
    full_disk(spool.folder, quota=reserve + 100)  # everything else on the disk is taken: 100 bytes free

    with caplog.at_level(logging.WARNING):
        report = spool.put(outcomes)

    assert report.written == 3 and report.failed == 0
    assert spool.reserve_released and not spool.reserve_path.exists()
    assert "released" in caplog.text and "full" in caplog.text
    back = [o for _, o in UnsavedSpool(spool.folder).pending()]
    assert [o.part_id for o in back] == ["P0", "P1", "P2"]
    assert all(np.array_equal(a.frame.image, b.frame.image) for a, b in zip(outcomes, back, strict=True))


def test_what_the_reserve_cannot_hold_is_reported_not_kept_and_leaves_no_half_entry(tmp_path, full_disk):
    outcomes = [_outcome(i) for i in range(4)]
    size = max(_entry_bytes(o) for o in outcomes)
    spool = UnsavedSpool(tmp_path / "unsaved", reserve_bytes=size + size // 2)  # room for one entry and a half
    assert spool.reserve_space()
    full_disk(spool.folder, quota=spool.reserve_bytes + 100)

    report = spool.put(outcomes)

    assert (report.written, report.failed) == (1, 3)
    assert all(isinstance(e, StorageError) and "full" in str(e) for e in report.errors)
    assert len(_unsaved_entries(spool.folder)) == 1
    assert len(list(spool.folder.glob("*.*"))) == 4  # that entry's JSON and its three files, nothing half-written
    assert len(UnsavedSpool(spool.folder).pending()) == 1


def test_the_line_recorder_keeps_its_results_on_a_full_disk_and_counts_only_what_it_kept(tmp_path, full_disk):
    def database_full(_outcome: InspectionOutcome) -> None:
        raise StorageError("The disk holding the database is full, so nothing was saved.")

    outcomes = [_outcome(i) for i in range(5)]
    spool = UnsavedSpool(tmp_path / "unsaved", reserve_bytes=5 * max(_entry_bytes(o) for o in outcomes) + 4096)
    assert spool.reserve_space()
    recorder = Recorder(database_full, spool=spool, retry_delays_s=(0.01,))
    recorder.start()
    for outcome in outcomes:
        recorder.submit(RecordJob(None, outcome))
    full_disk(spool.folder, quota=spool.reserve_bytes + 100)
    assert recorder.stop(timeout_s=2.0)
    assert (recorder.kept, recorder.not_kept, recorder.recorded) == (5, 0, 0)
    assert len(_unsaved_entries(spool.folder)) == 5


def test_the_next_start_takes_the_reserve_again_and_the_entries_are_not_quarantined(tmp_path, full_disk):
    spool = UnsavedSpool(tmp_path / "unsaved", reserve_bytes=1 << 20)
    assert spool.reserve_space()
    full_disk(spool.folder, quota=(1 << 20) + 100)
    assert spool.put([_outcome(1)]).written == 1
    later = UnsavedSpool(spool.folder, reserve_bytes=1 << 20)
    assert later.reserve_space() and later.reserve_path.stat().st_size == 1 << 20
    assert len(later.entries()) == 1 and not later.quarantine_folder.exists()


def test_a_disk_already_full_at_start_is_said_in_the_log(tmp_path, monkeypatch, caplog):
    import line.unsaved_spool as spool_module

    def no_space(_fd: int, _size: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_module, "_allocate", no_space)
    spool = UnsavedSpool(tmp_path / "unsaved", reserve_bytes=1 << 20)
    with caplog.at_level(logging.WARNING):
        assert not spool.reserve_space()
    assert not spool.reserve_path.exists()
    assert "could not reserve" in caplog.text and "may be lost" in caplog.text
