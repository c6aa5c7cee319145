"""The chat's view of the history: implements ``core.chat.history.HistoryQueries`` with exact SQL counts.

    queries = HistoryQueriesAdapter(database.engine)     # or database.history_queries
    ChatSession(..., history=queries)                    # core asks product_names / counts / daily_counts

Periods are half-open ``[start, end)`` with timezone-aware datetimes; days are the calendar days of ``start``'s
time zone (the chat passes local time). ``product=None`` means all products; a name the history does not know
raises ``db.errors.NotFoundError`` (listing the known names).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Engine, select

from core.chat.history import Counts

from .models import Product
from .session import make_sessionmaker, reading
from .stats import reject_count, yield_per_day


class HistoryQueriesAdapter:
    """``HistoryQueries`` over the station database (structural: no inheritance needed)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._maker = make_sessionmaker(engine)

    def product_names(self) -> Sequence[str]:
        with reading(self._maker, "list the products") as session:
            return list(session.scalars(select(Product.name).order_by(Product.name)).all())

    def counts(self, start: datetime, end: datetime, product: str | None = None) -> Counts:
        c = reject_count(self.engine, product=product, start=start, end=end)
        return Counts(inspected=c.inspected, rejected=c.rejected)

    def daily_counts(self, start: datetime, end: datetime, product: str | None = None) -> Sequence[tuple[date, Counts]]:
        zone = start.tzinfo
        series = yield_per_day(self.engine, product=product, start=start, end=end)
        return [
            (b.start.astimezone(zone).date(), Counts(inspected=b.inspected, rejected=b.failed))
            for b in series.buckets
            if b.inspected
        ]


__all__ = ["HistoryQueriesAdapter"]
