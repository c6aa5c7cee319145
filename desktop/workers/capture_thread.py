"""The capture thread: reads a FrameSource into a one-slot mailbox, reconnecting with backoff when it drops."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QThread, Signal

from line.capture.mailbox import Frame, LatestFrameMailbox
from line.capture.source import FrameSource, NoFrameYet, SourceError

log = logging.getLogger(__name__)

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
    files_skipped = Signal(str)  # a folder source passed over files it cannot read: what to tell the operator

    def __init__(
        self,
        source: FrameSource,
        mailbox: LatestFrameMailbox | None = None,
        initial_backoff_s: float = INITIAL_BACKOFF_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        clock: Callable[[], float] = time.monotonic,
        parent=None,
        recipe: dict | None = None,
    ) -> None:
        super().__init__(parent)
        self.source = source
        self._recipe_lock = threading.Lock()
        self._recipe: dict | None = dict(recipe) if recipe else None  # applied in this thread, before the next read
        self.mailbox = mailbox or LatestFrameMailbox()
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._stop = threading.Event()
        self.frames_read = 0
        self.reconnects = 0
        self._skipped_told = 0  # how many skipped files the operator has been told of

    # -- control (any thread) -------------------------------------------------------------------------------
    def configure(self, recipe: dict) -> None:
        """The product recipe's camera settings (exposure_us, gain_db): applied by this thread before its next
        read (and at each open), where the source takes them (``configure``: pylon, GenICam); others ignore them."""
        with self._recipe_lock:
            self._recipe = dict(recipe)

    def _apply_recipe(self) -> None:
        with self._recipe_lock:
            recipe, self._recipe = self._recipe, None
        configure = getattr(self.source, "configure", None)
        if recipe is None or configure is None:
            return
        try:
            configure(recipe)
        except Exception as exc:  # noqa: BLE001 - a camera that refuses a setting keeps running with its own
            log.warning("%s did not take the recipe's camera settings %s: %s", self.source.name, recipe, exc)

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
                self._apply_recipe()  # a source that is not open keeps it for its open (pylon, GenICam)
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

    def _report_skipped(self) -> None:
        skipped = getattr(self.source, "skipped", None)  # line.capture.folder_source.FolderSource keeps them
        if not skipped or len(skipped) <= self._skipped_told:
            return
        self._skipped_told = len(skipped)
        names = ", ".join(p.name for p in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        plural = "s" if len(skipped) != 1 else ""
        self.files_skipped.emit(
            f"{len(skipped)} file{plural} in {self.source.name} cannot be read and {'are' if plural else 'is'} "
            f"skipped: {names}. {'Each' if plural else 'It'} is damaged or not an image this station reads "
            f"(PNG, JPEG, BMP, TIFF); replace or remove {'them' if plural else 'it'}."
        )

    def _read_until_lost(self) -> SourceError | None:
        """Read frames until stop (returns None) or until the source fails (returns the error)."""
        period = 1.0 / self.source.pace_fps if self.source.pace_fps else 0.0
        window_start, window_frames = self._clock(), 0
        next_due = self._clock()
        while not self._stop.is_set():
            if self._recipe is not None:
                self._apply_recipe()
            try:
                image = self.source.read()
            except NoFrameYet:  # a triggered camera without a trigger yet: not a loss
                continue
            except SourceError as exc:
                return exc
            self.frames_read += 1
            self._report_skipped()
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
