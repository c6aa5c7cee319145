"""Frame sources read through OpenCV: a camera by device index, a video file (looping) and an RTSP/HTTP stream."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from line.capture.source import SourceError

# Seconds OpenCV may block while opening or reading a network stream, so a dead stream never hangs the worker.
STREAM_TIMEOUT_MS = 3000


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class _VideoCaptureSource:
    """Common part: one cv2.VideoCapture, opened on ``open`` and released on ``close``."""

    name = "video"
    kind = "camera"
    is_live = True
    pace_fps: float | None = None

    def __init__(self) -> None:
        self._cap: cv2.VideoCapture | None = None

    def _make_capture(self) -> cv2.VideoCapture:
        raise NotImplementedError

    def _unavailable_message(self) -> str:
        raise NotImplementedError

    def open(self) -> None:
        self.close()
        cap = self._make_capture()
        if not cap.isOpened():
            cap.release()
            raise SourceError(self._unavailable_message())
        self._cap = cap

    def _grab(self) -> np.ndarray | None:
        if self._cap is None:
            raise SourceError(f"{self.name} is not open")
        ok, frame = self._cap.read()
        return frame if ok and frame is not None and frame.size else None

    def read(self) -> np.ndarray:
        frame = self._grab()
        if frame is None:
            raise SourceError(f"{self.name} stopped delivering frames")
        return _to_rgb(frame)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class CameraSource(_VideoCaptureSource):
    """A camera attached to this computer, by OpenCV device index (0 is the first camera)."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = int(index)
        self.name = f"Camera {self.index}"

    def _make_capture(self) -> cv2.VideoCapture:
        return cv2.VideoCapture(self.index)

    def _unavailable_message(self) -> str:
        return f"{self.name} is not connected or is used by another program"


class VideoFileSource(_VideoCaptureSource):
    """A video file played at its own frame rate, starting over at the end."""

    is_live = False
    kind = "file"

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = f"Video {self.path.name}"
        self.last_label = self.path.name
        self.pace_fps = 25.0

    def _make_capture(self) -> cv2.VideoCapture:
        return cv2.VideoCapture(str(self.path))

    def _unavailable_message(self) -> str:
        if not self.path.is_file():
            return f"video file {self.path} does not exist"
        return f"video file {self.path} cannot be decoded (is it a video?)"

    def open(self) -> None:
        super().open()
        assert self._cap is not None
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.pace_fps = fps if 1.0 <= fps <= 120.0 else 25.0

    def read(self) -> np.ndarray:
        frame = self._grab()
        if frame is None:  # end of file: start over once
            assert self._cap is not None
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            frame = self._grab()
        if frame is None:
            raise SourceError(f"video file {self.path} has no readable frames")
        return _to_rgb(frame)


class StreamSource(_VideoCaptureSource):
    """An RTSP or HTTP(S) video stream (IP camera)."""

    kind = "stream"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.name = f"Stream {url}"

    def _make_capture(self) -> cv2.VideoCapture:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
        return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)

    def _unavailable_message(self) -> str:
        return f"stream {self.url} cannot be reached (check the address and the network)"
