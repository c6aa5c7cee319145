"""Who is logged in at the window: the first admin's set-up, the login, the name in the status bar, and the logout
after the idle time the admin set (station setting ``idle_logout_s``, default 10 minutes).

    session = LoginSession(window, guarded)          # guarded: db.guarded.GuardedDatabase over the station's database
    if not session.start():                          # first-run admin set-up, then the login; False: the person quit
        return
    session.user_changed.connect(history.set_session_user)

Passwords are checked by db/auth.py (argon2, lock-out; every login, failed login and logout is in the audit trail).
Any key press or mouse click in the application counts as activity. After the idle time the user is logged out
(audited, reason "idle") and the login dialog comes back; nobody is logged in meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QPushButton, QWidget

from db.auth import AuthSession
from db.errors import DatabaseError
from db.guarded import DEFAULT_IDLE_LOGOUT_S, IDLE_LOGOUT_SETTING, GuardedDatabase
from db.roles import ADMIN, LINE
from db.users import UserInfo
from desktop.dialogs.login_dialog import FirstAdminDialog, LoginDialog

log = logging.getLogger(__name__)

AskLogin = Callable[[str, str], tuple[str, str] | None]  # (message, name) -> (name, password) or None: quit
AskFirstAdmin = Callable[[str], tuple[str, str, str] | None]  # message -> (name, password, repeat) or None
_ACTIVITY = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel)


def dialog_login(parent: QWidget | None) -> AskLogin:
    def ask(message: str, name: str) -> tuple[str, str] | None:
        dialog = LoginDialog(parent, message=message, name=name)
        return dialog.credentials() if dialog.exec() == QDialog.DialogCode.Accepted else None

    return ask


def dialog_first_admin(parent: QWidget | None) -> AskFirstAdmin:
    def ask(message: str) -> tuple[str, str, str] | None:
        dialog = FirstAdminDialog(parent, message=message)
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None

    return ask


class LoginSession(QObject):
    user_changed = Signal(object)  # UserInfo, or None after a logout

    def __init__(
        self,
        window: QWidget,
        guarded: GuardedDatabase,
        *,
        ask_login: AskLogin | None = None,
        ask_first_admin: AskFirstAdmin | None = None,
        check_every_ms: int = 1000,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.guarded = guarded
        self.ask_login = ask_login or dialog_login(window)
        self.ask_first_admin = ask_first_admin or dialog_first_admin(window)
        idle = guarded.get_station_setting(IDLE_LOGOUT_SETTING, DEFAULT_IDLE_LOGOUT_S)
        self.auth = AuthSession(guarded.users, idle_timeout_s=float(idle), via="desktop")
        self.label = QLabel("nobody logged in", window)
        self.label.setObjectName("loggedInUser")
        self.logout_button = QPushButton("Log out", window)
        self.logout_button.clicked.connect(lambda: self.logout("logged out"))
        status = getattr(window, "status", None)
        if status is not None:
            status.addPermanentWidget(self.label)
            status.addPermanentWidget(self.logout_button)
        self._timer = QTimer(self)
        self._timer.setInterval(check_every_ms)
        self._timer.timeout.connect(self.check_idle)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    @property
    def user(self) -> UserInfo | None:
        return self.auth.current

    # -- logging in --------------------------------------------------------------------------------------------
    def start(self) -> bool:
        """First-run admin set-up when the station has no user (the new admin is then logged in with the password
        just typed twice), else the login. False: the person chose Quit."""
        if self.guarded.users.count() == 0:
            created = self._first_admin()
            if created is None:
                return False
            name, password = created
            result = self.auth.login(name, password)
            if result.ok and result.user is not None:
                self._show(result.user)
                self._timer.start()
                return True
            return self.login(result.message, name)
        return self.login()

    def _first_admin(self) -> tuple[str, str] | None:
        """Ask for the first admin until one is created: their (name, password), or None when the person quit."""
        message = ""
        while True:
            values = self.ask_first_admin(message)
            if values is None:
                return None
            name, password, repeat = values
            if password != repeat:
                message = "The two passwords differ. Type the same password twice."
                continue
            try:
                self.guarded.users.add(None, name, ADMIN, password)
            except DatabaseError as exc:  # a weak password, an empty name, the database refusing
                message = str(exc)
                continue
            log.info("first admin %r created at the window", name)
            return name, password

    def login(self, message: str = "", name: str = "") -> bool:
        """Ask until somebody logs in (True) or the person quits (False)."""
        while True:
            answer = self.ask_login(message, name)
            if answer is None:
                return False
            name, password = answer
            try:
                result = self.auth.login(name, password)
            except DatabaseError as exc:
                message = f"The login could not be checked: {exc}"
                continue
            if not result.ok or result.user is None:
                message = result.message
                continue
            if result.user.role == LINE:  # a technical user is for the line runner and the PLC, not a person
                self.auth.logout(reason="technical user at the window")
                message = f"{name} is a technical user (role line); log in with your own name."
                continue
            self._show(result.user)
            self._timer.start()
            return True

    def refresh_user(self) -> None:
        """The logged-in person's own account was changed (their role, or disabled): show the new role everywhere,
        or log them out when they may no longer work at the window."""
        try:
            user = self.auth.refresh()
        except DatabaseError as exc:
            log.warning("the logged-in user could not be read again: %s", exc)
            return
        if user is None:
            return
        if not user.enabled or user.role == LINE:
            self.logout("account changed")
            if not self.login(f"The account {user.name} can no longer work at the window. Log in again."):
                self.window.close()
            return
        self._show(user)

    def logout(self, reason: str) -> None:
        self._timer.stop()
        self.auth.logout(reason=reason)
        self._show(None)

    def _show(self, user: UserInfo | None) -> None:
        self.label.setText(f"{user.name} ({user.role})" if user is not None else "nobody logged in")
        self.logout_button.setVisible(user is not None)
        self.user_changed.emit(user)

    # -- idle logout -------------------------------------------------------------------------------------------
    def set_idle_timeout(self, seconds: float) -> None:
        """The admin changed the idle time: it applies from now on, to whoever is logged in."""
        self.auth.idle_timeout_s = float(seconds)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY:
            self.auth.touch()
        return False

    def check_idle(self) -> bool:
        """Log out after the idle time and ask for a login again; True when this call logged somebody out."""
        if not self.auth.logout_if_idle():
            return False
        minutes = (self.auth.idle_timeout_s or 0) / 60.0
        self._timer.stop()
        self._show(None)
        if not self.login(f"You were logged out after {minutes:.0f} minutes without activity. Log in again."):
            self.window.close()  # the person chose Quit: nobody may use the window
        return True


__all__ = ["LoginSession", "dialog_first_admin", "dialog_login"]
