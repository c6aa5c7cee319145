"""Fixtures of the line tests: a real temporary database with a product, and a station controller wired to the
real inference and recording threads, a fake (fast) inspector and a chosen camera source."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("PYLON_CAMEMU", "2")  # pylon's emulated cameras (serials 0815-0000, 0815-0001), read at first use

from tests.station_fakes import FakeInspector, good_part, wait_until, write_parts


@pytest.fixture
def database_busy_timeout_ms() -> int:
    """The ``database`` fixture (tests/conftest.py) waits 300 ms on a lock here: these tests lock it on purpose."""
    return 300


@pytest.fixture
def product(database):
    info = database.products.create("widget")
    database.references.add(info.id, [good_part(1), good_part(2)])
    return database.products.get(info.id)


class LineRig:
    def __init__(
        self,
        database,
        data_dir: Path,
        source,
        *,
        inspector=None,
        mode="software",
        writer=None,
        ack_timeout_s: float = 10.0,
        product: int | str | None = "widget",
        topic: str | None = "test/result",
        acquire_timeout_s: float = 1.0,
    ) -> None:
        from line.capture.camera_link import CameraLink
        from line.catalog import DatabaseCatalog
        from line.controller import StationController
        from line.event_bus import EventBus
        from line.inference import InferenceEngine
        from line.recorder import Recorder, database_writer
        from line.station_status import StationStatus
        from line.unsaved_spool import UnsavedSpool

        self.database = database
        self.inspector = inspector or FakeInspector()
        self.events: list = []
        self.bus = EventBus()
        self.bus.subscribe(self.events.append)
        self.status = StationStatus(self.bus)
        from line.frame_files import FrameFiles

        self.frame_files = FrameFiles(database.store)
        self.write = writer or database_writer(database, station="test-line", topic=topic, frame_files=self.frame_files)
        self.spool = UnsavedSpool(data_dir / "unsaved")
        self.recorder = Recorder(self.write, spool=self.spool, retry_delays_s=(0.05, 0.1))
        self.inference = InferenceEngine(lambda: self.inspector)
        self.camera = CameraLink(source, mode, reconnect_delays_s=(0.05, 0.1))
        self.controller = StationController(
            self.status,
            self.inference,
            self.recorder,
            self.camera,
            DatabaseCatalog(database, data_dir),
            product=product,
            ack_timeout_s=ack_timeout_s,
            acquire_timeout_s=acquire_timeout_s,
            frame_files=self.frame_files,
        )

    def of_type(self, kind) -> list:
        return [e for e in list(self.events) if isinstance(e, kind)]

    def start(self, ready: bool = True) -> LineRig:
        from line.events import StationState

        self.controller.start()
        if ready:
            wait_until(lambda: self.status.state is StationState.READY, 10.0, "the station to be Ready")
        return self

    def stop(self) -> None:
        self.controller.stop(timeout_s=5.0)


@pytest.fixture
def make_line(database, product, tmp_path: Path):
    rigs: list[LineRig] = []

    def make(source=None, **kw) -> LineRig:
        from line.capture.folder_source import FolderSource

        src = source if source is not None else FolderSource(write_parts(tmp_path / "camera"), fps=0)
        rig = LineRig(database, tmp_path / "data", src, **kw)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.stop()
