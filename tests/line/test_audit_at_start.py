"""The line runner checks the audit chain when it starts and says so when it is broken (log and stderr)."""

from __future__ import annotations

import sqlite3

from test_runner import _config

from db.engine import DB_FILENAME
from db.guarded import GuardedDatabase
from line.config import parse_config
from line.runner import LineRunner
from tests.station_fakes import FakeInspector


def test_the_runner_reports_a_broken_audit_chain_at_start(tmp_path, database, product) -> None:
    guarded = GuardedDatabase(database)
    guarded.users.add(None, "root", "admin", "correct horse battery")
    runner = LineRunner(parse_config(_config(tmp_path)), inspector_factory=FakeInspector)
    try:
        runner.start()
        assert runner.audit_problem is None
    finally:
        runner.stop()
    with sqlite3.connect(tmp_path / "data" / DB_FILENAME) as conn:
        conn.execute("DROP TRIGGER audit_events_no_update")  # as someone editing the file would
        conn.execute('UPDATE audit_events SET after = \'{"role": "operator"}\' WHERE id = 1')
    runner = LineRunner(parse_config(_config(tmp_path)), inspector_factory=FakeInspector)
    try:
        runner.start()
        assert runner.audit_problem is not None and "broken at row #1" in runner.audit_problem
    finally:
        runner.stop()
