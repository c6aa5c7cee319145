"""Inspections the database refused until the window closed are kept on disk and saved at the next start."""
import numpy as np

from core.result import InspectionResult
from db.errors import DatabaseLockedError
from desktop.capture.mailbox import Frame
from desktop.inference_worker import InspectionOutcome
from desktop.record_writer import RecordService
from desktop.unsaved_spool import UnsavedSpool


class FakeInspections:
    def __init__(self, fail: bool):
        self.fail = fail
        self.rows = []

    def record(self, **kw):
        if self.fail:
            raise DatabaseLockedError("The database is busy (locked by another program); try again.")
        self.rows.append(kw)
        return {"id": len(self.rows)}


def _outcome(i: int) -> InspectionOutcome:
    img = np.full((32, 48, 3), 10 * i, np.uint8)
    result = InspectionResult("FAIL", 0.9, 1.2, 1.0, np.zeros((32, 48), np.float32), [], {"total": 5.0}, "enc", "cal")
    return InspectionOutcome(Frame(img, i, "Camera 0"), 1, "widget", result, np.zeros((32, 48, 4), np.uint8), 12.0)


def test_unsaved_outcomes_survive_a_restart(qtbot, tmp_path):
    spool = UnsavedSpool(tmp_path / "unsaved")
    locked = FakeInspections(fail=True)
    first = RecordService(locked, spool=spool)
    first.start()
    with qtbot.waitSignals([first.failed, first.failed], timeout=5000):
        first.submit(_outcome(1))
        first.submit(_outcome(2))
    assert first.stop()
    files = sorted((tmp_path / "unsaved").glob("*.pkl"))
    assert len(files) == 2 and not first.unsaved

    working = FakeInspections(fail=False)
    second = RecordService(working, spool=spool)
    second.start()
    with qtbot.waitSignals([second.recorded, second.recorded], timeout=5000):
        assert second.resume_spooled() == 2
    assert second.stop()
    assert [int(r["image"][0, 0, 0]) for r in working.rows] == [10, 20]
    assert list((tmp_path / "unsaved").glob("*.pkl")) == []


def test_damaged_spool_file_is_set_aside(tmp_path):
    folder = tmp_path / "unsaved"
    folder.mkdir()
    (folder / "x.pkl").write_bytes(b"not a pickle")
    assert UnsavedSpool(folder).pending() == []
    assert (folder / "x.pkl.bad").exists()
