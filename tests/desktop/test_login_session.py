"""Who works at the window: first-run admin set-up, the login with its refusals, the name in the status bar, the
idle logout after the admin's time, and History reviews and exports as the logged-in user through db/guarded.py."""

from __future__ import annotations

import time

import numpy as np
import pytest

from db.guarded import IDLE_LOGOUT_SETTING, GuardedDatabase
from desktop.controllers.login_session import LoginSession
from desktop.main_window import MainWindow
from line.problems import Severity

pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


class Script:
    """Answers the dialogs would give, in order; records the messages they were shown."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.messages: list[str] = []

    def __call__(self, message, *_rest):
        self.messages.append(message)
        return self.answers.pop(0) if self.answers else None


def actions(g: GuardedDatabase) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in g.audit.list(newest_first=False)]


def test_first_run_sets_up_the_admin_and_logs_them_in(qtbot, database) -> None:
    """The password was just typed twice: the new admin is not asked for it a third time."""
    window = MainWindow()
    qtbot.addWidget(window)
    g = GuardedDatabase(database)
    first = Script(
        ("root", "a-long-password", "another"), ("root", "short", "short"), ("root", "admin-pass1", "admin-pass1")
    )
    login = Script()
    session = LoginSession(window, g, ask_login=login, ask_first_admin=first)
    assert session.start()
    assert first.messages[1].startswith("The two passwords differ") and "characters" in first.messages[2]
    assert login.messages == []  # no login dialog
    assert session.user is not None and session.user.name == "root" and session.label.text() == "root (admin)"
    assert ("user_added", "first-run set-up") in actions(g) and actions(g)[-1] == ("login", "root")
    session.logout("logged out")
    assert session.label.text() == "nobody logged in" and actions(g)[-1] == ("logout", "root")
    login = Script(("root", "wrong-password"), ("root", "admin-pass1"))
    session = LoginSession(window, g, ask_login=login, ask_first_admin=Script())
    assert session.start()  # a station with users asks who works at it
    assert login.messages == ["", "Wrong name or password."] and ("login_failed", "root") in actions(g)


def test_quit_and_a_technical_user(qtbot, database) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-pass1")
    g.users.add(admin, "cell7", "line", "technical-secret")
    login = Script(("cell7", "technical-secret"))  # then None: Quit
    session = LoginSession(window, g, ask_login=login, ask_first_admin=Script())
    assert not session.start()
    assert "technical user" in login.messages[1] and session.user is None


def test_idle_logout_after_the_admins_time(qtbot, database) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-pass1")
    g.users.add(admin, "anna", "operator", "operator-pass1")
    g.set_station_setting(admin, IDLE_LOGOUT_SETTING, 0.2)
    login = Script(("anna", "operator-pass1"))  # after the idle logout: None (Quit)
    session = LoginSession(window, g, ask_login=login, ask_first_admin=Script(), check_every_ms=50)
    assert session.start() and session.label.text() == "anna (operator)"
    seen = []
    session.user_changed.connect(seen.append)
    window.show()
    time.sleep(0.3)
    assert session.check_idle()
    assert seen == [None] and session.user is None
    assert "logged out after 0 minutes" in login.messages[-1]
    logout = next(e for e in g.audit.list(action="logout") if e.actor == "anna")
    assert "idle" in str(logout.after) + str(logout.reason)
    assert not window.isVisible()  # the person chose Quit at the new login


def test_history_reviews_go_through_the_guarded_layer_as_the_logged_in_user(qtbot, database) -> None:
    from desktop.views.history.history_view import HistoryView

    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-pass1")
    eve = g.users.add(admin, "eve", "engineer", "engineer-pass1")
    anna = g.users.add(admin, "anna", "operator", "operator-pass1")
    product = database.products.create("widget")
    frame = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    rec = database.inspections.record(
        product_id=product.id,
        result={"verdict": "FAIL", "probability": 0.9, "score": 0.8, "threshold": 0.5},
        image=frame,
    )
    view = HistoryView(database, database.store)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.model.is_loading and not view.is_busy(), timeout=5000)
    view.use_guarded(g)
    view.set_session_user(anna)
    view.confirm_defect(rec.id, "")
    qtbot.waitUntil(lambda: view.banner.level is Severity.ERROR, timeout=5000)
    assert "anna (operator) may not review" in view.banner.text()
    view.set_session_user(eve)
    view.confirm_defect(rec.id, "scratch seen")
    qtbot.waitUntil(lambda: view.banner.level is Severity.SUCCESS, timeout=5000)
    event = g.audit.list(action="review", limit=1)[0]
    assert event.actor == "eve" and event.target == f"inspection:{rec.id}"
    assert database.inspections.get(rec.id).reviewed_by == "eve"


def test_a_false_alarm_reference_that_moves_too_much_is_refused_without_a_second_person(qtbot, database) -> None:
    """The window's guard measured the move; the database layer enforces the second person, whatever the window did."""
    from core.threshold_guard import ThresholdMove
    from db.threshold_moves import SecondConfirmation
    from desktop.dialogs.reference_guard import ReferenceApproval
    from desktop.views.history.history_view import HistoryView

    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-pass1")
    eve = g.users.add(admin, "eve", "engineer", "engineer-pass1")
    g.users.add(admin, "bob", "engineer", "bob-pass1")
    product = database.products.create("widget")
    frame = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    rec = database.inspections.record(
        product_id=product.id,
        result={"verdict": "FAIL", "probability": 0.9, "score": 0.8, "threshold": 0.5},
        image=frame,
    )
    view = HistoryView(database, database.store)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.model.is_loading and not view.is_busy(), timeout=5000)
    view.use_guarded(g)
    view.set_session_user(eve)
    move = ThresholdMove(0.5, 0.9, 16, 8, {"center": 8})
    approvals = [ReferenceApproval(move), ReferenceApproval(move, SecondConfirmation("bob", "bob-pass1", "new light"))]
    view.reference_guard = lambda inspection_id, proceed: proceed(True, approvals.pop(0))
    view.mark_false_alarm(rec.id, "odd light", add_reference=True)
    qtbot.waitUntil(lambda: view.banner.level is Severity.ERROR, timeout=5000)
    assert "second person" in view.banner.text() or "other than you" in view.banner.text()
    assert database.references.list(product.id) == [] and database.inspections.get(rec.id).review_status == "none"
    view.mark_false_alarm(rec.id, "odd light", add_reference=True)
    qtbot.waitUntil(lambda: view.banner.level is Severity.SUCCESS, timeout=5000)
    assert len(database.references.list(product.id)) == 1
    event = g.audit.list(action="relabel", limit=1)[0]
    assert event.actor == "eve" and event.after["confirmed_by"] == "bob"
