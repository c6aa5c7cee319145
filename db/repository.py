"""The station's database, as the desktop uses it: one object holding the engine, the image store and the
repositories. Every call is a short transaction and returns plain records (db/records.py).

    database = Database.open(data_dir)        # migrates to the newest schema
    product = database.products.create("widget-a")
    database.references.add(product.id, [frame1, frame2])
    record = database.inspections.record(product_id=product.id, result=result, image=frame, heatmap=heat_rgb)
    database.inspections.mark_false_alarm(record.id, by="anna", add_as_reference=True)
    page = database.history.query(HistoryFilter(product_id=product.id, verdict="FAIL"))
    database.history.export_csv(page.filter, "fails.csv")
    database.stats.rejects_today(product="widget-a", now=datetime.now(timezone.utc))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from .chat_log import ChatRepository
from .engine import default_data_dir, make_engine
from .history import HistoryRepository
from .image_store import ImageStore
from .inspections import InspectionRepository
from .migrate import check_schema, upgrade
from .outbox import OutboxRepository
from .products import ProductRepository
from .references import ReferenceRepository
from .session import make_sessionmaker
from .stats import StatsQueries

if TYPE_CHECKING:
    from .chat_queries import HistoryQueriesAdapter

IMAGES_FOLDER = "images"


class Database:
    """Engine + image store + repositories. Safe to share between threads (each call opens its own session)."""

    def __init__(self, engine: Engine, store: ImageStore) -> None:
        self.engine = engine
        self.store = store
        maker = make_sessionmaker(engine)
        self.products = ProductRepository(maker)
        self.references = ReferenceRepository(maker, store)
        self.inspections = InspectionRepository(maker, store)
        self.chat = ChatRepository(maker)
        self.outbox = OutboxRepository(maker)  # MQTT result messages (line runner)
        self.history = HistoryRepository(maker, store)
        self.stats = StatsQueries(engine)

    @classmethod
    def open(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        url: str | None = None,
        migrate: bool = True,
        busy_timeout_ms: int = 5000,
    ) -> Database:
        """Open (and by default migrate) the station database and its image store in ``data_dir``.

        Raises the DatabaseError family: unreachable, read-only, locked, schema too new, ...
        """
        folder = default_data_dir(data_dir)
        engine = make_engine(url, folder, busy_timeout_ms=busy_timeout_ms)
        try:
            if migrate:
                upgrade(engine)
            else:
                check_schema(engine)
        except BaseException:
            engine.dispose()
            raise
        store = ImageStore(Path(folder) / IMAGES_FOLDER)
        store.remove_stale_temp_files()
        return cls(engine, store)

    @property
    def history_queries(self) -> HistoryQueriesAdapter:
        """The chat's exact history queries (``core.chat.history.HistoryQueries``) over this database."""
        from .chat_queries import HistoryQueriesAdapter  # imported late: needs core.chat

        return HistoryQueriesAdapter(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["IMAGES_FOLDER", "Database"]
