"""The audit trail in the window: filtered by who and what, the chain checked, exported as the logged-in user."""

from __future__ import annotations

import csv
import sqlite3

import pytest

from db.engine import DB_FILENAME
from db.guarded import GuardedDatabase
from db.repository import Database
from desktop.views.audit.audit_view import AuditView
from line.problems import Severity

pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


@pytest.fixture
def station(tmp_path):
    database = Database.open(tmp_path / "data")
    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-password")
    eve = g.users.add(admin, "eve", "engineer", "engineer-password")
    anna = g.users.add(admin, "anna", "operator", "operator-password")
    g.create_product(eve, "widget")
    yield g, admin, eve, anna, tmp_path
    database.close()


def test_the_trail_is_listed_and_filtered_by_who_and_what(qtbot, station) -> None:
    g, _admin, _eve, _anna, _tmp = station
    view = AuditView(g.audit)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.eventsShown, timeout=5000) as shown:
        view.show()  # opening the tab shows the newest events
    assert shown.args[0] == len(g.audit.list()) and view.table.rowCount() == shown.args[0]
    view.actor.setText("eve")
    view.action.setCurrentText("product_created")
    with qtbot.waitSignal(view.eventsShown, timeout=5000) as shown:
        view.refresh()
    assert shown.args[0] == 1
    assert [view.table.item(0, c).text() for c in (1, 2, 3)] == ["eve", "product_created", "product:widget"]
    assert view.footer.text() == "1 event"


def test_a_changed_row_is_named_when_the_chain_is_checked(qtbot, station) -> None:
    g, _admin, _eve, _anna, tmp = station
    view = AuditView(g.audit)
    qtbot.addWidget(view)
    view.verify()
    qtbot.waitUntil(lambda: view.banner.level is Severity.SUCCESS, timeout=5000)
    assert "intact" in view.banner.text()
    con = sqlite3.connect(tmp / "data" / DB_FILENAME)  # edited behind the station's back, its guard dropped first
    con.execute("DROP TRIGGER audit_events_no_update")
    con.execute("update audit_events set actor = 'mallory' where id = 2")
    con.commit()
    con.close()
    view.verify()
    qtbot.waitUntil(lambda: view.banner.level is Severity.ERROR, timeout=5000)
    assert "broken at row #2" in view.banner.text()


def test_the_export_is_the_logged_in_users_and_is_itself_audited(qtbot, station) -> None:
    g, _admin, eve, anna, tmp = station
    out = tmp / "audit.csv"
    view = AuditView(g.audit, pick_file=lambda: str(out))
    qtbot.addWidget(view)
    view.export_csv()
    assert view.banner.level is Severity.ERROR and "Log in" in view.banner.text()  # nobody logged in
    view.use_guarded(g)
    view.set_session_user(anna)
    view.export_csv()
    qtbot.waitUntil(lambda: view.banner.level is Severity.ERROR and "anna" in view.banner.text(), timeout=5000)
    assert not out.exists()  # an operator may not export
    view.set_session_user(eve)
    view.export_csv()
    qtbot.waitUntil(lambda: view.banner.level is Severity.SUCCESS, timeout=5000)
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) > 3 and g.audit.list(action="export", limit=1)[0].actor == "eve"
