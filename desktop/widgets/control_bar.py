"""The row of station controls: product (recipe), source, Inspect, Auto, Pause, Products…"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QPushButton, QWidget

from line.capture.spec import DEMO_SPEC

# (label, spec); a spec ending in "?" asks the operator for the rest.
SOURCE_CHOICES = [
    ("Demo camera", DEMO_SPEC),
    ("Camera 0", "0"),
    ("Camera 1", "1"),
    ("Video file…", "file:?"),
    ("Image folder…", "folder:?"),
    ("Stream URL…", "url:?"),
]


def ask_source_detail(parent: QWidget, spec: str) -> str | None:
    """Complete a spec ending in "?" with a file, folder or URL chosen by the operator (None: cancelled)."""
    if spec == "file:?":
        path, _ = QFileDialog.getOpenFileName(
            parent, "Choose a video file", "", "Videos (*.mp4 *.avi *.mkv *.mov);;All files (*)"
        )
        return f"file:{path}" if path else None
    if spec == "folder:?":
        path = QFileDialog.getExistingDirectory(parent, "Choose a folder of images")
        return f"folder:{path}" if path else None
    if spec == "url:?":
        url, ok = QInputDialog.getText(parent, "Stream URL", "rtsp:// or http:// address of the camera:")
        return url.strip() if ok and url.strip() else None
    return spec


class ControlBar(QWidget):
    product_selected = Signal(int)
    source_selected = Signal(str)
    inspect_clicked = Signal()
    auto_toggled = Signal(bool)
    pause_toggled = Signal(bool)
    products_clicked = Signal()

    def __init__(
        self, parent: QWidget | None = None, ask_detail: Callable[[QWidget, str], str | None] = ask_source_detail
    ):
        super().__init__(parent)
        self._ask_detail = ask_detail
        self.product_combo = QComboBox()
        self.product_combo.setMinimumWidth(180)
        self.product_combo.setToolTip("The product (recipe) being inspected")
        self.products_button = QPushButton("Products…")
        self.source_combo = QComboBox()
        self.source_combo.setMinimumWidth(160)
        for label, spec in SOURCE_CHOICES:
            self.source_combo.addItem(label, spec)
        self.inspect_button = QPushButton("Inspect (Space)")
        self.inspect_button.setObjectName("inspectButton")
        self.inspect_button.setStyleSheet("#inspectButton { font-weight: bold; padding: 4px 14px; }")
        self.auto_button = QPushButton("Auto")
        self.auto_button.setCheckable(True)
        self.auto_button.setToolTip("Inspect continuously, frame after frame")
        self.pause_button = QPushButton("Pause camera")
        self.pause_button.setCheckable(True)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Product"))
        layout.addWidget(self.product_combo)
        layout.addWidget(self.products_button)
        layout.addSpacing(16)
        layout.addWidget(QLabel("Source"))
        layout.addWidget(self.source_combo)
        layout.addStretch(1)
        layout.addWidget(self.inspect_button)
        layout.addWidget(self.auto_button)
        layout.addWidget(self.pause_button)

        self._current_spec = DEMO_SPEC
        self.product_combo.activated.connect(self._product_activated)
        self.source_combo.activated.connect(self._source_activated)
        self.products_button.clicked.connect(self.products_clicked)
        self.inspect_button.clicked.connect(self.inspect_clicked)
        self.auto_button.toggled.connect(self.auto_toggled)
        self.pause_button.toggled.connect(self._pause_toggled)

    # -- products -------------------------------------------------------------------------------------------
    def set_products(self, products, selected_id: int | None) -> None:
        """Fill the selector with ProductInfo records without emitting product_selected."""
        self.product_combo.blockSignals(True)
        self.product_combo.clear()
        for p in products:
            self.product_combo.addItem(f"{p.name}", p.id)
        index = self.product_combo.findData(selected_id) if selected_id is not None else -1
        self.product_combo.setCurrentIndex(index if index >= 0 else (0 if products else -1))
        self.product_combo.blockSignals(False)

    def show_product(self, product_id: int | None) -> None:
        """Show ``product_id`` as the chosen product without emitting product_selected (the station switched)."""
        index = self.product_combo.findData(product_id) if product_id is not None else -1
        if index >= 0 and index != self.product_combo.currentIndex():
            self.product_combo.blockSignals(True)
            self.product_combo.setCurrentIndex(index)
            self.product_combo.blockSignals(False)

    def selected_product_id(self) -> int | None:
        data = self.product_combo.currentData()
        return None if data is None else int(data)

    @Slot(int)
    def _product_activated(self, index: int) -> None:
        data = self.product_combo.itemData(index)
        if data is not None:
            self.product_selected.emit(int(data))

    # -- sources --------------------------------------------------------------------------------------------
    def set_source(self, spec: str) -> None:
        """Show ``spec`` as the current source (adding an entry for a custom one) without emitting."""
        self._current_spec = spec
        index = self.source_combo.findData(spec)
        if index < 0:
            self.source_combo.addItem(spec, spec)
            index = self.source_combo.count() - 1
        self.source_combo.blockSignals(True)
        self.source_combo.setCurrentIndex(index)
        self.source_combo.blockSignals(False)

    @Slot(int)
    def _source_activated(self, index: int) -> None:
        spec = self.source_combo.itemData(index)
        if spec.endswith("?"):
            spec = self._ask_detail(self, spec)
            if spec is None:  # cancelled: keep the current source
                self.set_source(self._current_spec)
                return
        self.set_source(spec)
        self.source_selected.emit(spec)

    @Slot(bool)
    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume camera" if paused else "Pause camera")
        self.pause_toggled.emit(paused)

    def set_auto(self, on: bool) -> None:
        self.auto_button.setChecked(on)
