"""The Users tab: an admin adds people, disables them, changes roles, sets passwords and the station settings at
the window; anybody logged in changes their own password; everybody else is refused by the database layer, not
only by greyed-out buttons, and every change is in the audit trail."""

from __future__ import annotations

import pytest

from db.guarded import IDLE_LOGOUT_SETTING, GuardedDatabase
from db.repository import Database
from db.threshold_moves import THRESHOLD_GUARD_SETTING
from desktop.views.admin.admin_view import MISMATCH, AdminView
from line.problems import Severity

pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


class Script:
    """Answers the view's dialogs in order and remembers what each was shown."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.asked: list[tuple] = []

    def __call__(self, *args):
        self.asked.append(args)
        return self.answers.pop(0) if self.answers else None


@pytest.fixture
def station(tmp_path):
    database = Database.open(tmp_path / "data")
    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-password")
    anna = g.users.add(admin, "anna", "operator", "operator-password")
    yield g, admin, anna
    database.close()


def _view(qtbot, g, user, **asks) -> AdminView:
    view = AdminView(g, **asks)
    qtbot.addWidget(view)
    view.set_session_user(user)
    with qtbot.waitSignal(view.usersShown, timeout=5000):
        view.refresh()
    return view


def _actions(g, action: str) -> list:
    return [e for e in g.audit.list() if e.action == action]


def test_an_admin_adds_a_user_asked_again_when_the_passwords_differ_or_the_name_is_taken(qtbot, station) -> None:
    g, admin, _anna = station
    ask = Script(
        ("eve", "engineer", "engineer-pw1", "engineer-pw2"),  # typed differently: asked again, nothing saved
        ("anna", "engineer", "engineer-pw1", "engineer-pw1"),  # the name is taken: asked again with the reason
        ("eve", "engineer", "engineer-pw1", "engineer-pw1"),
    )
    view = _view(qtbot, g, admin, ask_user=ask)
    assert view.users.add_button.isEnabled()
    with qtbot.waitSignal(view.changed, timeout=5000) as saved:
        view.add_user()
    assert ask.asked[1][0] == MISMATCH
    assert "anna" in ask.asked[2][0] and ask.asked[2][1:] == ("anna", "engineer")  # what was typed is kept
    assert "eve added as engineer" in saved.args[0]
    qtbot.waitUntil(lambda: "eve" in [u.name for u in view.users.users], timeout=5000)
    assert g.users.get("eve").role == "engineer"
    assert [e.actor for e in _actions(g, "user_added") if e.target == "user:eve"] == ["root"]
    assert g.users.authenticate("eve", "engineer-pw1").ok


def test_an_admin_disables_enables_changes_a_role_and_sets_a_password(qtbot, station) -> None:
    g, admin, _anna = station
    view = _view(qtbot, g, admin, ask_role=Script("engineer"), ask_pw=Script(("", "fresh-password", "fresh-password")))
    assert view.users.select("anna")
    assert view.users.disable_button.isEnabled() and not view.users.enable_button.isEnabled()
    with qtbot.waitSignal(view.changed, timeout=5000):
        view.users.disable_button.click()
    assert not g.users.get("anna").enabled and not g.users.authenticate("anna", "operator-password").ok
    qtbot.waitUntil(lambda: view.users.enable_button.isEnabled(), timeout=5000)  # the table read again
    with qtbot.waitSignal(view.changed, timeout=5000):
        view.users.enable_button.click()
    assert g.users.get("anna").enabled
    with qtbot.waitSignal(view.changed, timeout=5000):
        view.users.role_button.click()
    assert g.users.get("anna").role == "engineer"
    with qtbot.waitSignal(view.changed, timeout=5000) as said:
        view.users.password_button.click()
    assert "password of anna is set" in said.args[0]
    assert g.users.authenticate("anna", "fresh-password").ok
    for action in ("user_disabled", "user_enabled", "user_role_changed", "password_changed"):
        assert [e.actor for e in _actions(g, action)] == ["root"], action
    assert "fresh-password" not in repr([(e.before, e.after, e.reason) for e in g.audit.list()])


def test_an_operator_is_refused_by_the_database_whatever_the_buttons(qtbot, station) -> None:
    g, _admin, anna = station
    view = _view(qtbot, g, anna, ask_user=Script(("mallory", "admin", "mallory-pw1", "mallory-pw1")))
    assert not view.users.add_button.isEnabled() and not view.settings.save_button.isEnabled()
    assert "Only an admin" in view.who.text()
    before = len(g.audit.list())
    with qtbot.waitSignal(view.failed, timeout=5000) as refused:
        view.add_user()  # called past the greyed-out button
    assert refused.args[0].startswith("Not changed") and view.banner.level is Severity.ERROR
    with qtbot.waitSignal(view.failed, timeout=5000):
        view.save_settings(5.0, 1.0)
    with qtbot.waitSignal(view.failed, timeout=5000):
        view.set_enabled("root", False)
    assert sorted(u.name for u in g.users.list()) == ["anna", "root"]
    assert g.users.get("root").enabled and g.get_station_setting(IDLE_LOGOUT_SETTING) is None
    assert len(g.audit.list()) == before  # a refusal changes nothing and records nothing


def test_anybody_changes_their_own_password_with_the_current_one(qtbot, station) -> None:
    g, _admin, anna = station
    ask = Script(("wrong-password", "anna-new-pw", "anna-new-pw"), ("operator-password", "anna-new-pw", "anna-new-pw"))
    view = _view(qtbot, g, anna, ask_pw=ask)
    assert view.own_password_button.isEnabled()
    with qtbot.waitSignal(view.failed, timeout=5000):
        view.own_password_button.click()
    assert ask.asked[0][:2] == ("anna", True)  # asked as one's own: the current password is needed
    assert g.users.authenticate("anna", "operator-password").ok
    with qtbot.waitSignal(view.changed, timeout=5000) as said:
        view.own_password_button.click()
    assert said.args[0] == "Your password is changed."
    assert g.users.authenticate("anna", "anna-new-pw").ok


def test_the_admin_saves_the_settings_and_the_idle_time_applies_at_once(qtbot, station) -> None:
    g, admin, _anna = station
    view = _view(qtbot, g, admin)
    assert view.settings.idle_minutes.value() == 10 and view.settings.guard_percent.value() == 10.0  # the defaults
    view.settings.idle_minutes.setValue(3)
    view.settings.guard_percent.setValue(25)
    with qtbot.waitSignal(view.settingsSaved, timeout=5000) as saved:
        view.settings.save_button.click()
    assert saved.args == [180.0, 0.25]
    assert g.get_station_setting(IDLE_LOGOUT_SETTING) == 180.0
    assert g.get_station_setting(THRESHOLD_GUARD_SETTING) == 0.25
    changes = _actions(g, "setting_changed")
    assert sorted((e.actor, e.target) for e in changes) == [
        ("root", f"setting:{IDLE_LOGOUT_SETTING}"),
        ("root", f"setting:{THRESHOLD_GUARD_SETTING}"),
    ]


def test_a_new_idle_time_reaches_the_login_session(qtbot, station) -> None:
    from PySide6.QtWidgets import QMainWindow, QStatusBar

    from desktop.controllers.login_session import LoginSession

    g, _admin, _anna = station
    window = QMainWindow()
    window.status = QStatusBar(window)
    qtbot.addWidget(window)
    session = LoginSession(window, g, ask_login=Script(("root", "admin-password")), ask_first_admin=Script())
    assert session.start() and session.auth.idle_timeout_s == 600
    view = _view(qtbot, g, session.user)
    view.settingsSaved.connect(lambda idle_s, _share: session.set_idle_timeout(idle_s))
    view.settings.idle_minutes.setValue(2)
    with qtbot.waitSignal(view.settingsSaved, timeout=5000):
        view.settings.save_button.click()
    assert session.auth.idle_timeout_s == 120.0


def test_an_admin_who_changes_their_own_account_sees_it_at_once(qtbot, station) -> None:
    """Demoted: the window shows the new role and greys out what it may not do. Disabled: logged out, login again."""
    from PySide6.QtWidgets import QMainWindow, QStatusBar

    from desktop.controllers.login_session import LoginSession

    g, admin, _anna = station
    g.users.add(admin, "boss", "admin", "boss-password")  # the station keeps an enabled admin
    window = QMainWindow()
    window.status = QStatusBar(window)
    qtbot.addWidget(window)
    logins = Script(("root", "admin-password"), ("boss", "boss-password"))
    session = LoginSession(window, g, ask_login=logins, ask_first_admin=Script())
    assert session.start()
    view = _view(qtbot, g, session.user, ask_role=Script("engineer"))
    view.ownAccountChanged.connect(session.refresh_user)
    session.user_changed.connect(view.set_session_user)
    assert view.users.select("root")
    with qtbot.waitSignal(view.ownAccountChanged, timeout=5000):
        view.users.role_button.click()
    assert session.user.role == "engineer" and session.label.text() == "root (engineer)"
    assert not view.users.add_button.isEnabled() and "Only an admin" in view.who.text()

    g.users.set_role(g.users.get("boss"), "root", "admin")  # another admin gives the role back
    session.refresh_user()
    assert session.user.role == "admin" and view.users.add_button.isEnabled()
    qtbot.waitUntil(lambda: view.users.select("root") and view.users.disable_button.isEnabled(), timeout=5000)
    with qtbot.waitSignal(view.ownAccountChanged, timeout=5000):
        view.users.disable_button.click()
    assert "can no longer work at the window" in logins.asked[-1][0]
    assert session.user.name == "boss"
