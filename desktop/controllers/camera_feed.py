"""The camera feed: owns the capture thread of the current source (line/capture/capture_loop.py: open, pause,
resume, stop) and hands the newest frame to the GUI thread; it hears the thread through a Qt relay
(desktop/workers/capture_relay.py). Status and frame rate come out as signals for the window to show. The product
recipe's camera settings (``configure``, from any thread) go to the capture thread, and to every source opened
after them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop.workers.capture_relay import CaptureRelay
from line.capture.capture_loop import INITIAL_BACKOFF_S, CaptureLoop
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
        self.capture: CaptureLoop | None = None
        self._relay: CaptureRelay | None = None
        self.source: FrameSource | None = None
        self.paused = False
        self._stuck: list[tuple[CaptureLoop, CaptureRelay]] = []  # kept alive until their threads return
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
        relay, self._relay = self._relay, None
        if capture is None or relay is None:
            return
        relay.frame_available.disconnect()
        relay.status_changed.disconnect()
        relay.fps_changed.disconnect()
        relay.files_skipped_told.disconnect()
        if not capture.stop():  # a driver stuck in a read: keep the object alive until its thread returns
            log.error("the capture thread of %s did not stop in time", capture.source.name)
            self._stuck.append((capture, relay))
        else:
            relay.deleteLater()
        self.mailbox.clear()  # a wake-up already queued finds nothing: no frame after stop

    def _start(self) -> None:
        assert self.source is not None
        self.mailbox.clear()
        relay = CaptureRelay(self)
        # Methods, not lambdas: Qt queues the capture thread's signals to this object's (the GUI) thread.
        relay.frame_available.connect(self._on_frame_available)
        relay.status_changed.connect(self._on_status)
        relay.fps_changed.connect(self._on_fps)
        relay.files_skipped_told.connect(self._on_files_skipped)
        with self._recipe_lock:
            recipe = dict(self.recipe)
            capture = CaptureLoop(self.source, relay, self.mailbox, initial_backoff_s=self.backoff_s, recipe=recipe)
            self.capture, self._relay = capture, relay
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
