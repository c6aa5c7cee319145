"""Who is at the station: the login dialog, and on a station without any user the first admin's set-up.

The dialogs only collect a name and password; checking them (argon2, lock-out, audit trail) is db/auth.py's, done
by desktop/controllers/login_session.py, which shows the refusal's message here and asks again.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QWidget

from desktop.dialogs.form_layout import lay_out_form, message_label, password_fields

MIN_PASSWORD_HINT = "at least 8 characters"


class LoginDialog(QDialog):
    """Name and password. ``message`` (a refusal, "logged out after 10 minutes idle") is shown above the fields."""

    def __init__(self, parent: QWidget | None = None, *, message: str = "", name: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Log in to the inspection station")
        self.message = message_label(self, message, object_name="loginMessage")
        self.name = QLineEdit(name, self)
        self.name.setObjectName("loginName")
        [self.password] = password_fields(self, 1)
        self.password.setObjectName("loginPassword")
        self.buttons = lay_out_form(
            self,
            [("Name", self.name), ("Password", self.password)],
            ok_text="Log in",
            cancel_text="Quit",
            above=[self.message],
        )
        (self.password if name else self.name).setFocus()

    def credentials(self) -> tuple[str, str]:
        return self.name.text().strip(), self.password.text()


class FirstAdminDialog(QDialog):
    """The station has no user yet: the first admin chooses a name and a password (typed twice)."""

    def __init__(self, parent: QWidget | None = None, *, message: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up the first admin")
        intro = QLabel(
            "This station has no users yet. Create the first admin: they add the operators and engineers in the "
            "Users tab (or with main.py users add NAME --role operator|engineer --user ADMIN --password-stdin) and "
            f"set the station's settings there. Password: {MIN_PASSWORD_HINT}.",
            self,
        )
        intro.setWordWrap(True)
        self.message = message_label(self, message, object_name="firstAdminMessage")
        self.name = QLineEdit(self)
        self.password, self.repeat = password_fields(self, 2)
        self.buttons = lay_out_form(
            self,
            [("Admin name", self.name), ("Password", self.password), ("Password again", self.repeat)],
            ok_text="Create admin",
            cancel_text="Quit",
            above=[intro, self.message],
        )

    def values(self) -> tuple[str, str, str]:
        return self.name.text().strip(), self.password.text(), self.repeat.text()


__all__ = ["FirstAdminDialog", "LoginDialog"]
