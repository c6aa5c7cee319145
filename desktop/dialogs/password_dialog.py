"""A new password typed twice; for one's own password also the current one. db/users.py checks them (the current
password, the length) and hashes the new one with argon2; nothing here keeps a password after the dialog closes."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

Passwords = tuple[str, str, str]  # (current or "", new, new again)


class PasswordDialog(QDialog):
    def __init__(self, name: str, *, own: bool, parent: QWidget | None = None, message: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Change your password" if own else f"Set the password of {name}")
        self.current = QLineEdit(self)
        self.new = QLineEdit(self)
        self.repeat = QLineEdit(self)
        for field in (self.current, self.new, self.repeat):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self.message = QLabel(message, self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color:#b00020;")
        self.message.setVisible(bool(message))
        form = QFormLayout()
        if own:
            form.addRow("Your current password", self.current)
        else:
            self.current.hide()
        form.addRow("New password (8 characters or more)", self.new)
        form.addRow("New password again", self.repeat)
        self.own = own
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        for field in (self.current, self.new, self.repeat):
            field.textChanged.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._update()

    def _update(self) -> None:
        filled = bool(self.new.text() and self.repeat.text() and (self.current.text() or not self.own))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(filled)

    def values(self) -> Passwords:
        return self.current.text(), self.new.text(), self.repeat.text()


def ask_password(name: str, own: bool, parent: QWidget | None = None, message: str = "") -> Passwords | None:
    dialog = PasswordDialog(name, own=own, parent=parent, message=message)
    return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None


__all__ = ["PasswordDialog", "Passwords", "ask_password"]
