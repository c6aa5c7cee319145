"""Before a false alarm becomes a normal reference, show what it would do to the product's recent failures.

The History tab's "false alarm + add as reference" comes here first. On a database thread the guard reads the
product's references, the reviewed frame and the product's most recent failures; the inference worker rebuilds the
product with the new reference and scores those failures again (core/reference_preview.py); the reviewer then sees
how many of them would now pass, and where, and chooses: add the reference, only record the false alarm, or cancel.
Where more of them would pass than the admin's share (station setting ``threshold_guard_share``), adding the
reference needs a second engineer or admin, as a threshold override does: the guard asks for the confirmation and
hands it, with the measured move, to the database layer, which checks it (db/guarded.py ``review``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from core.reference_preview import PreviewRequest, RecentFailure, ReferencePreview
from core.threshold_guard import ThresholdMove, needs_second_confirmation
from db.records import HistoryFilter
from db.threshold_moves import SecondConfirmation
from desktop.workers.db_task import DatabaseTaskRunner

log = logging.getLogger(__name__)

RECENT_FAILURES = 40  # the product's most recent failures the preview scores again


class ReferenceChoice(Enum):
    ADD = "add"  # mark the false alarm and add the image as a reference
    FALSE_ALARM_ONLY = "false_alarm_only"  # mark the false alarm, keep the references as they are
    CANCEL = "cancel"


@dataclass(frozen=True)
class ReferenceApproval:
    """What adding the reference does (measured) and, where it moves too much, the second person's confirmation."""

    move: ThresholdMove
    confirmation: SecondConfirmation | None = None


Ask = Callable[[str], ReferenceChoice]
# called with add_reference (and, when measured, the approval) once the reviewer chose; not called on cancel
Proceed = Callable[[bool, "ReferenceApproval | None"], None]
Confirm = Callable[[ThresholdMove, float], "SecondConfirmation | None"]  # the second person, or None: cancel


def ask_with_dialog(parent: QWidget | None) -> Ask:
    def ask(text: str) -> ReferenceChoice:
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Add as a normal reference?")
        box.setText(text)
        add = box.addButton("Add the reference", QMessageBox.ButtonRole.AcceptRole)
        only = box.addButton("Only mark as a false alarm", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return (
            ReferenceChoice.ADD
            if clicked is add
            else (ReferenceChoice.FALSE_ALARM_ONLY if clicked is only else ReferenceChoice.CANCEL)
        )

    return ask


class ReferenceGuard(QObject):
    """Measures a candidate reference before it is added (the inference service does the measuring)."""

    def __init__(
        self,
        database,
        inference,
        ask: Ask,
        parent: QObject | None = None,
        *,
        confirm: Confirm | None = None,
        limit_share: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(parent)
        self.database = database
        self.inference = inference
        self.ask = ask
        self.confirm = confirm  # without it the database layer refuses a move above the share, in words
        self.limit_share = limit_share
        self._tasks = DatabaseTaskRunner(self)
        self._tokens = itertools.count(1)
        self._waiting: dict[int, Proceed] = {}
        inference.preview_ready.connect(self._on_ready)
        inference.preview_failed.connect(self._on_failed)

    def check(self, inspection_id: int, proceed: Proceed) -> None:
        """Measure, ask, then call ``proceed(add_reference)``; nothing is saved before the reviewer chose."""
        token = next(self._tokens)
        self._waiting[token] = proceed
        self._tasks.run(
            lambda: self._gather(token, inspection_id),
            self.inference.preview_reference,
            lambda exc: self._on_failed(token, f"the product's records could not be read ({exc})"),
        )

    def _gather(self, token: int, inspection_id: int) -> PreviewRequest:  # database thread
        record = self.database.inspections.get(inspection_id)
        store = self.database.store
        refs = tuple(store.read_array(r.image_sha256) for r in self.database.references.list(record.product_id))
        page = self.database.history.query(
            HistoryFilter(product_id=record.product_id, verdict="FAIL", limit=RECENT_FAILURES + 1)
        )
        failures = tuple(
            RecentFailure(store.read_array(r.image_sha256), r.region_locations, f"#{r.id}")
            for r in page.records
            if r.id != inspection_id and r.review_status != "false_alarm"
        )[:RECENT_FAILURES]
        log.info("reference preview for #%s: %d recent failures", inspection_id, len(failures))
        return PreviewRequest(token, record.product_id, refs, store.read_array(record.image_sha256), failures)

    @Slot(int, object)
    def _on_ready(self, token: int, preview: ReferencePreview) -> None:
        self._decide(token, preview.summary(), preview.move)

    @Slot(int, str)
    def _on_failed(self, token: int, message: str) -> None:
        self._decide(token, f"What this reference would do could not be measured: {message}. Add it anyway?")

    def _decide(self, token: int, text: str, move: ThresholdMove | None = None) -> None:
        proceed = self._waiting.pop(token, None)
        if proceed is None:
            return
        choice = self.ask(text)
        if choice is ReferenceChoice.CANCEL:
            return
        add = choice is ReferenceChoice.ADD
        if not add or move is None:
            proceed(add, None)
            return
        limit = self.limit_share() if self.limit_share is not None else None
        confirmation = None
        if limit is not None and self.confirm is not None and needs_second_confirmation(move, limit):
            confirmation = self.confirm(move, limit)
            if confirmation is None:
                return  # the second person did not confirm: nothing is saved
        proceed(True, ReferenceApproval(move, confirmation))
