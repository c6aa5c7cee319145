"""A new password typed twice; for one's own password also the current one. db/users.py checks them (the current
password, the length) and hashes the new one with argon2; nothing here keeps a password after the dialog closes."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QWidget

from desktop.dialogs.form_layout import lay_out_form, message_label, password_fields

Passwords = tuple[str, str, str]  # (current or "", new, new again)


class PasswordDialog(QDialog):
    def __init__(self, name: str, *, own: bool, parent: QWidget | None = None, message: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Change your password" if own else f"Set the password of {name}")
        self.own = own
        self.current, self.new, self.repeat = password_fields(self, 3)
        self.message = message_label(self, message, error=True)
        rows = [("New password (8 characters or more)", self.new), ("New password again", self.repeat)]
        if own:
            rows.insert(0, ("Your current password", self.current))
        else:
            self.current.hide()
        self.buttons = lay_out_form(
            self,
            rows,
            above=[self.message],
            watch=[self.current, self.new, self.repeat],
            ready=lambda: bool(self.new.text() and self.repeat.text() and (self.current.text() or not self.own)),
        )

    def values(self) -> Passwords:
        return self.current.text(), self.new.text(), self.repeat.text()


def ask_password(name: str, own: bool, parent: QWidget | None = None, message: str = "") -> Passwords | None:
    dialog = PasswordDialog(name, own=own, parent=parent, message=message)
    return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None


__all__ = ["PasswordDialog", "Passwords", "ask_password"]
