"""Automatic retries of the database writer: when a write failed for a reason that passes (the database locked,
read-only, unreachable, the disk full), the writer tries again by itself, first after ``RETRY_DELAYS_S[0]``
seconds, then each time a little later, up to the last delay, until the database accepts writes again."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from line.write_errors import RETRY_DELAYS_S, TRANSIENT_ERRORS, is_transient  # noqa: F401 - re-exported


class RetryBackoff(QObject):
    """``schedule()`` arms one retry (``due`` fires after the next delay); ``reset()`` starts the delays over."""

    due = Signal()

    def __init__(self, delays_s: tuple[float, ...] = RETRY_DELAYS_S, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.delays_s = tuple(float(d) for d in delays_s) or RETRY_DELAYS_S
        self.attempt = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.due)

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def schedule(self) -> None:
        if self._timer.isActive():
            return
        delay = self.delays_s[min(self.attempt, len(self.delays_s) - 1)]
        self.attempt += 1
        self._timer.start(int(delay * 1000))

    def reset(self) -> None:
        self.attempt = 0
        self._timer.stop()

    def cancel(self) -> None:
        self._timer.stop()


__all__ = ["RETRY_DELAYS_S", "RetryBackoff", "is_transient"]
