"""Database calls off the UI thread, one at a time in submission order (desktop/workers/background_tasks.py).

runner.run(lambda: database.inspections.get(42), on_done=show, on_error=report)
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from desktop.workers.background_tasks import BackgroundTasks


class DatabaseTaskRunner(BackgroundTasks):
    """One background thread for database calls; answers come back through callbacks on the owner's thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent, threads=1)


__all__ = ["DatabaseTaskRunner"]
