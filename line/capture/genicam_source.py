"""Any GenICam camera (GigE Vision, USB3 Vision) through harvesters and the vendor's GenTL producer (.cti).

    genicam:SERIAL?cti=/opt/vendor/lib/producer.cti
    genicam:?cti=...                 the first device the producer lists

The .cti may also come from ``[camera] cti`` in station.toml or GENICAM_GENTL64_PATH. harvesters is imported
only when the source opens (``pip install 'inspection-station[genicam]'``). Written against harvesters 1.4's API;
it is tested only where a producer is configured (INSPECTION_TEST_CTI), which this project's CI does not have.
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

FETCH_TIMEOUT_S = 1.0


def producer_path(cti: str | os.PathLike[str] | None) -> Path | None:
    """The .cti to load: the given one, else the first .cti on GENICAM_GENTL64_PATH."""
    if cti:
        return Path(cti)
    for folder in os.environ.get("GENICAM_GENTL64_PATH", "").split(os.pathsep):
        if folder and Path(folder).is_dir():
            found = sorted(Path(folder).glob("*.cti"))
            if found:
                return found[0]
    return None


class GenICamSource:
    kind = "camera"
    is_live = True
    pace_fps: float | None = None

    def __init__(self, serial: str | None = None, cti: str | os.PathLike[str] | None = None) -> None:
        self.serial = (serial or "").strip() or None
        self.cti = producer_path(cti)
        self.name = f"GenICam {self.serial}" if self.serial else "GenICam camera"
        self.trigger_mode = "free-run"  # the window streams; the line runner sets its mode
        self.recipe: dict[str, Any] = {}
        self.lost_frames = 0
        self.last_device_timestamp: int | None = None
        self._harvester: Any = None
        self._acquirer: Any = None

    def set_trigger_mode(self, mode: str) -> None:
        self.trigger_mode = mode

    def configure(self, settings: dict[str, Any]) -> None:
        self.recipe = dict(settings or {})
        if self._acquirer is not None:
            self._apply_recipe()

    def open(self) -> None:
        self.close()
        if self.cti is None or not self.cti.is_file():
            raise DeviceNotFoundError(f"no GenTL producer: {self.cti or 'set [camera] cti = PATH.cti'} does not exist")
        try:
            from harvesters.core import Harvester
        except ImportError as exc:
            raise SourceError(
                f"harvesters is not installed ({exc}): pip install 'inspection-station[genicam]'"
            ) from exc
        harvester = Harvester()
        try:
            harvester.add_file(str(self.cti))
            harvester.update()
            devices = list(harvester.device_info_list)
            serials = [getattr(d, "serial_number", "") for d in devices]
            if self.serial is not None and self.serial not in serials:
                raise DeviceNotFoundError(
                    f"no GenICam camera with serial number {self.serial} "
                    f"(the producer lists: {', '.join(serials) or 'none'})"
                )
            if not devices:
                raise DeviceNotFoundError(f"the GenTL producer {self.cti.name} lists no camera")
            acquirer = harvester.create({"serial_number": self.serial} if self.serial else 0)
        except DeviceNotFoundError:
            harvester.reset()
            raise
        except Exception as exc:
            harvester.reset()
            raise SourceError(f"{self.name} cannot be opened: {exc}") from exc
        self._harvester, self._acquirer = harvester, acquirer
        try:
            nodes = acquirer.remote_device.node_map
            nodes.TriggerSelector.value = "FrameStart"
            if self.trigger_mode == "free-run":
                nodes.TriggerMode.value = "Off"
            else:
                nodes.TriggerMode.value = "On"
                nodes.TriggerSource.value = "Software" if self.trigger_mode == "software" else "Line1"
            self._apply_recipe()
            acquirer.start()
        except Exception as exc:
            self.close()
            raise SourceError(f"{self.name} cannot be set up: {exc}") from exc

    def _apply_recipe(self) -> None:
        nodes = self._acquirer.remote_device.node_map
        if "exposure_us" in self.recipe:
            nodes.ExposureTime.value = float(self.recipe["exposure_us"])
        if "gain_db" in self.recipe:
            nodes.Gain.value = float(self.recipe["gain_db"])

    def software_trigger(self) -> None:
        if self.trigger_mode == "software" and self._acquirer is not None:
            try:
                self._acquirer.remote_device.node_map.TriggerSoftware.execute()
            except Exception as exc:
                raise SourceError(f"{self.name} failed: {exc}") from exc

    def read(self) -> np.ndarray:
        if self._acquirer is None:
            raise SourceError(f"{self.name} is not open")
        try:
            from genicam.gentl import TimeoutException
        except ImportError:  # pragma: no cover
            TimeoutException = TimeoutError
        try:
            with self._acquirer.fetch(timeout=FETCH_TIMEOUT_S) as buffer:
                component = buffer.payload.components[0]
                self.last_device_timestamp = int(getattr(buffer, "timestamp_ns", 0) or buffer.timestamp)
                image = np.array(component.data, copy=True).reshape(component.height, component.width, -1)
                image = to_8bit(image, str(getattr(component, "data_format", "") or ""))
        except TimeoutException as exc:
            raise NoFrameYet(f"no frame within {FETCH_TIMEOUT_S:g} s") from exc
        except Exception as exc:
            raise SourceError(f"{self.name} stopped delivering frames: {exc}") from exc
        if image.shape[2] == 1:
            return cv2.cvtColor(np.ascontiguousarray(image[..., 0]), cv2.COLOR_GRAY2RGB)
        return np.ascontiguousarray(image[..., :3])

    def close(self) -> None:
        acquirer, harvester = self._acquirer, self._harvester
        self._acquirer = self._harvester = None
        try:
            if acquirer is not None:
                acquirer.stop()
                acquirer.destroy()
            if harvester is not None:
                harvester.reset()
        except Exception as exc:  # noqa: BLE001
            log.debug("closing %s: %s", self.name, exc)
