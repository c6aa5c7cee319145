"""Turn a source spec (command line, settings, source selector) into a FrameSource.

    demo                      the simulated demo camera
    0, camera:0               camera by OpenCV device index
    rtsp://..., http(s)://... network stream
    folder:DIR or DIR         image folder, looping
    file:VIDEO or VIDEO       video file, looping
"""
from __future__ import annotations

from pathlib import Path

from line.capture.demo_camera import DemoCamera
from line.capture.folder_source import FolderSource
from line.capture.opencv_sources import CameraSource, StreamSource, VideoFileSource
from line.capture.source import FrameSource

DEMO_SPEC = "demo"
STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://")


class SourceSpecError(ValueError):
    """The spec names no kind of source this station knows."""


def source_from_spec(spec: str) -> FrameSource:
    text = spec.strip()
    if not text:
        raise SourceSpecError("empty source: use demo, a camera number, a video file, an image folder or a URL")
    if text.lower() == DEMO_SPEC:
        return DemoCamera()
    if text.lower().startswith("camera:"):
        text = text.split(":", 1)[1]
    if text.isdigit():
        return CameraSource(int(text))
    if text.lower().startswith(STREAM_PREFIXES):
        return StreamSource(text)
    if text.startswith("folder:"):
        return FolderSource(text.split(":", 1)[1])
    if text.startswith("file:"):
        return VideoFileSource(text.split(":", 1)[1])
    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource(path)
    if path.is_file():
        return VideoFileSource(path)
    if "/" in text or "\\" in text or path.suffix:
        raise SourceSpecError(f"{text} does not exist: choose an existing video file or image folder")
    raise SourceSpecError(
        f"unknown source {spec!r}: use demo, a camera number (0), a video file, an image folder or an rtsp:// URL"
    )
