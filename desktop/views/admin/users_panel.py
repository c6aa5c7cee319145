"""The station's users as a table (name, role, enabled, locked, failed logins, since) with the admin's buttons.
A plain view: desktop/views/admin/admin_view.py reads the users, runs the changes and says what happened."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from db.users import UserInfo

COLUMNS = ("Name", "Role", "Account", "Failed logins", "Since")


def account_state(user: UserInfo) -> str:
    if not user.enabled:
        return "disabled"
    if user.locked():
        return f"locked until {user.locked_until.astimezone().strftime('%H:%M') if user.locked_until else ''}"
    return "active"


class UsersPanel(QWidget):
    addRequested = Signal()
    enableRequested = Signal(str, bool)  # name, enabled
    roleRequested = Signal(str)  # name
    passwordRequested = Signal(str)  # name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.add_button = QPushButton("Add user…", self)
        self.disable_button = QPushButton("Disable", self)
        self.enable_button = QPushButton("Enable", self)
        self.role_button = QPushButton("Change role…", self)
        self.password_button = QPushButton("Set password…", self)
        buttons = QHBoxLayout()
        for b in (self.add_button, self.disable_button, self.enable_button, self.role_button, self.password_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._users: list[UserInfo] = []
        self._editable = False
        self.add_button.clicked.connect(self.addRequested)
        self.disable_button.clicked.connect(lambda: self._for_selected(lambda n: self.enableRequested.emit(n, False)))
        self.enable_button.clicked.connect(lambda: self._for_selected(lambda n: self.enableRequested.emit(n, True)))
        self.role_button.clicked.connect(lambda: self._for_selected(self.roleRequested.emit))
        self.password_button.clicked.connect(lambda: self._for_selected(self.passwordRequested.emit))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self._update_buttons()

    @property
    def users(self) -> list[UserInfo]:
        return list(self._users)

    def set_users(self, users: Sequence[UserInfo]) -> None:
        keep = self.selected_name()
        self._users = list(users)
        self.table.setRowCount(len(self._users))
        for row, u in enumerate(self._users):
            since = u.created_at.astimezone().strftime("%Y-%m-%d")
            for col, value in enumerate((u.name, u.role, account_state(u), str(u.failed_logins), since)):
                self.table.setItem(row, col, QTableWidgetItem(value))
            if u.name == keep:
                self.table.selectRow(row)
        self._update_buttons()

    def select(self, name: str) -> bool:
        for row, u in enumerate(self._users):
            if u.name == name:
                self.table.selectRow(row)
                return True
        return False

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self._users):
            return None
        return self._users[rows[0].row()].name

    def selected(self) -> UserInfo | None:
        name = self.selected_name()
        return next((u for u in self._users if u.name == name), None)

    def set_editable(self, editable: bool) -> None:
        """Only an admin changes users; the database refuses anybody else whatever the buttons say."""
        self._editable = editable
        self._update_buttons()

    def _for_selected(self, emit: object) -> None:
        name = self.selected_name()
        if name is not None and callable(emit):
            emit(name)

    def _update_buttons(self) -> None:
        user = self.selected()
        self.add_button.setEnabled(self._editable)
        self.disable_button.setEnabled(self._editable and user is not None and user.enabled)
        self.enable_button.setEnabled(self._editable and user is not None and not user.enabled)
        for b in (self.role_button, self.password_button):
            b.setEnabled(self._editable and user is not None)


__all__ = ["COLUMNS", "UsersPanel", "account_state"]
