"""The camera on the line: one thread that keeps the source open (reconnecting with backoff when it drops) and
hands out the frame of each triggered part.

Trigger modes (``[camera] trigger`` in station.toml):

- ``free-run``: the camera runs continuously; a part's frame is the first one captured after the trigger.
- ``software``: on each trigger the station fires the camera's software trigger (a file, folder or OpenCV source
  simply reads its next frame) and takes that frame.
- ``hardware``: the camera is triggered on its input line (Line1) by the part sensor or the PLC; a part's frame is
  the newest one that arrived since the previous part, at most ``HARDWARE_WINDOW_S`` before the PLC's trigger.

A source that fails to open or stops delivering is reported through ``on_status`` (the controller raises
CAMERA_LOST or CAMERA_NOT_FOUND for the PLC) and reopened with growing waits; once it is back the status says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

import numpy as np

from line.capture.mailbox import Frame
from line.capture.source import FrameSource, NoFrameYet, SourceError, open_in_mode
from line.events import ErrorCode, Fault

log = logging.getLogger(__name__)

RECONNECT_DELAYS_S = (0.5, 1.0, 2.0, 5.0)
HARDWARE_WINDOW_S = 1.0


class TriggerMode(str, Enum):
    FREE_RUN = "free-run"
    SOFTWARE = "software"
    HARDWARE = "hardware"


class DeviceNotFoundError(SourceError):
    """The configured device (serial number, GenTL device) does not exist on this computer."""


class CameraError(Exception):
    """No frame for a part; ``fault`` is what the PLC reads."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.text)
        self.fault = fault


StatusListener = Callable[[bool, str, "Fault | None"], None]


class CameraLink:
    def __init__(
        self,
        source: FrameSource,
        mode: TriggerMode = TriggerMode.SOFTWARE,
        reconnect_delays_s: tuple[float, ...] = RECONNECT_DELAYS_S,
    ) -> None:
        self.source = source
        self.mode = TriggerMode(mode)
        self.reconnect_delays_s = tuple(reconnect_delays_s) or RECONNECT_DELAYS_S
        self._on_status: StatusListener | None = None
        self._cond = threading.Condition()
        self._io = threading.Lock()  # one read at a time (software trigger reads in the caller's thread)
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None
        self._open = False
        self._fault: Fault | None = Fault(ErrorCode.CAMERA_LOST, f"{source.name} is not connected yet")
        self._latest: Frame | None = None
        self._taken_index = 0
        self.frames_read = 0
        self.reconnects = 0

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def connected(self) -> bool:
        return self._open

    # -- control ------------------------------------------------------------------------------------------------
    def start(self, on_status: StatusListener | None = None) -> None:
        self._on_status = on_status
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="line-camera", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        self._stop.set()
        self._lost.set()
        with self._cond:
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.error("the camera thread of %s did not stop in time (a driver stuck in a read)", self.name)
                return False
        return True

    def apply_recipe(self, settings: dict[str, Any]) -> None:
        """Exposure, gain ... of the product's recipe, where the source can take them (pylon, GenICam)."""
        configure = getattr(self.source, "configure", None)
        if configure is not None and settings:
            with self._io:
                configure(settings)

    # -- a part's frame -----------------------------------------------------------------------------------------
    def acquire(self, after: float, timeout_s: float = 2.0) -> Frame:
        """The frame of the part triggered at ``after`` (time.monotonic); CameraError when there is none."""
        if not self._open:
            raise CameraError(self._fault or Fault(ErrorCode.CAMERA_LOST, f"{self.name} is not connected"))
        if self.mode is TriggerMode.SOFTWARE:
            return self._software_frame()
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                frame = self._latest
                if frame is not None and self._wanted(frame, after):
                    self._taken_index = frame.index
                    return frame
                if not self._open:
                    raise CameraError(self._fault or Fault(ErrorCode.CAMERA_LOST, f"{self.name} was lost"))
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    raise CameraError(
                        Fault(
                            ErrorCode.CAMERA_TIMEOUT,
                            f"{self.name} delivered no frame within {timeout_s:g} s of the trigger"
                            + (" (is the trigger line wired?)" if self.mode is TriggerMode.HARDWARE else ""),
                        )
                    )
                self._cond.wait(left)

    def _wanted(self, frame: Frame, after: float) -> bool:
        if self.mode is TriggerMode.FREE_RUN:
            return frame.timestamp >= after
        return frame.index > self._taken_index and frame.timestamp >= after - HARDWARE_WINDOW_S

    def _software_frame(self) -> Frame:
        with self._io:
            if not self._open:
                raise CameraError(self._fault or Fault(ErrorCode.CAMERA_LOST, f"{self.name} is not connected"))
            try:
                fire = getattr(self.source, "software_trigger", None)
                if fire is not None:
                    fire()
                image = self.source.read()
            except NoFrameYet as exc:
                raise CameraError(Fault(ErrorCode.CAMERA_TIMEOUT, f"{self.name} delivered no frame: {exc}")) from exc
            except SourceError as exc:
                self._mark_lost(exc)
                raise CameraError(Fault(ErrorCode.CAMERA_LOST, f"{exc}")) from exc
            return self._frame(image)

    def _frame(self, image: np.ndarray) -> Frame:
        self.frames_read += 1
        return Frame(
            image=image,
            index=self.frames_read,
            source=self.source.name,
            kind=getattr(self.source, "kind", "camera"),
            label=getattr(self.source, "last_label", None),
            device_timestamp=getattr(self.source, "last_device_timestamp", None),
        )

    # -- the thread ---------------------------------------------------------------------------------------------
    def _status(self, ok: bool, message: str, fault: Fault | None) -> None:
        self._fault = fault
        if self._on_status is not None:
            try:
                self._on_status(ok, message, fault)
            except Exception:
                log.exception("the camera status listener failed")

    def _mark_lost(self, exc: BaseException) -> None:
        if self._open:
            self._open = False
            self._lost.set()
            self._status(
                False,
                f"{self.name} disconnected: {exc} - reconnecting",
                Fault(ErrorCode.CAMERA_LOST, f"{self.name} disconnected: {exc}"),
            )
        with self._cond:
            self._cond.notify_all()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                with self._io:
                    open_in_mode(self.source, self.mode.value)
            except SourceError as exc:
                code = ErrorCode.CAMERA_NOT_FOUND if isinstance(exc, DeviceNotFoundError) else ErrorCode.CAMERA_LOST
                delay = self.reconnect_delays_s[min(attempt, len(self.reconnect_delays_s) - 1)]
                attempt += 1
                self._status(False, f"{exc} - retrying in {delay:g} s", Fault(code, str(exc)))
                if self._stop.wait(delay):
                    break
                continue
            attempt = 0
            self._lost.clear()
            self._open = True
            self._status(True, f"{self.name} {'reconnected' if self.reconnects else 'connected'}", None)
            if self.mode is TriggerMode.SOFTWARE:
                self._lost.wait()  # reads happen in acquire(); a failed read sets _lost
            else:
                self._read_until_lost()
            with self._io:
                self._open = False
                try:
                    self.source.close()
                except Exception:
                    log.exception("closing %s failed", self.name)
            if self._stop.is_set():
                break
            self.reconnects += 1
            if self._stop.wait(self.reconnect_delays_s[0]):
                break
        with self._io:
            self._open = False
            try:
                self.source.close()
            except Exception:
                log.exception("closing %s failed", self.name)

    def _read_until_lost(self) -> None:
        period = 1.0 / self.source.pace_fps if self.source.pace_fps else 0.0
        next_due = time.monotonic()
        while not self._stop.is_set():
            try:
                image = self.source.read()
            except NoFrameYet:
                continue
            except SourceError as exc:
                self._mark_lost(exc)
                return
            frame = self._frame(image)
            with self._cond:
                self._latest = frame
                self._cond.notify_all()
            if period:
                now = time.monotonic()
                next_due = max(next_due + period, now)
                if self._stop.wait(max(0.0, next_due - now)):
                    return
