"""A one-line label that never asks for more than its maximum width: a longer text ends in "…" and is shown whole
in the tooltip (the status bar's permanent labels, which otherwise squeeze its message area to nothing)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

MIN_WIDTH = 60
SLACK = 4  # pixels beyond the text's advance, so that a text that fits is never cut by rounding


class ElidedLabel(QLabel):
    def __init__(
        self, text: str = "", max_width: int = 320, parent: QWidget | None = None, explanation: str = ""
    ) -> None:
        super().__init__(parent)
        self._full = ""
        self.explanation = explanation  # always in the tooltip, after the whole text where that is cut
        self.setMaximumWidth(max_width)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self._elide()
        self.updateGeometry()

    def text(self) -> str:
        """The whole text, not the shortened one on screen."""
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        margins = self.contentsMargins()
        wanted = self.fontMetrics().horizontalAdvance(self._full) + margins.left() + margins.right() + SLACK
        return QSize(min(wanted, self.maximumWidth()), hint.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(min(MIN_WIDTH, self.sizeHint().width()), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elided_for(self, width: int) -> str:
        margins = self.contentsMargins()
        room = max(0, width - margins.left() - margins.right() - SLACK)
        if self.fontMetrics().horizontalAdvance(self._full) <= room:
            return self._full
        return self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room)

    def _elide(self) -> None:
        shown = self._elided_for(self.width() if self.isVisible() else self.maximumWidth())
        super().setText(shown)
        self.setToolTip(
            "\n\n".join(part for part in ("" if shown == self._full else self._full, self.explanation) if part)
        )
