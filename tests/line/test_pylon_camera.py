"""A Basler camera through pypylon, for real, with pylon's camera emulation (PYLON_CAMEMU, inside the pypylon
wheel) serving the images of a folder: selection by serial number, software / free-run / hardware trigger, the
recipe's exposure and gain, frame time stamps and lost frames, and a serial number that does not exist."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from db.records import HistoryFilter
from line.capture.camera_link import CameraError, CameraLink, DeviceNotFoundError, TriggerMode
from line.capture.spec import source_from_spec
from line.events import ErrorCode, StationState
from tests.station_fakes import bad_part, good_part, wait_until

pypylon = pytest.importorskip("pypylon", reason="pypylon is not installed (pip install pypylon)")
pytestmark = pytest.mark.timeout(60)
SERIAL = "0815-0001"


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "emu"
    folder.mkdir()
    for i, img in enumerate([good_part(20, 128), good_part(21, 128), bad_part(22, 128)]):
        cv2.imwrite(str(folder / f"img_{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return folder


def _link(spec: str, mode: TriggerMode, recipe: dict | None = None) -> tuple[CameraLink, list]:
    source = source_from_spec(spec)
    if recipe:
        source.configure(recipe)
    statuses: list = []
    link = CameraLink(source, mode, reconnect_delays_s=(0.2,))
    link.start(lambda ok, message, fault: statuses.append((ok, message, fault)))
    return link, statuses


def test_software_trigger_serves_the_folder_images_with_the_recipe_applied(images):
    link, statuses = _link(
        f"pylon:{SERIAL}?images={images}", TriggerMode.SOFTWARE, {"exposure_us": 1500.0, "gain_db": 2.0}
    )
    try:
        wait_until(lambda: link.connected, 10, "the emulated camera")
        assert statuses[0][0] is True and SERIAL in statuses[0][1]
        frames = [link.acquire(time.monotonic(), 2.0) for _ in range(4)]
        expected = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(images.glob("*.png"))]
        assert np.array_equal(frames[0].image, expected[0]) and np.array_equal(frames[2].image, expected[2])
        assert np.array_equal(frames[3].image, expected[0])  # the folder loops
        assert [f.index for f in frames] == [1, 2, 3, 4] and all(f.device_timestamp is not None for f in frames)
        settings = link.source.settings()
        assert settings["exposure_us"] == pytest.approx(1500.0) and settings["gain_db"] == pytest.approx(2.0, abs=0.01)
        link.apply_recipe({"exposure_us": 800.0})
        assert link.source.settings()["exposure_us"] == pytest.approx(800.0)
        assert link.source.lost_frames == 0
    finally:
        assert link.stop()


def test_free_run_takes_a_frame_captured_after_the_trigger(images):
    link, _ = _link(f"pylon:{SERIAL}?images={images}", TriggerMode.FREE_RUN, {"exposure_us": 2000.0})
    try:
        wait_until(lambda: link.frames_read > 3, 10, "free-running frames")
        t = time.monotonic()
        frame = link.acquire(t, 2.0)
        assert frame.timestamp >= t
    finally:
        assert link.stop()


def test_hardware_trigger_waits_for_line1_and_times_out_without_it(images):
    link, _ = _link(f"pylon:{SERIAL}?images={images}", TriggerMode.HARDWARE)
    try:
        wait_until(lambda: link.connected, 10, "the emulated camera")
        assert link.source._camera.TriggerSource.GetValue() == "Line1"
        assert link.source._camera.TriggerMode.GetValue() == "On"
        t0 = time.monotonic()
        with pytest.raises(CameraError) as err:
            link.acquire(time.monotonic(), 0.5)  # nothing pulses Line1 on an emulated camera
        assert err.value.fault.code is ErrorCode.CAMERA_TIMEOUT and "trigger line" in str(err.value)
        assert time.monotonic() - t0 < 2.0
    finally:
        assert link.stop()


def test_a_serial_number_that_does_not_exist_is_named_with_the_cameras_found():
    source = source_from_spec("pylon:4000-9999")
    with pytest.raises(DeviceNotFoundError, match=r"4000-9999.*0815-0000"):
        source.open()
    link, statuses = _link("pylon:4000-9999", TriggerMode.SOFTWARE)
    try:
        wait_until(lambda: statuses, 10, "the camera status")
        ok, message, fault = statuses[0]
        assert not ok and fault.code is ErrorCode.CAMERA_NOT_FOUND and "retrying" in message
        with pytest.raises(CameraError) as err:
            link.acquire(time.monotonic(), 0.2)
        assert err.value.fault.code is ErrorCode.CAMERA_NOT_FOUND
    finally:
        assert link.stop()


def test_the_line_inspects_parts_from_the_emulated_camera(make_line, database, images):
    rig = make_line(source=source_from_spec(f"pylon:{SERIAL}?images={images}")).start()
    for i in range(3):
        assert rig.controller.trigger(f"E{i}") is None
        wait_until(lambda: rig.status.result_ready, 5, "the result")
        rig.controller.acknowledge()
    records = database.history.query(HistoryFilter(limit=None)).records
    assert sorted(r.part_id for r in records) == ["E0", "E1", "E2"]
    assert {r.source for r in records} == {"camera"} and all(r.width == 128 for r in records)
    assert [r.verdict for r in sorted(records, key=lambda r: r.part_id)] == ["PASS", "PASS", "FAIL"]


def test_the_controller_reports_a_missing_camera_to_the_plc(make_line):
    rig = make_line(source=source_from_spec("pylon:4000-9999")).start(ready=False)
    wait_until(lambda: rig.status.state is StationState.ERROR, 10, "the camera error")
    snap = rig.status.snapshot()
    assert snap.error_code is ErrorCode.CAMERA_NOT_FOUND and "4000-9999" in snap.error_text
    assert rig.controller.trigger("x").code is ErrorCode.CAMERA_NOT_FOUND
