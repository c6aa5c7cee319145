"""The lot report from the History tab: the filter's product and dates printed as PDF by the logged-in user, refused
for a role without the export right or with no product chosen, and itself an event in the audit trail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db.guarded import GuardedDatabase
from db.repository import Database
from desktop.views.history.history_view import HistoryView
from line.problems import Severity
from tests.desktop.test_history_view import DAY1, DAY2, Fixture, build_fixture

pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


@pytest.fixture
def station(qtbot, tmp_path) -> Iterator[tuple[HistoryView, Fixture, GuardedDatabase]]:
    db = Database.open(tmp_path / "data")
    fx = build_fixture(db)
    g = GuardedDatabase(db)
    admin = g.users.add(None, "root", "admin", "admin-password")
    g.users.add(admin, "eve", "engineer", "engineer-password")
    g.users.add(admin, "anna", "operator", "operator-password")
    view = HistoryView(db, db.store)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.filter_bar.product_combo.count() == 3 and not view.model.is_loading, timeout=5000)
    yield view, fx, g
    view.shutdown()
    db.close()


def _filter(qtbot, view: HistoryView, **kwargs) -> None:
    view.filter_bar.set_filters(**kwargs)
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=5000)


def _exports(g: GuardedDatabase) -> list:
    return [e for e in g.audit.list() if e.action == "export"]


def test_the_engineer_prints_the_filters_product_and_days(qtbot, station, tmp_path) -> None:
    view, fx, g = station
    eve = g.users.get("eve")
    confirmed, false_alarm, _third = fx.ids[f"{fx.a}-{DAY2}-FAIL"]
    g.confirm_defect(eve, confirmed)
    g.mark_false_alarm(eve, false_alarm, reason="a smudge, wiped off")  # a relabel: its reason is required
    view.use_guarded(g)
    view.set_session_user(eve)
    _filter(qtbot, view, product_id=fx.a, first_day=DAY2, last_day=DAY2)
    out = tmp_path / "lot.pdf"
    with qtbot.waitSignal(view.exportFinished, timeout=10000) as finished:
        view.export_lot_report_to(out)
    assert finished.args == [str(out), 6]  # widget-a on day 2: 3 passed, 3 failed
    assert out.read_bytes().startswith(b"%PDF")
    assert view.banner.level is Severity.SUCCESS
    assert "6 inspected, 3 rejected, yield 50.0%, 2 reviews" in view.banner.text()
    [event] = _exports(g)
    assert event.actor == "eve" and event.after["kind"] == "lot_report_pdf" and event.after["product"] == "widget-a"
    assert event.after["inspected"] == 6 and event.after["rejected"] == 3


def test_any_time_covers_every_day(qtbot, station, tmp_path) -> None:
    view, fx, g = station
    view.use_guarded(g)
    view.set_session_user(g.users.get("eve"))
    _filter(qtbot, view, product_id=fx.b)
    with qtbot.waitSignal(view.exportFinished, timeout=10000) as finished:
        view.export_lot_report_to(tmp_path / "b.pdf")
    assert finished.args[1] == 3  # bracket-b: every inspection, day 1 only
    _filter(qtbot, view, product_id=fx.a, first_day=DAY1, last_day=DAY2)
    with qtbot.waitSignal(view.exportFinished, timeout=10000) as finished:
        view.export_lot_report_to(tmp_path / "a.pdf")
    assert finished.args[1] == 12


def test_refused_without_a_product_without_a_login_and_for_an_operator(qtbot, station, tmp_path) -> None:
    view, fx, g = station
    out = tmp_path / "lot.pdf"
    view.export_lot_report_to(out)  # "All products"
    assert view.banner.level is Severity.WARNING and "one product" in view.banner.text()
    _filter(qtbot, view, product_id=fx.a)
    view.export_lot_report_to(out)  # nobody logged in
    assert view.banner.level is Severity.ERROR and "Log in" in view.banner.text()
    view.use_guarded(g)
    view.set_session_user(g.users.get("anna"))
    view.export_lot_report_to(out)
    qtbot.waitUntil(lambda: view.report_button.isEnabled() and "not written" in view.banner.text(), timeout=10000)
    assert view.banner.level is Severity.ERROR and "anna" in view.banner.text()
    assert not out.exists() and _exports(g) == []
