"""Reading and writing images with checks that give people a clear message.

Every loader returns an RGB ``uint8`` array of shape (H, W, 3). Grayscale, RGBA, palette and 16-bit images are
converted; unreadable, truncated, empty, tiny and huge files, formats other than ALLOWED_FORMATS and files that are
not regular files raise :class:`ImageReadError` naming the file. References and imported images go through the same
checks (``probe_image_bytes``, used by db/image_store.py) as camera frames.
"""

from __future__ import annotations

import io
import logging
import os
import stat
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from core.atomic import atomic_open
from core.errors import ImageReadError

ImageFile.LOAD_TRUNCATED_IMAGES = False

MIN_SIDE = 16  # pixels; smaller images carry no usable patch features
MAX_PIXELS = 80_000_000  # 80 MP; larger images are refused rather than exhausting memory
# Files above this are reduced by an integer factor (box filter) as they are decoded: the model works at a few
# hundred pixels anyway, and a 79 MP PNG otherwise cost 1.2 GB and tens of seconds after decoding (issue 15).
# Regions and heatmaps of such a file are in the reduced image's pixels.
MAX_WORK_PIXELS = 25_000_000
# The file formats the station reads (PIL knows dozens more; EPS would even start Ghostscript). A camera JPEG with a
# preview image (MPO) opens as JPEG.
ALLOWED_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")
MAX_FILE_BYTES = 512 * 1024 * 1024  # a larger file is refused before it is read

log = logging.getLogger(__name__)


def reduction_factor(width: int, height: int) -> int:
    """The smallest integer factor that brings width x height to at most MAX_WORK_PIXELS."""
    factor = 1
    while (width // factor) * (height // factor) > MAX_WORK_PIXELS:
        factor += 1
    return factor


def _reduce(img: Image.Image, name: str, file_size: tuple[int, int]) -> Image.Image:
    """``img`` at most MAX_WORK_PIXELS (a JPEG may already come decoded smaller, see ``draft``)."""
    small = img
    factor = reduction_factor(*img.size)
    if factor > 1:
        try:
            small = img.reduce(factor)
        except ValueError:  # a mode PIL cannot reduce: convert first, at the full size once
            small = Image.fromarray(_to_rgb_uint8(img, name)).reduce(factor)
    if small.size != tuple(file_size):
        log.warning(
            "%s: %dx%d pixels, inspected reduced to %dx%d (more than %d MP)",
            name,
            file_size[0],
            file_size[1],
            small.size[0],
            small.size[1],
            MAX_WORK_PIXELS // 1_000_000,
        )
    return small


def _require_finite(arr: np.ndarray, name: str) -> None:
    """A float frame with NaN or infinite pixels is corrupt: it used to become black and could PASS (issue 15)."""
    bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise ImageReadError(
            f"{name}: {bad} of {arr.size} pixels are not numbers (NaN or infinite); the camera or "
            "the file delivers corrupt values"
        )


def _to_rgb_uint8(img: Image.Image, name: str) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        _require_finite(arr, name)
        lo, hi = float(arr.min()), float(arr.max())
        if mode.startswith("I;16"):
            lo, hi = 0.0, 65535.0
        elif hi <= lo:
            hi = lo + 1.0
        arr = np.clip((arr - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"), dtype=np.uint8)
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def check_array(arr: np.ndarray, name: str = "frame") -> np.ndarray:
    """Validate an in-memory frame and return it as contiguous RGB uint8 (H, W, 3)."""
    if not isinstance(arr, np.ndarray) or arr.size == 0:
        raise ImageReadError(f"{name}: empty image")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / (65535.0 if arr.dtype == np.uint16 else 255.0)
        arr = (arr[:, :, :3].astype(np.float32) * alpha).astype(arr.dtype)
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise ImageReadError(f"{name}: unsupported image shape {arr.shape}; expected gray, RGB or RGBA")
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype in (np.float32, np.float64):
        _require_finite(arr, name)
        hi = 1.0 if float(np.nanmax(arr)) <= 1.0 else 255.0
        arr = np.clip(np.nan_to_num(arr) / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ImageReadError(f"{name}: unsupported pixel type {arr.dtype}")
    h, w = arr.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageReadError(f"{name}: image is {w}x{h} pixels, too small (at least {MIN_SIDE}x{MIN_SIDE})")
    if h * w > MAX_PIXELS:
        raise ImageReadError(
            f"{name}: image is {w}x{h} pixels, larger than the {MAX_PIXELS // 1_000_000} MP this station accepts;"
            " reduce the camera resolution or crop to the part"
        )
    return np.ascontiguousarray(arr)


def load_image_bytes(data: bytes, name: str = "image") -> np.ndarray:
    """Decode image bytes (PNG, JPEG, BMP, TIFF ...) into RGB uint8."""
    if not data:
        raise ImageReadError(f"{name}: the file is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
            size = img.size
            if size[0] * size[1] > MAX_PIXELS:
                raise ImageReadError(
                    f"{name}: image is {size[0]}x{size[1]} pixels, larger than the"
                    f" {MAX_PIXELS // 1_000_000} MP this station accepts; reduce the resolution or crop to the part"
                )
            factor = reduction_factor(*size)
            if factor > 1 and img.format == "JPEG":
                img.draft(img.mode, (size[0] // factor, size[1] // factor))  # JPEG decodes at 1/2, 1/4, 1/8
            img.load()
            arr = _to_rgb_uint8(_reduce(img, name, size), name)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(f"{name}: not an image file this station can read (PNG, JPEG, BMP, TIFF)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason.lower():
            reason = "the file is truncated (incomplete copy or write)"
        raise ImageReadError(f"{name}: cannot decode image: {reason}") from None
    except Image.DecompressionBombError:
        raise ImageReadError(f"{name}: image is too large to decode safely") from None
    return check_array(arr, name)


def read_image_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of an image file, after the checks that come before reading: it exists, is a regular file (not a
    folder, a pipe or a device such as /dev/zero, which would never end) and is not larger than MAX_FILE_BYTES."""
    p = Path(path)
    try:
        info = p.stat()  # follows a symbolic link: a link to a good file is read as that file
    except FileNotFoundError:
        raise ImageReadError(f"{p}: file not found") from None
    except OSError as exc:
        raise ImageReadError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(f"{p}: is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageReadError(f"{p}: is not a regular file (a device, a pipe or a socket); choose an image file")
    if info.st_size > MAX_FILE_BYTES:
        raise ImageReadError(
            f"{p}: the file is {info.st_size / 2**20:.0f} MB, more than the {MAX_FILE_BYTES // 2**20} MB an image may be"
        )
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ImageReadError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:  # it grew while being read
        raise ImageReadError(f"{p}: the file is larger than the {MAX_FILE_BYTES // 2**20} MB an image may be")
    return data


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file into RGB uint8, or raise ImageReadError naming the file and the problem."""
    return load_image_bytes(read_image_file(path), str(Path(path)))


def probe_image_bytes(data: bytes, name: str = "image") -> tuple[int, int]:
    """(width, height) of an image file's bytes, after every check a camera frame gets (format, size before
    decoding, decompression bomb, truncation, NaN pixels, smallest side): for references and imported images,
    which are stored as the original file. Decodes the pixels once; raises ImageReadError."""
    load_image_bytes(data, name)
    with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
        return int(img.size[0]), int(img.size[1])


def save_png(arr: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write an RGB/gray uint8 array as PNG atomically (temp file + rename): never a half-written file."""
    p = Path(path)
    with atomic_open(p) as fh:
        Image.fromarray(arr).save(fh, format="PNG")
    return p
