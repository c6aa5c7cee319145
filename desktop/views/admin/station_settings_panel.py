"""The station settings an admin sets at the window: the idle time after which a person is logged out, and the
share of recent failures a threshold move may let pass before a second person must confirm it. The values are
checked and stored (audited) by db/guarded.py; this panel shows and collects them."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QHBoxLayout, QPushButton, QSpinBox, QVBoxLayout, QWidget

MAX_IDLE_MINUTES = 24 * 60


class StationSettingsPanel(QWidget):
    saveRequested = Signal(float, float)  # idle logout in seconds, threshold guard share (0 to 1)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.idle_minutes = QSpinBox(self)
        self.idle_minutes.setRange(1, MAX_IDLE_MINUTES)
        self.idle_minutes.setSuffix(" min")
        self.idle_minutes.setToolTip("A person is logged out after this long without a key press or a click.")
        self.guard_percent = QDoubleSpinBox(self)
        self.guard_percent.setRange(0.0, 100.0)
        self.guard_percent.setDecimals(0)
        self.guard_percent.setSuffix(" %")
        self.guard_percent.setToolTip(
            "A threshold override, recalibration or false-alarm reference that would let more than this share of "
            "the product's recent failures pass needs a second engineer or admin to confirm it (0: any)."
        )
        self.save_button = QPushButton("Save settings", self)
        for box in (self.idle_minutes, self.guard_percent):
            box.setMaximumWidth(120)
        form = QFormLayout()
        form.addRow("Log out after idle", self.idle_minutes)
        form.addRow("Second person when a threshold move lets pass more than", self.guard_percent)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(row)
        self.save_button.clicked.connect(
            lambda: self.saveRequested.emit(60.0 * self.idle_minutes.value(), self.guard_percent.value() / 100.0)
        )
        self.set_editable(False)

    def set_values(self, idle_logout_s: float, guard_share: float) -> None:
        self.idle_minutes.setValue(max(1, min(MAX_IDLE_MINUTES, round(float(idle_logout_s) / 60.0))))
        self.guard_percent.setValue(100.0 * float(guard_share))

    def set_editable(self, editable: bool) -> None:
        for w in (self.idle_minutes, self.guard_percent, self.save_button):
            w.setEnabled(editable)


__all__ = ["MAX_IDLE_MINUTES", "StationSettingsPanel"]
