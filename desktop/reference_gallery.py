"""Thumbnails of a product's normal reference images, with one selectable at a time."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

THUMB = 112


def _thumbnail(path: Path) -> tuple[QPixmap, bool]:
    """A square thumbnail of the file; a grey tile saying so when the file cannot be read."""
    image = QImage(str(path))
    pixmap = QPixmap(THUMB, THUMB)
    pixmap.fill(QColor("#2a2e35"))
    painter = QPainter(pixmap)
    ok = not image.isNull()
    if ok:
        scaled = image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        painter.drawImage((THUMB - scaled.width()) // 2, (THUMB - scaled.height()) // 2, scaled)
    else:
        painter.setPen(QColor("#ff8a80"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, "cannot be read")
    painter.end()
    return pixmap, ok


class ReferenceGallery(QListWidget):
    """Shows ReferenceInfo records (db.records) as icons; the item's data is the reference id."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setSpacing(6)
        self.setMinimumHeight(THUMB + 48)
        self.unreadable: list[str] = []

    def set_references(self, references) -> None:
        self.clear()
        self.unreadable = []
        for ref in references:
            label = ref.original_name or f"reference {ref.id}"
            pixmap, ok = _thumbnail(Path(ref.image_file))
            if not ok:
                self.unreadable.append(label)
            item = QListWidgetItem(QIcon(pixmap), label if len(label) <= 18 else label[:15] + "…")
            item.setToolTip(f"{label}\n{ref.width} x {ref.height} px, added {ref.added_at:%Y-%m-%d %H:%M}")
            item.setData(Qt.ItemDataRole.UserRole, ref.id)
            self.addItem(item)

    def selected_id(self) -> int | None:
        item = self.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))
