"""The Live tab's shift counters: parts inspected this shift, OK, NG and the yield (line/shift.py counts them)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from line.events import ShiftCounts


class ShiftCountersWidget(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shiftCounters")
        self._shift = QLabel("Shift")
        self._total = QLabel()
        self._ok = QLabel()
        self._ng = QLabel()
        self._yield = QLabel()
        self._ok.setStyleSheet("color: #1b7f3b; font-weight: bold;")
        self._ng.setStyleSheet("color: #b3261e; font-weight: bold;")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for label in (self._shift, self._total, self._ok, self._ng, self._yield):
            layout.addWidget(label)
        layout.addStretch(1)
        self.show_counts(ShiftCounts(shift_start=datetime.now().astimezone().timestamp()))

    def show_counts(self, counts: ShiftCounts) -> None:
        start = datetime.fromtimestamp(counts.shift_start).strftime("%H:%M")
        self._shift.setText(f"Shift since {start}:")
        self._total.setText(f"{counts.total} parts")
        self._ok.setText(f"OK {counts.ok}")
        self._ng.setText(f"NG {counts.ng}")
        self._yield.setText("yield —" if counts.yield_pct is None else f"yield {counts.yield_pct:.1f} %")

    def text(self) -> str:
        return " ".join(w.text() for w in (self._shift, self._total, self._ok, self._ng, self._yield))
