"""Who is at the station: the login dialog, and on a station without any user the first admin's set-up.

The dialogs only collect a name and password; checking them (argon2, lock-out, audit trail) is db/auth.py's, done
by desktop/controllers/login_session.py, which shows the refusal's message here and asks again.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

MIN_PASSWORD_HINT = "at least 8 characters"


class LoginDialog(QDialog):
    """Name and password. ``message`` (a refusal, "logged out after 10 minutes idle") is shown above the fields."""

    def __init__(self, parent: QWidget | None = None, *, message: str = "", name: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Log in to the inspection station")
        self.message = QLabel(message, self)
        self.message.setObjectName("loginMessage")
        self.message.setWordWrap(True)
        self.message.setVisible(bool(message))
        self.name = QLineEdit(name, self)
        self.name.setObjectName("loginName")
        self.password = QLineEdit(self)
        self.password.setObjectName("loginPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Password", self.password)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Log in")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Quit")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        (self.password if name else self.name).setFocus()

    def credentials(self) -> tuple[str, str]:
        return self.name.text().strip(), self.password.text()


class FirstAdminDialog(QDialog):
    """The station has no user yet: the first admin chooses a name and a password (typed twice)."""

    def __init__(self, parent: QWidget | None = None, *, message: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up the first admin")
        intro = QLabel(
            "This station has no users yet. Create the first admin: they add the operators and engineers "
            "(main.py users add NAME --role operator|engineer --user ADMIN --password-stdin) and set the station's "
            f"settings. Password: {MIN_PASSWORD_HINT}.",
            self,
        )
        intro.setWordWrap(True)
        self.message = QLabel(message, self)
        self.message.setObjectName("firstAdminMessage")
        self.message.setWordWrap(True)
        self.message.setVisible(bool(message))
        self.name = QLineEdit(self)
        self.password = QLineEdit(self)
        self.repeat = QLineEdit(self)
        for field in (self.password, self.repeat):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.addRow("Admin name", self.name)
        form.addRow("Password", self.password)
        form.addRow("Password again", self.repeat)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create admin")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Quit")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def values(self) -> tuple[str, str, str]:
        return self.name.text().strip(), self.password.text(), self.repeat.text()


__all__ = ["FirstAdminDialog", "LoginDialog"]
