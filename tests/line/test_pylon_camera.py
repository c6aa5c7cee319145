"""A Basler camera through pypylon, for real, with pylon's camera emulation (PYLON_CAMEMU, inside the pypylon
wheel) serving the images of a folder: selection by serial number, software / free-run / hardware trigger, the
recipe's exposure and gain, frame time stamps and lost frames, and a serial number that does not exist."""

from __future__ import annotations

import asyncio
import time

import cv2
import numpy as np
import pytest
from opcua_plc import Plc, with_plc

from db.records import HistoryFilter
from line.capture.camera_link import CameraError, CameraLink, DeviceNotFoundError, TriggerMode
from line.capture.spec import source_from_spec
from line.events import ErrorCode, StationState
from line.plc.opcua_server import OpcUaServer
from tests.station_fakes import bad_part, free_port, good_part, wait_until

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


def test_the_emulated_camera_unplugged_mid_run_is_an_error_the_plc_reads_and_it_reconnects(make_line, database, images):
    """pylon's emulation cannot be unplugged (its node map has no device removal or reset), so the cable pull is
    emulated at the pypylon device level: from outside the camera's thread, the InstantCamera under the grab
    stops grabbing, closes and destroys its device, as a driver does when the cable goes. The station's next
    software trigger fails, the part gets no verdict, the PLC reads State ERROR with CAMERA_LOST and the reason,
    and the camera thread opens the camera again by its serial number."""
    rig = make_line(source=source_from_spec(f"pylon:{SERIAL}?images={images}")).start()
    rig.camera.reconnect_delays_s = (1.5,)  # the error lasts long enough for the PLC's polls to see it
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/inspection/"
    server = OpcUaServer(rig.controller, endpoint)
    server.start()

    async def plc(p: Plc):
        await p.trigger("U1")
        await p.wait("ResultReady", True)
        await p.write("ResultAck", True, "Boolean")
        await p.wait("Ready", True)
        camera = rig.camera.source._camera  # the cable is pulled
        camera.StopGrabbing()
        camera.Close()
        camera.DestroyDevice()
        await p.trigger("U2")
        await p.wait("State", int(StationState.ERROR))
        error = (await p.read("ErrorCode"), await p.read("ErrorText"), await p.read("Ready"))
        await p.wait("State", int(StationState.READY), timeout=20.0)
        back = await p.read("ErrorCode")
        await p.trigger("U3")
        await p.wait("ResultReady", True)
        await p.write("ResultAck", True, "Boolean")
        return error, back

    try:
        (code, text, ready), back = asyncio.run(with_plc(endpoint, plc))
    finally:
        server.stop()
    assert code == ErrorCode.CAMERA_LOST and ready is False
    assert text.startswith(f"Basler {SERIAL} disconnected") and "its device is no longer open" in text
    assert back == ErrorCode.NONE and rig.camera.reconnects == 1
    assert sorted(r.part_id for r in database.history.query(HistoryFilter(limit=None)).records) == ["U1", "U3"]


def test_free_run_notices_a_camera_closed_under_the_grab_and_opens_it_again(images):
    """The window's capture and a free-running line camera read in a loop: a device closed under the grab (the
    emulated cable pull above) is a loss there too, not an endless wait for the next frame."""
    link, statuses = _link(f"pylon:{SERIAL}?images={images}", TriggerMode.FREE_RUN)
    try:
        wait_until(lambda: link.connected, 10, "the emulated camera")
        camera = link.source._camera
        camera.StopGrabbing()
        camera.Close()
        camera.DestroyDevice()
        wait_until(lambda: any(not ok for ok, _m, _f in statuses), 10, "the loss to be reported")
        wait_until(lambda: link.connected and link.reconnects == 1, 10, "the reconnection")
        lost = next(message for ok, message, _f in statuses if not ok)
        assert "no longer open" in lost
        assert link.acquire(time.monotonic(), 2.0).image.shape == (128, 128, 3)
    finally:
        assert link.stop()


def test_a_12_bit_mono_frame_reads_as_the_same_8_bit_image(images):
    """A mono camera set to Mono12 (or Mono10, Mono16) delivers uint16 frames whose values use only that many bits:
    the station keeps their top 8 bits, so the part looks as it does in Mono8, not almost black."""
    from pypylon import pylon

    from line.capture.pixel_depth import significant_bits
    from line.capture.pylon_source import PylonSource

    info = pylon.DeviceInfo()
    info.SetSerialNumber(SERIAL)
    cam = pylon.InstantCamera(pylon.TlFactory.GetInstance().CreateFirstDevice(info))
    cam.Open()
    try:
        cam.TestImageSelector.SetValue("Off")
        cam.ImageFileMode.SetValue("On")
        cam.ImageFilename.SetValue(str(sorted(images.glob("*.png"))[0]))
        frames = {}
        for fmt in ("Mono8", "Mono10", "Mono12", "Mono16"):
            cam.PixelFormat.SetValue(fmt)
            grab = cam.GrabOne(5000)
            try:
                raw = grab.Array
                assert raw.dtype == (np.uint8 if fmt == "Mono8" else np.uint16)
                frames[fmt] = PylonSource._rgb(raw, fmt)
            finally:
                grab.Release()
    finally:
        cam.Close()
    mono8 = frames["Mono8"].astype(int)
    assert mono8.shape[2] == 3 and mono8.mean() > 40  # a real picture, not black
    for fmt in ("Mono10", "Mono12", "Mono16"):
        assert np.abs(frames[fmt].astype(int) - mono8).max() <= 1, fmt
    assert significant_bits("Mono12p", np.dtype(np.uint16)) == 12
    assert significant_bits("BayerRG10", np.dtype(np.uint16)) == 10
    assert significant_bits("Coord3D_C16", np.dtype(np.uint16)) == 16  # unknown: the whole type
