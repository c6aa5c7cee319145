"""An operator marks a part for review at the History; an engineer finds it under "Marked for review", reviews it,
and the request is answered. Who may do which is the role table's (docs/roles.md), enforced by the database."""

from __future__ import annotations

import numpy as np
import pytest

from db.guarded import GuardedDatabase
from desktop.views.history.filters import REVIEW_REQUESTED
from desktop.views.history.history_view import HistoryView
from line.problems import Severity

pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


@pytest.fixture
def setup(qtbot, database):
    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-pass1")
    eve = g.users.add(admin, "eve", "engineer", "engineer-pass1")
    anna = g.users.add(admin, "anna", "operator", "operator-pass1")
    product = database.products.create("widget")
    rng = np.random.default_rng(1)
    records = [
        database.inspections.record(
            product_id=product.id,
            result={"verdict": "PASS", "probability": 0.1, "score": 0.3, "threshold": 0.5},
            image=rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
        )
        for _ in range(3)
    ]
    view = HistoryView(database, database.store)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.model.is_loading and not view.is_busy(), timeout=5000)
    view.use_guarded(g)
    return g, view, records, eve, anna


def _select(qtbot, view: HistoryView, inspection_id: int) -> None:
    assert view.select_inspection(inspection_id)
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=5000)


def test_an_operator_marks_a_part_and_an_engineer_finds_and_answers_it(qtbot, setup) -> None:
    g, view, records, eve, anna = setup
    panel = view.detail.review_panel
    view.set_session_user(anna)
    doubted = records[1]
    _select(qtbot, view, doubted.id)
    assert panel.mark_button.isEnabled()
    assert not panel.confirm_button.isEnabled()  # an operator does not review
    panel.note_edit.setText("a dark spot near the edge?")
    with qtbot.waitSignal(view.reviewRequested, timeout=5000) as asked:
        panel.mark_button.click()
    assert asked.args == [doubted.id] and view.banner.level is Severity.SUCCESS
    assert "Marked for review by anna" in panel.status_label.text() and "dark spot" in panel.status_label.text()
    assert not panel.mark_button.isEnabled()  # asked once; the request stays open until it is answered
    [event] = g.audit.list(action="marked_for_review")
    assert (event.actor, event.target, event.reason) == (
        "anna",
        f"inspection:{doubted.id}",
        "a dark spot near the edge?",
    )

    view.set_session_user(eve)  # the engineer's list of open requests
    view.filter_bar.set_filters(reviewed=REVIEW_REQUESTED)
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=5000)
    assert [r.id for r in view.model.loaded_records()] == [doubted.id]
    _select(qtbot, view, doubted.id)
    assert "Marked for review by anna" in panel.status_label.text() and panel.confirm_button.isEnabled()
    view.confirm_defect(doubted.id, "a real pit")
    qtbot.waitUntil(lambda: view.banner.level is Severity.SUCCESS and "confirmed" in view.banner.text(), timeout=5000)
    assert g.reviews.open_request(doubted.id) is None
    qtbot.waitUntil(lambda: "Marked for review" not in panel.status_label.text(), timeout=5000)
    assert panel.status_label.text().startswith("Confirmed defect by eve")
    view.refresh()
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=5000)
    assert view.model.loaded_records() == []  # answered: no longer an open request


def test_without_a_login_nothing_is_marked(qtbot, setup) -> None:
    g, view, records, _eve, _anna = setup
    view.set_session_user(None)
    _select(qtbot, view, records[0].id)
    assert not view.detail.review_panel.mark_button.isEnabled()
    view.mark_for_review(records[0].id, "past the greyed-out button")
    assert view.banner.level is Severity.ERROR and "Log in" in view.banner.text()
    assert g.audit.list(action="marked_for_review") == []
