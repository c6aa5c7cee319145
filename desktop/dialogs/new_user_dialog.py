"""An admin adds a person to the station: name, role and a first password typed twice. The rules (name, password
length, who may add whom) are the database layer's (db/users.py); the dialog only collects the input."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QLineEdit, QWidget

from db.roles import ROLES
from desktop.dialogs.form_layout import lay_out_form, message_label, password_fields

ROLE_HELP = {
    "operator": "inspects, runs auto mode, asks in the chat, marks parts for review",
    "engineer": "also reviews, exports, manages references, products and thresholds",
    "admin": "also manages users and the station settings",
    "line": "technical user of the line runner or the PLC; cannot log in at the window",
}

NewUser = tuple[str, str, str, str]  # (name, role, password, password again)


class NewUserDialog(QDialog):
    def __init__(
        self, parent: QWidget | None = None, *, message: str = "", name: str = "", role: str = "operator"
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a user")
        self.name = QLineEdit(name, self)
        self.role = QComboBox(self)
        for r in ROLES:
            self.role.addItem(f"{r}: {ROLE_HELP.get(r, '')}", r)
        self.role.setCurrentIndex(max(self.role.findData(role), 0))
        self.password, self.repeat = password_fields(self, 2)
        self.message = message_label(self, message, error=True)
        self.buttons = lay_out_form(
            self,
            [
                ("Name", self.name),
                ("Role", self.role),
                ("Password (8 characters or more)", self.password),
                ("Password again", self.repeat),
            ],
            ok_text="Add",
            above=[self.message],
            watch=[self.name, self.password, self.repeat],
            ready=lambda: bool(self.name.text().strip() and self.password.text() and self.repeat.text()),
        )

    def values(self) -> NewUser:
        return self.name.text().strip(), str(self.role.currentData()), self.password.text(), self.repeat.text()


def ask_new_user(
    parent: QWidget | None = None, message: str = "", name: str = "", role: str = "operator"
) -> NewUser | None:
    """Show the dialog (again with ``message`` and the name and role typed before); None when cancelled."""
    dialog = NewUserDialog(parent, message=message, name=name, role=role)
    return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None


__all__ = ["ROLE_HELP", "NewUser", "NewUserDialog", "ask_new_user"]
