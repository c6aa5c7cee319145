"""Frame sources: the newest-frame mailbox, folders, files, streams, cameras (the capture loop that reads them:
tests/line/test_capture_loop.py; the window's feed over it: tests/desktop/test_camera_feed.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from line.capture.demo_camera import DemoCamera
from line.capture.folder_source import FolderSource
from line.capture.mailbox import Frame, LatestFrameMailbox
from line.capture.opencv_sources import CameraSource, StreamSource, VideoFileSource
from line.capture.source import FrameSource, SourceError
from line.capture.spec import SourceSpecError, source_from_spec
from tests.station_fakes import ScriptedSource, good_part


def _frame(i: int) -> Frame:
    return Frame(image=np.full((4, 4, 3), i, np.uint8), index=i, source="test")


def test_mailbox_keeps_only_the_newest_frame():
    box = LatestFrameMailbox()
    assert box.put(_frame(1)) is True  # empty -> reader needs a wake-up
    assert box.put(_frame(2)) is False
    assert box.put(_frame(3)) is False
    assert box.dropped == 2
    assert box.take().index == 3
    assert box.take() is None


def test_folder_source_loops_and_skips_a_corrupt_file(tmp_path: Path):
    cv2.imwrite(str(tmp_path / "a.png"), good_part(1))
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    cv2.imwrite(str(tmp_path / "c.png"), good_part(2))
    src = FolderSource(tmp_path)
    src.open()
    labels = []
    for _ in range(4):
        frame = src.read()
        assert frame.shape == (96, 96, 3) and frame.dtype == np.uint8
        labels.append(src.last_label)
    assert labels == ["a.png", "c.png", "a.png", "c.png"]
    assert [p.name for p in src.skipped] == ["b.png"]


def test_folder_source_errors_name_the_folder(tmp_path: Path):
    with pytest.raises(SourceError, match="does not exist"):
        FolderSource(tmp_path / "missing").open()
    with pytest.raises(SourceError, match="holds no images"):
        FolderSource(tmp_path).open()
    (tmp_path / "x.png").write_bytes(b"not an image")
    src = FolderSource(tmp_path)
    src.open()
    with pytest.raises(SourceError, match="no image .* can be read"):
        src.read()


def test_video_file_source_reads_rgb_and_loops(tmp_path: Path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for _i in range(3):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:, :, 2] = 200  # red in BGR
        writer.write(frame)
    writer.release()
    src = VideoFileSource(path)
    src.open()
    assert src.pace_fps == pytest.approx(10.0)
    frames = [src.read() for _ in range(7)]  # more than the file holds: it starts over
    assert all(f.shape == (48, 64, 3) for f in frames)
    assert frames[0][..., 0].mean() > 150 and frames[0][..., 2].mean() < 60  # converted to RGB
    src.close()


def test_missing_camera_stream_and_video_give_clear_errors(tmp_path: Path):
    with pytest.raises(SourceError, match="Camera 57 is not connected"):
        CameraSource(57).open()
    with pytest.raises(SourceError, match="does not exist"):
        VideoFileSource(tmp_path / "nope.mp4").open()
    with pytest.raises(SourceError, match="cannot be reached"):
        StreamSource("rtsp://127.0.0.1:9/none").open()


def test_source_specs(tmp_path: Path):
    assert isinstance(source_from_spec("demo"), DemoCamera)
    assert source_from_spec("0").name == "Camera 0"
    assert source_from_spec("camera:2").name == "Camera 2"
    assert isinstance(source_from_spec("rtsp://cam.local/stream"), StreamSource)
    assert isinstance(source_from_spec(str(tmp_path)), FolderSource)
    assert isinstance(source_from_spec(f"folder:{tmp_path}"), FolderSource)
    with pytest.raises(SourceSpecError, match="missing.mp4 does not exist"):
        source_from_spec(str(tmp_path / "missing.mp4"))
    with pytest.raises(SourceSpecError, match="unknown source 'webcam'"):
        source_from_spec("webcam")
    for src in (source_from_spec("demo"), source_from_spec("0"), ScriptedSource()):
        assert isinstance(src, FrameSource)


def test_demo_camera_cycles_through_the_generated_images():
    cam = DemoCamera()
    cam.open()
    labels = [(cam.read(), cam.last_label)[1] for _ in range(9)]
    assert labels[0] == labels[8] and len(set(labels)) == 8
    assert any("good" in name for name in labels) and any("scratch" in name for name in labels)
    assert cam.is_live and cam.kind == "demo"
