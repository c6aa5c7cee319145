"""The test doubles of the station's tests, window and line alike (Qt-free): a fast, deterministic fake inspector,
a scripted frame source that fails and recovers on cue, synthetic part images, a bounded wait and a free port."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.errors import Cancelled
from core.imageio import check_array
from core.result import FAIL, PASS, InspectionResult, Region
from core.settings import DecoderSettings
from line.capture.source import SourceError

SMALL = 32


def good_part(seed: int = 0, size: int = 96) -> np.ndarray:
    """A flat grey part with faint noise."""
    rng = np.random.default_rng(seed)
    return np.clip(128 + rng.normal(0, 2, (size, size, 3)), 0, 255).astype(np.uint8)


def bad_part(seed: int = 0, size: int = 96) -> np.ndarray:
    """A good part with a bright square defect in the top left quarter."""
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
    """Poll ``predicate`` until it holds; AssertionError after ``timeout`` seconds (every wait is bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class FakeCalibration:
    threshold: float
    overridden: bool = False
    id: str = "fake-calibration"
    detectable: float | None = None  # the real calibration's share of simulated defects it sees (stats)

    @property
    def effective_threshold(self) -> float:
        return self.threshold

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"threshold": self.threshold, "id": self.id, "overridden": self.overridden}
        if self.detectable is not None:
            d["stats"] = {"detectable": self.detectable}
        return d


@dataclass(frozen=True)
class FakeProduct:
    name: str
    reference: np.ndarray
    calibration: FakeCalibration
    encoder_id: str = "fake-encoder"
    settings: DecoderSettings | None = None  # the real ProductModel's DecoderSettings; the fake has none
    own_map: None = None  # the real one's OwnMap; the fake adapts without one
    adapted: int = 0

    @property
    def adapted_parts(self) -> int:
        return self.adapted

    def with_threshold_override(self, threshold: float, by: str = "operator") -> FakeProduct:
        return replace(self, calibration=FakeCalibration(threshold, overridden=True))

    def save(self, folder: Path) -> Path:  # nothing worth keeping: a rebuild takes milliseconds
        return Path(folder)


def _small_gray(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image.mean(axis=2).astype(np.float32), (SMALL, SMALL), interpolation=cv2.INTER_AREA)


class FakeInspector:
    """Compares a frame with the mean of its references at 32 x 32: the absolute difference is the map; a bright
    square fails. ``started`` is set when an inspection begins; ``inspected`` holds every frame inspected."""

    encoder_id = "fake-encoder"

    def __init__(
        self, inspect_delay_s: float = 0.0, build_delay_s: float = 0.0, detectable: float | None = None
    ) -> None:
        self.detectable = detectable
        self.inspect_delay_s = inspect_delay_s
        self.build_delay_s = build_delay_s
        self.builds = 0
        self.inspected: list[np.ndarray] = []
        self.thread_ids: set[int] = set()
        self.started = threading.Event()

    def encoder_id_for(self, own) -> str:
        return self.encoder_id

    def adapt_product(self, product, references, parts, keys=(), seed=0, pause=None, progress=None):
        for _ in range(4):
            if pause is not None and pause():
                raise Cancelled("fitting the product's own map was stopped")
        return replace(product, adapted=len(parts))

    def build_product(
        self,
        references,
        name="product",
        settings=None,
        progress=None,
        cancel=None,
        cache_dir=None,
        seed=0,
        own_map=None,
    ):
        self.thread_ids.add(threading.get_ident())
        refs = [_small_gray(check_array(r)) for r in references]
        for step in range(4):
            deadline = time.monotonic() + self.build_delay_s / 4
            while True:  # work in small slices, polling cancel like the real build does
                if cancel is not None and cancel():
                    raise Cancelled("building the product was cancelled")
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.01)
            if progress is not None:
                progress((step + 1) / 4, f"step {step + 1}/4")
        self.builds += 1
        return FakeProduct(name, np.mean(refs, axis=0), FakeCalibration(threshold=40.0, detectable=self.detectable))

    def inspect(self, frame, product, pool=None) -> InspectionResult:
        self.thread_ids.add(threading.get_ident())
        self.started.set()
        frame = check_array(frame)
        if self.inspect_delay_s:
            time.sleep(self.inspect_delay_s)
        self.inspected.append(frame)
        diff = np.abs(_small_gray(frame) - product.reference)
        h, w = frame.shape[:2]
        amap = cv2.resize(diff, (w, h), interpolation=cv2.INTER_NEAREST).astype(np.float32)
        score = float(diff.max())
        threshold = product.calibration.effective_threshold
        regions = []
        if score > threshold:
            ys, xs = np.nonzero(amap > threshold)
            bbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            cx, cy = (bbox[0] + bbox[2]) / 2 / w, (bbox[1] + bbox[3]) / 2 / h
            location = ("top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else "") + (
                " left" if cx < 1 / 3 else " right" if cx > 2 / 3 else ""
            )
            regions.append(Region(bbox, 100.0 * len(xs) / (h * w), location.strip() or "center", score))
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
    """A frame source that follows a script: fail to open ``open_failures`` times, deliver ``frames_per_session``
    frames per connection, then drop ``drops`` times before delivering forever. ``unplugged`` makes every read and
    open fail until it is cleared."""

    kind = "camera"
    is_live = True

    def __init__(
        self,
        open_failures: int = 0,
        drops: int = 0,
        frames_per_session: int = 3,
        pace_fps: float | None = 50.0,
    ) -> None:
        self.name = "Camera 7"
        self.pace_fps = pace_fps
        self.open_failures = open_failures
        self.drops = drops
        self.frames_per_session = frames_per_session
        self.unplugged = False
        self.opens = 0
        self._served = 0
        self._open = False
        self._frame_no = 0

    def open(self) -> None:
        self.opens += 1
        if self.unplugged:
            raise SourceError(f"{self.name} is not connected")
        if self.open_failures > 0:
            self.open_failures -= 1
            raise SourceError(f"{self.name} is not connected")
        self._open, self._served = True, 0

    def read(self) -> np.ndarray:
        if self.unplugged:
            self._open = False
            raise SourceError(f"{self.name} stopped delivering frames")
        if not self._open:
            raise SourceError(f"{self.name} is not open")
        if self.drops > 0 and self._served >= self.frames_per_session:
            self.drops -= 1
            self._open = False
            raise SourceError(f"{self.name} stopped delivering frames")
        self._served += 1
        self._frame_no += 1
        return good_part(self._frame_no % 5)

    @property
    def is_open(self) -> bool:
        return self._open

    def close(self) -> None:
        self._open = False


class Answers:
    """A listener of the line's threads (line/ports.py: InferenceListener, RecordListener) that keeps every answer
    as (method name, arguments), in the order they came, from whichever thread they came."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        if not name.startswith("on_"):
            raise AttributeError(name)

        def answer(*args) -> None:
            with self._lock:
                self.calls.append((name, args))
                self.threads.add(threading.get_ident())

        return answer

    def of(self, name: str) -> list[tuple]:
        with self._lock:
            return [args for n, args in self.calls if n == name]

    def wait(self, name: str, count: int = 1, timeout: float = 10.0) -> tuple:
        wait_until(lambda: len(self.of(name)) >= count, timeout, f"{count} x {name}")
        return self.of(name)[count - 1]
