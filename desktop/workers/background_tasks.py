"""The one idiom for short background work in the window: run a function on a pool thread and get its answer
back on the thread that owns the runner (the GUI thread), through callbacks.

    tasks = BackgroundTasks(threads=1)
    tasks.run(lambda: database.inspections.get(42), on_done=show, on_error=report)

``on_done(result)`` or ``on_error(exception)`` is called later on the owner's thread. With one thread, calls run
one after the other in submission order, so a locked database delays only the answer, never the window. Higher
``priority`` runs first among queued calls; ``clear_queued`` drops the calls not started yet (their callbacks are
never called). Long-lived workers (the station's inference, recording and camera threads) are not this: they are
the controller's threads (line/), see docs/adr/0007-thread-model.md.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

OnDone = Callable[[Any], None]
OnError = Callable[[Exception], None]


class _Relay(QObject):
    finished = Signal(int, object, object)  # token, result, exception (None on success)


class _Job(QRunnable):
    def __init__(self, tasks: BackgroundTasks, token: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._tasks, self._token, self._fn = tasks, token, fn

    def run(self) -> None:  # pool thread
        self._tasks._started(self._token)
        try:
            result = self._fn()
        except Exception as exc:  # noqa: BLE001 - handed to on_error on the owner's thread
            self._tasks._relay.finished.emit(self._token, None, exc)
            return
        self._tasks._relay.finished.emit(self._token, result, None)


class BackgroundTasks(QObject):
    """A small pool for short background calls whose answers come back as callbacks on the owner's thread."""

    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, threads: int = 1) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, int(threads)))
        self._relay = _Relay()
        self._relay.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        self._callbacks: dict[int, tuple[OnDone | None, OnError | None]] = {}
        self._running: set[int] = set()
        self._lock = threading.Lock()
        self._tokens = itertools.count(1)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def run(
        self,
        fn: Callable[[], Any],
        on_done: OnDone | None = None,
        on_error: OnError | None = None,
        *,
        priority: int = 0,
    ) -> int:
        token = next(self._tokens)
        was_busy = self.busy
        self._callbacks[token] = (on_done, on_error)
        self._pool.start(_Job(self, token, fn), priority)
        if not was_busy:
            self.busyChanged.emit(True)
        return token

    def clear_queued(self) -> None:
        """Drop the calls that have not started; running ones finish and answer."""
        self._pool.clear()
        with self._lock:
            dropped = [t for t in self._callbacks if t not in self._running]
        for token in dropped:
            self._callbacks.pop(token, None)
        if dropped and not self.busy:
            self.busyChanged.emit(False)

    def wait_idle(self, msecs: int = 10000) -> bool:
        """Block until queued calls ran (shutdown and tests); their callbacks still arrive through the event loop."""
        return bool(self._pool.waitForDone(msecs))

    def _started(self, token: int) -> None:  # pool thread
        with self._lock:
            self._running.add(token)

    @Slot(int, object, object)
    def _on_finished(self, token: int, result: object, exc: object) -> None:
        with self._lock:
            self._running.discard(token)
        if token not in self._callbacks:
            return  # cleared while it ran
        on_done, on_error = self._callbacks.pop(token)
        try:
            if isinstance(exc, Exception):
                if on_error is not None:
                    on_error(exc)
                else:
                    log.warning("background call failed: %s", exc)
            elif on_done is not None:
                on_done(result)
        finally:
            if not self.busy:
                self.busyChanged.emit(False)


__all__ = ["BackgroundTasks"]
