"""Thumbnails of a product's normal reference images, with one selectable at a time.

Reading and scaling the image files (:func:`load_thumbnails`) may run on a worker thread (QImage is safe there);
only turning them into icons (:meth:`ReferenceGallery.show_thumbnails`) needs the GUI thread."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

THUMB = 112


def load_thumbnails(references) -> list[tuple[object, QImage | None]]:
    """Each ReferenceInfo with its image scaled to fit a thumbnail, or None when the file cannot be read."""
    loaded = []
    for ref in references:
        image = QImage(str(Path(ref.image_file)))
        if image.isNull():
            loaded.append((ref, None))
        else:
            loaded.append(
                (
                    ref,
                    image.scaled(
                        THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                    ),
                )
            )
    return loaded


def _tile(scaled: QImage | None) -> QPixmap:
    """A square tile with the thumbnail centred; a grey tile saying so when the file could not be read."""
    pixmap = QPixmap(THUMB, THUMB)
    pixmap.fill(QColor("#2a2e35"))
    painter = QPainter(pixmap)
    if scaled is not None:
        painter.drawImage((THUMB - scaled.width()) // 2, (THUMB - scaled.height()) // 2, scaled)
    else:
        painter.setPen(QColor("#ff8a80"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, "cannot be read")
    painter.end()
    return pixmap


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

    def show_thumbnails(self, loaded: list[tuple[object, QImage | None]]) -> None:
        """Show what :func:`load_thumbnails` read."""
        self.clear()
        self.unreadable = []
        for ref, scaled in loaded:
            label = ref.original_name or f"reference {ref.id}"
            if scaled is None:
                self.unreadable.append(label)
            item = QListWidgetItem(QIcon(_tile(scaled)), label if len(label) <= 18 else label[:15] + "…")
            item.setToolTip(f"{label}\n{ref.width} x {ref.height} px, added {ref.added_at:%Y-%m-%d %H:%M}")
            item.setData(Qt.ItemDataRole.UserRole, ref.id)
            self.addItem(item)

    def selected_id(self) -> int | None:
        item = self.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))
