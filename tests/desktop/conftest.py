"""Fixtures of the live-station tests: a real temporary database, the fake inspector and one shared real
Inspector (loaded once per session) for the tests that need the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.station_fakes import FakeInspector


@pytest.fixture
def database_busy_timeout_ms() -> int:
    """The ``database`` fixture (tests/conftest.py) waits 300 ms on a lock here: these tests lock it on purpose."""
    return 300


@pytest.fixture
def fake_inspector() -> FakeInspector:
    return FakeInspector()


@pytest.fixture(scope="session")
def real_inspector():
    """The real model, loaded once for the whole session."""
    from core.inspector import Inspector

    return Inspector(encoder="efficientnet-lite0", device="cpu")


class StationRig:
    """A main window with a station on a real database, the fake (or real) inspector and a chosen source, wired
    as desktop/app.py wires it: the line's inference and recorder threads under the window's station controller.
    ``write`` is the recorder's writer and may be swapped (a database that refuses, then accepts again)."""

    def __init__(self, qtbot, database, data_dir: Path, inspector, source_factory, backoff_s: float = 0.05):
        from desktop.controllers.station import Station
        from desktop.controllers.station_settings import StationSettings
        from desktop.main_window import MainWindow
        from desktop.views.history.history_view import HistoryView
        from desktop.workers.inference_worker import InferenceService
        from line.frame_files import FrameFiles
        from line.recorder import Recorder, database_writer
        from line.unsaved_spool import UnsavedSpool
        from line.write_errors import RETRY_DELAYS_S

        self.database = database
        self.window = MainWindow()
        qtbot.addWidget(self.window)
        self.inference = InferenceService(lambda: inspector)
        self.frame_files = FrameFiles(database.store)
        self.write = database_writer(database, station="test-station", frame_files=self.frame_files)
        self.recorder = Recorder(
            lambda outcome: self.write(outcome), spool=UnsavedSpool(data_dir / "unsaved"), retry_delays_s=RETRY_DELAYS_S
        )
        self.station = Station(
            self.window,
            database,
            self.inference,
            self.recorder,
            data_dir,
            StationSettings(path=data_dir / "settings.json"),
            source_factory=source_factory,
            reconnect_backoff_s=backoff_s,
            frame_files=self.frame_files,
        )
        self.history = HistoryView(database, database.store)
        self.window.add_view("History", self.history)
        self.station.inspection_recorded.connect(self.history.on_inspection_recorded)
        self.window.show()

    def close(self) -> None:
        self.window.close()
        self.history.shutdown()


@pytest.fixture
def make_rig(qtbot, database, tmp_path: Path):
    from line.capture.demo_camera import DemoCamera

    rigs: list[StationRig] = []

    def make(inspector=None, source_factory=None, backoff_s: float = 0.05) -> StationRig:
        rig = StationRig(
            qtbot,
            database,
            tmp_path / "data",
            inspector or FakeInspector(),
            source_factory or (lambda spec: DemoCamera(fps=25.0)),
            backoff_s,
        )
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()
