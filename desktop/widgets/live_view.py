"""The live view: the camera picture, or the latest inspected frame with its heatmap and defect boxes.

After a result arrives the view holds the inspected frame (so the overlay matches the picture) until
``release_hold`` (the "Back to live" button, Esc) or the hold time runs out; meanwhile live frames are kept
but not drawn.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from core.result import InspectionResult
from desktop.qt.qt_images import rgb_to_qimage
from desktop.widgets.frame_canvas import FrameCanvas


class LiveView(QWidget):
    hold_released = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = FrameCanvas(self)
        self.heatmap_toggle = QCheckBox("Heatmap")
        self.heatmap_toggle.setChecked(True)
        self.heatmap_toggle.setToolTip("Show the anomaly heatmap over the inspected frame (H)")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(int(self.canvas.heatmap_opacity * 100))
        self.opacity_slider.setMaximumWidth(160)
        self.opacity_slider.setToolTip("Heatmap opacity")
        self.caption = QLabel("Live")
        self.caption.setObjectName("liveCaption")
        self.live_button = QPushButton("Back to live")
        self.live_button.setToolTip("Show the camera picture again (Esc)")
        self.live_button.setEnabled(False)

        controls = QHBoxLayout()
        controls.addWidget(self.heatmap_toggle)
        controls.addWidget(QLabel("Opacity"))
        controls.addWidget(self.opacity_slider)
        controls.addStretch(1)
        controls.addWidget(self.caption)
        controls.addWidget(self.live_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(controls)

        self._hold_timer = QTimer(self)
        self._hold_timer.setSingleShot(True)
        self._hold_timer.timeout.connect(self.release_hold)
        self.holding = False
        self._latest_live: np.ndarray | None = None

        self.heatmap_toggle.toggled.connect(self.canvas.set_heatmap_visible)
        self.opacity_slider.valueChanged.connect(lambda v: self.canvas.set_heatmap_opacity(v / 100.0))
        self.live_button.clicked.connect(self.release_hold)

    def show_live(self, rgb: np.ndarray) -> None:
        """A new camera frame: drawn unless a result is being held."""
        self._latest_live = rgb
        if not self.holding:
            self.canvas.set_frame(rgb_to_qimage(rgb))

    def show_result(
        self,
        rgb: np.ndarray,
        heatmap: np.ndarray | None,
        result: InspectionResult,
        caption: str,
        hold_s: float | None = None,
    ) -> None:
        """Draw the inspected frame with its heatmap (RGB or RGBA) and boxes, and hold it (for ``hold_s`` seconds, or until released)."""
        heat = rgb_to_qimage(heatmap) if heatmap is not None else None
        self.canvas.set_frame(rgb_to_qimage(rgb), heat, result.regions)
        self.caption.setText(caption)
        self.holding = True
        self.live_button.setEnabled(True)
        if hold_s:
            self._hold_timer.start(int(hold_s * 1000))
        else:
            self._hold_timer.stop()

    def release_hold(self) -> None:
        self._hold_timer.stop()
        if not self.holding:
            return
        self.holding = False
        self.live_button.setEnabled(False)
        self.caption.setText("Live")
        if self._latest_live is not None:
            self.canvas.set_frame(rgb_to_qimage(self._latest_live))
        self.hold_released.emit()

    def set_placeholder(self, text: str) -> None:
        self.canvas.set_placeholder(text)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.release_hold()
        else:
            super().keyPressEvent(event)
