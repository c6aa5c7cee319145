"""Paints one frame scaled to fit, with an optional heatmap (adjustable opacity) and labelled defect boxes."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.result import Region

BOX_COLOUR = QColor("#ffd400")


class FrameCanvas(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._frame: QImage | None = None
        self._heatmap: QImage | None = None
        self._regions: list[Region] = []
        self._placeholder = "No camera frame yet"
        self.heatmap_visible = True
        self.heatmap_opacity = 0.6

    # -- content --------------------------------------------------------------------------------------------
    def set_frame(self, frame: QImage, heatmap: QImage | None = None, regions: list[Region] | None = None) -> None:
        self._frame = frame
        self._heatmap = heatmap
        self._regions = list(regions or [])
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        if self._frame is None:
            self.update()

    def set_heatmap_visible(self, visible: bool) -> None:
        self.heatmap_visible = bool(visible)
        self.update()

    def set_heatmap_opacity(self, opacity: float) -> None:
        self.heatmap_opacity = min(1.0, max(0.0, float(opacity)))
        self.update()

    def has_frame(self) -> bool:
        return self._frame is not None

    def regions(self) -> list[Region]:
        return list(self._regions)

    # -- painting -------------------------------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the frame lands in the widget (aspect kept, centred)."""
        if self._frame is None or self._frame.width() == 0:
            return QRectF()
        scale = min(self.width() / self._frame.width(), self.height() / self._frame.height())
        w, h = self._frame.width() * scale, self._frame.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#15181c"))
        if self._frame is None:
            painter.setPen(QColor("#9aa3ad"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = self.image_rect()
        painter.drawImage(target, self._frame)
        if self._heatmap is not None and self.heatmap_visible and self.heatmap_opacity > 0:
            painter.setOpacity(self.heatmap_opacity)
            painter.drawImage(target, self._heatmap)
            painter.setOpacity(1.0)
        self._paint_regions(painter, target)

    def _paint_regions(self, painter: QPainter, target: QRectF) -> None:
        if not self._regions or self._frame is None:
            return
        scale = target.width() / self._frame.width()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(painter.font())
        font.setPointSize(10)
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for region in self._regions:
            x0, y0, x1, y1 = region.bbox
            box = QRectF(target.x() + x0 * scale, target.y() + y0 * scale, (x1 - x0) * scale, (y1 - y0) * scale)
            painter.setPen(QPen(BOX_COLOUR, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(box)
            label = f"{region.location} · {region.area_pct:.1f} %"
            text_w, text_h = metrics.horizontalAdvance(label) + 8, metrics.height() + 2
            top = box.top() - text_h if box.top() - text_h >= target.top() else box.bottom()
            left = min(box.left(), target.right() - text_w)
            tag = QRectF(max(target.left(), left), top, text_w, text_h)
            painter.fillRect(tag, QColor(0, 0, 0, 170))
            painter.setPen(BOX_COLOUR)
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)
