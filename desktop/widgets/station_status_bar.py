"""The status bar: camera FPS, inspection latency, model and database state, plus transient messages."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QProgressBar, QStatusBar, QWidget

from desktop.widgets.elided_label import ElidedLabel


class StationStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # At most these widths, each label shortened with "…" (whole in its tooltip): the bar's own messages, left of
        # them, keep room to be read at the window's default width.
        self.camera = ElidedLabel("Camera: -", 220)
        self.latency = ElidedLabel("Latency: -", 215)
        self.model = ElidedLabel("Model: not loaded", 300)
        self.database = ElidedLabel("Database: -", 240)
        self.learning = ElidedLabel(  # line mode: how many recent parts the product has learned from
            "",
            225,
            explanation="Line mode: good parts this product has seen recently join its memory (failed parts never "
            "do),\nand its threshold follows their scores. Before a few parts have joined it judges by its references.",
        )
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(True)
        self.progress.hide()
        for label in (self.camera, self.latency, self.model, self.database, self.learning):
            label.setContentsMargins(6, 0, 6, 0)
        self.addPermanentWidget(self.progress)
        for label in (self.camera, self.latency, self.learning, self.model, self.database):
            self.addPermanentWidget(label)
        # A long message is cut off at the permanent labels; hovering the bar shows it whole.
        self.messageChanged.connect(self._on_message_changed)

    @Slot(str)
    def _on_message_changed(self, text: str) -> None:
        self.setToolTip(text)

    def set_camera(self, name: str, fps: float | None, ok: bool = True, state: str | None = None) -> None:
        """``state`` replaces the automatic wording (FPS / connecting / disconnected), e.g. "paused"."""
        if state is None:
            state = f"{fps:.1f} FPS" if ok and fps is not None else ("connecting" if ok else "disconnected")
        self.camera.setText(f"{name}: {state}")

    def set_latency(self, latency_ms: float, inspect_ms: float | None = None) -> None:
        text = f"Latency: {latency_ms:.0f} ms"
        if inspect_ms is not None:
            text += f" (model {inspect_ms:.0f} ms)"
        self.latency.setText(text)

    def set_learning(
        self, mode: str, pool_size: int, drift: bool = False, adapted_parts: int = 0, adapting: float | None = None
    ) -> None:
        """Line mode's state from the last result: "learning: 37 parts", or what stopped it, and how far the
        product's own map is ("adapting 40%", "adapted on 24 parts")."""
        parts = f"{pool_size} part" + ("" if pool_size == 1 else "s")
        if drift:
            text = "learning paused: drift"
        elif mode == "line":
            text = f"learning: {parts}"
        else:
            text = f"learning: {parts} (references only)" if pool_size else "learning: starting"
        if adapting is not None:
            text += f" · adapting {100.0 * adapting:.0f}%"
        elif adapted_parts:
            text += f" · adapted on {adapted_parts} parts"
        self.learning.setText(text)
        self.learning.setStyleSheet("color:#ffb74d;" if drift else "")

    def set_model(self, text: str) -> None:
        self.model.setText(f"Model: {text}")

    def set_database(self, text: str, ok: bool = True) -> None:
        self.database.setText(f"Database: {text}")
        self.database.setStyleSheet("" if ok else "color:#ff8a80;")

    def set_progress(self, fraction: float | None, message: str = "") -> None:
        """Show a determinate progress (0..1) with a message, or hide it with ``None``."""
        if fraction is None:
            self.progress.hide()
            return
        value = round(100 * min(1.0, max(0.0, fraction)))
        self.progress.setValue(value)
        # The bar's text stays on one line inside the bar (it wrapped over two); the whole message is its tooltip.
        room = self.progress.maximumWidth() - 16
        metrics = self.progress.fontMetrics()
        text = metrics.elidedText(
            message, Qt.TextElideMode.ElideMiddle, max(0, room - metrics.horizontalAdvance(" 100%"))
        )
        self.progress.setFormat(f"{text} %p%" if text else "%p%")
        self.progress.setToolTip(f"{message} ({value}%)" if message else "")
        self.progress.show()
