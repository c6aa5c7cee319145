"""The QA history tab: filter bar, the inspections list with thumbnails, the selected inspection's details,
the review actions and CSV export of the current filter.

    view = HistoryView(database, database.store)
    view.referenceAdded.connect(station.rebuild_product)       # a false alarm became a normal reference
    station.inspectionRecorded.connect(view.on_inspection_recorded)

``repository`` is a ``db.repository.Database`` (its ``products``, ``inspections``, ``history`` and ``chat``).
Every database call runs off the UI thread; a failure (locked, read-only, unreachable database, full disk)
shows its message in the view's banner and the view keeps working.
"""

from __future__ import annotations

import getpass
import logging
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from db.errors import DatabaseError, NotFoundError
from db.image_store import ImageStore
from db.records import HistoryFilter, InspectionRecord
from db.roles import MARK_FOR_REVIEW, REVIEW, allowed
from desktop.widgets.message_banner import MessageBanner
from desktop.workers.db_task import DatabaseTaskRunner
from line.problems import Severity

from .detail_pane import InspectionDetailPane
from .filter_bar import HistoryFilterBar
from .filters import describe
from .history_table_model import (
    CACHE_ROWS,
    COL_IMAGE,
    COL_PRODUCT,
    COL_REGIONS,
    COL_SCORE,
    COL_THRESHOLD,
    COL_TIME,
    COL_VERDICT,
    HistoryTableModel,
)
from .lot_report_export import report_range, report_written
from .lot_report_export import suggested_name as suggested_lot_report_name
from .page_loader import HistoryPageLoader
from .thumbnail_cache import ThumbnailCache

log = logging.getLogger(__name__)

THUMB_SIZE = QSize(80, 60)


def error_text(exc: BaseException) -> str:
    """A message for people: the database layer's own words, else a generic one that says what to do."""
    if isinstance(exc, DatabaseError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}. Check the disk and the folder's permissions, then try again."
    return f"Unexpected problem: {exc}. Try again; if it persists, restart the station."


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on some systems
        return ""


class HistoryView(QWidget):
    """The history tab. Signals: ``referenceAdded(product_id)``, ``reviewSaved(inspection_id)``,
    ``exportFinished(path, rows)``."""

    referenceAdded = Signal(int)
    reviewSaved = Signal(int)
    reviewRequested = Signal(int)  # an operator marked the inspection for review
    exportFinished = Signal(str, int)

    def __init__(
        self,
        repository: Any,
        image_store: ImageStore | None = None,
        parent: QWidget | None = None,
        *,
        page_size: int = 100,
        cache_rows: int = CACHE_ROWS,
        operator: str | None = None,
    ) -> None:
        super().__init__(parent)
        self._repo = repository
        self._store = image_store if image_store is not None else getattr(repository, "store", None)
        self._operator = operator if operator is not None else _default_operator()
        self._guarded: Any = None  # db.guarded.GuardedDatabase once the window logs people in (use_guarded)
        self._session_user: Any = None  # the logged-in db.users.UserInfo
        self._selected_id: int | None = None
        self._detail_token = 0
        self._products_loaded = False
        self._export_running = False
        self._database_total: int | None = None

        self._tasks = DatabaseTaskRunner(self)
        # Set by the application: measures a false alarm before it becomes a reference (desktop/dialogs/reference_guard.py).
        self.reference_guard: Callable[[int, Callable[..., None]], None] | None = None
        self._export_tasks = DatabaseTaskRunner(self)
        self._loader = HistoryPageLoader(repository.history.query, self)
        self.thumbnails = ThumbnailCache(lambda key: Path(str(key)), size=THUMB_SIZE, parent=self)
        self.model = HistoryTableModel(  # live rows are bounded too: a shift in Auto does not grow the memory
            self._loader, self.thumbnails, page_size=page_size, cache_rows=cache_rows, parent=self
        )

        self.banner = MessageBanner(self)
        self.filter_bar = HistoryFilterBar(self)
        self.refresh_button = QPushButton("Refresh", self)
        self.export_button = QPushButton("Export CSV...", self)
        self.export_button.setToolTip("Save every inspection of the current filter as a CSV file.")
        self.report_button = QPushButton("Lot report (PDF)...", self)
        self.report_button.setToolTip(
            "A printable report of the filter's product and dates: yield, rejects, reviews and who reviewed them."
        )
        self.count_label = QLabel(self)
        self.count_label.setObjectName("historyCount")

        self.table = QTableView(self)
        self.table.setObjectName("historyTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setIconSize(THUMB_SIZE)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vheader = self.table.verticalHeader()
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # fixed heights: no per-row sizing of 100k rows
        vheader.setDefaultSectionSize(THUMB_SIZE.height() + 6)
        hheader = self.table.horizontalHeader()
        hheader.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hheader.setStretchLastSection(True)
        for column, width in (
            (COL_IMAGE, THUMB_SIZE.width() + 10),
            (COL_TIME, 150),
            (COL_PRODUCT, 120),
            (COL_VERDICT, 60),
            (COL_SCORE, 65),
            (COL_THRESHOLD, 75),
            (COL_REGIONS, 60),
        ):
            self.table.setColumnWidth(column, width)

        self.detail = InspectionDetailPane(self)

        top = QHBoxLayout()
        top.addWidget(self.filter_bar, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.export_button)
        top.addWidget(self.report_button)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.count_label)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(left)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(top)
        layout.addWidget(split, 1)

        self._refresh_timer = QTimer(self)  # coalesces bursts of pushes from the station
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(250)
        self._refresh_timer.timeout.connect(self._reload_rows)

        self.filter_bar.filtersChanged.connect(self._filters_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button.clicked.connect(self.export_csv)
        self.report_button.clicked.connect(self.export_lot_report)
        self.banner.retryRequested.connect(self.refresh)
        self.model.loadStarted.connect(self._load_started)
        self.model.loadFinished.connect(self._load_finished)
        self.model.loadFailed.connect(self._load_failed)
        self.model.totalChanged.connect(self._total_changed)
        self.model.modelReset.connect(self._reselect)
        self.model.dataChanged.connect(self._data_changed)
        self.table.selectionModel().currentRowChanged.connect(self._current_row_changed)
        self.detail.review_panel.confirmRequested.connect(self.confirm_defect)
        self.detail.review_panel.markRequested.connect(self.mark_for_review)
        self.detail.review_panel.falseAlarmRequested.connect(self.mark_false_alarm)

        self._load_products()
        self.model.set_filter(self.filter_bar.filters())

    # -- public ------------------------------------------------------------------------------------------------

    @property
    def operator(self) -> str:
        return self._operator

    def set_operator(self, name: str) -> None:
        """Who is signed in at the station: recorded as the reviewer."""
        self._operator = name or ""

    # -- the logged-in user (desktop/controllers/login_session.py) ------------------------------------------------
    def use_guarded(self, guarded: Any) -> None:
        """From now on reviews and exports go through db/guarded.py (the role checked, the audit event written in
        the same transaction) as the logged-in user; nobody logged in: they are refused with the reason."""
        self._guarded = guarded

    @Slot(object)
    def set_session_user(self, user: Any) -> None:
        self._session_user = user
        self._operator = user.name if user is not None else ""
        role = user.role if user is not None else ""
        self.detail.review_panel.set_permissions(
            can_review=allowed(role, REVIEW), can_mark=allowed(role, MARK_FOR_REVIEW)
        )

    def _guarded_review(
        self, inspection_id: int, label: str, note: str, add_reference: bool, approval: Any = None
    ) -> InspectionRecord:
        self._guarded.review(
            self._session_user,
            inspection_id,
            label,
            reason=note or None,
            add_as_reference=add_reference,
            reference_move=approval.move if approval is not None else None,
            confirmation=approval.confirmation if approval is not None else None,
        )
        return self._repo.inspections.get(inspection_id)

    def is_busy(self) -> bool:
        """True while any database work of the view (rows, details, reviews, export) is still running."""
        return self.model.is_loading or self._tasks.busy or self._export_tasks.busy

    def selected_inspection_id(self) -> int | None:
        return self._selected_id

    def select_inspection(self, inspection_id: int) -> bool:
        """Select the row of ``inspection_id`` when it is loaded; False when it is not in the list read so far."""
        row = self.model.row_of(inspection_id)
        if row is None:
            return False
        index = self.model.index(row, COL_TIME)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.scrollTo(index)
        return True

    @Slot()
    def refresh(self) -> None:
        """Read the products and the current filter's rows again ("Today" and "Last 7 days" move with the clock)."""
        self._load_products()
        self._reload_rows()

    @Slot()
    def _reload_rows(self) -> None:
        self.model.set_filter(self.filter_bar.filters())

    @Slot(int)
    def on_inspection_recorded(self, inspection_id: int) -> None:
        """The live station recorded ``inspection_id``: show it at the top when it fits the filter."""
        self._tasks.run(
            lambda: self._repo.inspections.get(int(inspection_id)),
            self._pushed_record_read,
            lambda exc: self._pushed_record_failed(inspection_id, exc),
        )

    def shutdown(self) -> None:
        """Wait for background reads to end (call before the database is closed)."""
        self._refresh_timer.stop()
        self._loader.cancel_queued()
        self._loader.wait_idle(5000)
        self._tasks.wait_idle(10000)
        self._export_tasks.wait_idle(60000)
        self.thumbnails.shutdown()

    # -- products and rows --------------------------------------------------------------------------------------

    def _load_products(self) -> None:
        self._tasks.run(self._repo.products.list, self._products_read, self._products_failed)

    def _products_read(self, products: Any) -> None:
        self._products_loaded = True
        self.filter_bar.set_products([(p.id, p.name) for p in products])

    def _products_failed(self, exc: Exception) -> None:
        self.banner.show_message(f"The product list could not be read. {error_text(exc)}", Severity.ERROR, retry=True)

    @Slot(object)
    def _filters_changed(self, f: HistoryFilter) -> None:
        self.model.set_filter(f)

    @Slot()
    def _load_started(self) -> None:
        self.count_label.setText("Loading...")

    @Slot(int)
    def _load_finished(self, total: int) -> None:
        self._show_count(total)
        if self.banner.level is Severity.ERROR:
            self.banner.clear()

    def _show_count(self, total: int) -> None:
        f = self.model.current_filter
        what = describe(f, self.filter_bar.product_name(f.product_id)) if f is not None else ""
        if total == 0:
            self.count_label.setText(f"No inspections match ({what}).")
        else:
            self.count_label.setText(f"{total:,} inspection{'s' if total != 1 else ''} ({what})".replace(",", "\u2009"))

    @Slot(str)
    def _load_failed(self, message: str) -> None:
        self.count_label.setText("The list could not be read.")
        self.banner.show_message(f"The history could not be read. {message}", Severity.ERROR, retry=True)

    @Slot(int)
    def _total_changed(self, total: int) -> None:
        # The station's own pushes arrive a moment after their rows exist: only speak when the gap persists.
        self._database_total = total
        QTimer.singleShot(1000, self, self._check_total)

    @Slot()
    def _check_total(self) -> None:
        total = self._database_total
        if total is None or self.model.is_loading or total == self.model.total or self.banner.level is Severity.ERROR:
            return
        self.banner.show_message(
            f"The database now holds {total} matching inspections (the list shows {self.model.total}). "
            "Press Retry to reload the list.",
            Severity.INFO,
            retry=True,
        )

    def _pushed_record_read(self, record: InspectionRecord) -> None:
        if not self.filter_bar.product_name(record.product_id):
            self._load_products()  # a product created since the list was read
        if not self.model.insert_record(record):
            self._refresh_timer.start()
        elif not self.model.is_loading:
            self._show_count(self.model.total)  # the footer counts the rows the station pushed in, too

    def _pushed_record_failed(self, inspection_id: int, exc: Exception) -> None:
        if isinstance(exc, NotFoundError):
            return  # deleted again before we looked; nothing to show
        self.banner.show_message(
            f"Inspection #{inspection_id} was recorded but the history could not read it. {error_text(exc)}",
            Severity.WARNING,
            retry=True,
        )

    # -- selection and details ----------------------------------------------------------------------------------

    @Slot(QModelIndex, QModelIndex)
    def _current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        record = self.model.record_at(current.row()) if current.isValid() else None
        if record is None:
            if not current.isValid():
                self._selected_id = None
                self.detail.clear()
            return  # a row whose page is on its way: _data_changed shows it when it arrives
        self._show_details(record)

    @Slot()
    def _reselect(self) -> None:
        if self._selected_id is None or not self.select_inspection(self._selected_id):
            self._selected_id = None
            self.detail.clear()

    @Slot(QModelIndex, QModelIndex)
    def _data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, *_roles: object) -> None:
        current = self.table.selectionModel().currentIndex()
        if not current.isValid() or not (top_left.row() <= current.row() <= bottom_right.row()):
            return
        record = self.model.record_at(current.row())
        if record is None:
            return
        if record.id != self._selected_id:
            self._show_details(record)
        else:
            self.detail.update_record(record)

    def _show_details(self, record: InspectionRecord) -> None:
        self._selected_id = record.id
        self._detail_token += 1
        token = self._detail_token
        image_path = self._resolve(record.image_path, record.image_file)
        heatmap_path = self._resolve(record.heatmap_path, record.heatmap_file) if record.heatmap_path else None
        self.detail.show_inspection(record, image_path, heatmap_path, None)
        self.detail.transcript.setPlainText("Reading the chat...")

        def done(messages: Any) -> None:
            if token == self._detail_token:
                self.detail.set_messages(messages)

        def failed(exc: Exception) -> None:
            if token == self._detail_token:
                self.detail.set_messages(None, f"The chat could not be read. {error_text(exc)}")

        self._tasks.run(lambda: self._repo.chat.for_inspection(record.id), done, failed)
        self._read_request(record.id)

    def _read_request(self, inspection_id: int) -> None:
        """An operator's open request for this part, shown in the review panel (with the guarded layer only)."""
        if self._guarded is None:
            return
        guarded = self._guarded
        self._tasks.run(
            lambda: guarded.reviews.open_request(inspection_id),
            lambda request: self.detail.review_panel.set_request(inspection_id, request),
            lambda exc: log.warning("review request of #%s not read: %s", inspection_id, exc),
        )

    def _resolve(self, relpath: str | None, absolute: Path | None) -> Path | None:
        if relpath and self._store is not None:
            try:
                return self._store.path_of(relpath)
            except DatabaseError:
                pass
        return absolute

    # -- reviews ------------------------------------------------------------------------------------------------

    @Slot(int, str)
    def confirm_defect(self, inspection_id: int, note: str = "") -> None:
        call = (
            (lambda: self._guarded_review(inspection_id, "confirmed_defect", note, False))
            if self._guarded is not None
            else (lambda: self._repo.inspections.confirm_defect(inspection_id, by=self._operator, note=note or None))
        )
        self._save_review(inspection_id, call, "confirmed as defective", add_reference=False)

    @Slot(int, str)
    def mark_for_review(self, inspection_id: int, note: str = "") -> None:
        """An operator asks an engineer to look at the part (labels nothing; audited)."""
        if self._guarded is None or self._session_user is None:
            self.banner.show_message("Log in to mark a part for review.", Severity.ERROR)
            return
        guarded, user = self._guarded, self._session_user
        self.detail.review_panel.set_busy(True)

        def done(request: Any) -> None:
            self.detail.review_panel.set_busy(False)
            self.detail.review_panel.set_request(inspection_id, request)
            self.banner.show_message(
                f"Inspection #{inspection_id} is marked for review; an engineer finds it under 'Marked for review'.",
                Severity.SUCCESS,
            )
            self.reviewRequested.emit(inspection_id)

        def failed(exc: Exception) -> None:
            self.detail.review_panel.set_busy(False)
            self.banner.show_message(f"Not marked for review. {error_text(exc)}", Severity.ERROR)

        self._tasks.run(lambda: guarded.mark_for_review(user, inspection_id, note=note or None), done, failed)

    @Slot(int, str, bool)
    def mark_false_alarm(self, inspection_id: int, note: str = "", add_reference: bool = False) -> None:
        """With ``add_reference`` and a reference guard (desktop/dialogs/reference_guard.py), what the new reference would do
        to the product's recent failures is measured and shown first; nothing is saved before the reviewer chose."""
        if add_reference and self.reference_guard is not None:
            self.banner.show_message(
                f"Measuring what inspection #{inspection_id} would do as a normal reference…", Severity.INFO
            )
            self.reference_guard(
                inspection_id,
                lambda add, approval=None: self._mark_false_alarm_now(inspection_id, note, add, approval),
            )
            return
        self._mark_false_alarm_now(inspection_id, note, add_reference)

    def _mark_false_alarm_now(self, inspection_id: int, note: str, add_reference: bool, approval: Any = None) -> None:
        guarded = self._guarded is not None
        self._save_review(
            inspection_id,
            (lambda: self._guarded_review(inspection_id, "false_alarm", note, add_reference, approval))
            if guarded
            else lambda: self._repo.inspections.mark_false_alarm(
                inspection_id, by=self._operator, note=note or None, add_as_reference=add_reference
            ),
            "marked as a false alarm" + (" and added to the normal references" if add_reference else ""),
            add_reference=add_reference,
        )

    def _save_review(self, inspection_id: int, call: Any, what: str, *, add_reference: bool) -> None:
        self.detail.review_panel.set_busy(True)

        def done(record: InspectionRecord) -> None:
            self.detail.review_panel.set_busy(False)
            self.model.update_record(record)
            self.detail.update_record(record)
            self._read_request(record.id)  # a review answers an operator's request
            note = " Rebuild the product model so the new reference is used." if add_reference else ""
            self.banner.show_message(f"Inspection #{record.id} {what}.{note}", Severity.SUCCESS)
            self.reviewSaved.emit(record.id)
            if add_reference:
                self.referenceAdded.emit(record.product_id)

        def failed(exc: Exception) -> None:
            self.detail.review_panel.set_busy(False)
            self.banner.show_message(
                f"The review of inspection #{inspection_id} was not saved. {error_text(exc)}", Severity.ERROR
            )

        self._tasks.run(call, done, failed)

    # -- CSV export ---------------------------------------------------------------------------------------------

    def suggested_export_name(self) -> str:
        f = self.model.current_filter or HistoryFilter()
        text = describe(f, self.filter_bar.product_name(f.product_id))
        slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:80] or "history"
        return f"history-{slug}-{date.today().isoformat()}.csv"

    @Slot()
    def export_csv(self) -> None:
        """Ask where to save, then export the current filter."""
        if self._export_running:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the history as CSV", str(Path.home() / self.suggested_export_name()), "CSV files (*.csv)"
        )
        if path:
            if not path.lower().endswith(".csv"):
                path += ".csv"
            self.export_csv_to(Path(path))

    def export_csv_to(self, path: Path) -> None:
        """Export every row of the current filter to ``path`` in the background, with a progress dialog.

        The file is written whole or not at all; a failure (read-only folder, full disk, locked database) shows a
        message and leaves any existing file untouched.
        """
        if self._export_running:
            self.banner.show_message("An export is already running; wait for it to finish.", Severity.WARNING)
            return
        f = self.model.current_filter or HistoryFilter()
        self._export_running = True
        self.export_button.setEnabled(False)
        progress = QProgressDialog(f"Exporting {self.model.total} inspections to {path.name}...", "", 0, 0, self)
        progress.setObjectName("exportProgress")
        progress.setWindowTitle("CSV export")
        progress.setCancelButton(None)  # the file is written atomically at the end; nothing to cancel halfway
        progress.setMinimumDuration(500)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        self._export_progress = progress

        def finish() -> None:
            self._export_running = False
            self.export_button.setEnabled(True)
            progress.reset()
            progress.deleteLater()
            self._export_progress = None

        def done(rows: int) -> None:
            finish()
            self.banner.show_message(
                f"Exported {rows} inspection{'s' if rows != 1 else ''} to {path}.", Severity.SUCCESS
            )
            self.exportFinished.emit(str(path), int(rows))

        def failed(exc: Exception) -> None:
            finish()
            self.banner.show_message(f"The CSV export failed; nothing was written. {error_text(exc)}", Severity.ERROR)

        if self._guarded is not None:  # audited, and only for a role that may export
            self._export_tasks.run(lambda: self._guarded.export_history_csv(self._session_user, f, path), done, failed)
            return
        self._export_tasks.run(lambda: self._repo.history.export_csv(f, path), done, failed)

    @property
    def export_running(self) -> bool:
        return self._export_running

    # -- lot report (PDF) -----------------------------------------------------------------------------------------

    @Slot()
    def export_lot_report(self) -> None:
        """Ask where to save the lot report of the filter's product and dates, then print it."""
        f = self.model.current_filter or HistoryFilter()
        wanted = report_range(f)
        if isinstance(wanted, str):
            self.banner.show_message(wanted, Severity.WARNING)
            return
        name = suggested_lot_report_name(self.filter_bar.product_name(f.product_id))
        path, _ = QFileDialog.getSaveFileName(self, "Save the lot report", str(Path.home() / name), "PDF (*.pdf)")
        if path:
            self.export_lot_report_to(Path(path if path.lower().endswith(".pdf") else path + ".pdf"))

    def export_lot_report_to(self, path: Path) -> None:
        """Print the lot report of the current filter's product and dates to ``path`` in the background, as the
        logged-in user (the export right is checked and the export audited by db/exports.py)."""
        wanted = report_range(self.model.current_filter or HistoryFilter())
        if isinstance(wanted, str):
            self.banner.show_message(wanted, Severity.WARNING)
            return
        if self._guarded is None or self._session_user is None:
            self.banner.show_message("Log in as an engineer or admin to print a lot report.", Severity.ERROR)
            return
        from db.exports import export_lot_report

        guarded, user = self._guarded, self._session_user
        self.report_button.setEnabled(False)

        def done(report: Any) -> None:
            self.report_button.setEnabled(True)
            self.banner.show_message(report_written(report, str(path)), Severity.SUCCESS)
            self.exportFinished.emit(str(path), int(report.inspected))

        def failed(exc: Exception) -> None:
            self.report_button.setEnabled(True)
            self.banner.show_message(f"The lot report was not written. {error_text(exc)}", Severity.ERROR)

        self._export_tasks.run(
            lambda: export_lot_report(guarded, user, wanted.product_id, wanted.start, wanted.end, path), done, failed
        )


__all__ = ["HistoryView", "error_text"]
