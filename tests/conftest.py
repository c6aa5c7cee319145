"""Suite-wide setup: Qt runs offscreen and nothing downloads weights. Set before any QApplication exists."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from db.repository import Database

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


@pytest.fixture
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its cheapest parameters for the tests of users, roles and the audit trail (the station's own
    parameters take about 0.1 s a hash: hundreds of logins would cost a minute). A module opts in with
    ``pytestmark = pytest.mark.usefixtures("fast_hashes")``."""
    from argon2 import PasswordHasher

    import db.users as users_module

    monkeypatch.setattr(users_module, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setattr(users_module, "_DUMMY_HASH", None)


@pytest.fixture
def database_busy_timeout_ms() -> int | None:
    """How long the ``database`` fixture's connections wait on a lock (None: the station's default). The station's
    packages whose tests lock the database on purpose set 300 ms in their conftest, so that a wait ends quickly."""
    return None


@pytest.fixture
def database(tmp_path: Path, database_busy_timeout_ms: int | None) -> Iterator[Database]:
    """A fresh, migrated station database in ``tmp_path/data``, closed after the test."""
    from db.repository import Database

    db = (
        Database.open(tmp_path / "data")
        if database_busy_timeout_ms is None
        else Database.open(tmp_path / "data", busy_timeout_ms=database_busy_timeout_ms)
    )
    try:
        yield db
    finally:
        db.close()
