"""The window's handle of the line's inference thread (line/inference.py): one plain thread that loads the
Inspector once, builds products and inspects the parts the station controller triggers (the controller is its
listener, and the window hears the results as the controller's events, desktop/workers/event_relay.py).

What the window asks of the thread directly is the reference guard's measurement of a candidate reference
(core/reference_preview.py); its answer comes back as a signal, queued to the GUI thread."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from core.protocols import InspectorProtocol
from core.reference_preview import PreviewRequest, ReferencePreview
from line.inference import InferenceEngine
from line.outcome import (  # noqa: F401 - re-exported: the window's modules import them from here
    NO_REFERENCES_MESSAGE,
    InspectionOutcome,
    ProductRequest,
    ReferenceSource,
)


class InferenceService(QObject):
    preview_ready = Signal(int, object)  # token, core.reference_preview.ReferencePreview
    preview_failed = Signal(int, str)  # token, message for people

    def __init__(
        self,
        inspector_factory: Callable[[], InspectorProtocol] | None = None,
        parent: QObject | None = None,
        *,
        engine: InferenceEngine | None = None,
    ) -> None:
        super().__init__(parent)
        if engine is None:
            if inspector_factory is None:
                raise ValueError("an inspector factory or an engine is needed")
            engine = InferenceEngine(inspector_factory)
        self.engine = engine

    @property
    def is_running(self) -> bool:
        return self.engine.is_running

    def preview_reference(self, request: PreviewRequest) -> None:
        """Ask the inference thread what a new reference would do (answers with preview_ready / preview_failed)."""
        self.engine.preview_reference(request, self._answer)

    def _answer(self, request: PreviewRequest, preview: ReferencePreview | None, message: str | None) -> None:
        # In the inference thread: the signals are queued to receivers in the GUI thread.
        if preview is not None:
            self.preview_ready.emit(request.token, preview)
        else:
            self.preview_failed.emit(request.token, message or "the preview failed")
