"""Runs short database calls off the UI thread and hands the answer back on the UI thread.

    runner.run(lambda: database.inspections.get(42), on_done=show, on_error=report)

``on_done(result)`` or ``on_error(exception)`` is called later on the thread that owns the runner (the UI
thread). Calls run one after the other in submission order. A locked database (busy timeout) therefore delays
only the answer, never the window.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


class _Relay(QObject):
    finished = Signal(int, object, object)  # token, result, exception (None on success)


class _Job(QRunnable):
    def __init__(self, relay: _Relay, token: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._relay, self._token, self._fn = relay, token, fn

    def run(self) -> None:  # pool thread
        try:
            result = self._fn()
        except Exception as exc:  # noqa: BLE001 - handed to on_error on the UI thread
            self._relay.finished.emit(self._token, None, exc)
            return
        self._relay.finished.emit(self._token, result, None)


class DatabaseTaskRunner(QObject):
    """One background thread for database calls; answers come back through callbacks on the owner's thread."""

    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay()
        self._relay.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        self._callbacks: dict[int, tuple[Callable[[Any], None] | None, Callable[[Exception], None] | None]] = {}
        self._tokens = itertools.count(1)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> int:
        token = next(self._tokens)
        was_busy = self.busy
        self._callbacks[token] = (on_done, on_error)
        self._pool.start(_Job(self._relay, token, fn))
        if not was_busy:
            self.busyChanged.emit(True)
        return token

    def wait_idle(self, msecs: int = 10000) -> bool:
        """Block until queued calls ran (shutdown and tests); their callbacks still arrive through the event loop."""
        return bool(self._pool.waitForDone(msecs))

    @Slot(int, object, object)
    def _on_finished(self, token: int, result: object, exc: object) -> None:
        on_done, on_error = self._callbacks.pop(token, (None, None))
        try:
            if exc is not None:
                if on_error is not None:
                    on_error(exc)  # type: ignore[arg-type]
                else:
                    log.warning("database call failed: %s", exc)
            elif on_done is not None:
                on_done(result)
        finally:
            if not self.busy:
                self.busyChanged.emit(False)


__all__ = ["DatabaseTaskRunner"]
