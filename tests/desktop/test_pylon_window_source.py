"""The window's --source pylon:SERIAL streams a Basler camera (free-run) through its capture thread, here pylon's
emulated camera (PYLON_CAMEMU, inside the pypylon wheel)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PYLON_CAMEMU", "2")  # read when pypylon first loads its transport layers

from desktop.controllers.camera_feed import CameraFeed
from line.capture.spec import source_from_spec
from line.demo_assets import DEMO_CAMERA_DIR

pytest.importorskip("pypylon", reason="pypylon is not installed (pip install pypylon)")


@pytest.mark.timeout(60)
def test_the_capture_thread_streams_the_emulated_camera(qtbot):
    feed = CameraFeed(source_from_spec, reconnect_backoff_s=0.1)
    statuses: list = []
    frames: list = []
    feed.status_changed.connect(lambda _name, message, ok: statuses.append((message, ok)))
    feed.frame_arrived.connect(frames.append)
    source = feed.open(f"pylon:0815-0000?images={DEMO_CAMERA_DIR}")
    try:
        qtbot.waitUntil(lambda: len(frames) >= 5, timeout=20000)
        assert ("Basler 0815-0000 connected", True) in statuses
        assert source.last_device_timestamp is not None and source.lost_frames >= 0
    finally:
        feed.stop()
    assert feed.capture is None
    assert frames[-1].image.shape == (320, 320, 3) and frames[-1].source == "Basler 0815-0000"


@pytest.mark.timeout(90)
def test_the_window_applies_the_product_recipes_exposure_and_gain(qtbot, make_rig, database):
    """As the line runner's camera does (tests/line/test_pylon_camera.py): the chosen product's camera settings
    reach the window's Basler camera, and a product switch brings the other product's."""
    from tests.station_fakes import good_part

    first = database.products.create("bright")
    database.references.add(first.id, [good_part(1)])
    database.products.update_settings(first.id, {"camera": {"exposure_us": 1500.0, "gain_db": 2.0}})
    second = database.products.create("dark")
    database.references.add(second.id, [good_part(2)])
    database.products.update_settings(second.id, {"camera": {"exposure_us": 800.0}})
    opened: list = []

    def factory(spec: str):
        opened.append(source_from_spec(spec))
        return opened[-1]

    rig = make_rig(source_factory=factory)
    with qtbot.waitSignal(rig.station.product_ready, timeout=20000):
        rig.station.start(f"pylon:0815-0000?images={DEMO_CAMERA_DIR}", first.id)
    source = opened[-1]
    qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=20000)

    def settings() -> dict:
        return source.settings() if source._camera is not None else {}

    qtbot.waitUntil(lambda: settings().get("exposure_us") == pytest.approx(1500.0), timeout=10000)
    assert settings()["gain_db"] == pytest.approx(2.0, abs=0.01)
    with qtbot.waitSignal(rig.station.product_ready, timeout=20000):
        rig.window.controls.product_selected.emit(second.id)
    qtbot.waitUntil(lambda: settings().get("exposure_us") == pytest.approx(800.0), timeout=10000)
