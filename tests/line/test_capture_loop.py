"""The live capture loop (line/capture/capture_loop.py): reconnects with growing waits, stops promptly, never queues
more than one frame, applies the recipe, tells of skipped files when they change; every call reaches the listener."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2

from line.capture.capture_loop import CaptureLoop
from line.capture.folder_source import FolderSource
from line.capture.mailbox import Frame
from line.ports import CaptureListener
from tests.station_fakes import ScriptedSource, good_part, wait_until


class Heard:
    """A listener that keeps what it is told (from the capture thread) and takes each frame it is woken for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: list[tuple[str, bool]] = []
        self.fps: list[float] = []
        self.skipped: list[str] = []
        self.frames: list[Frame] = []
        self.loop: CaptureLoop | None = None

    def frame_ready(self) -> None:
        assert self.loop is not None
        frame = self.loop.mailbox.take()
        if frame is not None:
            with self.lock:
                self.frames.append(frame)

    def capture_status(self, message: str, ok: bool) -> None:
        with self.lock:
            self.statuses.append((message, ok))

    def capture_fps(self, fps: float) -> None:
        with self.lock:
            self.fps.append(fps)

    def files_skipped(self, message: str) -> None:
        with self.lock:
            self.skipped.append(message)


def _loop(source, heard: Heard, **kwargs) -> CaptureLoop:
    listener: CaptureListener = heard  # the protocol the Qt relay satisfies as well
    loop = CaptureLoop(source, listener, **kwargs)
    heard.loop = loop
    return loop


def test_the_loop_reconnects_with_growing_waits_and_stops_promptly():
    source = ScriptedSource(open_failures=2, drops=1, frames_per_session=3)
    heard = Heard()
    loop = _loop(source, heard, initial_backoff_s=0.05, max_backoff_s=0.2)
    loop.start()
    wait_until(
        lambda: any(m == "Camera 7 reconnected" for m, _ in heard.statuses) and len(heard.frames) >= 5,
        timeout=5.0,
        what="a reconnect and five frames",
    )
    texts = [m for m, _ in heard.statuses]
    assert texts[0] == "Camera 7 is not connected - retrying in 0.05 s"
    assert texts[1] == "Camera 7 is not connected - retrying in 0.1 s"  # the wait doubles
    assert "Camera 7 connected" in texts
    assert "Camera 7 disconnected - reconnecting in 0.05 s" in texts  # reset after a good connection
    assert [ok for m, ok in heard.statuses if "disconnected" in m] == [False]
    t0 = time.monotonic()
    assert loop.stop(timeout_s=2.0)
    assert time.monotonic() - t0 < 1.0
    assert not loop.running
    assert source.opens == 4 and not source.is_open  # 2 failed opens, 2 sessions; closed at the end
    assert loop.reconnects == 1
    assert heard.fps[-1] == 0.0  # a stopped capture reads no frames


def test_the_loop_stops_during_a_long_backoff():
    heard = Heard()
    loop = _loop(ScriptedSource(open_failures=100), heard, initial_backoff_s=30.0)
    loop.start()
    wait_until(lambda: bool(heard.statuses), timeout=3.0, what="the first failed open")
    t0 = time.monotonic()
    assert loop.stop(timeout_s=2.0)
    assert time.monotonic() - t0 < 0.5


def test_the_loop_never_queues_more_than_one_frame():
    """A reader that never takes sees only the newest frame; the rest are dropped, nothing piles up."""

    class Asleep(Heard):
        def frame_ready(self) -> None:
            self.woken = getattr(self, "woken", 0) + 1

    heard = Asleep()
    loop = _loop(ScriptedSource(pace_fps=200.0, frames_per_session=10**6), heard)
    loop.start()
    wait_until(lambda: loop.frames_read >= 40, timeout=5.0, what="40 frames")
    assert loop.stop()
    frame = loop.mailbox.take()
    assert frame is not None and frame.index == loop.frames_read
    assert loop.mailbox.take() is None
    assert loop.mailbox.dropped >= 30
    assert heard.woken == 1  # one wake-up for the slot that was never emptied


def test_the_recipe_reaches_a_source_that_takes_it_before_its_next_read():
    applied: list[dict] = []

    class Configurable(ScriptedSource):
        def configure(self, recipe: dict) -> None:
            applied.append(dict(recipe))

    heard = Heard()
    loop = _loop(Configurable(pace_fps=100.0, frames_per_session=10**6), heard, recipe={"exposure_us": 900.0})
    loop.start()
    wait_until(lambda: len(heard.frames) >= 2, timeout=5.0, what="two frames")
    loop.configure({"exposure_us": 1500.0, "gain_db": 2.0})
    wait_until(lambda: len(applied) >= 2, timeout=5.0, what="the second recipe")
    assert loop.stop()
    assert applied == [{"exposure_us": 900.0}, {"exposure_us": 1500.0, "gain_db": 2.0}]


def test_each_skipped_file_of_a_folder_is_told_once(tmp_path: Path):
    cv2.imwrite(str(tmp_path / "a.png"), good_part(1))
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    heard = Heard()
    loop = _loop(FolderSource(tmp_path, fps=50.0), heard)
    loop.start()
    wait_until(lambda: loop.frames_read >= 6, timeout=10.0, what="six frames from the folder")
    assert loop.stop()
    assert heard.skipped == [
        "1 file in Folder " + tmp_path.name + " cannot be read and is skipped: b.png. It is damaged or not an "
        "image this station reads (PNG, JPEG, BMP, TIFF); replace or remove it."
    ]


def test_a_replaced_file_leaves_the_skipped_list_and_the_listener_is_told(tmp_path: Path):
    cv2.imwrite(str(tmp_path / "a.png"), good_part(1))
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    heard = Heard()
    loop = _loop(FolderSource(tmp_path, fps=50.0), heard)
    loop.start()
    wait_until(lambda: len(heard.skipped) == 1, timeout=10.0, what="the damaged file told")
    cv2.imwrite(str(tmp_path / "b.png"), good_part(2))
    wait_until(lambda: len(heard.skipped) == 2, timeout=10.0, what="the repair told")
    assert loop.stop()
    assert heard.skipped[1] == ""  # none left


def test_a_folder_that_goes_away_is_the_source_lost_not_its_files_damaged(tmp_path: Path):
    folder = tmp_path / "cam"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"part{i}.png"), good_part(i))
    heard = Heard()
    loop = _loop(FolderSource(folder, fps=100.0), heard, initial_backoff_s=0.05, max_backoff_s=0.1)
    loop.start()
    wait_until(lambda: len(heard.frames) >= 3, timeout=5.0, what="three frames")
    folder.rename(tmp_path / "away")
    wait_until(lambda: any(not ok for _, ok in heard.statuses), timeout=5.0, what="the loss")
    (tmp_path / "away").rename(folder)
    wait_until(lambda: heard.statuses[-1] == ("Folder cam reconnected", True), timeout=5.0, what="the return")
    assert loop.stop()
    assert heard.skipped == []  # never told of damaged files
    lost = [m for m, ok in heard.statuses if not ok]
    assert lost[0].startswith(("Folder cam disconnected", "image folder")), lost
