"""The large PASS / FAIL indicator with the defect probability; says NO CAMERA while no frames arrive."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from core.result import FAIL, PASS, InspectionResult

_STYLES = {
    PASS: ("#1b7f3b", "#ffffff"),
    FAIL: ("#b3261e", "#ffffff"),
    "stale_PASS": ("#2f5a3c", "#cfe3d5"),
    "stale_FAIL": ("#6e3430", "#f0d4d1"),
    "idle": ("#3a3f47", "#d0d4da"),
    "busy": ("#5a4a12", "#ffe9a8"),
    "no_camera": ("#8a4b08", "#ffe0b2"),
}


class VerdictBadge(QFrame):
    """Shows the verdict of the latest result in big letters, its probability and score below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verdictBadge")
        self.setMinimumHeight(120)
        self._verdict = QLabel("—", alignment=Qt.AlignmentFlag.AlignCenter)
        self._verdict.setObjectName("verdictText")
        self._detail = QLabel("No inspection yet", alignment=Qt.AlignmentFlag.AlignCenter)
        self._detail.setObjectName("verdictDetail")
        self._detail.setWordWrap(True)
        font = self._verdict.font()
        font.setPointSize(40)
        font.setBold(True)
        self._verdict.setFont(font)
        detail_font = self._detail.font()
        detail_font.setPointSize(12)
        self._detail.setFont(detail_font)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self._verdict)
        layout.addWidget(self._detail)
        self.state = "idle"
        self.camera_lost = False
        self._idle_text = self._detail.text()  # the prompt to show again when the camera comes back
        self._apply("idle")

    def verdict_text(self) -> str:
        return self._verdict.text()

    def detail_text(self) -> str:
        return self._detail.text()

    def show_result(self, result: InspectionResult) -> None:
        self._verdict.setText(result.verdict)
        override = " (operator threshold)" if result.overridden else ""
        self._detail.setText(
            f"Defect probability {result.probability * 100:.1f} %\n"
            f"score {result.score:.3f} / threshold {result.threshold:.3f}{override}"
        )
        self._apply(result.verdict if result.verdict in (PASS, FAIL) else "idle")

    def mark_stale(self) -> None:
        """The picture went back to live: the verdict is about the last inspected part, not the one on screen."""
        if self.state in (PASS, FAIL):
            self._detail.setText(f"Last inspected part\n{self._detail.text()}")
            self._apply(f"stale_{self.state}")

    def show_busy(self, text: str = "Inspecting…") -> None:
        if self.state in (PASS, FAIL, "no_camera") or self.state.startswith("stale_"):
            return  # keep the last verdict (or the missing camera) visible while the next frame is being inspected
        self._verdict.setText("…")
        self._detail.setText(text)
        self._apply("busy")

    def clear(self, text: str = "No inspection yet") -> None:
        self._idle_text = text
        if self.camera_lost:
            return  # "Press Space" is no use without a picture: the prompt shows once frames arrive again
        self._verdict.setText("—")
        self._detail.setText(text)
        self._apply("idle")

    def show_no_camera(self, text: str) -> None:
        """No frames arrive (camera missing, unplugged, reconnecting): say so and what to do, until camera_back()."""
        self.camera_lost = True
        self._verdict.setText("NO CAMERA")
        self._detail.setText(text)
        self._apply("no_camera")

    def camera_back(self) -> None:
        """Frames arrive again: back to the idle prompt (a verdict shown meanwhile stays)."""
        if not self.camera_lost:
            return
        self.camera_lost = False
        if self.state == "no_camera":
            self.clear(self._idle_text)

    def _apply(self, state: str) -> None:
        self.state = state
        background, colour = _STYLES[state]
        self.setStyleSheet(
            f"#verdictBadge {{ background: {background}; border-radius: 10px; }}"
            f"#verdictText, #verdictDetail {{ color: {colour}; background: transparent; }}"
        )
