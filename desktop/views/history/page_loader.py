"""Reads pages of the history off the UI thread: one background thread, requests served in order.

``fetch(HistoryFilter) -> HistoryPage`` is the repository's history query. Results (or the error, usually a
``db.errors.DatabaseError``) come back on the UI thread through ``pageLoaded`` / ``pageFailed``, tagged with the
caller's ticket so stale answers can be told apart.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from db.records import HistoryFilter, HistoryPage
from desktop.workers.background_tasks import BackgroundTasks

log = logging.getLogger(__name__)

FetchPage = Callable[[HistoryFilter], HistoryPage]


class HistoryPageLoader(QObject):
    """``request(filter, offset, limit, ticket)`` -> later ``pageLoaded(ticket, page)`` or ``pageFailed(ticket, exc)``."""

    pageLoaded = Signal(object, object)
    pageFailed = Signal(object, object)

    def __init__(self, fetch: FetchPage, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._tasks = BackgroundTasks(self, threads=1)  # in order, and one database reader at a time

    def request(self, base: HistoryFilter, offset: int, limit: int, ticket: object) -> None:
        query = dataclasses.replace(base, offset=max(0, int(offset)), limit=max(1, int(limit)))

        def failed(exc: Exception) -> None:
            log.warning("history page failed: %s", exc)
            self.pageFailed.emit(ticket, exc)

        self._tasks.run(lambda: self._fetch(query), lambda page: self.pageLoaded.emit(ticket, page), failed)

    def cancel_queued(self) -> None:
        """Drop requests not started yet (a running one still answers; its ticket tells it is stale)."""
        self._tasks.clear_queued()

    def wait_idle(self, msecs: int = 10000) -> bool:
        return self._tasks.wait_idle(msecs)


__all__ = ["FetchPage", "HistoryPageLoader"]
