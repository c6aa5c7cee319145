"""Thumbnails of the history rows: decoded off the UI thread, kept in a small LRU cache.

The cache is handed a ``loader(key) -> bytes | Path`` (the stored image of an inspection). A view asks
``thumbnail(key)``: a cached image comes back at once; otherwise ``None`` comes back, a decode job is queued
(newest request first, so the rows on screen come before the ones scrolled past) and ``thumbnailReady(key)``
fires when the image is there. An image that cannot be read is remembered as failed and never retried in a loop.
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader

from desktop.workers.background_tasks import BackgroundTasks

log = logging.getLogger(__name__)

Loader = Callable[[Hashable], "bytes | Path | str"]


def decode_thumbnail(data: bytes | Path | str, size: QSize) -> QImage:
    """Decode ``data`` scaled to fit ``size`` (keeping the aspect ratio). Raises ValueError when unreadable."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        buffer = QBuffer()
        buffer.setData(QByteArray(bytes(data)))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        reader = QImageReader(buffer)
    else:
        buffer = None
        reader = QImageReader(str(data))
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid() and full.width() > 0 and full.height() > 0:
        reader.setScaledSize(full.scaled(size, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        raise ValueError(reader.errorString() or "not a readable image")
    if image.width() > size.width() or image.height() > size.height():
        image = image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    del buffer
    return image


def _decode(loader: Loader, key: Hashable, size: QSize) -> tuple[QImage, str]:  # a pool thread
    try:
        return decode_thumbnail(loader(key), size), ""
    except Exception as exc:  # noqa: BLE001 - any unreadable file becomes a "no thumbnail" cell
        return QImage(), str(exc) or type(exc).__name__


class ThumbnailCache(QObject):
    """LRU cache of thumbnail QImages, filled by background decode jobs."""

    thumbnailReady = Signal(object)  # key
    thumbnailFailed = Signal(object, str)  # key, reason

    def __init__(
        self,
        loader: Loader,
        *,
        size: QSize | None = None,
        capacity: int = 600,
        threads: int = 2,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._loader = loader
        self._size = QSize(size) if size is not None else QSize(96, 72)
        self._capacity = max(1, int(capacity))
        self._images: OrderedDict[Hashable, QImage] = OrderedDict()
        self._failed: dict[Hashable, str] = {}
        self._pending: set[Hashable] = set()
        self._generation = 0
        self._priority = itertools.count(1)
        self._tasks = BackgroundTasks(self, threads=threads)

    @property
    def size(self) -> QSize:
        return QSize(self._size)

    def thumbnail(self, key: Hashable) -> QImage | None:
        """The cached thumbnail, or None (then a decode is queued unless it failed before)."""
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
            return image
        if key in self._failed or key in self._pending:
            return None
        self._pending.add(key)
        # Highest priority runs first: the newest request (the rows now on screen) wins.
        priority = next(self._priority) % 2_000_000_000
        generation, size, loader = self._generation, QSize(self._size), self._loader
        self._tasks.run(
            lambda: _decode(loader, key, size),
            lambda done: self._on_done(key, generation, *done),
            priority=priority,
        )
        return None

    def failure(self, key: Hashable) -> str | None:
        """Why the thumbnail of ``key`` could not be made, or None."""
        return self._failed.get(key)

    def forget(self, key: Hashable) -> None:
        """Drop one entry (e.g. after its image changed) so the next request decodes it again."""
        self._images.pop(key, None)
        self._failed.pop(key, None)

    def clear(self) -> None:
        """Drop every cached image and every queued decode (running ones are ignored when they finish)."""
        self._tasks.clear_queued()
        self._generation += 1
        self._images.clear()
        self._failed.clear()
        self._pending.clear()

    def wait_idle(self, msecs: int = 5000) -> bool:
        """Block until queued decodes are done (for shutdown and tests)."""
        return self._tasks.wait_idle(msecs)

    def shutdown(self) -> None:
        self._tasks.clear_queued()
        self._tasks.wait_idle(3000)

    def _on_done(self, key: Hashable, generation: int, image: QImage, error: str) -> None:
        if generation != self._generation:
            return
        self._pending.discard(key)
        if error or image.isNull():
            self._failed[key] = error or "not a readable image"
            log.debug("thumbnail %r failed: %s", key, error)
            self.thumbnailFailed.emit(key, self._failed[key])
            return
        self._images[key] = image
        self._images.move_to_end(key)
        while len(self._images) > self._capacity:
            self._images.popitem(last=False)
        self.thumbnailReady.emit(key)


__all__ = ["ThumbnailCache", "decode_thumbnail"]
