"""A one-line message strip shown above a view: database trouble, export results, hints. Never a modal box."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

_STYLES = {
    "info": "background:#e8f1fb; color:#123; border:1px solid #9bbbe0; border-radius:4px;",
    "success": "background:#e7f6ea; color:#132; border:1px solid #8fc79b; border-radius:4px;",
    "warning": "background:#fff5dc; color:#321; border:1px solid #e0c070; border-radius:4px;",
    "error": "background:#fde8e8; color:#400; border:1px solid #e09090; border-radius:4px;",
}


class MessageBanner(QFrame):
    """Shows ``show_message(text, level)``; ``retryRequested`` fires when the operator presses Retry."""

    retryRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self._level = ""
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
        self.close_button.clicked.connect(self.clear)
        self.setVisible(False)

    @property
    def level(self) -> str:
        return self._level

    def text(self) -> str:
        return self.label.text() if self._level else ""

    def show_message(self, text: str, level: str = "info", *, retry: bool = False) -> None:
        self._level = level if level in _STYLES else "info"
        self.setStyleSheet(f"QFrame#messageBanner {{{_STYLES[self._level]}}}")
        self.label.setText(text)
        self.retry_button.setVisible(retry)
        self.setVisible(True)

    @Slot()
    def clear(self) -> None:
        self._level = ""
        self.label.clear()
        self.retry_button.setVisible(False)
        self.setVisible(False)


__all__ = ["MessageBanner"]
