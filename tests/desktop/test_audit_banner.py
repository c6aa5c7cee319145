"""The window checks the audit chain at start and shows a broken one in its banner."""

from __future__ import annotations

import sqlite3

from argon2 import PasswordHasher

import db.users as users_module
from db.engine import DB_FILENAME
from db.guarded import GuardedDatabase
from db.repository import Database
from desktop.app import AUDIT_PROBLEM, show_audit_problem
from desktop.main_window import MainWindow
from line.problems import Severity


def test_a_broken_audit_chain_is_in_the_banner(qtbot, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(users_module, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    data = tmp_path / "data"
    window = MainWindow()
    qtbot.addWidget(window)
    with Database.open(data) as database:
        GuardedDatabase(database).users.add(None, "root", "admin", "admin-password")
        assert show_audit_problem(window, database) is None
        assert window.problem_key() is None
    with sqlite3.connect(data / DB_FILENAME) as conn:
        conn.execute("DROP TRIGGER audit_events_no_update")  # as someone editing the file would
        conn.execute("UPDATE audit_events SET reason = 'nothing to see' WHERE id = 1")
    window.show()
    with Database.open(data) as database:
        problem = show_audit_problem(window, database)
    assert problem is not None
    assert window.problem_key() == AUDIT_PROBLEM
    assert window.problems.text() == problem and window.problems.level is Severity.ERROR
    assert "broken at row #1" in window.problems.text()
