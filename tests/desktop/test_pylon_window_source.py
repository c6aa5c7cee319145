"""The window's --source pylon:SERIAL streams a Basler camera (free-run) through its capture thread, here pylon's
emulated camera (PYLON_CAMEMU, inside the pypylon wheel)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PYLON_CAMEMU", "2")  # read when pypylon first loads its transport layers

from desktop.workers.capture_thread import CaptureThread
from line.capture.spec import source_from_spec
from line.demo_assets import DEMO_CAMERA_DIR

pytest.importorskip("pypylon", reason="pypylon is not installed (pip install pypylon)")


@pytest.mark.timeout(60)
def test_the_capture_thread_streams_the_emulated_camera(qtbot):
    source = source_from_spec(f"pylon:0815-0000?images={DEMO_CAMERA_DIR}")
    capture = CaptureThread(source, initial_backoff_s=0.1)
    statuses: list = []
    capture.status_changed.connect(lambda message, ok: statuses.append((message, ok)))
    capture.start()
    frames: list = []
    try:
        qtbot.waitUntil(lambda: capture.frames_read >= 5, timeout=20000)
        qtbot.waitUntil(lambda: frames.append(capture.mailbox.take()) or frames[-1] is not None, timeout=5000)
        assert ("Basler 0815-0000 connected", True) in statuses
        assert source.last_device_timestamp is not None and source.lost_frames >= 0
    finally:
        assert capture.stop(5.0)
    assert frames[-1].image.shape == (320, 320, 3) and frames[-1].source == "Basler 0815-0000"
