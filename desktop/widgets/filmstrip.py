"""The Live tab's filmstrip: the last parts, newest on the left, each a thumbnail framed in its verdict's colour;
a click opens the part's record (``part_clicked`` carries its inspection id)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QToolButton, QWidget

from desktop.qt.qt_images import rgb_to_pixmap
from line.events import PartSummary

THUMB = 72
COLOURS = {"PASS": "#1b7f3b", "FAIL": "#b3261e"}


class Filmstrip(QScrollArea):
    part_clicked = Signal(int)  # inspection id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filmstrip")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(THUMB + 34)
        inner = QWidget()
        self._row = QHBoxLayout(inner)
        self._row.setContentsMargins(2, 2, 2, 2)
        self._row.addStretch(1)
        self.setWidget(inner)
        self.buttons: list[QToolButton] = []

    def show_parts(self, parts: Sequence[PartSummary]) -> None:
        """Show ``parts`` (newest first)."""
        for button in self.buttons:
            self._row.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        for i, part in enumerate(parts):
            button = QToolButton()
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            if part.thumbnail is not None:
                button.setIcon(QIcon(rgb_to_pixmap(part.thumbnail)))
                button.setIconSize(QSize(THUMB, THUMB))
            button.setText(f"{part.verdict} {part.part_id or '#' + str(part.inspection_id)}")
            button.setToolTip(
                f"{part.product_name}: {part.verdict}, defect probability {part.probability * 100:.1f} %"
                f" (inspection #{part.inspection_id}). Click to open it in the History."
            )
            colour = COLOURS.get(part.verdict, "#3a3f47")
            button.setStyleSheet(f"QToolButton {{ border: 3px solid {colour}; border-radius: 3px; }}")
            button.setProperty("inspection_id", part.inspection_id)
            button.clicked.connect(lambda _=False, iid=part.inspection_id: self.part_clicked.emit(iid))
            self._row.insertWidget(i, button)
            self.buttons.append(button)
