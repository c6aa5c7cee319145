"""The simulated demo camera: the project's generated demo images, good parts and planted defects, in a loop."""

from __future__ import annotations

from pathlib import Path

from line.capture.folder_source import FolderSource
from line.demo_assets import DEMO_CAMERA_DIR

DEMO_FPS = 4.0


class DemoCamera(FolderSource):
    """Behaves like a live camera on the demo line (``is_live``), paced at a few frames per second."""

    is_live = True
    kind = "demo"

    def __init__(self, folder: str | Path = DEMO_CAMERA_DIR, fps: float = DEMO_FPS) -> None:
        super().__init__(folder, fps=fps, name="Demo camera")
