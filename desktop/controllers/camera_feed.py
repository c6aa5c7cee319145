"""The camera feed: owns the capture thread of the current source (open, pause, resume, stop) and hands the
newest frame to the GUI thread. Status and frame rate come out as signals for the window to show. The product
recipe's camera settings (``configure``, from any thread) go to the capture thread, and to every source opened
after them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop.workers.capture_thread import INITIAL_BACKOFF_S, CaptureThread
from line.capture.mailbox import LatestFrameMailbox
from line.capture.source import FrameSource
from line.capture.spec import source_from_spec

log = logging.getLogger(__name__)


class CameraFeed(QObject):
    frame_arrived = Signal(object)  # line.capture.mailbox.Frame, in the GUI thread
    status_changed = Signal(str, str, bool)  # source name, message, ok
    fps_changed = Signal(str, float)  # source name, frames per second
    files_skipped = Signal(str)  # a folder source's unreadable files, as the operator is told of them

    def __init__(
        self,
        source_factory: Callable[[str], FrameSource] = source_from_spec,
        reconnect_backoff_s: float = INITIAL_BACKOFF_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.source_factory = source_factory
        self.backoff_s = reconnect_backoff_s
        self.mailbox = LatestFrameMailbox()
        self.capture: CaptureThread | None = None
        self.source: FrameSource | None = None
        self.paused = False
        self._stuck: list[CaptureThread] = []
        self._recipe_lock = threading.Lock()
        self.recipe: dict[str, Any] = {}  # the product's camera settings, for this source and the next

    def configure(self, recipe: dict[str, Any]) -> None:
        """The product recipe's camera settings (any thread): the running capture applies them before its next
        read; a source opened later gets them at its open."""
        with self._recipe_lock:
            self.recipe = dict(recipe)
            capture = self.capture
        if capture is not None:
            capture.configure(self.recipe)

    def open(self, spec: str) -> FrameSource:
        """Switch to the source ``spec`` (raises SourceSpecError for a spec that names no source)."""
        source = self.source_factory(spec)
        self.stop()
        self.source = source
        if not self.paused:
            self._start()
        return source

    def set_paused(self, paused: bool) -> None:
        if paused == self.paused:
            return
        self.paused = paused
        if paused:
            self.stop()
        elif self.source is not None:
            self._start()

    def stop(self) -> None:
        """Stop the capture thread and join it (the source is kept for a resume)."""
        capture, self.capture = self.capture, None
        if capture is None:
            return
        capture.frame_available.disconnect()
        capture.status_changed.disconnect()
        capture.fps_changed.disconnect()
        capture.files_skipped.disconnect()
        if not capture.stop():  # a driver stuck in a read: keep the object alive until its thread returns
            log.error("the capture thread of %s did not stop in time", capture.source.name)
            self._stuck.append(capture)
        self.mailbox.clear()  # a wake-up already queued finds nothing: no frame after stop

    def _start(self) -> None:
        assert self.source is not None
        self.mailbox.clear()
        with self._recipe_lock:
            recipe = dict(self.recipe)
            capture = CaptureThread(self.source, self.mailbox, initial_backoff_s=self.backoff_s, recipe=recipe)
            self.capture = capture
        # Methods, not lambdas: Qt queues the capture thread's signals to this object's (the GUI) thread.
        capture.frame_available.connect(self._on_frame_available)
        capture.status_changed.connect(self._on_status)
        capture.fps_changed.connect(self._on_fps)
        capture.files_skipped.connect(self._on_files_skipped)
        capture.start()

    @Slot()
    def _on_frame_available(self) -> None:
        frame = self.mailbox.take()
        if frame is not None:
            self.frame_arrived.emit(frame)

    @Slot(str, bool)
    def _on_status(self, message: str, ok: bool) -> None:
        self.status_changed.emit(self.source.name if self.source else "", message, ok)

    @Slot(str)
    def _on_files_skipped(self, message: str) -> None:
        self.files_skipped.emit(message)

    @Slot(float)
    def _on_fps(self, fps: float) -> None:
        self.fps_changed.emit(self.source.name if self.source else "", fps)
