"""Reads pages of the history off the UI thread: one background thread, requests served in order.

``fetch(HistoryFilter) -> HistoryPage`` is the repository's history query. Results (or the error, usually a
``db.errors.DatabaseError``) come back on the UI thread through ``pageLoaded`` / ``pageFailed``, tagged with the
caller's ticket so stale answers can be told apart.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from db.records import HistoryFilter, HistoryPage

log = logging.getLogger(__name__)

FetchPage = Callable[[HistoryFilter], HistoryPage]


class _Relay(QObject):
    loaded = Signal(object, object)  # ticket, HistoryPage
    failed = Signal(object, object)  # ticket, exception


class _PageJob(QRunnable):
    def __init__(self, relay: _Relay, fetch: FetchPage, query: HistoryFilter, ticket: object) -> None:
        super().__init__()
        self._relay, self._fetch, self._query, self._ticket = relay, fetch, query, ticket

    def run(self) -> None:  # pool thread
        try:
            page = self._fetch(self._query)
        except Exception as exc:  # noqa: BLE001 - handed to the UI, which shows it and keeps running
            log.warning("history page failed: %s", exc)
            self._relay.failed.emit(self._ticket, exc)
            return
        self._relay.loaded.emit(self._ticket, page)


class HistoryPageLoader(QObject):
    """``request(filter, offset, limit, ticket)`` -> later ``pageLoaded(ticket, page)`` or ``pageFailed(ticket, exc)``."""

    pageLoaded = Signal(object, object)
    pageFailed = Signal(object, object)

    def __init__(self, fetch: FetchPage, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # in order, and one database reader at a time
        self._relay = _Relay()
        self._relay.loaded.connect(self._on_loaded, Qt.ConnectionType.QueuedConnection)
        self._relay.failed.connect(self._on_failed, Qt.ConnectionType.QueuedConnection)

    def request(self, base: HistoryFilter, offset: int, limit: int, ticket: object) -> None:
        query = dataclasses.replace(base, offset=max(0, int(offset)), limit=max(1, int(limit)))
        self._pool.start(_PageJob(self._relay, self._fetch, query, ticket))

    def cancel_queued(self) -> None:
        """Drop requests not started yet (a running one still answers; its ticket tells it is stale)."""
        self._pool.clear()

    def wait_idle(self, msecs: int = 10000) -> bool:
        return bool(self._pool.waitForDone(msecs))

    @Slot(object, object)
    def _on_loaded(self, ticket: object, page: object) -> None:
        self.pageLoaded.emit(ticket, page)

    @Slot(object, object)
    def _on_failed(self, ticket: object, exc: object) -> None:
        self.pageFailed.emit(ticket, exc)


__all__ = ["FetchPage", "HistoryPageLoader"]
