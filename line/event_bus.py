"""Observers subscribe to the station's typed events (line/events.py).

Handlers run synchronously in the thread that published, in the order the events happened. A handler must not
block: the window hands the event to its GUI thread, the PLC servers to their event loop. A handler that raises is
logged and does not stop the others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from line.events import StationEvent

log = logging.getLogger(__name__)

Handler = Callable[[StationEvent], None]


@dataclass(frozen=True)
class Subscription:
    bus: EventBus
    handler: Handler
    types: tuple[type[StationEvent], ...]

    def cancel(self) -> None:
        self.bus.unsubscribe(self)


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._subscriptions: list[Subscription] = []

    def subscribe(self, handler: Handler, *types: type[StationEvent]) -> Subscription:
        """Call ``handler`` with every event of ``types`` (every event when none is given)."""
        sub = Subscription(self, handler, tuple(types) or (StationEvent,))
        with self._lock:
            self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscriptions:
                self._subscriptions.remove(sub)

    def publish(self, event: StationEvent) -> None:
        with self._lock:
            subs = list(self._subscriptions)
            for sub in subs:
                if isinstance(event, sub.types):
                    try:
                        sub.handler(event)
                    except Exception:
                        log.exception("an observer of %s failed", type(event).__name__)
