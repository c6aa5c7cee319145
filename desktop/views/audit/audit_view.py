"""The audit trail as QA and admins read it: who did what, when, to what, why; filtered by person, action and
date; the chain checked on demand; exported as CSV (audited) for people with the export right.

Reads run off the GUI thread (desktop/workers/db_task.py); the events come from db/audit.py and the export from
db/exports.py, so the window adds no rules of its own.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from db import audit
from desktop.widgets.message_banner import MessageBanner
from desktop.workers.db_task import DatabaseTaskRunner
from line.problems import Severity

ALL_ACTIONS = "All actions"
ACTIONS = sorted(v for k, v in vars(audit).items() if k.isupper() and isinstance(v, str) and k not in ("GENESIS_HASH",))
COLUMNS = ("Time", "Who", "Action", "Target", "Reason", "Before", "After")
MAX_ROWS = 2000  # the newest events shown; the export writes every one in the range


def _cell(value: Any) -> str:
    if value in (None, {}, []):
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "…"


class AuditView(QWidget):
    eventsShown = Signal(int)  # rows shown after a refresh

    def __init__(self, trail: Any, parent: QWidget | None = None, *, pick_file: Any = None) -> None:
        """``trail`` is a db.audit.AuditTrail (``GuardedDatabase.audit``)."""
        super().__init__(parent)
        self.trail = trail
        self._guarded: Any = None
        self._user: Any = None
        self._tasks = DatabaseTaskRunner(self)
        self._pick_file = pick_file or self._ask_file
        self.banner = MessageBanner(self)
        self.actor = QLineEdit(self)
        self.actor.setPlaceholderText("who (any)")
        self.action = QComboBox(self)
        self.action.addItems([ALL_ACTIONS, *ACTIONS])
        today = QDate.currentDate()
        self.start = QDateEdit(today.addDays(-7), self)
        self.end = QDateEdit(today, self)
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.refresh_button = QPushButton("Show", self)
        self.verify_button = QPushButton("Check the chain", self)
        self.export_button = QPushButton("Export CSV…", self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.footer = QLabel(self)
        filters = QHBoxLayout()
        for label, widget in (("Who", self.actor), ("Action", self.action), ("From", self.start), ("To", self.end)):
            filters.addWidget(QLabel(label, self))
            filters.addWidget(widget)
        filters.addWidget(self.refresh_button)
        filters.addStretch(1)
        filters.addWidget(self.verify_button)
        filters.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.footer)
        self.refresh_button.clicked.connect(self.refresh)
        self.verify_button.clicked.connect(self.verify)
        self.export_button.clicked.connect(self.export_csv)
        self.banner.retryRequested.connect(self.refresh)

    def showEvent(self, event: Any) -> None:  # the newest events each time the tab is opened
        super().showEvent(event)
        self.refresh()

    # -- who is at the window (the export is theirs) -----------------------------------------------------------
    def use_guarded(self, guarded: Any) -> None:
        self._guarded = guarded

    @Slot(object)
    def set_session_user(self, user: Any) -> None:
        self._user = user

    # -- reading ------------------------------------------------------------------------------------------------
    def _range(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.start.date().toPython(), time(0)).astimezone()
        end = datetime.combine(self.end.date().toPython(), time(0)).astimezone() + timedelta(days=1)
        return start, end

    @Slot()
    def refresh(self) -> None:
        start, end = self._range()
        actor = self.actor.text().strip() or None
        action = None if self.action.currentText() == ALL_ACTIONS else self.action.currentText()
        self.refresh_button.setEnabled(False)
        self._tasks.run(
            lambda: self.trail.list(actor=actor, action=action, start=start, end=end, limit=MAX_ROWS),
            self._show,
            self._failed,
        )

    def _show(self, events: list[Any]) -> None:
        self.refresh_button.setEnabled(True)
        if self.banner.level is Severity.ERROR:
            self.banner.clear()
        self.table.setRowCount(len(events))
        for row, e in enumerate(events):
            values = (
                e.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.action,
                e.target,
                e.reason or "",
                _cell(e.before),
                _cell(e.after),
            )
            for col, value in enumerate(values):
                self.table.setItem(row, col, QTableWidgetItem(value))
        more = " (the newest shown; narrow the filter or export for all)" if len(events) >= MAX_ROWS else ""
        self.footer.setText(f"{len(events)} event{'s' if len(events) != 1 else ''}{more}")
        self.eventsShown.emit(len(events))

    def _failed(self, exc: Exception) -> None:
        self.refresh_button.setEnabled(True)
        self.banner.show_message(f"The audit trail could not be read. {exc}", Severity.ERROR, retry=True)

    # -- the chain and the export -------------------------------------------------------------------------------
    @Slot()
    def verify(self) -> None:
        self._tasks.run(self.trail.verify, self._verified, self._failed)

    def _verified(self, broken: Any) -> None:
        if broken is None:
            self.banner.show_message("The audit trail is intact: every row fits the chain.", Severity.SUCCESS)
        else:
            self.banner.show_message(
                f"The audit trail is broken at row #{broken.id}: {broken.problem}. Someone changed the "
                "database behind the station's back; keep a copy of it and tell the admin.",
                Severity.ERROR,
            )

    def _ask_file(self) -> str:
        path, _ = QFileDialog.getSaveFileName(self, "Export the audit trail", "audit.csv", "CSV (*.csv)")
        return path

    @Slot()
    def export_csv(self) -> None:
        if self._guarded is None or self._user is None:
            self.banner.show_message("Log in with a role that may export to export the audit trail.", Severity.ERROR)
            return
        path = self._pick_file()
        if not path:
            return
        start, end = self._range()
        from db.exports import export_audit_csv

        guarded, user = self._guarded, self._user
        self._tasks.run(
            lambda: export_audit_csv(guarded, user, Path(path), start=start, end=end),
            lambda rows: self.banner.show_message(f"Exported {rows} audit events to {path}.", Severity.SUCCESS),
            lambda exc: self.banner.show_message(
                f"The audit export failed; nothing was written. {exc}", Severity.ERROR
            ),
        )


__all__ = ["AuditView"]
