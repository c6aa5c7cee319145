"""Inspections the database refused until the station stopped are kept on disk and saved at the next start.

The spool is JSON plus image files: nothing in it can run code, what does not parse is quarantined, and old
pickle files are never unpickled."""

import errno
import hashlib
import json
import logging
import pickle
from datetime import UTC, datetime

import numpy as np
import pytest

import line.unsaved_spool as spool_module
from core.result import InspectionResult, Region
from db.errors import DatabaseLockedError
from line.capture.mailbox import Frame
from line.outcome import InspectionOutcome
from line.ports import RecordJob
from line.recorder import Recorder
from line.unsaved_spool import UnsavedSpool
from tests.station_fakes import Answers

INSPECTED_AT = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


class FakeDatabase:
    """The recorder's writer: refuses every write (locked) or keeps the outcomes it was given."""

    def __init__(self, fail: bool):
        self.fail = fail
        self.rows: list[InspectionOutcome] = []

    def __call__(self, outcome: InspectionOutcome):
        if self.fail:
            raise DatabaseLockedError("The database is busy (locked by another program); try again.")
        self.rows.append(outcome)
        return {"id": len(self.rows)}


def _recorder(write, folder) -> tuple[Recorder, Answers]:
    answers = Answers()
    recorder = Recorder(write, answers, spool=UnsavedSpool(folder), retry_delays_s=(0.05,))
    recorder.start()
    return recorder, answers


def _outcome(i: int) -> InspectionOutcome:
    img = np.full((32, 48, 3), 10 * i, np.uint8)
    result = InspectionResult("FAIL", 0.9, 1.2, 1.0, np.zeros((32, 48), np.float32), [], {"total": 5.0}, "enc", "cal")
    return InspectionOutcome(Frame(img, i, "Camera 0"), 1, "widget", result, np.zeros((32, 48, 4), np.uint8), 12.0)


def _rich_outcome() -> InspectionOutcome:
    rng = np.random.default_rng(3)
    amap = rng.random((40, 56), dtype=np.float32) * 3
    regions = [
        Region((3, 4, 20, 18), 7.123456789, "top left", 2.718281828, (11.25, 10.5)),
        Region((30, 22, 55, 39), 0.1, "bottom right", 1.0000001, (42.0, 30.0)),
    ]
    result = InspectionResult(
        verdict="FAIL",
        probability=0.912345678,
        score=2.718281828,
        threshold=1.0471975512,
        anomaly_map=amap,
        regions=regions,
        timings_ms={"encode": 3.25, "decode": 1.5, "total": 6.125},
        encoder_id="efficientnet-lite0",
        calibration_id="cal-7f3a",
        overridden=True,
        image_size=(56, 40),
    )
    frame = Frame(
        rng.integers(0, 256, (40, 56, 3), dtype=np.uint8),
        417,
        "Camera 2",
        kind="folder",
        label="part-0417.png",
        timestamp=12345.678,
    )
    heat = rng.integers(0, 256, (40, 56, 4), dtype=np.uint8)
    return InspectionOutcome(
        frame, 3, "bracket-b", result, heat, 41.5, finished_at=INSPECTED_AT.timestamp(), operator="anna"
    )


class Payload:
    """Unpickling this runs code: it creates the file named by ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def test_unsaved_outcomes_survive_a_restart(tmp_path):
    first, answers = _recorder(FakeDatabase(fail=True), tmp_path / "unsaved")
    first.submit(RecordJob(1, _outcome(1)))
    first.submit(RecordJob(2, _outcome(2)))
    answers.wait("on_record_failed", 2)
    assert first.stop()
    entries = sorted((tmp_path / "unsaved").glob("*.json"))
    assert len(entries) == 2 and first.waiting == 0 and first.kept == 2 and first.not_kept == 0
    assert not list((tmp_path / "unsaved").glob("*.pkl"))

    working = FakeDatabase(fail=False)
    second, again = _recorder(working, tmp_path / "unsaved")
    assert second.resume_spooled() == 2
    again.wait("on_recorded", 2)
    assert second.stop()
    assert [int(r.frame.image[0, 0, 0]) for r in working.rows] == [10, 20]
    assert [p for p in (tmp_path / "unsaved").iterdir() if p.is_file()] == []  # every entry's files are gone


def test_a_spool_entry_round_trips_every_field_the_record_needs(tmp_path):
    original = _rich_outcome()
    spool = UnsavedSpool(tmp_path / "unsaved")
    report = spool.put([original])
    assert report.written == 1 and report.failed == 0
    [(path, back)] = UnsavedSpool(tmp_path / "unsaved").pending()
    assert path == report.paths[0] and path.suffix == ".json"
    r, o = back.result, original.result
    assert (r.verdict, r.probability, r.score, r.threshold) == (o.verdict, o.probability, o.score, o.threshold)
    assert r.regions == o.regions  # bbox, area, location, peak and centroid, exactly
    assert r.timings_ms == o.timings_ms
    assert (r.encoder_id, r.calibration_id, r.overridden, r.image_size) == (
        o.encoder_id,
        o.calibration_id,
        o.overridden,
        o.image_size,
    )
    assert back.finished_at == original.finished_at  # the inspection's own time
    assert datetime.fromtimestamp(back.finished_at, UTC) == INSPECTED_AT
    assert np.array_equal(back.frame.image, original.frame.image) and back.frame.image.dtype == np.uint8
    assert np.array_equal(back.heatmap_rgba, original.heatmap_rgba)
    assert np.array_equal(r.anomaly_map, o.anomaly_map) and r.anomaly_map.dtype == np.float32
    assert (back.frame.index, back.frame.source, back.frame.kind, back.frame.label, back.frame.timestamp) == (
        417,
        "Camera 2",
        "folder",
        "part-0417.png",
        12345.678,
    )
    assert (back.product_id, back.product_name, back.latency_ms) == (3, "bracket-b", 41.5)
    assert back.operator == "anna"  # who was logged in when it was inspected, not who is when it is written


def test_a_planted_pickle_is_never_unpickled_and_is_quarantined(tmp_path, caplog):
    proof = tmp_path / "payload-works"
    assert not proof.exists()
    pickle.loads(pickle.dumps(Payload(proof)))  # the payload is real: unpickling it does run code
    assert proof.exists()

    marker = tmp_path / "pwned"
    folder = tmp_path / "unsaved"
    folder.mkdir()
    (folder / "20240101-000000-0000.pkl").write_bytes(pickle.dumps(Payload(marker)))
    (folder / "20240101-000000-0001.pkl.bad").write_bytes(pickle.dumps(Payload(marker)))  # an older version's name
    working = FakeDatabase(fail=False)
    service, _answers = _recorder(working, folder)
    with caplog.at_level(logging.ERROR, logger="line.unsaved_spool"):
        assert service.resume_spooled() == 0
    assert service.stop()
    assert not marker.exists()  # never executed
    assert working.rows == []  # and nothing migrated from it
    assert not list(folder.glob("*.pkl*"))
    assert sorted(p.name for p in (folder / "quarantine").iterdir()) == [
        "20240101-000000-0000.pkl",
        "20240101-000000-0001.pkl.bad",
    ]
    assert "never unpickled" in caplog.text and "not migrated" in caplog.text and "quarantine" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="line.unsaved_spool"):  # the next start: nothing to run again
        assert UnsavedSpool(folder).pending() == []
    assert not marker.exists() and caplog.text == ""


@pytest.mark.parametrize(
    "damage",
    ["truncated-json", "not-json", "wrong-type", "other-format", "swapped-image", "missing-image", "hostile-npz"],
)
def test_an_entry_that_does_not_parse_is_quarantined_with_its_files(tmp_path, caplog, damage):
    folder = tmp_path / "unsaved"
    spool = UnsavedSpool(folder)
    good, bad = spool.put([_outcome(1), _outcome(2)]).paths
    stem = bad.name[: -len(".json")]
    text = bad.read_text()
    if damage == "truncated-json":
        bad.write_text(text[: len(text) // 2])
    elif damage == "not-json":
        bad.write_bytes(b"\x80\x04\x95 not json at all")
    elif damage == "wrong-type":
        bad.write_text(text.replace('"score": 1.2', '"score": "1.2"'))
    elif damage == "other-format":
        bad.write_text(text.replace('"version": 1', '"version": 99'))
    elif damage == "swapped-image":
        (folder / f"{stem}.frame.png").write_bytes((folder / (good.name[:-5] + ".frame.png")).read_bytes())
    elif damage == "missing-image":
        (folder / f"{stem}.heatmap.png").unlink()
    elif damage == "hostile-npz":  # an object array inside the archive would need pickle to load
        hostile = folder / f"{stem}.map.npz"
        np.savez(hostile, map=np.array([Payload(tmp_path / "pwned")], dtype=object))
        old_sum = json.loads(text)["files"][".map.npz"]
        bad.write_text(text.replace(old_sum, hashlib.sha256(hostile.read_bytes()).hexdigest()))  # even if it matches
    with caplog.at_level(logging.ERROR, logger="line.unsaved_spool"):
        pending = UnsavedSpool(folder).pending()
    assert [p for p, _ in pending] == [good]
    quarantined = sorted(p.name for p in (folder / "quarantine").iterdir())
    assert f"{stem}.json" in quarantined and all(name.startswith(stem) for name in quarantined)
    assert not list(folder.glob(f"{stem}*"))  # none of its files is left to be retried
    assert "does not parse" in caplog.text and bad.name in caplog.text
    assert not (tmp_path / "pwned").exists()
    assert UnsavedSpool(folder).pending()[0][0] == good  # a second start tries only the good one


def test_loose_files_of_an_interrupted_entry_are_quarantined(tmp_path):
    folder = tmp_path / "unsaved"
    [path] = UnsavedSpool(folder).put([_outcome(1)]).paths
    path.unlink()  # the JSON is written last: a crash before it leaves only image files
    (folder / ".x-1234.json.tmp").write_bytes(b"{")  # and perhaps a temp file of the atomic write
    assert UnsavedSpool(folder).pending() == []
    assert [p for p in folder.iterdir() if p.is_file()] == []
    assert len(list((folder / "quarantine").iterdir())) == 3


def test_a_spool_write_failure_is_reported_as_not_kept(tmp_path, monkeypatch, caplog):
    real_open = spool_module.atomic_open
    calls = {"n": 0}

    def disk_full_on_the_second_entry(path, *a, **kw):
        calls["n"] += 1
        if calls["n"] > 5:  # entry 1 has 4 files; entry 2 fails on its second file, entry 3 on its first
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, *a, **kw)

    monkeypatch.setattr(spool_module, "atomic_open", disk_full_on_the_second_entry)
    service, answers = _recorder(FakeDatabase(fail=True), tmp_path / "unsaved")
    for i in (1, 2, 3):
        service.submit(RecordJob(i, _outcome(i)))
    answers.wait("on_record_failed")
    with caplog.at_level(logging.WARNING):
        service.stop()
    assert service.kept == 1 and service.not_kept == 2  # what was not written is not pretended kept
    files = sorted(p.name for p in (tmp_path / "unsaved").iterdir())
    assert len(files) == 4 and sum(name.endswith(".json") for name in files) == 1  # no half entry left
    assert "1 unsaved inspection(s) kept" in caplog.text
    assert "2 unsaved inspection(s) could NOT be kept" in caplog.text and "full" in caplog.text


def test_a_result_submitted_after_the_writer_stopped_goes_to_the_spool(tmp_path):
    service, _answers = _recorder(FakeDatabase(fail=False), tmp_path / "unsaved")
    assert service.stop()
    service.submit(RecordJob(4, _outcome(4)))  # a late result of the inference thread
    assert service.kept == 1 and service.waiting == 0
    [(_, back)] = UnsavedSpool(tmp_path / "unsaved").pending()
    assert int(back.frame.image[0, 0, 0]) == 40
