"""An admin adds a person to the station: name, role and a first password typed twice. The rules (name, password
length, who may add whom) are the database layer's (db/users.py); the dialog only collects the input."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from db.roles import ROLES

ROLE_HELP = {
    "operator": "inspects, runs auto mode, asks in the chat, marks parts for review",
    "engineer": "also reviews, exports, manages references, products and thresholds",
    "admin": "also manages users and the station settings",
    "line": "technical user of the line runner or the PLC; cannot log in at the window",
}


class NewUserDialog(QDialog):
    def __init__(
        self, parent: QWidget | None = None, *, message: str = "", name: str = "", role: str = "operator"
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a user")
        self.name = QLineEdit(self)
        self.role = QComboBox(self)
        for role in ROLES:
            self.role.addItem(f"{role}: {ROLE_HELP.get(role, '')}", role)
        self.name.setText(name)
        self.role.setCurrentIndex(max(self.role.findData(role), 0))
        self.password = QLineEdit(self)
        self.repeat = QLineEdit(self)
        for field in (self.password, self.repeat):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self.message = QLabel(message, self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color:#b00020;")
        self.message.setVisible(bool(message))
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Role", self.role)
        form.addRow("Password (8 characters or more)", self.password)
        form.addRow("Password again", self.repeat)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        for field in (self.name, self.password, self.repeat):
            field.textChanged.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._update()

    def _update(self) -> None:
        filled = bool(self.name.text().strip() and self.password.text() and self.repeat.text())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(filled)

    def values(self) -> tuple[str, str, str, str]:
        """(name, role, password, password again)."""
        return self.name.text().strip(), str(self.role.currentData()), self.password.text(), self.repeat.text()


NewUser = tuple[str, str, str, str]  # (name, role, password, password again)


def ask_new_user(
    parent: QWidget | None = None, message: str = "", name: str = "", role: str = "operator"
) -> NewUser | None:
    """Show the dialog (again with ``message`` and the name and role typed before); None when cancelled."""
    dialog = NewUserDialog(parent, message=message, name=name, role=role)
    return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None


__all__ = ["ROLE_HELP", "NewUser", "NewUserDialog", "ask_new_user"]
