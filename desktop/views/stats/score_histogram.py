"""Histogram of inspection scores, PASS and FAIL stacked, with the decision threshold as a labelled line."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

PASS_BRUSH = (70, 150, 90, 200)
FAIL_BRUSH = (200, 70, 60, 200)


def histogram_edges(values: np.ndarray, threshold: float | None, bins: int) -> np.ndarray:
    """Bin edges covering every value and the threshold (so the line is always inside the plot)."""
    lo = float(values.min()) if values.size else 0.0
    hi = float(values.max()) if values.size else 1.0
    if threshold is not None and np.isfinite(threshold):
        lo, hi = min(lo, float(threshold)), max(hi, float(threshold))
    if hi <= lo:
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    return np.linspace(lo, hi, int(bins) + 1)


class ScoreHistogram(QWidget):
    """``set_scores(pass_scores, fail_scores, threshold)`` draws the counts per bin and the threshold line."""

    def __init__(self, parent: QWidget | None = None, *, bins: int = 30) -> None:
        super().__init__(parent)
        self._bins = int(bins)
        self._edges = np.zeros(0)
        self._pass_counts = np.zeros(0)
        self._fail_counts = np.zeros(0)
        self._threshold: float | None = None

        self.plot_widget = pg.PlotWidget(parent=self)
        self.plot_widget.setObjectName("scoreHistogram")
        self.plot_widget.setBackground("w")
        item = self.plot_widget.getPlotItem()
        item.setLabel("bottom", "Anomaly score")
        item.setLabel("left", "Parts")
        item.showGrid(x=False, y=True, alpha=0.3)
        item.setMouseEnabled(x=True, y=False)
        item.addLegend(offset=(-10, 10))
        self.pass_bars = pg.BarGraphItem(x0=[], x1=[], y0=[], height=[], brush=pg.mkBrush(*PASS_BRUSH), name="PASS")
        self.fail_bars = pg.BarGraphItem(x0=[], x1=[], y0=[], height=[], brush=pg.mkBrush(*FAIL_BRUSH), name="FAIL")
        item.addItem(self.pass_bars)
        item.addItem(self.fail_bars)
        self.threshold_line = pg.InfiniteLine(
            pos=0.0,
            angle=90,
            movable=False,
            pen=pg.mkPen(30, 30, 30, width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
            label="threshold {value:.3f}",
            labelOpts={"position": 0.92, "color": (30, 30, 30), "fill": (255, 255, 255, 200), "movable": False},
        )
        self.threshold_line.setVisible(False)
        item.addItem(self.threshold_line, ignoreBounds=True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)

    def set_scores(self, pass_scores: Sequence[float], fail_scores: Sequence[float], threshold: float | None) -> None:
        ok = np.asarray(list(pass_scores), dtype=float)
        bad = np.asarray(list(fail_scores), dtype=float)
        ok, bad = ok[np.isfinite(ok)], bad[np.isfinite(bad)]
        self._edges = histogram_edges(np.concatenate([ok, bad]), threshold, self._bins)
        self._pass_counts = np.histogram(ok, bins=self._edges)[0].astype(float)
        self._fail_counts = np.histogram(bad, bins=self._edges)[0].astype(float)
        x0, x1 = self._edges[:-1], self._edges[1:]
        self.pass_bars.setOpts(x0=x0, x1=x1, y0=np.zeros_like(x0), height=self._pass_counts)
        self.fail_bars.setOpts(x0=x0, x1=x1, y0=self._pass_counts, height=self._fail_counts)
        self._threshold = None if threshold is None or not np.isfinite(threshold) else float(threshold)
        self.threshold_line.setVisible(self._threshold is not None)
        if self._threshold is not None:
            self.threshold_line.setValue(self._threshold)
            self.threshold_line.label.valueChanged()  # the label only follows the line while visible
        top = float((self._pass_counts + self._fail_counts).max()) if x0.size else 1.0
        item = self.plot_widget.getPlotItem()
        item.setXRange(float(self._edges[0]), float(self._edges[-1]), padding=0.03)
        item.setYRange(0, max(1.0, top) * 1.15, padding=0)

    # -- read back (tests, export) ---------------------------------------------------------------------------

    def plotted_histogram(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bin edges, PASS counts, FAIL counts) as drawn."""
        return self._edges.copy(), self._pass_counts.copy(), self._fail_counts.copy()

    def plotted_threshold(self) -> float | None:
        """Where the threshold line sits, or None when it is hidden."""
        return float(self.threshold_line.value()) if self.threshold_line.isVisible() else None

    def threshold_label(self) -> str:
        return self.threshold_line.label.toPlainText() if self.threshold_line.label is not None else ""


__all__ = ["ScoreHistogram", "histogram_edges"]
