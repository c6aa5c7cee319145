"""The capture thread: reads a FrameSource into a one-slot mailbox, reconnecting with backoff when it drops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QThread, Signal

from line.capture.mailbox import Frame, LatestFrameMailbox
from line.capture.source import FrameSource, NoFrameYet, SourceError

INITIAL_BACKOFF_S = 2.0
MAX_BACKOFF_S = 30.0


def _seconds(value: float) -> str:
    return f"{value:g} s"


class CaptureThread(QThread):
    """Owns one FrameSource while it runs. Signals are emitted from this thread (queued to the receivers).

    ``frame_available`` fires only when the mailbox turned from empty to full, so the receiver gets at most one
    pending wake-up and always reads the newest frame with ``mailbox.take()``.
    """

    frame_available = Signal()
    status_changed = Signal(str, bool)  # message, ok (False while the source is missing)
    fps_changed = Signal(float)

    def __init__(
        self,
        source: FrameSource,
        mailbox: LatestFrameMailbox | None = None,
        initial_backoff_s: float = INITIAL_BACKOFF_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        clock: Callable[[], float] = time.monotonic,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.source = source
        self.mailbox = mailbox or LatestFrameMailbox()
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._stop = threading.Event()
        self.frames_read = 0
        self.reconnects = 0

    # -- control (any thread) -------------------------------------------------------------------------------
    def stop(self, timeout_s: float = 5.0) -> bool:
        """Ask the loop to end and join it; True when the thread has finished."""
        self._stop.set()
        if not self.isRunning():
            return True
        return self.wait(int(timeout_s * 1000))

    # -- the loop (capture thread) --------------------------------------------------------------------------
    def run(self) -> None:
        self._stop.clear()
        backoff = self.initial_backoff_s
        try:
            while not self._stop.is_set():
                try:
                    self.source.open()
                except SourceError as exc:
                    self.status_changed.emit(f"{exc} - retrying in {_seconds(backoff)}", False)
                    if self._stop.wait(backoff):
                        break
                    backoff = min(backoff * 2, self.max_backoff_s)
                    continue
                if self.reconnects:
                    self.status_changed.emit(f"{self.source.name} reconnected", True)
                else:
                    self.status_changed.emit(f"{self.source.name} connected", True)
                backoff = self.initial_backoff_s
                lost = self._read_until_lost()
                self.source.close()
                if lost is None:
                    break
                self.reconnects += 1
                self.fps_changed.emit(0.0)
                self.status_changed.emit(
                    f"{self.source.name} disconnected - reconnecting in {_seconds(backoff)}", False
                )
                if self._stop.wait(backoff):
                    break
                backoff = min(backoff * 2, self.max_backoff_s)
        finally:
            self.source.close()
            self.fps_changed.emit(0.0)

    def _read_until_lost(self) -> SourceError | None:
        """Read frames until stop (returns None) or until the source fails (returns the error)."""
        period = 1.0 / self.source.pace_fps if self.source.pace_fps else 0.0
        window_start, window_frames = self._clock(), 0
        next_due = self._clock()
        while not self._stop.is_set():
            try:
                image = self.source.read()
            except NoFrameYet:  # a triggered camera without a trigger yet: not a loss
                continue
            except SourceError as exc:
                return exc
            self.frames_read += 1
            frame = Frame(
                image=image,
                index=self.frames_read,
                source=self.source.name,
                kind=getattr(self.source, "kind", "camera"),
                label=getattr(self.source, "last_label", None),
            )
            if self.mailbox.put(frame):
                self.frame_available.emit()
            window_frames += 1
            now = self._clock()
            if now - window_start >= 1.0:
                self.fps_changed.emit(window_frames / (now - window_start))
                window_start, window_frames = now, 0
            if period:
                next_due = max(next_due + period, now)
                if self._stop.wait(max(0.0, next_due - now)):
                    return None
        return None
