"""Fixtures of the live-station tests: a real temporary database, the fake inspector and one shared real
Inspector (loaded once per session) for the tests that need the real model."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from db.repository import Database
from station_fakes import FakeInspector


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database.open(tmp_path / "data", busy_timeout_ms=300)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def fake_inspector() -> FakeInspector:
    return FakeInspector()


@pytest.fixture(scope="session")
def real_inspector():
    """The real model, loaded once for the whole session."""
    from core.inspector import Inspector

    return Inspector(encoder="efficientnet-lite0", device="cpu")
