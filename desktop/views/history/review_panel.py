"""Review of one inspection by a person: confirm the defect, or mark a false alarm (optionally adding the part
to the product's normal references); or, for an operator, ask QA to look at it (mark for review). The panel only
asks; the history view saves, and the database layer decides who may (db/roles.py)."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QLineEdit, QPushButton, QWidget

from db.records import InspectionRecord
from db.reviews import ReviewInfo

from .filters import REVIEW_LABELS


class ReviewPanel(QWidget):
    """Emits ``confirmRequested(inspection_id, note)``, ``falseAlarmRequested(inspection_id, note, add_reference)``
    and ``markRequested(inspection_id, note)``."""

    confirmRequested = Signal(int, str)
    falseAlarmRequested = Signal(int, str, bool)
    markRequested = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._record: InspectionRecord | None = None
        self._busy = False
        self._request: ReviewInfo | None = None
        self._can_review = True  # what the logged-in role may do (set_permissions); the database checks again
        self._can_mark = True
        self.status_label = QLabel(self)
        self.status_label.setObjectName("reviewStatus")
        self.status_label.setWordWrap(True)
        self.note_edit = QLineEdit(self)
        self.note_edit.setPlaceholderText("Note (optional), e.g. what the defect is")
        self.note_edit.setMaxLength(500)
        self.confirm_button = QPushButton("Confirm defect", self)
        self.confirm_button.setObjectName("confirmDefectButton")
        self.confirm_button.setToolTip("The part really is defective (on a PASS this records a missed defect).")
        self.false_alarm_button = QPushButton("Mark false alarm", self)
        self.false_alarm_button.setObjectName("falseAlarmButton")
        self.false_alarm_button.setToolTip("The part was rejected but is good.")
        self.add_reference_check = QCheckBox("Also add this part as a normal reference", self)
        self.add_reference_check.setObjectName("addAsReferenceCheck")
        self.add_reference_check.setToolTip(
            "Teach the product that this look is normal. The product model is rebuilt afterwards."
        )

        self.mark_button = QPushButton("Mark for review", self)
        self.mark_button.setObjectName("markForReviewButton")
        self.mark_button.setToolTip("Ask an engineer to look at this part; the note says why. It labels nothing.")

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.status_label, 0, 0, 1, 2)
        grid.addWidget(self.note_edit, 1, 0, 1, 2)
        grid.addWidget(self.confirm_button, 2, 0)
        grid.addWidget(self.false_alarm_button, 2, 1)
        grid.addWidget(self.add_reference_check, 3, 0, 1, 2)
        grid.addWidget(self.mark_button, 4, 0, 1, 2)
        self.confirm_button.clicked.connect(self._confirm)
        self.mark_button.clicked.connect(self._mark)
        self.false_alarm_button.clicked.connect(self._false_alarm)
        self.set_record(None)

    def set_record(self, record: InspectionRecord | None) -> None:
        """Show the review state of ``record`` (None: nothing selected)."""
        if record is None or self._record is None or record.id != self._record.id:
            self.note_edit.clear()
            self.add_reference_check.setChecked(False)
            self._request = None
        self._record = record
        self._update()

    def set_request(self, inspection_id: int, request: ReviewInfo | None) -> None:
        """The open request of inspection ``inspection_id`` (an operator asked for a review), or None: none open."""
        if self._record is None or inspection_id != self._record.id:
            return  # an answer for a part no longer shown
        self._request = request
        self._update()

    def set_permissions(self, *, can_review: bool, can_mark: bool) -> None:
        """What the logged-in person's role may do: the other buttons are greyed out (db/guarded.py refuses them
        anyway)."""
        self._can_review, self._can_mark = can_review, can_mark
        self._update()

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while a review is being saved (no double clicks)."""
        self._busy = busy
        self._update()

    def _update(self) -> None:
        rec = self._record
        if rec is None:
            self.status_label.setText("Select an inspection to review it.")
        elif rec.review_status == "none":
            self.status_label.setText("Not reviewed yet.")
        else:
            who = f" by {rec.reviewed_by}" if rec.reviewed_by else ""
            when = f" on {rec.reviewed_at.astimezone().strftime('%Y-%m-%d %H:%M')}" if rec.reviewed_at else ""
            note = f" - {rec.review_note}" if rec.review_note else ""
            self.status_label.setText(f"{REVIEW_LABELS.get(rec.review_status, rec.review_status)}{who}{when}{note}")
        if rec is not None and self._request is not None:
            asked = self._request
            why = f": {asked.reason}" if asked.reason else ""
            before = self.status_label.text().rstrip(".")
            line = f"Marked for review by {asked.by} on {asked.at.astimezone().strftime('%Y-%m-%d %H:%M')}{why}"
            self.status_label.setText(f"{before}. {line}" + ("" if line[-1] in ".?!" else "."))
        enabled = rec is not None and not self._busy
        self.note_edit.setEnabled(enabled and (self._can_review or self._can_mark))
        self.mark_button.setEnabled(enabled and self._can_mark and self._request is None)
        enabled = enabled and self._can_review
        self.confirm_button.setEnabled(enabled)
        can_false_alarm = enabled and rec is not None and rec.verdict == "FAIL"
        self.false_alarm_button.setEnabled(can_false_alarm)
        self.add_reference_check.setEnabled(can_false_alarm)
        self.false_alarm_button.setToolTip(
            "The part was rejected but is good."
            if rec is None or rec.verdict == "FAIL"
            else "Only a FAIL can be a false alarm; this part passed."
        )

    @Slot()
    def _confirm(self) -> None:
        if self._record is not None and not self._busy:
            self.confirmRequested.emit(self._record.id, self.note_edit.text().strip())

    @Slot()
    def _mark(self) -> None:
        if self._record is not None and not self._busy:
            self.markRequested.emit(self._record.id, self.note_edit.text().strip())

    @Slot()
    def _false_alarm(self) -> None:
        if self._record is not None and not self._busy and self._record.verdict == "FAIL":
            self.falseAlarmRequested.emit(
                self._record.id, self.note_edit.text().strip(), self.add_reference_check.isChecked()
            )


__all__ = ["ReviewPanel"]
