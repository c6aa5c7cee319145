"""Yield (share of PASS parts) per hour or per day, as bars over a time axis, with the part count as a line.

Buckets without parts get no bar (a 0 % bar would read as "everything failed"); the count line shows 0 there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget


class Bucket(Protocol):
    """One time bucket (``db.stats.YieldBucket``): [start, end), parts inspected and passed."""

    start: datetime
    end: datetime
    inspected: int
    passed: int


class YieldPlot(QWidget):
    """Bars: yield in % per bucket (left axis), the failed share stacked on top. Line: parts per bucket (right axis)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._buckets: list[Bucket] = []
        self.plot_widget = pg.PlotWidget(parent=self, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.plot_widget.setObjectName("yieldPlot")
        self.plot_widget.setBackground("w")
        item = self.plot_widget.getPlotItem()
        item.setLabel("left", "Yield", units="%")
        item.setYRange(0, 105, padding=0)
        item.setMouseEnabled(x=True, y=False)
        item.showGrid(x=False, y=True, alpha=0.3)
        item.addLegend(offset=(10, 10))

        self.bars = pg.BarGraphItem(x=[], height=[], width=1.0, brush=pg.mkBrush(70, 150, 90, 200), name="Yield %")
        # The failed share on top of each bar: a bucket where everything failed still shows a (red) bar.
        self.fail_bars = pg.BarGraphItem(
            x=[], y0=[], height=[], width=1.0, brush=pg.mkBrush(200, 70, 60, 110), name="Failed %"
        )
        item.addItem(self.bars)
        item.addItem(self.fail_bars)

        # Part counts on a second y axis, in their own ViewBox linked to the same time axis.
        self.count_view = pg.ViewBox()
        item.showAxis("right")
        item.scene().addItem(self.count_view)
        item.getAxis("right").linkToView(self.count_view)
        item.getAxis("right").setLabel("Parts inspected")
        self.count_view.setXLink(item)
        self.count_curve = pg.PlotDataItem(
            [], [], pen=pg.mkPen(40, 80, 160, width=2), symbol="o", symbolSize=5, symbolBrush=(40, 80, 160)
        )
        self.count_view.addItem(self.count_curve)
        item.legend.addItem(self.count_curve, "Parts inspected")
        item.getViewBox().sigResized.connect(self._sync_views)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)

    def _sync_views(self) -> None:
        self.count_view.setGeometry(self.plot_widget.getPlotItem().getViewBox().sceneBoundingRect())
        self.count_view.linkedViewChanged(self.plot_widget.getPlotItem().getViewBox(), self.count_view.XAxis)

    # -- data -----------------------------------------------------------------------------------------------

    def set_buckets(self, buckets: Sequence[Bucket]) -> None:
        """Plot one bar per bucket with parts (its yield %) and the part count of every bucket."""
        self._buckets = list(buckets)
        starts = np.array([b.start.timestamp() for b in self._buckets], dtype=float)
        ends = np.array([b.end.timestamp() for b in self._buckets], dtype=float)
        centers = (starts + ends) / 2
        counts = np.array([b.inspected for b in self._buckets], dtype=float)
        passed = np.array([b.passed for b in self._buckets], dtype=float)
        with_parts = counts > 0
        heights = 100.0 * passed[with_parts] / counts[with_parts]
        widths = (ends - starts)[with_parts] * 0.8
        self.bars.setOpts(x=centers[with_parts], height=heights, width=widths if widths.size else 1.0)
        self.fail_bars.setOpts(
            x=centers[with_parts], y0=heights, height=100.0 - heights, width=widths if widths.size else 1.0
        )
        self.count_curve.setData(centers, counts)
        item = self.plot_widget.getPlotItem()
        if centers.size:
            item.setXRange(float(starts.min()), float(ends.max()), padding=0.02)
            self.count_view.setYRange(0, max(1.0, float(counts.max())) * 1.1, padding=0)
        self.plot_widget.setToolTip(self._summary())

    def _summary(self) -> str:
        total = sum(b.inspected for b in self._buckets)
        passed = sum(b.passed for b in self._buckets)
        if not total:
            return ""
        return f"{passed} of {total} parts passed ({100.0 * passed / total:.1f} %)"

    # -- read back (tests, export) ---------------------------------------------------------------------------

    def plotted_yield(self) -> tuple[np.ndarray, np.ndarray]:
        """(bucket centre timestamps, yield %) of the buckets with parts, exactly as handed to the bar item."""
        return np.asarray(self.bars.opts["x"], dtype=float), np.asarray(self.bars.opts["height"], dtype=float)

    def plotted_counts(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.count_curve.getData()
        return (np.asarray([] if x is None else x, dtype=float), np.asarray([] if y is None else y, dtype=float))


__all__ = ["YieldPlot"]
