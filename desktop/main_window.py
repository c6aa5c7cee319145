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
from desktop.widgets.message_banner import MessageBanner
from desktop.widgets.shift_counters import ShiftCountersWidget
from desktop.widgets.station_status_bar import StationStatusBar
from desktop.widgets.verdict_badge import VerdictBadge

WINDOW_TITLE = "Inspection station"


class MainWindow(QMainWindow):
    closing = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(WINDOW_TITLE)
        self.resize(1360, 840)
        self.controls = ControlBar()
        self.banner = MessageBanner()
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
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self._problem_key: str | None = None
        self._problem_action: Callable[[], None] | None = None
        self.banner.retryRequested.connect(self._run_problem_action)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self).activated.connect(self.controls.inspect_clicked.emit)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.live_view.release_hold)

    def add_view(self, title: str, widget: QWidget) -> None:
        """Add a tab next to Live (History, Statistics)."""
        self.tabs.addTab(widget, title)

    # -- problems: banner + status bar ----------------------------------------------------------------------
    def show_problem(
        self,
        key: str,
        text: str,
        level: str = "error",
        action_text: str | None = None,
        action: Callable[[], None] | None = None,
    ) -> None:
        """Show what went wrong and what to do, tagged with ``key`` so that part can clear it when fixed."""
        self._problem_key, self._problem_action = key, action
        self.banner.show_message(text, level, retry=action is not None)
        self.banner.retry_button.setText(action_text or "Retry")
        self.status.showMessage(text, 15000)

    def clear_problem(self, key: str) -> None:
        if self._problem_key == key:
            self._problem_key, self._problem_action = None, None
            self.banner.clear()

    def problem_key(self) -> str | None:
        return self._problem_key if self.banner.isVisible() else None

    def _run_problem_action(self) -> None:
        if self._problem_action is not None:
            self._problem_action()

    def closeEvent(self, event) -> None:
        self.closing.emit()
        super().closeEvent(event)
