"""Turn a source spec (command line, settings, source selector) into a FrameSource.

demo                      the simulated demo camera
0, camera:0               camera by OpenCV device index
rtsp://..., http(s)://... network stream
folder:DIR or DIR         image folder, looping
file:VIDEO or VIDEO       video file, looping
pylon:SERIAL              Basler camera by serial number (pylon: the first one); ?images=DIR for the emulation
genicam:SERIAL?cti=PATH   GenICam camera through a GenTL producer (harvesters)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from line.capture.demo_camera import DemoCamera
from line.capture.folder_source import FolderSource
from line.capture.opencv_sources import CameraSource, StreamSource, VideoFileSource
from line.capture.source import FrameSource

DEMO_SPEC = "demo"
STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://")


class SourceSpecError(ValueError):
    """The spec names no kind of source this station knows."""


CAMERA_PREFIXES = ("pylon:", "genicam:")


def _camera_spec(text: str) -> tuple[str, str, dict[str, str]]:
    """'pylon:SERIAL?images=DIR' -> ('pylon', 'SERIAL', {'images': 'DIR'})."""
    kind, rest = text.split(":", 1)
    serial, _, query = rest.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    known = {"pylon": {"images"}, "genicam": {"cti"}}[kind]
    unknown = set(options) - known
    if unknown:
        raise SourceSpecError(
            f"{kind}: source option {', '.join(sorted(unknown))} is unknown (known: {', '.join(sorted(known))})"
        )
    if any(c.isspace() for c in serial):
        raise SourceSpecError(f"{kind}: serial number {serial!r} contains spaces")
    return kind, serial, options


def check_spec(spec: str, cti: str | None = None) -> None:
    """Raise SourceSpecError when ``spec`` names no source that could exist (nothing is opened)."""
    text = spec.strip()
    if text.startswith("folder:") and not Path(text.split(":", 1)[1]).expanduser().is_dir():
        raise SourceSpecError(f"image folder {text.split(':', 1)[1]} does not exist")
    if text.startswith("pylon:"):
        _, _, options = _camera_spec(text)
        if "images" in options and not Path(options["images"]).expanduser().exists():
            raise SourceSpecError(f"pylon: image folder {options['images']} does not exist")
    source_from_spec(spec, cti=cti)


def source_from_spec(spec: str, cti: str | None = None) -> FrameSource:
    text = spec.strip()
    if not text:
        raise SourceSpecError("empty source: use demo, a camera number, a video file, an image folder or a URL")
    if text.lower().startswith(CAMERA_PREFIXES):
        kind, serial, options = _camera_spec(text)
        if kind == "pylon":
            from line.capture.pylon_source import PylonSource

            return PylonSource(serial or None, images=options.get("images") or None)
        from line.capture.genicam_source import GenICamSource

        return GenICamSource(serial or None, cti=options.get("cti") or cti)
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
        f"unknown source {spec!r}: use demo, a camera number (0), a video file, an image folder, an rtsp:// URL,"
        " pylon:SERIAL or genicam:SERIAL"
    )
