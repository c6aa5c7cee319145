"""The window's camera feed (desktop/controllers/camera_feed.py) over the capture loop and its Qt relay: frames,
status and skipped files reach the GUI thread in order; pause, resume and a source switch leave no thread and no
relay behind."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2

from desktop.controllers.camera_feed import CameraFeed
from desktop.workers.capture_relay import CaptureRelay
from line.capture.folder_source import FolderSource
from tests.station_fakes import ScriptedSource, good_part


def _capture_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "line-capture" and t.is_alive()]


def test_frames_and_status_arrive_in_the_gui_thread_and_pause_stops_them(qtbot):
    sources: list[ScriptedSource] = []

    def factory(_spec: str) -> ScriptedSource:
        sources.append(ScriptedSource(open_failures=1, frames_per_session=10**6, pace_fps=100.0))
        return sources[-1]

    feed = CameraFeed(factory, reconnect_backoff_s=0.05)
    gui = threading.current_thread()
    frames, statuses, threads = [], [], []
    feed.frame_arrived.connect(lambda f: (frames.append(f), threads.append(threading.current_thread())))
    feed.status_changed.connect(lambda name, message, ok: statuses.append((name, message, ok)))
    feed.open("camera:7")
    qtbot.waitUntil(lambda: len(frames) >= 5, timeout=5000)
    assert statuses[:2] == [
        ("Camera 7", "Camera 7 is not connected - retrying in 0.05 s", False),
        ("Camera 7", "Camera 7 connected", True),
    ]
    assert set(threads) == {gui}
    indices = [f.index for f in frames]
    assert indices == sorted(indices)  # newest frame each time, never an older one after a newer
    for _ in range(3):  # pause and resume: each pause joins its thread and lets its relay go
        feed.set_paused(True)
        assert not _capture_threads()
        seen = len(frames)
        qtbot.wait(100)
        assert len(frames) == seen  # nothing after a pause
        feed.set_paused(False)
        qtbot.waitUntil(lambda n=seen: len(frames) > n, timeout=5000)
    feed.stop()
    assert not _capture_threads()
    qtbot.waitUntil(lambda: len(feed.findChildren(CaptureRelay)) == 0, timeout=2000)
    assert not sources[0].is_open


def test_a_folder_with_a_damaged_file_is_told_once(qtbot, tmp_path: Path):
    cv2.imwrite(str(tmp_path / "a.png"), good_part(1))
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    feed = CameraFeed(lambda _spec: FolderSource(tmp_path, fps=50.0))
    told: list[str] = []
    frames: list = []
    feed.files_skipped.connect(told.append)
    feed.frame_arrived.connect(frames.append)
    feed.open(f"folder:{tmp_path}")
    qtbot.waitUntil(lambda: len(frames) >= 5, timeout=10000)
    feed.stop()
    assert len(told) == 1 and "b.png" in told[0] and "replace or remove it" in told[0]
