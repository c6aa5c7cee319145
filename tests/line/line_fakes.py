"""Qt-free test doubles of the line tests: a fast fake inspector, a scripted camera that drops on cue, part images,
and a wait helper with a deadline (every wait in these tests is bounded)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from core.errors import InspectionError
from core.imageio import check_array
from core.result import FAIL, PASS, InspectionResult, Region
from line.capture.source import SourceError

SMALL = 32


def good_part(seed: int = 0, size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(128 + rng.normal(0, 2, (size, size, 3)), 0, 255).astype(np.uint8)


def bad_part(seed: int = 0, size: int = 96) -> np.ndarray:
    img = good_part(seed, size)
    img[10:34, 12:36] = 250
    return img


def write_parts(folder: Path, n_good: int = 3, n_bad: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_good):
        cv2.imwrite(str(folder / f"part_{i:03d}_good.png"), good_part(i + 10))
    for i in range(n_bad):
        cv2.imwrite(str(folder / f"part_{n_good + i:03d}_bad.png"), bad_part(i + 50))
    return folder


def wait_until(predicate, timeout: float = 10.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass(frozen=True)
class FakeCalibration:
    threshold: float
    overridden: bool = False
    id: str = "fake-calibration"

    @property
    def effective_threshold(self) -> float:
        return self.threshold

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "id": self.id, "overridden": self.overridden}


@dataclass(frozen=True)
class FakeProduct:
    name: str
    reference: np.ndarray
    calibration: FakeCalibration
    encoder_id: str = "fake-encoder"

    def with_threshold_override(self, threshold: float, by: str = "operator") -> FakeProduct:
        return replace(self, calibration=FakeCalibration(threshold, overridden=True))

    def save(self, folder: Path) -> Path:
        return Path(folder)


def _small_gray(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image.mean(axis=2).astype(np.float32), (SMALL, SMALL), interpolation=cv2.INTER_AREA)


class FakeInspector:
    """The frame's difference from the mean of its references at 32 x 32 is the map; a bright square fails."""

    encoder_id = "fake-encoder"

    def __init__(self, inspect_delay_s: float = 0.0, build_delay_s: float = 0.0) -> None:
        self.inspect_delay_s = inspect_delay_s
        self.build_delay_s = build_delay_s
        self.inspected = 0
        self.started = threading.Event()

    def build_product(self, references, name="product", progress=None, cancel=None, cache_dir=None, settings=None):
        refs = [_small_gray(check_array(r)) for r in references]
        deadline = time.monotonic() + self.build_delay_s
        while time.monotonic() < deadline:
            if cancel is not None and cancel():
                raise InspectionError("building the product was cancelled")
            time.sleep(0.01)
        if progress is not None:
            progress(1.0, "built")
        return FakeProduct(name, np.mean(refs, axis=0), FakeCalibration(threshold=40.0))

    def inspect(self, frame, product, pool=None) -> InspectionResult:
        self.started.set()
        frame = check_array(frame)
        if self.inspect_delay_s:
            time.sleep(self.inspect_delay_s)
        self.inspected += 1
        diff = np.abs(_small_gray(frame) - product.reference)
        h, w = frame.shape[:2]
        amap = cv2.resize(diff, (w, h), interpolation=cv2.INTER_NEAREST).astype(np.float32)
        score = float(diff.max())
        threshold = product.calibration.effective_threshold
        regions = []
        if score > threshold:
            ys, xs = np.nonzero(amap > threshold)
            regions.append(
                Region(
                    (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
                    100.0 * len(xs) / (h * w),
                    "top left",
                    score,
                )
            )
        return InspectionResult(
            verdict=FAIL if score > threshold else PASS,
            probability=float(min(1.0, score / (2 * threshold))),
            score=score,
            threshold=threshold,
            anomaly_map=amap,
            regions=regions,
            timings_ms={"total": 1.0},
            encoder_id=self.encoder_id,
            calibration_id=product.calibration.id,
            overridden=product.calibration.overridden,
            image_size=(w, h),
        )


class ScriptedSource:
    """Delivers ``frames_per_session`` frames per connection, then drops ``drops`` times; ``unplugged`` makes
    every open fail until it is cleared."""

    kind = "camera"
    is_live = True

    def __init__(self, drops: int = 0, frames_per_session: int = 3, pace_fps: float | None = None) -> None:
        self.name = "Camera 7"
        self.pace_fps = pace_fps
        self.drops = drops
        self.frames_per_session = frames_per_session
        self.unplugged = False
        self.opens = 0
        self._served = 0
        self._open = False
        self._n = 0

    def open(self) -> None:
        self.opens += 1
        if self.unplugged:
            raise SourceError(f"{self.name} is not connected")
        self._open, self._served = True, 0

    def read(self) -> np.ndarray:
        if not self._open or self.unplugged:
            self._open = False
            raise SourceError(f"{self.name} stopped delivering frames")
        if self.drops > 0 and self._served >= self.frames_per_session:
            self.drops -= 1
            self._open = False
            raise SourceError(f"{self.name} stopped delivering frames")
        self._served += 1
        self._n += 1
        return good_part(self._n % 5)

    def close(self) -> None:
        self._open = False


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
