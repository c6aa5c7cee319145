"""Products and their normal references: create a product, add references from the current frame or from files,
see thumbnails, remove and replace them. Every change triggers a rebuild of the product model in the inference
worker, whose progress shows at the bottom of the dialog. Database writes run on a database thread
(desktop/workers/db_task.py): a locked database delays the answer, never the window, and a failed write keeps the
operator's input for Retry. Reads (the product list, a product's references and their thumbnails) run on a
second database thread, so a slow disk or a long list does not hold the window either; an answer that arrives
after the operator has picked another product is dropped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
from desktop.controllers.product_writes import replace_reference, store_files, write_failure
from desktop.widgets.reference_gallery import ReferenceGallery, load_thumbnails
from desktop.workers.db_task import DatabaseTaskRunner
from desktop.workers.inference_worker import NO_REFERENCES_MESSAGE

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"


class ProductsDialog(QDialog):
    references_changed = Signal(int)  # product id: its reference set changed, rebuild the model
    product_created = Signal(int)
    write_finished = Signal(bool)  # a database write of the dialog ended (False: it failed, see the message)
    view_refreshed = Signal()  # the product list and the current product's references are shown as read

    def __init__(
        self,
        products,
        references,
        current_frame: Callable[[], np.ndarray | None],
        parent: QWidget | None = None,
        pick_files: Callable[[], list[str]] | None = None,
        select: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Products and references")
        self.resize(820, 520)
        self._products = products
        self._references = references
        self._current_frame = current_frame
        self._pick_files = pick_files or self._ask_files
        self._writes = DatabaseTaskRunner(self)
        self._reads = DatabaseTaskRunner(self)
        self._reference_reads = 0  # the latest reference read; older answers are dropped
        self._retry: Callable[[], None] | None = None

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
        self.saving = QProgressBar()  # runs while a write is on the database thread
        self.saving.setRange(0, 0)
        self.saving.setMaximumWidth(120)
        self.saving.setTextVisible(False)
        self.saving.hide()
        self.retry_button = QPushButton("Retry")
        self.retry_button.hide()
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
        message_row = QHBoxLayout()
        message_row.addWidget(self.message, 1)
        message_row.addWidget(self.saving)
        message_row.addWidget(self.retry_button)
        layout.addLayout(message_row)
        layout.addLayout(bottom)

        self.create_button.clicked.connect(self.create_product)
        self.name_edit.returnPressed.connect(self.create_product)
        self.product_list.currentItemChanged.connect(lambda *_: self.refresh_references())
        self.add_frame_button.clicked.connect(self.add_current_frame)
        self.add_files_button.clicked.connect(self.add_files)
        self.replace_button.clicked.connect(self.replace_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.close_button.clicked.connect(self.close)
        self.retry_button.clicked.connect(self.retry_write)
        self._writes.busyChanged.connect(self._set_busy)
        self.refresh_products(select=select)

    # -- state ----------------------------------------------------------------------------------------------
    def current_product_id(self) -> int | None:
        item = self.product_list.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    @property
    def reading(self) -> bool:
        """A read of products or references is still on the database thread."""
        return self._reads.busy

    def select_product(self, product_id: int) -> None:
        for row in range(self.product_list.count()):
            if int(self.product_list.item(row).data(Qt.ItemDataRole.UserRole)) == product_id:
                self.product_list.setCurrentRow(row)
                return

    _build_warning = ""  # the warning of the current product's last build, while it is shown

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color:#ff8a80;" if error else "")

    def _enable_controls(self) -> None:
        idle = not self._writes.busy
        for w in (self.create_button, self.name_edit, self.product_list, self.retry_button):
            w.setEnabled(idle)
        for b in (self.add_frame_button, self.add_files_button, self.replace_button, self.remove_button):
            b.setEnabled(idle and self.current_product_id() is not None)

    # -- database writes (on the database thread) -----------------------------------------------------------
    def _write(self, job: Callable[[], object], on_done: Callable[[object], None], again: Callable[[], None]) -> None:
        """Run ``job`` off the GUI thread, then ``on_done(result)`` here; if it fails, Retry runs ``again``."""
        self._retry = None
        self.retry_button.hide()
        self._say("Saving…")
        self._writes.run(
            job,
            on_done=lambda result: self._write_done(on_done, result),
            on_error=lambda exc: self._write_failed(exc, again),
        )

    def _write_done(self, on_done: Callable[[object], None], result: object) -> None:
        try:
            on_done(result)
        finally:
            self.write_finished.emit(True)

    def _write_failed(self, exc: Exception, again: Callable[[], None]) -> None:
        text, retry = write_failure(exc)
        self._say(text, error=True)
        if retry:
            self._retry = again
            self.retry_button.show()
        self.write_finished.emit(False)

    @Slot()
    def retry_write(self) -> None:
        again, self._retry = self._retry, None
        if again is not None:
            again()

    @Slot(bool)
    def _set_busy(self, busy: bool) -> None:
        self.saving.setVisible(busy)
        self._enable_controls()

    def finish_writes(self, msecs: int = 5000) -> bool:
        """Wait for a write still running (shutdown): what the operator saved reaches the database. Reads still
        running are waited for too, so no thread outlives the dialog's database."""
        return self._writes.wait_idle(msecs) and self._reads.wait_idle(msecs)

    # -- products -------------------------------------------------------------------------------------------
    def refresh_products(self, select: int | None = None) -> None:
        """Read the product list on the database thread; then show it with ``select`` (or the current product)
        selected, and read that product's references."""
        keep = select if select is not None else self.current_product_id()
        self._reads.run(
            self._products.list,
            on_done=lambda products: self._show_products(products, keep),
            on_error=self._read_failed,
        )

    def _show_products(self, products, keep: int | None) -> None:
        self.product_list.blockSignals(True)  # one reference read below, not one per selection change
        self.product_list.clear()
        for p in products:
            item = QListWidgetItem(f"{p.name}  ({p.reference_count} ref.)")
            item.setData(Qt.ItemDataRole.UserRole, p.id)
            self.product_list.addItem(item)
        if keep is not None:
            self.select_product(keep)
        if self.current_product_id() is None and self.product_list.count():
            self.product_list.setCurrentRow(0)
        self.product_list.blockSignals(False)
        self.refresh_references()

    def _read_failed(self, exc: Exception) -> None:
        reason = str(exc) if isinstance(exc, DatabaseError) else f"{type(exc).__name__}: {exc}"
        self._say(
            f"Could not read the products and references. {reason} Close and reopen this window to try again.",
            error=True,
        )
        self.view_refreshed.emit()

    @Slot()
    def create_product(self) -> None:
        name = self.name_edit.text()  # stays in the field until the product exists
        self._write(lambda: self._products.create(name), self._created, again=self.create_product)

    def _created(self, info) -> None:
        self.name_edit.clear()
        self._say(f"Product {info.name!r} created. {NO_REFERENCES_MESSAGE}: a good part from the camera or a file.")
        self.refresh_products(select=info.id)
        self.product_created.emit(info.id)

    # -- references -----------------------------------------------------------------------------------------
    def refresh_references(self) -> None:
        """Read the current product's references and thumbnails on the database thread, then show them."""
        pid = self.current_product_id()
        self._enable_controls()
        self._reference_reads += 1
        if pid is None:
            self.gallery.show_thumbnails([])
            self.hint.setText("Create a product first.")
            self.view_refreshed.emit()
            return
        read = self._reference_reads
        self.hint.setText("Reading the reference images…")
        self._reads.run(
            lambda: load_thumbnails(self._references.list(pid)),
            on_done=lambda loaded: self._show_references(read, loaded),
            on_error=self._read_failed,
        )

    def _show_references(self, read: int, loaded) -> None:
        if read != self._reference_reads:
            return  # the operator picked another product meanwhile; its own read is on the way
        self.gallery.show_thumbnails(loaded)
        if not loaded:
            self.hint.setText(f"{NO_REFERENCES_MESSAGE} (Add current frame, or Add from files).")
        elif self.gallery.unreadable:
            self.hint.setText("Cannot be read: " + ", ".join(self.gallery.unreadable) + ". Replace or remove it.")
        else:
            self.hint.setText(f"{len(loaded)} reference image{'s' if len(loaded) != 1 else ''}.")
        self.view_refreshed.emit()

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
        self._add_frame(pid, frame)

    def _add_frame(self, pid: int, frame: np.ndarray) -> None:
        self._write(
            lambda: self._references.add(pid, frame, source="camera"),
            lambda _: self._changed(pid, "Current frame added as a normal reference. Rebuilding the product model…"),
            again=lambda: self._add_frame(pid, frame),  # the frame the operator chose, not a newer one
        )

    def _ask_files(self) -> list[str]:
        files, _ = QFileDialog.getOpenFileNames(self, "Choose images of good parts", str(Path.home()), IMAGE_FILTER)
        return files

    @Slot()
    def add_files(self) -> None:
        pid = self.current_product_id()
        files = self._pick_files() if pid is not None else []
        if pid is None or not files:
            return
        self._add_files(pid, files)

    def _add_files(self, pid: int, files: list[str]) -> None:
        self._write(
            lambda: store_files(self._references, pid, files),
            lambda r: self._files_added(pid, *r),
            again=lambda: self._add_files(pid, files),
        )

    def _files_added(self, pid: int, added: int, problems: list[str]) -> None:
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
        if files:
            self._replace(pid, ref_id, files[0])

    def _replace(self, pid: int, ref_id: int, path: str) -> None:
        self._write(
            lambda: replace_reference(self._references, pid, ref_id, path),
            lambda problems: self._replaced(pid, problems),
            again=lambda: self._replace(pid, ref_id, path),
        )

    def _replaced(self, pid: int, problems: list[str]) -> None:
        if problems:  # the old reference stays: nothing is lost when the new file is bad
            self._say(" ".join(problems), error=True)
            return
        self._changed(pid, "Reference replaced. Rebuilding the product model…")

    @Slot()
    def remove_selected(self) -> None:
        pid, ref_id = self.current_product_id(), self.gallery.selected_id()
        if pid is None or ref_id is None:
            self._say("Select the reference image to remove first.", error=True)
            return
        self._remove(pid, ref_id)

    def _remove(self, pid: int, ref_id: int) -> None:
        self._write(
            lambda: self._references.remove(ref_id),
            lambda _: self._changed(pid, "Reference removed. Rebuilding the product model…"),
            again=lambda: self._remove(pid, ref_id),
        )

    # -- model build feedback (from the inference worker) ---------------------------------------------------
    @Slot(int, float, str)
    def show_build_progress(self, product_id: int, fraction: float, message: str) -> None:
        if product_id != self.current_product_id():
            return
        self.progress.setValue(round(100 * fraction))
        self.progress.setFormat(f"{message} %p%")

    @Slot(int, object)
    def on_product_ready(self, product_id: int, warning: object) -> None:
        """``warning``: the build's own evidence that the verdict will miss defects (core/calibration_warning.py)."""
        self.show_build_outcome(product_id, True, warning if isinstance(warning, str) else "")

    @Slot(int, str)
    def on_product_failed(self, product_id: int, message: str) -> None:
        self.show_build_outcome(product_id, False, message)  # a cancelled build reports nothing (core.errors.Cancelled)

    @Slot(int, bool, str)
    def show_build_outcome(self, product_id: int, ok: bool, message: str) -> None:
        if product_id != self.current_product_id():
            return
        self.progress.setValue(100 if ok else 0)
        self.progress.setFormat(
            ("Model ready, with a warning" if message else "Model ready") if ok else "Model not built"
        )
        if message:
            self._say(message, error=True)
        elif ok and self.message.text() == self._build_warning:  # the warning of an earlier build no longer holds
            self._say("")
        self._build_warning = message if ok else ""
