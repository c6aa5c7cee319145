"""The stored frame of one inspection (or its heatmap) with the defect regions outlined; scales with the pane."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Slot
from PySide6.QtGui import QColor, QFont, QImage, QImageReader, QPainter, QPen, QPixmap, QResizeEvent
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QRadioButton, QSizePolicy, QVBoxLayout, QWidget

MODE_IMAGE = "image"
MODE_HEATMAP = "heatmap"

_BOX = QColor(255, 40, 40)
_BOX_SELECTED = QColor(255, 210, 0)


def read_image(path: Path | None) -> tuple[QImage, str]:
    """(image, "") or (null image, a message saying what is wrong and what to do)."""
    if path is None:
        return QImage(), "No heatmap was stored for this inspection."
    if not Path(path).is_file():
        return QImage(), f"The stored file {Path(path).name} is missing. Restore the data folder from a backup."
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull():
        return (
            QImage(),
            f"The stored file {Path(path).name} cannot be read ({reader.errorString()}). It may be damaged.",
        )
    return image, ""


def _bbox(region: Any) -> tuple[int, int, int, int] | None:
    try:
        x0, y0, x1, y1 = (int(v) for v in region["bbox"])
    except (KeyError, TypeError, ValueError):
        return None
    return x0, y0, x1, y1


class InspectionImageView(QWidget):
    """``show_inspection(image_path, heatmap_path, regions, size)``; a switch shows the frame or the heatmap."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._images: dict[str, QImage] = {MODE_IMAGE: QImage(), MODE_HEATMAP: QImage()}
        self._errors: dict[str, str] = {MODE_IMAGE: "", MODE_HEATMAP: ""}
        self._regions: list[Any] = []
        self._frame_size = QSize()
        self._selected: int | None = None
        self._mode = MODE_IMAGE

        self.image_button = QRadioButton("Image", self)
        self.heatmap_button = QRadioButton("Heatmap", self)
        self.image_button.setChecked(True)
        self._group = QButtonGroup(self)
        self._group.addButton(self.image_button)
        self._group.addButton(self.heatmap_button)
        self.picture = QLabel(self)
        self.picture.setObjectName("inspectionPicture")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(160, 120)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setWordWrap(True)

        switch = QHBoxLayout()
        switch.addWidget(self.image_button)
        switch.addWidget(self.heatmap_button)
        switch.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(switch)
        layout.addWidget(self.picture, 1)
        self.image_button.toggled.connect(self._mode_toggled)
        self.clear()

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        (self.heatmap_button if mode == MODE_HEATMAP else self.image_button).setChecked(True)

    def message(self) -> str:
        """The text shown instead of a picture ("" while a picture is shown)."""
        return self._errors[self._mode] if self._images[self._mode].isNull() else ""

    def has_picture(self) -> bool:
        return not self._images[self._mode].isNull()

    def clear(self, text: str = "Select an inspection to see its image.") -> None:
        self._images = {MODE_IMAGE: QImage(), MODE_HEATMAP: QImage()}
        self._errors = {MODE_IMAGE: text, MODE_HEATMAP: text}
        self._regions = []
        self._selected = None
        self._render()

    def show_inspection(
        self, image_path: Path | None, heatmap_path: Path | None, regions: Sequence[Any], frame_size: QSize
    ) -> None:
        self._images[MODE_IMAGE], self._errors[MODE_IMAGE] = read_image(image_path)
        self._images[MODE_HEATMAP], self._errors[MODE_HEATMAP] = read_image(heatmap_path)
        self._regions = list(regions)
        self._frame_size = QSize(frame_size)
        self._selected = None
        self._render()

    def select_region(self, index: int | None) -> None:
        self._selected = index
        self._render()

    @Slot(bool)
    def _mode_toggled(self, image_checked: bool) -> None:
        self._mode = MODE_IMAGE if image_checked else MODE_HEATMAP
        self._render()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._render()

    def _render(self) -> None:
        image = self._images[self._mode]
        if image.isNull():
            self.picture.setPixmap(QPixmap())
            self.picture.setText(self._errors[self._mode])
            return
        area = self.picture.size()
        if area.width() < 10 or area.height() < 10:
            area = QSize(480, 360)
        shown = image.scaled(area, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        shown = shown.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        # Region boxes are in frame pixels; the heatmap may be stored at another size.
        ref = self._frame_size if self._frame_size.isValid() and not self._frame_size.isEmpty() else image.size()
        sx, sy = shown.width() / max(1, ref.width()), shown.height() / max(1, ref.height())
        painter = QPainter(shown)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        for i, region in enumerate(self._regions):
            box = _bbox(region)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            rect = QRect(round(x0 * sx), round(y0 * sy), max(1, round((x1 - x0) * sx)), max(1, round((y1 - y0) * sy)))
            color = _BOX_SELECTED if i == self._selected else _BOX
            painter.setPen(QPen(color, 3 if i == self._selected else 2))
            painter.drawRect(rect)
            painter.drawText(rect.topLeft() + QPoint(3, 14), str(i + 1))
        painter.end()
        self.picture.setText("")
        self.picture.setPixmap(QPixmap.fromImage(shown))


__all__ = ["MODE_HEATMAP", "MODE_IMAGE", "InspectionImageView", "read_image"]
