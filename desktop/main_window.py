"""The station's main window: composes the widgets, owns no logic (desktop/controllers/station.py wires them)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QSplitter, QTabWidget, QVBoxLayout, QWidget

from desktop.widgets.chat_panel import ChatPanel
from desktop.widgets.control_bar import ControlBar
from desktop.widgets.filmstrip import Filmstrip
from desktop.widgets.live_view import LiveView
from desktop.widgets.problem_list import ProblemListWidget
from desktop.widgets.shift_counters import ShiftCountersWidget
from desktop.widgets.station_status_bar import StationStatusBar
from desktop.widgets.verdict_badge import VerdictBadge
from line.problems import Problem, ProblemList, Severity

WINDOW_TITLE = "Inspection station"


class MainWindow(QMainWindow):
    closing = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(WINDOW_TITLE)
        self.resize(1360, 840)
        self.controls = ControlBar()
        self.problem_list = ProblemList()
        self.problems = ProblemListWidget(self.problem_list)
        self.live_view = LiveView()
        self.verdict = VerdictBadge()
        self.chat = ChatPanel()
        self.counters = ShiftCountersWidget()
        self.filmstrip = Filmstrip()
        self.status = StationStatusBar()
        self.setStatusBar(self.status)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.verdict)
        side_layout.addWidget(self.chat, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.live_view)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([800, 520])
        live = QWidget()
        live_layout = QVBoxLayout(live)
        live_layout.setContentsMargins(0, 0, 0, 0)
        live_layout.addWidget(self.counters)
        live_layout.addWidget(splitter, 1)
        live_layout.addWidget(self.filmstrip)
        self.tabs = QTabWidget()
        self.tabs.addTab(live, "Live")

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addWidget(self.controls)
        layout.addWidget(self.problems)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        QShortcut(QKeySequence(Qt.Key.Key_Space), self).activated.connect(self.controls.inspect_clicked.emit)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.live_view.release_hold)

    def add_view(self, title: str, widget: QWidget) -> None:
        """Add a tab next to Live (History, Statistics)."""
        self.tabs.addTab(widget, title)

    # -- problems: the list above the tabs + the status bar ---------------------------------------------------
    def show_problem(
        self,
        key: str,
        text: str,
        severity: Severity = Severity.ERROR,
        action_text: str | None = None,
        action: Callable[[], None] | None = None,
    ) -> None:
        """Show what went wrong and what to do, under ``key`` so that part can clear it when fixed. Every open
        problem stays listed, newest first; the same key replaces its own earlier message."""
        self.problem_list.raise_problem(Problem(key, text, Severity(severity), action_text, action))
        self.status.showMessage(text, 15000)

    def clear_problem(self, key: str) -> None:
        self.problem_list.clear(key)

    def problem_key(self) -> str | None:
        """The newest open problem's key."""
        newest = self.problem_list.newest()
        return newest.key if newest is not None else None

    def problem_keys(self) -> list[str]:
        return [p.key for p in self.problem_list.items()]

    def closeEvent(self, event) -> None:
        self.closing.emit()
        super().closeEvent(event)
