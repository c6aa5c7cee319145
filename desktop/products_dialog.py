"""Products and their normal references: create a product, add references from the current frame or from files,
see thumbnails, remove and replace them. Every change triggers a rebuild of the product model in the inference
worker, whose progress shows at the bottom of the dialog."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from db.errors import DatabaseError
from desktop.inference_worker import NO_REFERENCES_MESSAGE
from desktop.reference_gallery import ReferenceGallery

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"


class ProductsDialog(QDialog):
    references_changed = Signal(int)  # product id: its reference set changed, rebuild the model
    product_created = Signal(int)

    def __init__(
        self,
        products,
        references,
        current_frame: Callable[[], np.ndarray | None],
        parent: QWidget | None = None,
        pick_files: Callable[[], list[str]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Products and references")
        self.resize(820, 520)
        self._products = products
        self._references = references
        self._current_frame = current_frame
        self._pick_files = pick_files or self._ask_files

        self.product_list = QListWidget()
        self.product_list.setMaximumWidth(240)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("New product name (e.g. part number)")
        self.create_button = QPushButton("Create")
        self.gallery = ReferenceGallery()
        self.add_frame_button = QPushButton("Add current frame")
        self.add_files_button = QPushButton("Add from files…")
        self.replace_button = QPushButton("Replace selected…")
        self.remove_button = QPushButton("Remove selected")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("productsMessage")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("Model: idle")
        self.close_button = QPushButton("Close")

        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Products</b>"))
        left.addWidget(self.product_list, 1)
        new_row = QHBoxLayout()
        new_row.addWidget(self.name_edit, 1)
        new_row.addWidget(self.create_button)
        left.addLayout(new_row)
        right = QVBoxLayout()
        right.addWidget(QLabel("<b>Normal references</b> (images of good parts; one is enough to start)"))
        right.addWidget(self.gallery, 1)
        buttons = QHBoxLayout()
        for b in (self.add_frame_button, self.add_files_button, self.replace_button, self.remove_button):
            buttons.addWidget(b)
        right.addLayout(buttons)
        right.addWidget(self.hint)
        body = QHBoxLayout()
        body.addLayout(left)
        body.addLayout(right, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.message)
        layout.addLayout(bottom)

        self.create_button.clicked.connect(self.create_product)
        self.name_edit.returnPressed.connect(self.create_product)
        self.product_list.currentItemChanged.connect(lambda *_: self.refresh_references())
        self.add_frame_button.clicked.connect(self.add_current_frame)
        self.add_files_button.clicked.connect(self.add_files)
        self.replace_button.clicked.connect(self.replace_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.close_button.clicked.connect(self.close)
        self.refresh_products()

    # -- state ----------------------------------------------------------------------------------------------
    def current_product_id(self) -> int | None:
        item = self.product_list.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def select_product(self, product_id: int) -> None:
        for row in range(self.product_list.count()):
            if int(self.product_list.item(row).data(Qt.ItemDataRole.UserRole)) == product_id:
                self.product_list.setCurrentRow(row)
                return

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color:#ff8a80;" if error else "")

    # -- products -------------------------------------------------------------------------------------------
    def refresh_products(self) -> None:
        keep = self.current_product_id()
        self.product_list.blockSignals(True)
        self.product_list.clear()
        try:
            products = self._products.list()
        except DatabaseError as exc:
            self._say(str(exc), error=True)
            products = []
        for p in products:
            item = QListWidgetItem(f"{p.name}  ({p.reference_count} ref.)")
            item.setData(Qt.ItemDataRole.UserRole, p.id)
            self.product_list.addItem(item)
        self.product_list.blockSignals(False)
        if keep is not None:
            self.select_product(keep)
        elif self.product_list.count():
            self.product_list.setCurrentRow(0)
        self.refresh_references()

    @Slot()
    def create_product(self) -> None:
        name = self.name_edit.text()
        try:
            info = self._products.create(name)
        except DatabaseError as exc:
            self._say(str(exc), error=True)
            return
        self.name_edit.clear()
        self._say(f"Product {info.name!r} created. {NO_REFERENCES_MESSAGE}: a good part from the camera or a file.")
        self.refresh_products()
        self.select_product(info.id)
        self.product_created.emit(info.id)

    # -- references -----------------------------------------------------------------------------------------
    def refresh_references(self) -> None:
        pid = self.current_product_id()
        has_product = pid is not None
        for b in (self.add_frame_button, self.add_files_button, self.replace_button, self.remove_button):
            b.setEnabled(has_product)
        if pid is None:
            self.gallery.set_references([])
            self.hint.setText("Create a product first.")
            return
        try:
            refs = self._references.list(pid)
        except DatabaseError as exc:
            self._say(str(exc), error=True)
            return
        self.gallery.set_references(refs)
        if not refs:
            self.hint.setText(f"{NO_REFERENCES_MESSAGE} (Add current frame, or Add from files).")
        elif self.gallery.unreadable:
            self.hint.setText("Cannot be read: " + ", ".join(self.gallery.unreadable) + ". Replace or remove it.")
        else:
            self.hint.setText(f"{len(refs)} reference image{'s' if len(refs) != 1 else ''}.")

    def _changed(self, pid: int, text: str) -> None:
        self._say(text)
        self.refresh_products()
        self.references_changed.emit(pid)

    @Slot()
    def add_current_frame(self) -> None:
        pid = self.current_product_id()
        frame = self._current_frame()
        if pid is None:
            return
        if frame is None:
            self._say("There is no camera frame yet. Wait for the camera, or add references from files.", error=True)
            return
        try:
            self._references.add(pid, frame, source="camera")
        except DatabaseError as exc:
            self._say(str(exc), error=True)
            return
        self._changed(pid, "Current frame added as a normal reference. Rebuilding the product model…")

    def _ask_files(self) -> list[str]:
        files, _ = QFileDialog.getOpenFileNames(self, "Choose images of good parts", str(Path.home()), IMAGE_FILTER)
        return files

    def _store_files(self, pid: int, files: list[str]) -> tuple[int, list[str]]:
        """Add each file on its own so one bad file does not stop the others; returns (added, problems)."""
        added, problems = 0, []
        for f in files:
            try:
                self._references.add(pid, f, source="file")
                added += 1
            except DatabaseError as exc:
                problems.append(str(exc) if Path(f).name in str(exc) else f"{Path(f).name}: {exc}")
        return added, problems

    @Slot()
    def add_files(self) -> None:
        pid = self.current_product_id()
        files = self._pick_files() if pid is not None else []
        if pid is None or not files:
            return
        added, problems = self._store_files(pid, files)
        if problems:
            self._say(" ".join(problems), error=True)
        if added:
            if not problems:
                self._say(f"{added} reference image{'s' if added != 1 else ''} added. Rebuilding the product model…")
            self.refresh_products()
            self.references_changed.emit(pid)

    @Slot()
    def replace_selected(self) -> None:
        pid, ref_id = self.current_product_id(), self.gallery.selected_id()
        if pid is None or ref_id is None:
            self._say("Select the reference image to replace first.", error=True)
            return
        files = self._pick_files()[:1]
        if not files:
            return
        added, problems = self._store_files(pid, files)
        if not added:  # the old reference stays: nothing is lost when the new file is bad
            self._say(" ".join(problems), error=True)
            return
        try:
            self._references.remove(ref_id)
        except DatabaseError as exc:
            self._say(str(exc), error=True)
        self._changed(pid, "Reference replaced. Rebuilding the product model…")

    @Slot()
    def remove_selected(self) -> None:
        pid, ref_id = self.current_product_id(), self.gallery.selected_id()
        if pid is None or ref_id is None:
            self._say("Select the reference image to remove first.", error=True)
            return
        try:
            self._references.remove(ref_id)
        except DatabaseError as exc:
            self._say(str(exc), error=True)
            return
        self._changed(pid, "Reference removed. Rebuilding the product model…")

    # -- model build feedback (from the inference worker) ---------------------------------------------------
    @Slot(int, float, str)
    def show_build_progress(self, product_id: int, fraction: float, message: str) -> None:
        if product_id != self.current_product_id():
            return
        self.progress.setValue(int(round(100 * fraction)))
        self.progress.setFormat(f"{message} %p%")

    @Slot(int, object)
    def on_product_ready(self, product_id: int, _product: object) -> None:
        self.show_build_outcome(product_id, True, "")

    @Slot(int, str)
    def on_product_failed(self, product_id: int, message: str) -> None:
        if message != "cancelled":
            self.show_build_outcome(product_id, False, message)

    @Slot(int, bool, str)
    def show_build_outcome(self, product_id: int, ok: bool, message: str) -> None:
        if product_id != self.current_product_id():
            return
        self.progress.setValue(100 if ok else 0)
        self.progress.setFormat("Model ready" if ok else "Model not built")
        if not ok:
            self._say(message, error=True)
