"""The live capture: one plain thread that reads a FrameSource continuously into a one-slot mailbox, reconnecting
with growing waits when the source drops, and tells a listener (``line.ports.CaptureListener``) what happened.

The window shows every frame it reads (desktop/controllers/camera_feed.py hears the listener through a Qt relay,
desktop/workers/capture_relay.py); the line runner's camera (line/capture/camera_link.py) instead hands out the
frame of each triggered part. ``frame_ready`` is told only when the mailbox turned from empty to full, so the
reader has at most one pending wake-up and always takes the newest frame with ``mailbox.take()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from line.capture.folder_source import skipped_files_message
from line.capture.mailbox import Frame, LatestFrameMailbox
from line.capture.source import FrameSource, NoFrameYet, SourceError
from line.ports import CaptureListener

log = logging.getLogger(__name__)

INITIAL_BACKOFF_S = 2.0
MAX_BACKOFF_S = 30.0


def _seconds(value: float) -> str:
    return f"{value:g} s"


class CaptureLoop:
    """Owns one FrameSource while it runs; every listener call is made from the capture thread."""

    def __init__(
        self,
        source: FrameSource,
        listener: CaptureListener,
        mailbox: LatestFrameMailbox | None = None,
        *,
        initial_backoff_s: float = INITIAL_BACKOFF_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        clock: Callable[[], float] = time.monotonic,
        recipe: dict[str, Any] | None = None,
    ) -> None:
        self.source = source
        self.listener = listener
        self.mailbox = mailbox or LatestFrameMailbox()
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._recipe_lock = threading.Lock()
        self._recipe: dict[str, Any] | None = dict(recipe) if recipe else None  # applied before the next read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_read = 0
        self.reconnects = 0
        self._skipped_told: tuple[Any, ...] = ()  # the skipped files the listener was last told of

    # -- control (any thread) -------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="line-capture", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Ask the loop to end and join it; True when the thread has finished (False: a driver stuck in a read)."""
        self._stop.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def configure(self, recipe: dict[str, Any]) -> None:
        """The product recipe's camera settings (exposure_us, gain_db): applied by the capture thread before its
        next read (and at each open), where the source takes them (``configure``: pylon, GenICam); others ignore
        them."""
        with self._recipe_lock:
            self._recipe = dict(recipe)

    # -- the loop (capture thread) --------------------------------------------------------------------------------
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

    def _run(self) -> None:
        backoff = self.initial_backoff_s
        try:
            while not self._stop.is_set():
                self._apply_recipe()  # a source that is not open keeps it for its open (pylon, GenICam)
                try:
                    self.source.open()
                except SourceError as exc:
                    self.listener.capture_status(f"{exc} - retrying in {_seconds(backoff)}", False)
                    if self._stop.wait(backoff):
                        break
                    backoff = min(backoff * 2, self.max_backoff_s)
                    continue
                verb = "reconnected" if self.reconnects else "connected"
                self.listener.capture_status(f"{self.source.name} {verb}", True)
                backoff = self.initial_backoff_s
                lost = self._read_until_lost()
                self.source.close()
                if lost is None:
                    break
                self.reconnects += 1
                self.listener.capture_fps(0.0)
                self.listener.capture_status(
                    f"{self.source.name} disconnected - reconnecting in {_seconds(backoff)}", False
                )
                if self._stop.wait(backoff):
                    break
                backoff = min(backoff * 2, self.max_backoff_s)
        finally:
            self.source.close()
            self.listener.capture_fps(0.0)

    def _report_skipped(self) -> None:
        """Tell the listener when the set of skipped files changed: their message, or "" once none is left."""
        skipped = getattr(self.source, "skipped", None)  # line.capture.folder_source.FolderSource keeps them
        if skipped is None:
            return
        now = tuple(skipped)
        if now == self._skipped_told:
            return
        self._skipped_told = now
        self.listener.files_skipped(skipped_files_message(self.source.name, list(now)) if now else "")

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
                self.listener.frame_ready()
            window_frames += 1
            now = self._clock()
            if now - window_start >= 1.0:
                self.listener.capture_fps(window_frames / (now - window_start))
                window_start, window_frames = now, 0
            if period:
                next_due = max(next_due + period, now)
                if self._stop.wait(max(0.0, next_due - now)):
                    return None
        return None
