"""The MQTT outbox: each result message is written in the same transaction as its inspection row, then sent by
the line runner in id order (line/mqtt/publisher.py) and marked sent once the broker acknowledged it (QoS 1).

A broker that is down loses nothing: the messages wait here, in order, across restarts. A message is sent at least
once; ``inspection_id`` and ``part_id`` in the payload let the receiver drop a repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from .errors import ValidationError
from .models import PART_ID_LEN, Inspection, OutboxMessage
from .session import reading, transaction
from .types import ensure_utc, utc_now

RESULT_MESSAGE_VERSION = 1


def clean_part_id(part_id: Any) -> str | None:
    """The part id as stored: None or '' -> None; printable text of at most PART_ID_LEN characters."""
    if part_id is None:
        return None
    text = str(part_id).strip()
    if not text:
        return None
    if len(text) > PART_ID_LEN or not text.isprintable():
        raise ValidationError(
            f"The part id {text[:40]!r} is not usable (at most {PART_ID_LEN} printable characters); not recorded."
        )
    return text


def result_payload(row: Inspection, product_name: str) -> dict[str, Any]:
    """The JSON message of one recorded inspection (docs/plc.md, "MQTT")."""
    return {
        "version": RESULT_MESSAGE_VERSION,
        "inspection_id": row.id,
        "part_id": row.part_id,
        "product": product_name,
        "product_id": row.product_id,
        "verdict": row.verdict,
        "probability": round(float(row.probability), 6),
        "score": round(float(row.score), 6),
        "threshold": round(float(row.threshold), 6),
        "regions": list(row.regions or []),
        "image_sha256": row.image_sha256,
        "heatmap_sha256": row.heatmap_sha256,
        "inspected_at": ensure_utc(row.time, "time").isoformat(),
        "recorded_at": utc_now().isoformat(),
        "timings_ms": dict(row.timings or {}),
        "station": row.station,
        "mode": row.mode,
    }


def enqueue_result(session: Session, row: Inspection, product_name: str, topic: str) -> OutboxMessage:
    """Add the row's message to the outbox inside the caller's transaction (the row must be flushed)."""
    message = OutboxMessage(
        topic=topic, payload=result_payload(row, product_name), inspection_id=row.id, created_at=utc_now()
    )
    session.add(message)
    session.flush()
    return message


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    topic: str
    payload: dict[str, Any]
    attempts: int


class OutboxRepository:
    def __init__(self, maker: sessionmaker[Session]) -> None:
        self._maker = maker

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        """Unsent messages, oldest first."""
        with reading(self._maker, "read the MQTT outbox") as session:
            rows = session.scalars(
                select(OutboxMessage).where(OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id).limit(limit)
            ).all()
            return [OutboxEntry(r.id, r.topic, dict(r.payload or {}), int(r.attempts or 0)) for r in rows]

    def count_pending(self) -> int:
        with reading(self._maker, "count the MQTT outbox") as session:
            return int(session.scalar(select(func.count()).where(OutboxMessage.sent_at.is_(None))) or 0)

    def mark_sent(self, message_id: int, *, now: datetime | None = None) -> None:
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "mark the MQTT message sent") as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(sent_at=when, attempts=OutboxMessage.attempts + 1)
            )

    def mark_attempt(self, message_id: int) -> None:
        with transaction(self._maker, "count an MQTT send attempt") as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message_id).values(attempts=OutboxMessage.attempts + 1)
            )


__all__ = ["OutboxEntry", "OutboxRepository", "clean_part_id", "enqueue_result", "result_payload"]
