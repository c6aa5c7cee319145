"""The row of filters above the history list: product, verdict, date range and review state."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from PySide6.QtCore import QDate, Signal, Slot
from PySide6.QtWidgets import QComboBox, QDateEdit, QHBoxLayout, QLabel, QWidget

from db.records import HistoryFilter

from .filters import (
    REVIEW_REQUESTED,
    REVIEWED_ALL,
    REVIEWED_NO,
    REVIEWED_YES,
    VERDICT_ALL,
    local_day_range,
    requested_value,
    reviewed_value,
)

RANGE_ANY = "any"
RANGE_TODAY = "today"
RANGE_7_DAYS = "7d"
RANGE_30_DAYS = "30d"
RANGE_CUSTOM = "custom"


class HistoryFilterBar(QWidget):
    """Emits ``filtersChanged(HistoryFilter)`` whenever the operator changes a filter (paging left at defaults)."""

    filtersChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._emitting_blocked = False

        self.product_combo = QComboBox(self)
        self.product_combo.setObjectName("historyProductFilter")
        self.product_combo.setMinimumContentsLength(14)
        self.product_combo.addItem("All products", None)

        self.verdict_combo = QComboBox(self)
        self.verdict_combo.setObjectName("historyVerdictFilter")
        for label, value in (("PASS and FAIL", VERDICT_ALL), ("PASS only", "PASS"), ("FAIL only", "FAIL")):
            self.verdict_combo.addItem(label, value)

        self.range_combo = QComboBox(self)
        self.range_combo.setObjectName("historyRangeFilter")
        for label, value in (
            ("Any time", RANGE_ANY),
            ("Today", RANGE_TODAY),
            ("Last 7 days", RANGE_7_DAYS),
            ("Last 30 days", RANGE_30_DAYS),
            ("Custom range", RANGE_CUSTOM),
        ):
            self.range_combo.addItem(label, value)

        today = QDate.currentDate()
        self.from_edit = QDateEdit(today.addDays(-7), self)
        self.to_edit = QDateEdit(today, self)
        for edit, name in ((self.from_edit, "historyFromDate"), (self.to_edit, "historyToDate")):
            edit.setObjectName(name)
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)

        self.review_combo = QComboBox(self)
        self.review_combo.setObjectName("historyReviewFilter")
        for label, value in (
            ("Reviewed or not", REVIEWED_ALL),
            ("Not reviewed", REVIEWED_NO),
            ("Reviewed", REVIEWED_YES),
            ("Marked for review", REVIEW_REQUESTED),
        ):
            self.review_combo.addItem(label, value)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Product", self))
        layout.addWidget(self.product_combo)
        layout.addWidget(QLabel("Verdict", self))
        layout.addWidget(self.verdict_combo)
        layout.addWidget(QLabel("When", self))
        layout.addWidget(self.range_combo)
        layout.addWidget(self.from_edit)
        layout.addWidget(QLabel("to", self))
        layout.addWidget(self.to_edit)
        layout.addWidget(QLabel("Review", self))
        layout.addWidget(self.review_combo)
        layout.addStretch(1)

        self.product_combo.currentIndexChanged.connect(self._changed)
        self.verdict_combo.currentIndexChanged.connect(self._changed)
        self.review_combo.currentIndexChanged.connect(self._changed)
        self.range_combo.currentIndexChanged.connect(self._range_mode_changed)
        self.from_edit.dateChanged.connect(self._changed)
        self.to_edit.dateChanged.connect(self._changed)

    # -- products -------------------------------------------------------------------------------------------

    def set_products(self, products: Iterable[tuple[int, str]]) -> None:
        """Fill the product list with (id, name) pairs; keeps the current choice when it still exists."""
        current = self.product_combo.currentData()
        self._emitting_blocked = True
        try:
            self.product_combo.clear()
            self.product_combo.addItem("All products", None)
            for product_id, name in products:
                self.product_combo.addItem(str(name), int(product_id))
            index = self.product_combo.findData(current) if current is not None else 0
            self.product_combo.setCurrentIndex(max(index, 0))
        finally:
            self._emitting_blocked = False
        if self.product_combo.currentData() != current:
            self._changed()

    def product_name(self, product_id: int | None) -> str | None:
        if product_id is None:
            return None
        index = self.product_combo.findData(product_id)
        return self.product_combo.itemText(index) if index >= 0 else None

    # -- values ---------------------------------------------------------------------------------------------

    def filters(self) -> HistoryFilter:
        since = until = None
        mode = self.range_combo.currentData()
        today = date.today()
        if mode == RANGE_TODAY:
            since, until = local_day_range(today, today)
        elif mode == RANGE_7_DAYS:
            since, until = local_day_range(today - timedelta(days=6), today)
        elif mode == RANGE_30_DAYS:
            since, until = local_day_range(today - timedelta(days=29), today)
        elif mode == RANGE_CUSTOM:
            since, until = local_day_range(self.from_edit.date().toPython(), self.to_edit.date().toPython())
        product = self.product_combo.currentData()
        verdict = str(self.verdict_combo.currentData())
        return HistoryFilter(
            product_id=None if product is None else int(product),
            verdict=None if verdict == VERDICT_ALL else verdict,
            start=since,
            end=until,
            reviewed=reviewed_value(str(self.review_combo.currentData())),
            review_requested=requested_value(str(self.review_combo.currentData())),
        )

    def set_filters(
        self,
        *,
        product_id: int | None = None,
        verdict: str = VERDICT_ALL,
        reviewed: str = REVIEWED_ALL,
        first_day: date | None = None,
        last_day: date | None = None,
    ) -> None:
        """Set every filter at once (one ``filtersChanged``). Days given -> custom range, else any time."""
        self._emitting_blocked = True
        try:
            self.product_combo.setCurrentIndex(max(self.product_combo.findData(product_id), 0))
            self.verdict_combo.setCurrentIndex(max(self.verdict_combo.findData(verdict), 0))
            self.review_combo.setCurrentIndex(max(self.review_combo.findData(reviewed), 0))
            if first_day is not None or last_day is not None:
                first = first_day or last_day
                last = last_day or first_day
                self.from_edit.setDate(QDate(first.year, first.month, first.day))
                self.to_edit.setDate(QDate(last.year, last.month, last.day))
                self.range_combo.setCurrentIndex(self.range_combo.findData(RANGE_CUSTOM))
            else:
                self.range_combo.setCurrentIndex(self.range_combo.findData(RANGE_ANY))
            self._sync_date_edits()
        finally:
            self._emitting_blocked = False
        self._changed()

    # -- slots ----------------------------------------------------------------------------------------------

    @Slot()
    def _range_mode_changed(self) -> None:
        self._sync_date_edits()
        self._changed()

    def _sync_date_edits(self) -> None:
        custom = self.range_combo.currentData() == RANGE_CUSTOM
        self.from_edit.setEnabled(custom)
        self.to_edit.setEnabled(custom)

    @Slot()
    def _changed(self, *_args: object) -> None:
        if self._emitting_blocked:
            return
        self.filtersChanged.emit(self.filters())


__all__ = ["HistoryFilterBar"]
