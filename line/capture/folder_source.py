"""An image folder played as a camera, looping over its images in name order."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from core.errors import ImageReadError
from core.imageio import load_image
from line.capture.source import SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class FolderSource:
    """Every image of ``folder`` in turn, then from the start again. Unreadable files are skipped."""

    is_live = False
    kind = "folder"

    def __init__(self, folder: str | Path, fps: float = 2.0, name: str | None = None) -> None:
        self.folder = Path(folder)
        self.pace_fps: float | None = fps
        self.name = name or f"Folder {self.folder.name}"
        self._files: list[Path] = []
        self._next = 0
        self.skipped: list[Path] = []
        self.last_label: str | None = None

    def open(self) -> None:
        if not self.folder.is_dir():
            raise SourceError(f"image folder {self.folder} does not exist")
        files = list_images(self.folder)
        if not files:
            raise SourceError(f"image folder {self.folder} holds no images (PNG, JPEG, BMP or TIFF)")
        self._files, self._next = files, 0

    def read(self) -> np.ndarray:
        for _ in range(len(self._files)):
            path = self._files[self._next]
            self._next = (self._next + 1) % len(self._files)
            try:
                image = load_image(path)
                self.last_label = path.name
                return image
            except ImageReadError as exc:
                if path not in self.skipped:
                    self.skipped.append(path)
                    log.warning("skipping %s: %s", path, exc)
        raise SourceError(f"no image in {self.folder} can be read")

    def close(self) -> None:
        self._files = []
