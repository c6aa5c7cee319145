"""Yield (share of PASS parts) per hour or per day, as bars over a time axis, with the part count as a line."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

BUCKET_SECONDS = {"hour": 3600.0, "day": 86400.0}


@dataclass(frozen=True)
class YieldPoint:
    """One time bucket: its start (aware datetime), how many parts were inspected and how many passed."""

    start: datetime
    total: int
    passed: int

    @property
    def yield_pct(self) -> float:
        return 100.0 * self.passed / self.total if self.total else 0.0


class YieldPlot(QWidget):
    """Bars: yield in % per bucket (left axis). Line: parts inspected per bucket (right axis)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._points: list[YieldPoint] = []
        self._bucket = "hour"
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
        item.addItem(self.bars)

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

    def set_points(self, points: Sequence[YieldPoint], bucket: str) -> None:
        """Plot ``points`` (one per bucket, buckets without parts may be left out)."""
        if bucket not in BUCKET_SECONDS:
            raise ValueError(f"bucket must be 'hour' or 'day', not {bucket!r}")
        self._points = list(points)
        self._bucket = bucket
        width = BUCKET_SECONDS[bucket]
        centers = np.array([p.start.timestamp() + width / 2 for p in self._points], dtype=float)
        heights = np.array([p.yield_pct for p in self._points], dtype=float)
        counts = np.array([p.total for p in self._points], dtype=float)
        self.bars.setOpts(x=centers, height=heights, width=width * 0.8)
        self.count_curve.setData(centers, counts)
        item = self.plot_widget.getPlotItem()
        if len(centers):
            item.setXRange(centers.min() - width, centers.max() + width, padding=0.02)
            self.count_view.setYRange(0, max(1.0, float(counts.max())) * 1.1, padding=0)
        self.plot_widget.setToolTip(self._summary())

    def _summary(self) -> str:
        total = sum(p.total for p in self._points)
        passed = sum(p.passed for p in self._points)
        if not total:
            return ""
        return f"{passed} of {total} parts passed ({100.0 * passed / total:.1f} %)"

    # -- read back (tests, export) ---------------------------------------------------------------------------

    def plotted_points(self) -> list[YieldPoint]:
        return list(self._points)

    def plotted_yield(self) -> tuple[np.ndarray, np.ndarray]:
        """(bucket centre timestamps, yield %) exactly as handed to the bar item."""
        return np.asarray(self.bars.opts["x"], dtype=float), np.asarray(self.bars.opts["height"], dtype=float)

    def plotted_counts(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.count_curve.getData()
        return (np.asarray([] if x is None else x, dtype=float), np.asarray([] if y is None else y, dtype=float))


__all__ = ["YieldPlot", "YieldPoint", "BUCKET_SECONDS"]
