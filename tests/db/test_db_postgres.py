"""The same schema and repository on a real PostgreSQL server.

Runs only when INSPECTION_TEST_PG_URL names an empty, throwaway database, e.g.
``postgresql+psycopg://station@127.0.0.1:55432/station_test`` (needs the psycopg driver: ``pip install
'psycopg[binary]'``). The test migrates it, exercises the repository, then downgrades it back to empty.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command

from db import migrate
from db.engine import make_engine
from db.image_store import ImageStore
from db.records import HistoryFilter
from db.repository import Database

PG_URL = os.environ.get("INSPECTION_TEST_PG_URL", "")
pytestmark = pytest.mark.skipif(not PG_URL, reason="set INSPECTION_TEST_PG_URL to a throwaway PostgreSQL database")


def _downgrade_to_base(engine) -> None:
    if migrate.current_revision(engine) is None:
        return
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")


def test_postgresql_migrations_round_trip_and_stats(tmp_path: Path, make_frame, make_result) -> None:
    engine = make_engine(PG_URL)
    _downgrade_to_base(engine)
    try:
        assert migrate.upgrade(engine) == migrate.head_revision()
        assert migrate.schema_differences(engine) == []
        database = Database(engine, ImageStore(tmp_path / "images"))
        product = database.products.create("widget")
        database.products.save_calibration(product.id, {"threshold": 1.5})
        t0 = datetime(2024, 3, 6, 8, 0, tzinfo=timezone(timedelta(hours=2)))  # stored as UTC, read back as UTC
        recs = [
            database.inspections.record(
                product_id=product.id,
                result=make_result(verdict, score, threshold=1.5, locations=locs),
                image=make_frame(i),
                time=t0 + timedelta(minutes=i),
            )
            for i, (verdict, score, locs) in enumerate(
                [("PASS", 0.3, ()), ("FAIL", 2.0, ("center",)), ("FAIL", 2.5, ("center", "top left"))]
            )
        ]
        assert recs[0].time == t0 and recs[0].time.tzinfo == UTC
        database.inspections.mark_false_alarm(recs[1].id, by="qa", add_as_reference=True)
        page = database.history.query(HistoryFilter(product_id=product.id, verdict="FAIL", reviewed=True))
        assert [r.id for r in page.records] == [recs[1].id] and page.total == 1
        assert database.history.export_csv(HistoryFilter(product_id=product.id), tmp_path / "h.csv") == 3
        now = t0 + timedelta(hours=1)
        today = database.stats.rejects_today(product="widget", now=now)
        assert (today.inspected, today.rejected, today.false_alarms) == (3, 2, 1)
        locs = database.stats.region_locations(product="widget", start=t0, end=now)
        assert [(c.location, c.regions) for c in locs.locations] == [("center", 2), ("top left", 1)]
        day = database.stats.yield_per_day(
            product="widget", start=t0.replace(hour=0), end=t0.replace(hour=0) + timedelta(days=1)
        )
        assert [(b.inspected, b.passed) for b in day.buckets] == [(3, 1)]
        database.chat.append("user", "why?", inspection_id=recs[2].id)
        database.products.delete(product.id, delete_history=True)
        assert database.products.list() == []
    finally:
        _downgrade_to_base(engine)
        engine.dispose()
