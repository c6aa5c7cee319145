"""The statistics tab: yield per hour or per day and the score histogram against the decision threshold, for
one product (or all) over a range of days.

    view = StatisticsView(database)          # a db.repository.Database (its .stats and .products)
    view = StatisticsView(database.stats)    # or bare db.stats.StatsQueries (then: all products only)

Queries run off the UI thread. No data -> "No inspections yet for <product> ..." instead of empty axes.
A database failure (locked, unreachable, ...) shows its message with a Retry button; the view keeps working.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from PySide6.QtCore import QDate, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.views.history.filters import local_day_range
from desktop.views.history.history_view import error_text
from desktop.widgets.message_banner import MessageBanner
from desktop.workers.db_task import DatabaseTaskRunner
from line.problems import Severity

from .score_histogram import ScoreHistogram
from .yield_plot import YieldPlot

BUCKET_HOUR = "hour"
BUCKET_DAY = "day"
PAGE_PLOTS, PAGE_EMPTY = 0, 1
READ_SPACING = 10  # a pushed refresh waits at least this many times the last read's duration
_KEEP = object()  # set_range: leave the product as it is


class StatisticsView(QWidget):
    """Statistics tab. ``refresh()`` re-reads; ``on_inspection_recorded(id)`` refreshes soon after new parts.

    New parts are read only while the tab is shown (a hidden tab only notes that it is out of date and reads when it
    is shown), and never more often than every ``READ_SPACING`` times the last read's duration: a read goes over
    every part of the range in Python, which grows with the shift, and the window's threads share the
    interpreter with the inspection (the 20 000-frame soak's p99 latency grew with the rows until this,
    docs/reliability.md).

    ``statsUpdated`` fires after every successful read (tests and screenshots wait on it)."""

    statsUpdated = Signal()

    def __init__(
        self, repository_or_queries: Any, parent: QWidget | None = None, *, refresh_delay_ms: int = 2000
    ) -> None:
        super().__init__(parent)
        if hasattr(repository_or_queries, "stats"):
            self._queries = repository_or_queries.stats
            self._products = getattr(repository_or_queries, "products", None)
        else:
            self._queries = repository_or_queries
            self._products = None
        self._tasks = DatabaseTaskRunner(self)
        self._request = 0
        self._last: tuple[Any, Any] | None = None
        self._delay_ms = max(0, int(refresh_delay_ms))
        self._stale = False  # new parts arrived while the tab was hidden
        self.last_read_s = 0.0  # how long the last read took (its background thread)

        self.banner = MessageBanner(self)
        self.product_combo = QComboBox(self)
        self.product_combo.setObjectName("statsProduct")
        self.product_combo.setMinimumContentsLength(14)
        self.product_combo.addItem("All products", None)
        today = QDate.currentDate()
        self.from_edit = QDateEdit(today.addDays(-6), self)
        self.to_edit = QDateEdit(today, self)
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.bucket_combo = QComboBox(self)
        self.bucket_combo.setObjectName("statsBucket")
        self.bucket_combo.addItem("Yield per hour", BUCKET_HOUR)
        self.bucket_combo.addItem("Yield per day", BUCKET_DAY)
        self.bucket_combo.setCurrentIndex(1)
        self.refresh_button = QPushButton("Refresh", self)
        self.summary_label = QLabel(self)
        self.summary_label.setObjectName("statsSummary")

        self.yield_plot = YieldPlot(self)
        self.histogram = ScoreHistogram(self)
        plots = QSplitter(Qt.Orientation.Vertical, self)
        plots.addWidget(self.yield_plot)
        plots.addWidget(self.histogram)
        self.empty_label = QLabel(self)
        self.empty_label.setObjectName("statsEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color:#666; font-size:16px;")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(plots)
        self.stack.addWidget(self.empty_label)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Product", self))
        controls.addWidget(self.product_combo)
        controls.addWidget(QLabel("From", self))
        controls.addWidget(self.from_edit)
        controls.addWidget(QLabel("to", self))
        controls.addWidget(self.to_edit)
        controls.addWidget(self.bucket_combo)
        controls.addWidget(self.refresh_button)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(controls)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.stack, 1)

        self._push_timer = QTimer(self)
        self._push_timer.setSingleShot(True)
        self._push_timer.setInterval(max(0, int(refresh_delay_ms)))
        self._push_timer.timeout.connect(self.refresh)

        self.product_combo.currentIndexChanged.connect(self._reload)
        self.bucket_combo.currentIndexChanged.connect(self._reload)
        self.from_edit.dateChanged.connect(self._reload)
        self.to_edit.dateChanged.connect(self._reload)
        self.refresh_button.clicked.connect(self.refresh)
        self.banner.retryRequested.connect(self.refresh)
        self._show_empty("Reading the statistics...")
        self.refresh()

    # -- public ------------------------------------------------------------------------------------------------

    def set_range(self, first: date, last: date, *, product_id: Any = _KEEP, bucket: str | None = None) -> None:
        """Choose the days (local calendar days, inclusive), optionally the product and the bucket; one reload."""
        self._block(True)
        try:
            self.from_edit.setDate(QDate(first.year, first.month, first.day))
            self.to_edit.setDate(QDate(last.year, last.month, last.day))
            if product_id is not _KEEP:
                index = self.product_combo.findData(product_id)
                if index < 0:
                    raise ValueError(f"product {product_id} is not in the list (refresh the products first)")
                self.product_combo.setCurrentIndex(index)
            if bucket is not None:
                self.bucket_combo.setCurrentIndex(self.bucket_combo.findData(bucket))
        finally:
            self._block(False)
        self._reload()

    def is_busy(self) -> bool:
        """True while a read is still running."""
        return self._tasks.busy

    def selected_product(self) -> int | None:
        value = self.product_combo.currentData()
        return None if value is None else int(value)

    def bucket(self) -> str:
        return str(self.bucket_combo.currentData())

    def empty_text(self) -> str:
        """The empty-state text while it is shown, else ""."""
        return self.empty_label.text() if self.stack.currentIndex() == PAGE_EMPTY else ""

    @property
    def last_result(self) -> tuple[Any, Any] | None:
        """(YieldSeries, ScoreDistribution) of the last successful read."""
        return self._last

    @Slot()
    def refresh(self) -> None:
        """Re-read the product list, then the statistics."""
        if self._products is not None:
            self._tasks.run(self._products.list, self._products_read, self._failed)
        else:
            self._reload()

    @Slot(int)
    def on_inspection_recorded(self, _inspection_id: int) -> None:
        """New parts: refresh a little later (bursts of parts cause one read); hidden, only note it."""
        if not self.isVisible():
            self._stale = True
            return
        if not self._push_timer.isActive():
            self._push_timer.start(max(self._delay_ms, round(READ_SPACING * self.last_read_s * 1000)))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()

    def shutdown(self) -> None:
        self._push_timer.stop()
        self._tasks.wait_idle(10000)

    # -- loading ------------------------------------------------------------------------------------------------

    def _block(self, blocked: bool) -> None:
        for w in (self.product_combo, self.bucket_combo, self.from_edit, self.to_edit):
            w.blockSignals(blocked)

    def _products_read(self, products: Any) -> None:
        current = self.product_combo.currentData()
        self._block(True)
        try:
            self.product_combo.clear()
            self.product_combo.addItem("All products", None)
            for p in products:
                self.product_combo.addItem(p.name, int(p.id))
            self.product_combo.setCurrentIndex(
                max(0, self.product_combo.findData(current)) if current is not None else 0
            )
        finally:
            self._block(False)
        self._reload()

    @Slot()
    def _reload(self, *_args: object) -> None:
        first, last = self.from_edit.date().toPython(), self.to_edit.date().toPython()
        start, end = local_day_range(first, last)
        product = self.selected_product()
        bucket = self.bucket()
        self._request += 1
        request = self._request
        queries = self._queries

        def read() -> tuple[Any, Any, float]:
            t0 = time.perf_counter()
            series = (queries.yield_per_hour if bucket == BUCKET_HOUR else queries.yield_per_day)(
                product=product, start=start, end=end
            )
            return series, queries.score_distribution(product=product, start=start, end=end), time.perf_counter() - t0

        def done(answer: tuple[Any, Any, float]) -> None:
            series, distribution, self.last_read_s = answer
            if request == self._request:
                self._show((series, distribution), product, min(first, last), max(first, last))

        def failed(exc: Exception) -> None:
            if request == self._request:
                self._failed(exc)

        self._tasks.run(read, done, failed)

    def _failed(self, exc: Exception) -> None:
        self.banner.show_message(f"The statistics could not be read. {error_text(exc)}", Severity.ERROR, retry=True)
        if self._last is None:
            self._show_empty("The statistics could not be read; see the message above.")

    # -- showing ------------------------------------------------------------------------------------------------

    def _product_label(self, product: int | None) -> str:
        return "all products" if product is None else self.product_combo.currentText()

    def _show_empty(self, text: str) -> None:
        self.empty_label.setText(text)
        self.stack.setCurrentIndex(PAGE_EMPTY)

    def _show(self, result: tuple[Any, Any], product: int | None, first: date, last: date) -> None:
        series, dist = result
        self._last = result
        if self.banner.level is Severity.ERROR:
            self.banner.clear()
        name = self._product_label(product)
        days = first.isoformat() if first == last else f"{first.isoformat()} and {last.isoformat()}"
        when = f"on {days}" if first == last else f"between {days}"
        if series.inspected == 0:
            self.summary_label.setText("")
            self.yield_plot.set_buckets([])
            self.histogram.set_scores([], [], None)
            self._show_empty(f"No inspections yet for {name} {when}.")
            self.statsUpdated.emit()
            return
        self.yield_plot.set_buckets(series.buckets)
        pass_scores = [s for s, v in zip(dist.scores, dist.verdicts, strict=False) if v == "PASS"]
        fail_scores = [s for s, v in zip(dist.scores, dist.verdicts, strict=False) if v != "PASS"]
        threshold = dist.threshold if product is not None else None
        self.histogram.set_scores(pass_scores, fail_scores, threshold)
        if threshold is not None and dist.threshold_overridden:
            self.histogram.threshold_line.label.setFormat("threshold {value:.3f} (an override)")
        else:
            self.histogram.threshold_line.label.setFormat("threshold {value:.3f}")
        if threshold is not None:
            self.histogram.threshold_line.label.valueChanged()
        rate = 100.0 * series.passed / series.inspected
        note = "" if product is not None else "  (choose a product to see its decision threshold)"
        self.summary_label.setText(
            f"{name}: {series.inspected} parts {when}, {series.passed} passed, {series.failed} failed "
            f"- yield {rate:.1f} %{note}"
        )
        self.stack.setCurrentIndex(PAGE_PLOTS)
        self.statsUpdated.emit()


__all__ = ["BUCKET_DAY", "BUCKET_HOUR", "StatisticsView"]
