"""The window's camera as the station controller sees it (``line.ports.CameraPort``).

The window's capture thread (line/capture/capture_loop.py, behind desktop/controllers/camera_feed.py) shows
every frame live and hands each one to this port in the GUI thread (``offer``); the controller asks for a part's
frame from its inference thread (``acquire``). A part's frame is the newest frame the window has received that no
part took before: the one on screen when Inspect was pressed, or the next one. Where a PLC triggers the parts (the
window hosting the station's PLC servers, ``after_trigger``) it is the first frame taken after the trigger, as
the line runner's free-running camera gives it: a frame from before could show the part before. While the feed
is paused it is the frozen frame on screen. The feed's connection status goes to the controller as the camera's
status (a lost camera is the station's CAMERA_LOST fault, as on the line).

The product recipe's camera settings (exposure, gain) go to the window's capture (``on_recipe``: the camera feed,
desktop/controllers/camera_feed.py), which applies them in its capture thread where the source takes them (pylon,
GenICam), as the line runner's camera does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from line.capture.camera_link import CameraError
from line.capture.mailbox import Frame
from line.events import ErrorCode, Fault
from line.ports import CameraStatusListener

log = logging.getLogger(__name__)


class FeedCamera:
    def __init__(self, name: str = "Camera", *, after_trigger: bool = False) -> None:
        self.after_trigger = after_trigger  # a part's frame is taken after its trigger (PLC-triggered parts)
        self.on_recipe: Callable[[dict[str, Any]], None] | None = None  # the capture's configure (camera_feed.py)
        self._cond = threading.Condition()
        self._name = name
        self._latest: Frame | None = None
        self._taken: Frame | None = None
        self._on_status: CameraStatusListener | None = None
        self._message = f"{name} is not connected yet"
        self._closed = False
        self.paused = False
        self.connected = False

    @property
    def name(self) -> str:
        return self._name

    # -- the window's side (GUI thread) -------------------------------------------------------------------------
    def set_source(self, name: str) -> None:
        with self._cond:
            self._name = name
            self._latest = self._taken = None  # frames of the previous source are not this one's

    def offer(self, frame: Frame) -> None:
        with self._cond:
            self._latest = frame
            self._cond.notify_all()

    def report(self, ok: bool, message: str) -> None:
        """The feed connected (``ok``) or lost its source; the controller hears it as the camera's status."""
        with self._cond:
            self.connected = bool(ok)
            self._message = message
            self._cond.notify_all()
        if self._on_status is not None:
            self._on_status(bool(ok), message, None if ok else Fault(ErrorCode.CAMERA_LOST, message))

    def set_paused(self, paused: bool) -> None:
        with self._cond:
            self.paused = bool(paused)
            self._cond.notify_all()

    def close(self) -> None:
        """The window closes: a part still waiting for a frame gives up at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- the controller's side ----------------------------------------------------------------------------------
    def start(self, on_status: CameraStatusListener) -> None:
        self._on_status = on_status

    def acquire(self, after: float, timeout_s: float) -> Frame:
        """The part's frame (see the module's docstring); CameraError when there is none within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                if self._closed:
                    raise CameraError(Fault(ErrorCode.STOPPING, "The station is stopping."))
                frame = self._latest
                if frame is not None and (self.paused or (frame is not self._taken and self._fresh(frame, after))):
                    self._taken = frame
                    return frame
                if not self.connected and not self.paused:
                    raise CameraError(Fault(ErrorCode.CAMERA_LOST, self._message))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CameraError(
                        Fault(ErrorCode.CAMERA_TIMEOUT, f"{self._name} delivered no new frame within {timeout_s:g} s")
                    )
                self._cond.wait(left)

    def _fresh(self, frame: Frame, after: float) -> bool:
        return not self.after_trigger or frame.timestamp >= after

    def apply_recipe(self, settings: dict[str, Any]) -> None:
        """The product's camera settings (exposure_us, gain_db): to the window's capture, which applies them in its
        own thread (any thread may call this: the controller switches products on the GUI's or a PLC's)."""
        configure = self.on_recipe
        if configure is not None:
            configure(dict(settings or {}))
        elif settings:
            log.info("no capture to take the recipe's camera settings %s", settings)

    def stop(self, timeout_s: float = 5.0) -> bool:
        self.close()
        return True
