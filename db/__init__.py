"""Persistence of the inspection station (SQLAlchemy 2.x, SQLite by default, PostgreSQL-ready). No Qt here.

Public API:
    Database.open(data_dir) -> Database     (.products .references .inspections .chat .history .stats .store)
    make_engine(url=None, data_dir=None)    engine factory (WAL, foreign keys, busy timeout on SQLite)
    upgrade(engine)                         Alembic migrations to head (run at start-up)
    ImageStore(root), StoredFile            content-addressed, crash-safe image files
    HistoryFilter, HistoryPage, InspectionRecord, ProductInfo, ReferenceInfo, ChatMessageInfo
    db.stats                                yield / scores / rejects / week-over-week / defect locations
    db.errors                               DatabaseError family (StorageError, DatabaseLockedError, ...)
"""

from .engine import default_data_dir, make_engine
from .errors import DatabaseError, StorageError
from .image_store import ImageStore, StoredFile
from .migrate import upgrade
from .records import ChatMessageInfo, HistoryFilter, HistoryPage, InspectionRecord, ProductInfo, ReferenceInfo
from .repository import Database

__all__ = [
    "ChatMessageInfo",
    "Database",
    "DatabaseError",
    "HistoryFilter",
    "HistoryPage",
    "ImageStore",
    "InspectionRecord",
    "ProductInfo",
    "ReferenceInfo",
    "StorageError",
    "StoredFile",
    "default_data_dir",
    "make_engine",
    "upgrade",
]
