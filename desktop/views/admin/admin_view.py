"""The Users tab: the station's people and its settings, changed at the window by an admin, and one's own
password changed by anybody logged in. Every change goes through the database layer as the logged-in user
(db/users.py, db/guarded.py): the role is checked there and each change is in the audit trail, whatever the
buttons show. The calls run off the GUI thread (desktop/workers/db_task.py); a refusal or a locked database is
said in the banner and nothing is changed.

    view = AdminView(guarded)
    login.user_changed.connect(view.set_session_user)
    view.settingsSaved.connect(lambda idle_s, share: login.set_idle_timeout(idle_s))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QInputDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from db.auth_errors import AuthenticationError, PermissionDenied
from db.errors import DatabaseError, DuplicateError, ValidationError
from db.guarded import DEFAULT_IDLE_LOGOUT_S, IDLE_LOGOUT_SETTING, GuardedDatabase
from db.roles import ADMIN, MANAGE_USERS, ROLES, STATION_SETTINGS, allowed
from db.threshold_moves import THRESHOLD_GUARD_SETTING, guard_share
from db.users import UserInfo
from desktop.dialogs.new_user_dialog import NewUser, ask_new_user
from desktop.dialogs.password_dialog import Passwords, ask_password
from desktop.views.admin.station_settings_panel import StationSettingsPanel
from desktop.views.admin.users_panel import UsersPanel
from desktop.widgets.message_banner import MessageBanner
from desktop.workers.db_task import DatabaseTaskRunner
from line.problems import Severity

AskNewUser = Callable[[str, str, str], NewUser | None]  # (message, name, role) -> the input, or None: cancelled
AskPassword = Callable[[str, bool, str], Passwords | None]  # (name, own, message) -> the input, or None
AskRole = Callable[[str, str], str | None]  # (name, current role) -> the new role, or None
_INPUT_PROBLEMS = (ValidationError, DuplicateError)  # the person can correct what they typed and try again
MISMATCH = "The two passwords differ. Type the same password twice."


def failure_text(exc: Exception) -> str:
    """What the banner says when a change is refused or fails."""
    if isinstance(exc, (PermissionDenied, AuthenticationError, ValidationError, DuplicateError)):
        return f"Not changed: {exc}"
    if isinstance(exc, DatabaseError):
        return f"Not changed: {exc} Nothing was saved; try again."
    return f"Not changed: {type(exc).__name__}: {exc}. Try again; if it fails again, restart the station."


class AdminView(QWidget):
    usersShown = Signal(int)  # the users read and shown (how many)
    changed = Signal(str)  # a change was saved: what the banner says
    failed = Signal(str)  # a change or a read was refused or failed: what the banner says
    settingsSaved = Signal(float, float)  # idle logout in seconds, threshold guard share
    ownAccountChanged = Signal()  # the logged-in person changed their own role or account (read it again)

    def __init__(
        self,
        guarded: GuardedDatabase,
        parent: QWidget | None = None,
        *,
        ask_user: AskNewUser | None = None,
        ask_pw: AskPassword | None = None,
        ask_role: AskRole | None = None,
    ) -> None:
        super().__init__(parent)
        self.guarded = guarded
        self._user: UserInfo | None = None
        self._tasks = DatabaseTaskRunner(self)
        self._ask_user = ask_user or (lambda message, name, role: ask_new_user(self, message, name, role))
        self._ask_pw = ask_pw or (lambda name, own, message: ask_password(name, own, self, message))
        self._ask_role = ask_role or self._role_dialog
        self.banner = MessageBanner(self)
        self.who = QLabel("Nobody is logged in.", self)
        self.who.setWordWrap(True)
        self.own_password_button = QPushButton("Change my password…", self)
        self.users = UsersPanel(self)
        self.settings = StationSettingsPanel(self)
        top = QHBoxLayout()
        top.addWidget(self.who, 1)
        top.addWidget(self.own_password_button)
        users_box = QGroupBox("Users", self)
        QVBoxLayout(users_box).addWidget(self.users)
        settings_box = QGroupBox("Station settings", self)
        QVBoxLayout(settings_box).addWidget(self.settings)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(users_box, 1)
        layout.addWidget(settings_box)
        self.own_password_button.clicked.connect(self.change_own_password)
        self.users.addRequested.connect(lambda: self.add_user())
        self.users.enableRequested.connect(self.set_enabled)
        self.users.roleRequested.connect(self.change_role)
        self.users.passwordRequested.connect(self.set_password)
        self.settings.saveRequested.connect(self.save_settings)
        self.banner.retryRequested.connect(self.refresh)
        self.set_session_user(None)

    @property
    def busy(self) -> bool:
        return self._tasks.busy

    def showEvent(self, event: Any) -> None:  # the current users and settings each time the tab is opened
        super().showEvent(event)
        self.refresh()

    # -- who is at the window ---------------------------------------------------------------------------------
    @Slot(object)
    def set_session_user(self, user: UserInfo | None) -> None:
        self._user = user
        is_admin = user is not None and allowed(user.role, MANAGE_USERS)
        self.users.set_editable(is_admin)
        self.settings.set_editable(user is not None and allowed(user.role, STATION_SETTINGS))
        self.own_password_button.setEnabled(user is not None)
        if user is None:
            self.who.setText("Nobody is logged in.")
        elif is_admin:
            self.who.setText(f"Logged in as {user.name} ({user.role}): you manage the users and the settings.")
        else:
            self.who.setText(
                f"Logged in as {user.name} ({user.role}). Only an admin adds users, changes roles and the station "
                "settings; you can change your own password."
            )

    # -- reading ----------------------------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        def read() -> tuple[list[UserInfo], float, float]:
            idle = self.guarded.get_station_setting(IDLE_LOGOUT_SETTING, DEFAULT_IDLE_LOGOUT_S)
            share = guard_share(self.guarded.get_station_setting(THRESHOLD_GUARD_SETTING))
            return self.guarded.users.list(), float(idle), share

        self._tasks.run(read, self._show, lambda exc: self._fail(f"The users could not be read. {exc}", retry=True))

    def _show(self, answer: tuple[list[UserInfo], float, float]) -> None:
        users, idle, share = answer
        self.users.set_users(users)
        self.settings.set_values(idle, share)
        self.usersShown.emit(len(users))

    # -- changes ----------------------------------------------------------------------------------------------
    def _run(
        self,
        job: Callable[[], object],
        done: str,
        on_input_problem: Callable[[str], None] | None = None,
        target: str = "",
    ) -> None:
        """Run a change as the logged-in user; say what happened and read the users again. ``target``: whose account
        it changes (their own: ``ownAccountChanged`` once saved)."""
        if self._user is None:
            self._fail("Log in first.")
            return

        def failed(exc: Exception) -> None:
            if on_input_problem is not None and isinstance(exc, _INPUT_PROBLEMS):
                on_input_problem(str(exc))  # ask again with what was wrong, the input kept
                return
            self._fail(failure_text(exc))

        own = self._user is not None and target == self._user.name

        def saved(_result: object) -> None:
            self._done(done)
            if own:
                self.ownAccountChanged.emit()

        self._tasks.run(job, saved, failed)

    def _done(self, text: str) -> None:
        self.banner.show_message(text, Severity.SUCCESS)
        self.changed.emit(text)
        self.refresh()

    def _fail(self, text: str, *, retry: bool = False) -> None:
        self.banner.show_message(text, Severity.ERROR, retry=retry)
        self.failed.emit(text)

    @Slot()
    def add_user(self, message: str = "", name: str = "", role: str = "operator") -> None:
        while True:
            answer = self._ask_user(message, name, role)
            if answer is None:
                return
            name, role, password, repeat = answer
            if password == repeat:
                break
            message = MISMATCH
        actor = self._user
        self._run(
            lambda: self.guarded.users.add(actor, name, role, password),
            f"{name} added as {role}. They log in with the password you gave them.",
            on_input_problem=lambda why: self.add_user(why, name, role),
        )

    @Slot(str, bool)
    def set_enabled(self, name: str, enabled: bool) -> None:
        actor = self._user
        self._run(
            lambda: self.guarded.users.set_enabled(actor, name, enabled),  # type: ignore[arg-type]
            f"{name} {'enabled: they can log in again' if enabled else 'disabled: they can no longer log in'}.",
            target=name,
        )

    def _role_dialog(self, name: str, current: str) -> str | None:
        roles = list(ROLES)
        index = roles.index(current) if current in roles else 0
        role, ok = QInputDialog.getItem(self, "Change role", f"The role of {name}:", roles, index, False)
        return str(role) if ok else None

    @Slot(str)
    def change_role(self, name: str) -> None:
        user = next((u for u in self.users.users if u.name == name), None)
        role = self._ask_role(name, user.role if user is not None else ADMIN)
        if role is None or (user is not None and role == user.role):
            return
        actor = self._user
        self._run(
            lambda: self.guarded.users.set_role(actor, name, role),  # type: ignore[arg-type]
            f"{name} is now {role}.",
            target=name,
        )

    @Slot(str)
    def set_password(self, name: str, message: str = "") -> None:
        own = self._user is not None and name == self._user.name
        while True:
            answer = self._ask_pw(name, own, message)
            if answer is None:
                return
            current, new, repeat = answer
            if new == repeat:
                break
            message = MISMATCH
        actor = self._user
        self._run(
            lambda: self.guarded.users.set_password(  # type: ignore[arg-type]
                actor, name, new, current_password=current if own else None
            ),
            "Your password is changed." if own else f"The password of {name} is set. Tell them in person.",
            on_input_problem=lambda why: self.set_password(name, why),
        )

    @Slot()
    def change_own_password(self) -> None:
        if self._user is None:
            self._fail("Log in first.")
            return
        self.set_password(self._user.name)

    @Slot(float, float)
    def save_settings(self, idle_logout_s: float, share: float) -> None:
        actor = self._user

        def save() -> None:
            self.guarded.set_station_setting(actor, IDLE_LOGOUT_SETTING, idle_logout_s)  # type: ignore[arg-type]
            self.guarded.set_station_setting(actor, THRESHOLD_GUARD_SETTING, share)  # type: ignore[arg-type]

        def saved(_result: object) -> None:
            self.settingsSaved.emit(float(idle_logout_s), float(share))
            self._done(
                f"Settings saved: log out after {idle_logout_s / 60:.0f} min idle; a second person when a threshold "
                f"move lets more than {100 * share:.0f}% of the recent failures pass."
            )

        if self._user is None:
            self._fail("Log in first.")
            return

        def failed(exc: Exception) -> None:
            self._fail(failure_text(exc))
            self.refresh()  # show what is stored now

        self._tasks.run(save, saved, failed)


__all__ = ["AdminView", "failure_text"]
