"""The Users tab's dialogs: OK only once the form is filled in as it needs to be, and the values as typed."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox

from desktop.dialogs.new_user_dialog import NewUserDialog
from desktop.dialogs.password_dialog import PasswordDialog


def _ok(dialog) -> bool:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_a_new_user_needs_a_name_and_the_password_twice_and_keeps_what_was_typed(qtbot) -> None:
    dialog = NewUserDialog(message="The name 'anna' is taken.", name="anna", role="engineer")
    qtbot.addWidget(dialog)
    assert not dialog.message.isHidden() and "taken" in dialog.message.text()
    assert dialog.name.text() == "anna" and dialog.role.currentData() == "engineer"
    assert not _ok(dialog)
    dialog.password.setText("first-password")
    assert not _ok(dialog)
    dialog.repeat.setText("first-password")
    assert _ok(dialog)
    dialog.name.setText("   ")
    assert not _ok(dialog)
    dialog.name.setText(" eve ")
    assert dialog.values() == ("eve", "engineer", "first-password", "first-password")


def test_ones_own_password_needs_the_current_one_anothers_does_not(qtbot) -> None:
    own = PasswordDialog("anna", own=True)
    qtbot.addWidget(own)
    own.new.setText("new-password")
    own.repeat.setText("new-password")
    assert not _ok(own)
    own.current.setText("old-password")
    assert _ok(own) and own.values() == ("old-password", "new-password", "new-password")
    other = PasswordDialog("anna", own=False)
    qtbot.addWidget(other)
    assert other.current.isHidden() and other.message.isHidden()
    other.new.setText("new-password")
    other.repeat.setText("new-password")
    assert _ok(other) and other.windowTitle() == "Set the password of anna"
