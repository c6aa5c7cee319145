"""A one-slot mailbox: the newest frame wins, older unread frames are dropped, nothing ever queues up."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One captured frame: RGB uint8 pixels, a running index and the capture time (time.monotonic)."""

    image: np.ndarray
    index: int
    source: str  # the source's name, e.g. "Camera 0"
    kind: str = "camera"  # camera, stream, file, folder, demo
    label: str | None = None  # the file a frame came from (folders, videos)
    timestamp: float = field(default_factory=time.monotonic)
    device_timestamp: int | None = None  # the camera's own time stamp (ticks), where the camera gives one


class LatestFrameMailbox:
    """Thread-safe single slot. ``put`` replaces what is there; ``take`` empties the slot.

    Holds frames between the capture thread and the GUI, and inspect requests between the GUI and the
    inference thread: whatever waits there, only the newest one is ever handed on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Any = None
        self.dropped = 0

    def put(self, frame: Any) -> bool:
        """Store ``frame``; returns True when the slot was empty (the reader needs a wake-up)."""
        with self._lock:
            was_empty = self._frame is None
            if not was_empty:
                self.dropped += 1
            self._frame = frame
            return was_empty

    def take(self) -> Any:
        with self._lock:
            frame, self._frame = self._frame, None
            return frame

    def clear(self) -> None:
        with self._lock:
            self._frame = None
