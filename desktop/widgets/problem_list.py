"""The window's open problems, newest first, each with its own action and Dismiss (line/problems.py holds them)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.widgets.message_banner import MessageBanner
from line.problems import Problem, ProblemList, Severity

MAX_SHOWN = 4  # more than this and the oldest are summed up in one line (the status bar names the newest)


class _Relay(QObject):
    changed = Signal()


class ProblemListWidget(QWidget):
    """Shows a :class:`ProblemList`. Changes made on any thread are shown on the GUI thread. Dismissing a row
    resolves that problem (it comes back if its cause raises it again)."""

    def __init__(self, problems: ProblemList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problems = problems
        self._rows: list[MessageBanner] = []
        self._shown: list[Problem] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self._no_button = QPushButton(self)  # what retry_button is while no problem is open: hidden, does nothing
        self._no_button.setVisible(False)
        self._more = QLabel(self)
        self._more.setObjectName("problemListMore")
        self._layout.addWidget(self._more)
        self._relay = _Relay(self)
        self._relay.changed.connect(self._refresh)
        problems.subscribe(self._relay.changed.emit)
        self._refresh()

    # -- what tests and the status bar read ---------------------------------------------------------------------
    def text(self) -> str:
        """The newest problem's text ('' when there is none)."""
        newest = self.problems.newest()
        return newest.text if newest is not None else ""

    def texts(self) -> list[str]:
        return [p.text for p in self.problems.items()]

    @property
    def level(self) -> Severity | None:
        """The newest problem's severity."""
        newest = self.problems.newest()
        return newest.severity if newest is not None else None

    @property
    def retry_button(self) -> QPushButton:
        """The newest problem's action button."""
        return self._rows[0].retry_button if self._rows else self._no_button

    def rows(self) -> list[MessageBanner]:
        return [r for r in self._rows if not r.isHidden()]

    # -- drawing ------------------------------------------------------------------------------------------------
    @Slot()
    def _refresh(self) -> None:
        items = self.problems.items()
        shown = items[:MAX_SHOWN]
        while len(self._rows) < len(shown):
            row = MessageBanner(self)
            index = len(self._rows)
            row.retryRequested.connect(lambda i=index: self._act(i))
            row.dismissed.connect(lambda i=index: self._dismiss(i))
            self._layout.insertWidget(index, row)
            self._rows.append(row)
        for i, row in enumerate(self._rows):
            if i < len(shown):
                p = shown[i]
                row.show_message(p.text, p.severity, retry=p.action is not None)
                row.retry_button.setText(p.action_text or "Retry")
            else:
                row.clear()
        self._shown = shown
        hidden = len(items) - len(shown)
        self._more.setText(f"… and {hidden} older problem{'s' if hidden != 1 else ''}" if hidden > 0 else "")
        self._more.setVisible(hidden > 0)
        self.setVisible(bool(items))

    def _act(self, index: int) -> None:
        if index < len(self._shown) and self._shown[index].action is not None:
            action = self._shown[index].action
            assert action is not None
            action()

    def _dismiss(self, index: int) -> None:
        if index < len(self._shown):
            self.problems.clear(self._shown[index].key)


__all__ = ["MAX_SHOWN", "ProblemListWidget"]
