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


def skipped_files_message(source_name: str, skipped: list[Path]) -> str:
    """What the operator is told of the files a folder source cannot read, and what to do about them."""
    names = ", ".join(p.name for p in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    many = len(skipped) != 1
    return (
        f"{len(skipped)} file{'s' if many else ''} in {source_name} cannot be read and {'are' if many else 'is'} "
        f"skipped: {names}. {'Each' if many else 'It'} is damaged or not an image this station reads "
        f"(PNG, JPEG, BMP, TIFF); replace or remove {'them' if many else 'it'}."
    )


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class FolderSource:
    """Every image of ``folder`` in turn, then from the start again. Damaged files are skipped (``skipped``, which
    a file leaves once it reads again); a file or the folder that is gone is the source lost, not a damaged file:
    the capture reopens it and reads what the folder holds then."""

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
        self.skipped = [p for p in self.skipped if p in files]  # a damaged file since removed is no longer news

    def read(self) -> np.ndarray:
        for _ in range(len(self._files)):
            path = self._files[self._next]
            self._next = (self._next + 1) % len(self._files)
            try:
                image = load_image(path)
            except ImageReadError as exc:
                if not self.folder.is_dir():
                    raise SourceError(f"image folder {self.folder} does not exist") from None
                if not path.exists():
                    raise SourceError(f"{path.name} was removed from image folder {self.folder}") from None
                if path not in self.skipped:
                    self.skipped.append(path)
                    log.warning("skipping %s: %s", path, exc)
                continue
            if path in self.skipped:  # replaced by a good file
                self.skipped.remove(path)
            self.last_label = path.name
            return image
        raise SourceError(f"no image in {self.folder} can be read")

    def close(self) -> None:
        self._files = []
