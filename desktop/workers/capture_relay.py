"""The live capture's listener on the Qt side: re-emits each call of the capture thread
(line/capture/capture_loop.py) as a signal, which Qt queues to the receivers' (the GUI) thread in order."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class CaptureRelay(QObject):
    """Satisfies ``line.ports.CaptureListener``; its signals are emitted in the capture thread."""

    frame_available = Signal()
    status_changed = Signal(str, bool)  # message, ok (False while the source is missing)
    fps_changed = Signal(float)
    files_skipped_told = Signal(str)  # a folder source passed over files it cannot read: what to tell the operator

    def frame_ready(self) -> None:
        self.frame_available.emit()

    def capture_status(self, message: str, ok: bool) -> None:
        self.status_changed.emit(message, ok)

    def capture_fps(self, fps: float) -> None:
        self.fps_changed.emit(fps)

    def files_skipped(self, message: str) -> None:
        self.files_skipped_told.emit(message)
