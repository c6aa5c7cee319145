"""Part ids and the MQTT outbox: the result message is written in the inspection's own transaction, read back in
order, marked sent; a failure writes neither."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

import db.inspections as inspections_module
from core.result import FAIL
from db.errors import DatabaseError, NotFoundError, ValidationError
from db.models import Inspection, OutboxMessage

T0 = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


def _count(database, model) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_record_with_part_id_writes_the_row_and_its_message_together(database, make_frame, make_result):
    product = database.products.create("widget")
    rec = database.inspections.record(
        product_id=product.id,
        result=make_result(FAIL, score=2.0, locations=("top left",)),
        image=make_frame(1),
        heatmap=make_frame(2),
        time=T0,
        station="line-1",
        part_id=" P-0001 ",
        outbox_topic="plant/line1/result",
    )
    assert rec.part_id == "P-0001" and database.inspections.get(rec.id).part_id == "P-0001"
    [entry] = database.outbox.pending()
    assert entry.topic == "plant/line1/result"
    p = entry.payload
    assert p["part_id"] == "P-0001" and p["inspection_id"] == rec.id and p["product"] == "widget"
    assert p["verdict"] == "FAIL" and p["probability"] == pytest.approx(0.9)
    assert p["image_sha256"] == rec.image_sha256 and p["heatmap_sha256"] == rec.heatmap_sha256
    assert p["regions"][0]["location"] == "top left" and p["inspected_at"] == T0.isoformat()
    assert database.outbox.count_pending() == 1
    database.outbox.mark_sent(entry.id)
    assert database.outbox.pending() == [] and database.outbox.count_pending() == 0


def test_without_a_topic_no_message_and_without_a_part_id_none(database, make_frame, make_result):
    product = database.products.create("widget")
    rec = database.inspections.record(product_id=product.id, result=make_result(), image=make_frame(1))
    assert rec.part_id is None and _count(database, OutboxMessage) == 0


def test_messages_come_back_oldest_first(database, make_frame, make_result):
    product = database.products.create("widget")
    for i in range(5):
        database.inspections.record(
            product_id=product.id, result=make_result(), image=make_frame(i), part_id=f"P{i}", outbox_topic="t"
        )
    assert [e.payload["part_id"] for e in database.outbox.pending()] == ["P0", "P1", "P2", "P3", "P4"]
    assert [e.payload["part_id"] for e in database.outbox.pending(limit=2)] == ["P0", "P1"]


def test_a_failing_outbox_write_leaves_no_row(database, make_frame, make_result, monkeypatch):
    product = database.products.create("widget")

    def broken(session, row, name, topic):
        session.add(OutboxMessage(topic=None, payload={}))  # NOT NULL topic: the flush fails
        session.flush()

    monkeypatch.setattr(inspections_module, "enqueue_result", broken)
    with pytest.raises(DatabaseError):
        database.inspections.record(
            product_id=product.id, result=make_result(), image=make_frame(1), part_id="P1", outbox_topic="t"
        )
    assert _count(database, Inspection) == 0 and _count(database, OutboxMessage) == 0


def test_unknown_product_and_bad_part_ids_write_nothing(database, make_frame, make_result):
    with pytest.raises(NotFoundError):
        database.inspections.record(product_id=99, result=make_result(), image=make_frame(1), outbox_topic="t")
    product = database.products.create("widget")
    for bad in ("x" * 101, "line\nbreak"):
        with pytest.raises(ValidationError, match="part id"):
            database.inspections.record(
                product_id=product.id, result=make_result(), image=make_frame(1), part_id=bad, outbox_topic="t"
            )
    assert _count(database, Inspection) == 0 and _count(database, OutboxMessage) == 0
