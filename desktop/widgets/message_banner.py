"""A one-line message strip shown above a view: database trouble, export results, hints. Never a modal box."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from line.problems import Severity

STYLES = {
    Severity.INFO: "background:#e8f1fb; color:#123; border:1px solid #9bbbe0; border-radius:4px;",
    Severity.SUCCESS: "background:#e7f6ea; color:#132; border:1px solid #8fc79b; border-radius:4px;",
    Severity.WARNING: "background:#fff5dc; color:#321; border:1px solid #e0c070; border-radius:4px;",
    Severity.ERROR: "background:#fde8e8; color:#400; border:1px solid #e09090; border-radius:4px;",
}


class MessageBanner(QFrame):
    """Shows ``show_message(text, severity)``; ``retryRequested`` fires when the operator presses Retry,
    ``dismissed`` when they close it."""

    retryRequested = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self._level: Severity | None = None
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setObjectName("messageBannerText")
        self.retry_button = QPushButton("Retry", self)
        self.retry_button.setVisible(False)
        self.close_button = QPushButton("Dismiss", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.retry_button)
        layout.addWidget(self.close_button)
        self.retry_button.clicked.connect(self.retryRequested)
        self.close_button.clicked.connect(self._dismiss)
        self.setVisible(False)

    @property
    def level(self) -> Severity | None:
        """The severity shown, None while nothing is."""
        return self._level

    def text(self) -> str:
        return self.label.text() if self._level is not None else ""

    def show_message(self, text: str, level: Severity = Severity.INFO, *, retry: bool = False) -> None:
        self._level = Severity(level)
        self.setStyleSheet(f"QFrame#messageBanner {{{STYLES[self._level]}}}")
        self.label.setText(text)
        self.retry_button.setVisible(retry)
        self.setVisible(True)

    @Slot()
    def _dismiss(self) -> None:
        self.clear()
        self.dismissed.emit()

    @Slot()
    def clear(self) -> None:
        self._level = None
        self.label.clear()
        self.retry_button.setVisible(False)
        self.setVisible(False)


__all__ = ["MessageBanner"]
