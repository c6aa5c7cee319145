"""The one Qt adapter between the station controller and the window: the controller's events (line/event_bus.py)
are published in whichever thread made the change (the inference, recorder or camera thread, a timer, the GUI);
``EventRelay.event`` re-emits each of them, and receivers connected with a queued connection get them in the GUI
thread, in the order they happened. The bus handler only emits: it never blocks the thread that published."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from line.event_bus import EventBus, Subscription
from line.events import StationEvent


class EventRelay(QObject):
    event = Signal(object)  # line.events.StationEvent

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._subscription: Subscription | None = bus.subscribe(self._forward)

    def _forward(self, event: StationEvent) -> None:
        self.event.emit(event)

    def close(self) -> None:
        """Stop relaying (idempotent); events already queued are still delivered to connected receivers."""
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
