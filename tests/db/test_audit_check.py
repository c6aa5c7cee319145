"""The audit chain checked when the station starts: intact says nothing, a row changed behind the station's back
is said in one plain sentence and logged as an error (the window shows it in its banner, the line runner on
stderr and in its log: tests/desktop/test_audit_banner.py, tests/line/test_audit_at_start.py)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from db.audit_check import check_audit_at_start
from db.engine import DB_FILENAME
from db.guarded import GuardedDatabase
from db.repository import Database

pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


def tamper(data_dir: Path, sql: str) -> None:
    """Change the database file behind the station's back (dropping the append-only triggers first, as anyone
    with the file can)."""
    with sqlite3.connect(data_dir / DB_FILENAME) as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
        conn.execute(sql)


def test_an_intact_chain_says_nothing_and_a_changed_row_is_named(tmp_path: Path, caplog) -> None:
    data = tmp_path / "data"
    with Database.open(data) as database:
        g = GuardedDatabase(database)
        admin = g.users.add(None, "root", "admin", "admin-password")
        g.users.add(admin, "eve", "engineer", "engineer-password")
        assert check_audit_at_start(database) is None
    tamper(data, "UPDATE audit_events SET actor = 'nobody' WHERE id = 2")
    with Database.open(data) as database, caplog.at_level(logging.ERROR, logger="db.audit_check"):
        problem = check_audit_at_start(database)
    assert problem is not None and problem.startswith("The audit trail is broken at row #2:")
    assert "main.py audit verify" in problem
    assert any(r.levelno == logging.ERROR and "broken at row #2" in r.getMessage() for r in caplog.records)


def test_deleted_last_rows_are_found_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Database.open(data) as database:
        g = GuardedDatabase(database)
        admin = g.users.add(None, "root", "admin", "admin-password")
        g.users.add(admin, "eve", "engineer", "engineer-password")
    tamper(data, "DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    with Database.open(data) as database:
        problem = check_audit_at_start(database)
    assert problem is not None and "were deleted" in problem
