"""Waiting on a worker thread's signal in the tests without touching GUI-thread timers from the worker."""

from __future__ import annotations

from PySide6.QtCore import QObject


class Catch(QObject):
    """Collects a signal's arguments on the GUI thread (a queued connection to this object)."""

    def __init__(self, signal) -> None:
        super().__init__()
        self.calls: list[tuple] = []
        signal.connect(self._on)

    def _on(self, *args) -> None:
        self.calls.append(args)

    def wait(self, qtbot, count: int = 1, timeout: int = 10000) -> tuple:
        qtbot.waitUntil(lambda: len(self.calls) >= count, timeout=timeout)
        return self.calls[count - 1]
