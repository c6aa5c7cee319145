"""Content-addressed image store: every file is named by the SHA-256 of its bytes.

Layout: ``<root>/<sha[:2]>/<sha><suffix>`` (``.png`` for frames and heatmaps the station encodes). A write goes to
a temporary file in the same folder, is flushed to disk (fsync), atomically renamed into place, and the folder
entry is flushed too. So a file either exists whole under its final name or not at all, and writing the same
content twice is harmless (idempotent). Database rows refer to files by the relative path and the SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.atomic import fsync_dir, write_bytes_atomic

from .errors import InvalidImageError, NotFoundError, StorageError, storage_error_for

_CHUNK = 1 << 20
_TMP_PREFIX = ".tmp-"
_TMP_SUFFIX = ".part"
KNOWN_SUFFIXES = (".png", ".jpg", ".bmp", ".tif", ".webp", ".bin")


@dataclass(frozen=True)
class StoredFile:
    """A file in the store: absolute ``path``, its ``sha256``, the store-relative ``relpath`` rows keep, and the
    image size where known (0 when not an image or not checked)."""

    path: Path
    sha256: str
    relpath: str
    size_bytes: int
    width: int = 0
    height: int = 0


def sha256_bytes(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def sniff_suffix(data: bytes) -> str:
    """File suffix from the first bytes (magic numbers); ``.bin`` when unknown."""
    head = bytes(data[:16])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"BM"):
        return ".bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return ".tif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return ".webp"
    return ".bin"


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an HxWx3 (RGB) or HxW (gray) uint8 array. Deterministic for the same pixels."""
    from PIL import Image

    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        raise InvalidImageError(f"Only 8-bit images can be stored (got {arr.dtype}); convert the frame to uint8 first.")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidImageError(f"Cannot store an image of shape {arr.shape}; expected height x width x 3 (RGB).")
    mode = "L" if arr.ndim == 2 else ("RGB" if arr.shape[2] == 3 else "RGBA")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr), mode=mode).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def image_size_of(data: bytes) -> tuple[int, int]:
    """(width, height) of encoded image bytes that come into the station (a reference, an imported image), after
    the checks a camera frame gets (core/imageio.py: format, dimensions before decoding, decompression bombs,
    truncation, NaN pixels, smallest side); InvalidImageError otherwise."""
    from core.errors import ImageReadError
    from core.imageio import probe_image_bytes

    try:
        return probe_image_bytes(bytes(data), "the file")
    except ImageReadError as exc:
        text = str(exc).removeprefix("the file: ")
        raise InvalidImageError(
            f"The file is not a readable image the station accepts ({text}). Use a PNG, JPEG, BMP, TIFF or WEBP "
            "file of the part.",
            detail=repr(exc),
        ) from exc


def decoded_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a file already in the store, fully decoding it; InvalidImageError when it is corrupt."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # decodes every pixel: catches truncated files that verify() lets through
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidImageError(
            f"The file is not a readable image ({exc}). Use a PNG, JPEG, BMP or TIFF file that opens in an image viewer.",
            detail=repr(exc),
        ) from exc
    if width <= 0 or height <= 0:
        raise InvalidImageError("The image is empty (0 pixels). Use another file.")
    return int(width), int(height)


class ImageStore:
    """Content-addressed, crash-safe file store for frames, heatmaps and reference images."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # ---------------------------------------------------------------- writing
    def put_png(self, array: np.ndarray) -> StoredFile:
        """Encode an RGB uint8 array as PNG and store it. Raises StorageError (disk full, read-only, permission)."""
        arr = np.asarray(array)
        data = encode_png(arr)
        stored = self._put(data, ".png", "the image")
        return StoredFile(
            stored.path, stored.sha256, stored.relpath, stored.size_bytes, int(arr.shape[1]), int(arr.shape[0])
        )

    def put_bytes(
        self, data: bytes | bytearray | memoryview, *, suffix: str | None = None, check_image: bool = False
    ) -> StoredFile:
        """Store raw bytes (e.g. the original PNG/JPEG file of a reference image).

        With ``check_image=True`` the bytes must decode as an image (InvalidImageError otherwise, nothing written)
        and the returned StoredFile carries its width and height.
        """
        raw = bytes(data)
        width = height = 0
        if check_image:
            width, height = image_size_of(raw)
        suffix = suffix or sniff_suffix(raw)
        if not suffix.startswith(".") or "/" in suffix or "\\" in suffix:
            raise ValueError(f"bad suffix {suffix!r}")
        stored = self._put(raw, suffix.lower(), "the image" if check_image else "the file")
        return StoredFile(stored.path, stored.sha256, stored.relpath, stored.size_bytes, width, height)

    def put_file(self, path: str | os.PathLike[str], *, check_image: bool = True) -> StoredFile:
        """Copy a file into the store (its bytes unchanged)."""
        from core.errors import ImageReadError
        from core.imageio import read_image_file

        src = Path(path)
        try:
            data = read_image_file(src)  # a regular file of a sane size: never a pipe, a device or a folder
        except ImageReadError as exc:
            raise StorageError(
                f"Could not read {exc}. Check that the file exists and is an image file.", detail=repr(exc)
            ) from exc
        if check_image:
            try:
                image_size_of(data)
            except InvalidImageError as exc:
                raise InvalidImageError(f"{src.name}: {exc.message}", detail=exc.detail) from exc
        return self.put_bytes(data, check_image=check_image)

    def _put(self, data: bytes, suffix: str, what: str) -> StoredFile:
        sha = sha256_bytes(data)
        rel = f"{sha[:2]}/{sha}{suffix}"
        final = self.root / sha[:2] / f"{sha}{suffix}"
        try:
            self._inside(final.parent)
            if final.is_file() and final.stat().st_size == len(data) and sha256_file(final) == sha:
                return StoredFile(final, sha, rel, len(data))  # already stored, intact
            final.parent.mkdir(parents=True, exist_ok=True)
            self._write_atomic(final, data)
        except OSError as exc:
            raise storage_error_for(exc, what, self.root) from exc
        return StoredFile(final, sha, rel, len(data))

    def _inside(self, folder: Path) -> None:
        """Refuse a shard folder that leads out of the store (a symbolic link someone put there): the store never
        writes outside its own folder."""
        if not folder.exists() and not folder.is_symlink():
            return
        root = self.root.resolve()
        real = folder.resolve()
        if folder.is_symlink() or (real != root and root not in real.parents):
            raise StorageError(
                f"{folder} leads out of the image store (to {real}); the station writes only inside {root}. Remove "
                "the link and restore the folder from a backup."
            )

    @staticmethod
    def _write_atomic(final: Path, data: bytes) -> None:
        write_bytes_atomic(final, data, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX, file_mode=0o644)

    # ---------------------------------------------------------------- reading
    def path_of(self, relpath: str) -> Path:
        """Absolute path of a store-relative path kept in a row (refuses paths that leave the store)."""
        parts = Path(relpath).parts
        if Path(relpath).is_absolute() or ".." in parts or len(parts) != 2:
            raise NotFoundError(f"{relpath!r} is not a path inside the image store.")
        return self.root / relpath

    def find(self, sha256: str) -> Path | None:
        """The stored file with this SHA-256, or None."""
        sha = sha256.lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            return None
        shard = self.root / sha[:2]
        for suffix in KNOWN_SUFFIXES:
            candidate = shard / f"{sha}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def _require(self, sha256: str) -> Path:
        path = self.find(sha256)
        if path is None:
            raise NotFoundError(
                f"The image file {sha256[:12]}... is missing from {self.root}. Restore the data folder from a backup."
            )
        return path

    def open(self, sha256: str) -> BinaryIO:
        """Open the stored file for reading (binary). Raises NotFoundError when missing."""
        path = self._require(sha256)
        try:
            return open(path, "rb")
        except OSError as exc:
            raise StorageError(f"Could not open {path}: {exc.strerror or exc}.", detail=repr(exc)) from exc

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def read_array(self, sha256: str) -> np.ndarray:
        """Decode a stored image to an HxWx3 uint8 RGB array."""
        from PIL import Image

        data = self.read(sha256)
        decoded_size(data)
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()

    def verify(self, sha256: str) -> bool:
        """True when the file exists and its bytes still hash to ``sha256`` (detects bit rot / tampering)."""
        path = self.find(sha256)
        if path is None:
            return False
        try:
            return sha256_file(path) == sha256.lower()
        except OSError:
            return False

    def remove_stale_temp_files(self, older_than_s: float = 3600.0) -> int:
        """Delete temporary files a crash left behind (never final files). Returns how many were removed."""
        removed = 0
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        for tmp in self.root.glob(f"??/{_TMP_PREFIX}*{_TMP_SUFFIX}"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    removed += 1
            except OSError:
                continue
        return removed


__all__ = [
    "ImageStore",
    "StoredFile",
    "encode_png",
    "fsync_dir",
    "image_size_of",
    "sha256_bytes",
    "sha256_file",
    "sniff_suffix",
]
