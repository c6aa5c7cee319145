"""A threshold move that lets too many recent failures pass needs a second person: this dialog shows what the move
does (core/threshold_guard.py, measured by the database layer) and takes the second engineer's or admin's name,
password and reason. The check itself is db/guarded.py's; the dialog only collects the confirmation."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QWidget

from core.threshold_guard import ThresholdMove
from db.threshold_moves import SecondConfirmation
from desktop.dialogs.form_layout import lay_out_form, password_fields


class ThresholdConfirmDialog(QDialog):
    def __init__(self, move: ThresholdMove, limit_share: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("A second person must confirm this threshold")
        summary = QLabel(
            f"{move.summary()}\n\nThat is more than the {100 * limit_share:.0f}% the admin allows without a second "
            "person. An engineer or admin other than you confirms it with their own password and says why; both of "
            "you are named in the audit trail.",
            self,
        )
        summary.setWordWrap(True)
        self.name = QLineEdit(self)
        [self.password] = password_fields(self, 1)
        self.reason = QLineEdit(self)
        self.reason.setPlaceholderText("why the move is right (kept in the audit trail)")
        self.buttons = lay_out_form(
            self,
            [("Second person", self.name), ("Their password", self.password), ("Reason", self.reason)],
            ok_text="Confirm",
            above=[summary],
            watch=[self.name, self.password, self.reason],
            ready=lambda: all(f.text().strip() for f in (self.name, self.reason)) and bool(self.password.text()),
        )

    def confirmation(self) -> SecondConfirmation:
        return SecondConfirmation(self.name.text().strip(), self.password.text(), self.reason.text().strip())


def ask_second_confirmation(
    move: ThresholdMove, limit_share: float, parent: QWidget | None = None
) -> SecondConfirmation | None:
    """Show the dialog; the confirmation, or None when cancelled."""
    dialog = ThresholdConfirmDialog(move, limit_share, parent)
    return dialog.confirmation() if dialog.exec() == QDialog.DialogCode.Accepted else None


__all__ = ["ThresholdConfirmDialog", "ask_second_confirmation"]
