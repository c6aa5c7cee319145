"""A Basler camera through pypylon: chosen by serial number, free-run / software trigger / hardware trigger on
Line1, exposure and gain from the product's recipe, the camera's frame time stamps and a count of lost frames.

    pylon:40012345                       the camera with this serial number
    pylon:                               the first Basler camera found
    pylon:0815-0000?images=/path/dir     pylon's camera emulation (PYLON_CAMEMU=1) serving the images of a folder

pypylon is imported only when a pylon source opens, so the station runs where it is not installed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from line.capture.camera_link import DeviceNotFoundError
from line.capture.pixel_depth import to_8bit
from line.capture.source import NoFrameYet, SourceError

log = logging.getLogger(__name__)

READ_TIMEOUT_MS = 1000  # a read waits this long for a frame (a triggered camera without trigger: NoFrameYet)
COLOR_FORMATS = ("RGB8", "RGB8Packed", "BGR8", "BGR8Packed")


def _pylon() -> tuple[Any, Any]:
    try:
        from pypylon import genicam, pylon
    except ImportError as exc:  # pragma: no cover - pypylon is a dependency of the station
        raise SourceError(f"pypylon is not installed ({exc}): pip install pypylon") from exc
    return pylon, genicam


def list_devices() -> list[dict[str, str]]:
    """The Basler cameras this computer sees (serial, model, class)."""
    pylon, _ = _pylon()
    return [
        {"serial": d.GetSerialNumber(), "model": d.GetModelName(), "class": d.GetDeviceClass()}
        for d in pylon.TlFactory.GetInstance().EnumerateDevices()
    ]


class PylonSource:
    kind = "camera"
    is_live = True
    pace_fps: float | None = None  # the camera paces itself

    def __init__(
        self,
        serial: str | None = None,
        images: str | os.PathLike[str] | None = None,
        read_timeout_ms: int = READ_TIMEOUT_MS,
    ) -> None:
        self.serial = (serial or "").strip() or None
        self.images = Path(images) if images else None
        self.read_timeout_ms = int(read_timeout_ms)
        self.name = f"Basler {self.serial}" if self.serial else "Basler camera"
        self.trigger_mode = "free-run"  # the window streams; the line runner sets its mode
        self.recipe: dict[str, Any] = {}
        self.lost_frames = 0  # frames the camera reported as failed or skipped (buffer overrun)
        self.last_device_timestamp: int | None = None  # camera ticks of the last frame
        self.last_label: str | None = None
        self._camera: Any = None
        self._last_number: int | None = None
        # pypylon's first import runs native set-up (it makes an image converter at import): done here, in the
        # thread that chooses the source, not in the capture thread, where it crashed the test process once
        # (a segmentation fault inside that import during the full suite). Missing, open() says so.
        try:
            _pylon()
        except SourceError:
            pass

    # -- set-up ---------------------------------------------------------------------------------------------------
    def set_trigger_mode(self, mode: str) -> None:
        """free-run, software or hardware (takes effect at the next open)."""
        self.trigger_mode = mode

    def configure(self, settings: dict[str, Any]) -> None:
        """The recipe's camera settings: exposure_us, gain_db (applied now when open, else at open)."""
        self.recipe = dict(settings or {})
        if self._camera is not None:
            self._apply_recipe()

    def open(self) -> None:
        self.close()
        pylon, genicam = _pylon()
        factory = pylon.TlFactory.GetInstance()
        try:
            devices = factory.EnumerateDevices()
        except genicam.GenericException as exc:
            raise SourceError(f"the Basler cameras cannot be listed: {exc}") from exc
        found = [d for d in devices if self.serial is None or d.GetSerialNumber() == self.serial]
        if not found:
            seen = ", ".join(d.GetSerialNumber() for d in devices) or "none"
            raise DeviceNotFoundError(
                f"no Basler camera with serial number {self.serial} is connected (cameras found: {seen})"
                if self.serial
                else "no Basler camera is connected"
            )
        device = found[0]
        self.serial = self.serial or device.GetSerialNumber()
        self.name = f"Basler {self.serial}"
        try:
            camera = pylon.InstantCamera(factory.CreateDevice(device))
            camera.Open()
            self._camera = camera
            self._set_up(pylon)
            strategy = (
                pylon.GrabStrategy_LatestImageOnly if self.trigger_mode == "free-run" else pylon.GrabStrategy_OneByOne
            )
            camera.StartGrabbing(strategy)
        except genicam.GenericException as exc:
            self.close()
            raise SourceError(f"{self.name} cannot be opened: {exc}") from exc
        self._last_number = None

    def _has(self, name: str) -> bool:
        from pypylon import genicam

        node = self._camera.GetNodeMap().GetNode(name)
        return node is not None and genicam.IsWritable(node)

    def _set_up(self, pylon: Any) -> None:
        cam = self._camera
        if self.images is not None:
            if not self.images.exists():
                raise SourceError(f"the emulated camera's image folder {self.images} does not exist")
            if self._has("TestImageSelector"):
                cam.TestImageSelector.SetValue("Off")
            if self._has("ImageFileMode"):
                cam.ImageFileMode.SetValue("On")
            cam.ImageFilename.SetValue(str(self.images))
            self.last_label = self.images.name
        symbolics = cam.PixelFormat.Symbolics if self._has("PixelFormat") else ()
        colour = next((f for f in COLOR_FORMATS if f in symbolics), None)
        if colour is not None:
            cam.PixelFormat.SetValue(colour)
        if self._has("TriggerSelector"):
            cam.TriggerSelector.SetValue("FrameStart")
        if self.trigger_mode == "free-run":
            cam.TriggerMode.SetValue("Off")
        else:
            cam.TriggerMode.SetValue("On")
            cam.TriggerSource.SetValue("Software" if self.trigger_mode == "software" else "Line1")
            if self.trigger_mode == "hardware" and self._has("TriggerActivation"):
                cam.TriggerActivation.SetValue("RisingEdge")
        self._apply_recipe()

    def _apply_recipe(self) -> None:
        cam, recipe = self._camera, self.recipe
        if "exposure_us" in recipe:
            if self._has("ExposureAuto"):
                cam.ExposureAuto.SetValue("Off")
            node = "ExposureTime" if self._has("ExposureTime") else "ExposureTimeAbs"
            getattr(cam, node).SetValue(float(recipe["exposure_us"]))
        if "gain_db" in recipe:
            if self._has("GainAuto"):
                cam.GainAuto.SetValue("Off")
            cam.Gain.SetValue(float(recipe["gain_db"]))

    def settings(self) -> dict[str, float]:
        """The camera's exposure (µs) and gain (dB) now (for tests and the log)."""
        cam = self._camera
        node = "ExposureTime" if self._has("ExposureTime") else "ExposureTimeAbs"
        return {"exposure_us": float(getattr(cam, node).GetValue()), "gain_db": float(cam.Gain.GetValue())}

    # -- frames -----------------------------------------------------------------------------------------------------
    def software_trigger(self) -> None:
        if self.trigger_mode != "software" or self._camera is None:
            return
        pylon, genicam = _pylon()
        try:
            if self._camera.WaitForFrameTriggerReady(self.read_timeout_ms, pylon.TimeoutHandling_Return):
                self._camera.ExecuteSoftwareTrigger()
            else:
                raise NoFrameYet(f"{self.name} was not ready for a trigger within {self.read_timeout_ms} ms")
        except genicam.GenericException as exc:
            raise self._lost(exc) from exc

    def read(self) -> np.ndarray:
        if self._camera is None:
            raise SourceError(f"{self.name} is not open")
        pylon, genicam = _pylon()
        try:
            result = self._camera.RetrieveResult(self.read_timeout_ms, pylon.TimeoutHandling_Return)
        except genicam.GenericException as exc:
            raise self._lost(exc) from exc
        if result is None or not result.IsValid():
            gone = self._gone()
            if gone is not None:
                raise SourceError(gone)
            raise NoFrameYet(f"no frame within {self.read_timeout_ms} ms")
        try:
            if not result.GrabSucceeded():
                self.lost_frames += 1
                log.warning("%s: frame lost (%s)", self.name, result.GetErrorDescription())
                raise NoFrameYet(f"frame lost: {result.GetErrorDescription()}")
            self.lost_frames += int(result.GetNumberOfSkippedImages() or 0)
            number = int(result.ImageNumber)
            if self._last_number is not None and number > self._last_number + 1:
                self.lost_frames += number - self._last_number - 1 - int(result.GetNumberOfSkippedImages() or 0)
            self._last_number = number
            self.last_device_timestamp = int(result.TimeStamp)
            return self._rgb(result.Array, self._camera.PixelFormat.GetValue())
        finally:
            result.Release()

    @staticmethod
    def _rgb(array: np.ndarray, pixel_format: str) -> np.ndarray:
        array = to_8bit(array, pixel_format)  # a Mono12 frame's values use 12 of its 16 bits
        if array.ndim == 2:
            return cv2.cvtColor(array, cv2.COLOR_GRAY2RGB)
        if pixel_format.startswith("BGR"):
            return cv2.cvtColor(np.ascontiguousarray(array[..., :3]), cv2.COLOR_BGR2RGB)
        return np.ascontiguousarray(array[..., :3])

    def _gone(self) -> str | None:
        """Why the camera cannot deliver any more (unplugged, or its device closed under the grab), else None."""
        cam = self._camera
        if cam is None:
            return f"{self.name} is not open"
        if cam.IsCameraDeviceRemoved():
            return f"{self.name} was unplugged"
        if not cam.IsPylonDeviceAttached() or not cam.IsOpen() or not cam.IsGrabbing():
            return f"{self.name} was disconnected (its device is no longer open)"
        return None

    def _lost(self, exc: Exception) -> SourceError:
        return SourceError(self._gone() or f"{self.name} failed: {exc}")

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        try:
            if camera.IsGrabbing():
                camera.StopGrabbing()
            camera.Close()
            camera.DestroyDevice()
        except Exception as exc:  # noqa: BLE001 - a camera that is gone cannot be closed cleanly
            log.debug("closing %s: %s", self.name, exc)
