"""The second person's confirmation of a threshold move: what it does is shown, Confirm needs every field."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox, QLabel

from core.threshold_guard import RecordedFailure, assess_threshold_move
from db.threshold_moves import SecondConfirmation
from desktop.dialogs.threshold_confirm_dialog import ThresholdConfirmDialog


def test_the_dialog_shows_the_move_and_collects_the_confirmation(qtbot) -> None:
    move = assess_threshold_move([RecordedFailure(0.6, ("top left",)), RecordedFailure(2.0, ("center",))], 0.5, 1.0)
    dialog = ThresholdConfirmDialog(move, 0.1)
    qtbot.addWidget(dialog)
    text = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "1 of the 2 recent recorded failures (50%) would now PASS (top left: 1)" in text and "10%" in text
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.name.setText("bob")
    dialog.password.setText("bob-password")
    assert not ok.isEnabled()  # no reason yet
    dialog.reason.setText("checked by hand")
    assert ok.isEnabled()
    assert dialog.confirmation() == SecondConfirmation("bob", "bob-password", "checked by hand")
