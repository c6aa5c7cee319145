"""The audit trail: append-only, hash-chained events in the table ``audit_events``.

Each row holds ``hash = SHA-256(canonical JSON of its id, at, actor, action, target, before, after, reason and
prev_hash)``, where ``prev_hash`` is the previous row's hash (64 zeros for the first row). :func:`verify_chain`
walks the rows in id order and returns the id of the first row that does not fit:

- a changed column of row N: row N's hash no longer matches its content (a changed ``prev_hash`` or ``hash``
  column shows the same way);
- a deleted row N: row N+1's ``prev_hash`` no longer matches the row before it;
- an inserted row: its hash, or its ``prev_hash``, or the next row's ``prev_hash`` does not match;
- deleted LAST rows: on SQLite the table's AUTOINCREMENT counter (``sqlite_sequence``) is ahead of the last id,
  and the first missing id is returned. On other backends this case needs the head printed by
  ``main.py audit verify`` kept somewhere else (a plant's daily log, a printout).

The chain is keyless: someone who rewrites the database *and* recomputes every hash after his change is not
detected by the chain alone. Comparing the head hash with a copy kept outside the station detects that too.

Events are appended in the same transaction as the change they describe (``append_event(session, ...)``), so a
change and its event are committed together or not at all. The new row is inserted first (on SQLite that takes the
write lock; on PostgreSQL the table is locked), then the previous row is read: two stations sharing one database
cannot fork the chain.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Text, func, select, text, type_coerce
from sqlalchemy.orm import Session, sessionmaker

from .models import NAME_LEN, PATH_LEN, AuditEvent
from .session import reading
from .types import ensure_utc, utc_now

GENESIS_HASH = "0" * 64
HASHED_FIELDS = ("id", "at", "actor", "action", "target", "before", "after", "reason", "prev_hash")


# -- actions recorded ----------------------------------------------------------------------------------------
LOGIN = "login"
LOGOUT = "logout"
LOGIN_FAILED = "login_failed"
USER_ADDED = "user_added"
USER_DISABLED = "user_disabled"
USER_ENABLED = "user_enabled"
USER_ROLE_CHANGED = "user_role_changed"
PASSWORD_CHANGED = "password_changed"
PRODUCT_CREATED = "product_created"
PRODUCT_RENAMED = "product_renamed"
PRODUCT_DELETED = "product_deleted"
PRODUCT_SETTINGS_CHANGED = "product_settings_changed"
PRODUCT_RECALIBRATED = "product_recalibrated"
REFERENCE_ADDED = "reference_added"
REFERENCE_REMOVED = "reference_removed"
REFERENCE_ACTIVATED = "reference_activated"
REFERENCE_DEACTIVATED = "reference_deactivated"
THRESHOLD_OVERRIDE = "threshold_override"
MARKED_FOR_REVIEW = "marked_for_review"
REVIEWED = "review"
RELABELLED = "relabel"
EXPORTED = "export"
SETTING_CHANGED = "setting_changed"


@dataclass(frozen=True)
class AuditEventInfo:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: Any
    after: Any
    reason: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    """The first row of the audit trail that does not fit the chain, and why."""

    id: int
    problem: str

    def __str__(self) -> str:
        return f"audit row #{self.id}: {self.problem}"


def json_value(value: Any) -> Any:
    """A plain JSON value (numpy scalars -> Python numbers, tuples -> lists, NaN/inf -> None, others -> str)."""
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [json_value(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return _time_text(value)
    return str(value)


def _time_text(value: datetime) -> str:
    return ensure_utc(value, "at").isoformat(timespec="microseconds")


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """The exact bytes a row's hash covers: sorted-key, compact, ASCII JSON of the hashed fields."""
    doc = {
        "id": int(fields["id"]),
        "at": _time_text(fields["at"]),
        "actor": str(fields["actor"] or ""),
        "action": str(fields["action"] or ""),
        "target": str(fields["target"] or ""),
        "before": json_value(fields.get("before")),
        "after": json_value(fields.get("after")),
        "reason": fields.get("reason"),
        "prev_hash": str(fields["prev_hash"] or ""),
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def row_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


def _fields(row: AuditEvent) -> dict[str, Any]:
    return {name: getattr(row, name) for name in HASHED_FIELDS}


def _clip(value: Any, length: int) -> str:
    text_value = " ".join(str(value or "").split())
    return text_value if len(text_value) <= length else text_value[: length - 1] + "…"


def append_event(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str = "",
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (it commits with the change it describes)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE audit_events IN EXCLUSIVE MODE"))  # one appender at a time
    when = ensure_utc(at or utc_now(), "at")
    row = AuditEvent(
        at=when,
        actor=_clip(actor, NAME_LEN) or "?",
        action=_clip(action, 60),
        target=_clip(target, PATH_LEN),
        before=json_value(before),
        after=json_value(after),
        reason=(str(reason).strip() or None) if reason is not None else None,
        prev_hash="",
        hash="",
    )
    session.add(row)
    session.flush()  # the INSERT: from here on this transaction holds the write lock (SQLite)
    prev = session.scalar(select(AuditEvent.hash).where(AuditEvent.id < row.id).order_by(AuditEvent.id.desc()).limit(1))
    row.prev_hash = prev if prev is not None else GENESIS_HASH
    row.hash = row_hash(_fields(row))
    session.flush()
    return row


def event_info(row: AuditEvent) -> AuditEventInfo:
    return AuditEventInfo(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        before=row.before,
        after=row.after,
        reason=row.reason,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _sqlite_sequence(session: Session) -> int | None:
    if session.get_bind().dialect.name != "sqlite":
        return None
    try:
        value = session.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'")).scalar()
    except Exception:  # noqa: BLE001 - no AUTOINCREMENT table has been written yet: no sqlite_sequence
        return None
    return int(value) if value is not None else None


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parse_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _raw_rows(session: Session) -> Any:
    """The rows as stored, in id order. On SQLite the time and JSON columns are read as text and parsed here, so a
    value someone wrote by hand that no longer parses marks its row as changed instead of stopping the walk."""
    columns: list[Any] = [getattr(AuditEvent, name) for name in HASHED_FIELDS] + [AuditEvent.hash]
    if session.get_bind().dialect.name == "sqlite":
        columns[1] = type_coerce(AuditEvent.at, String()).label("at")
        columns[5] = type_coerce(AuditEvent.before, Text()).label("before")
        columns[6] = type_coerce(AuditEvent.after, Text()).label("after")
    return session.execute(select(*columns).order_by(AuditEvent.id).execution_options(yield_per=500))


def find_break(session: Session) -> ChainBreak | None:
    """Walk the whole chain in id order; the first row that does not fit, or None when it is intact."""
    expected_prev = GENESIS_HASH
    last_id = 0
    for row in _raw_rows(session):
        fields = dict(zip(HASHED_FIELDS, row[: len(HASHED_FIELDS)], strict=False))
        stored_hash = row[len(HASHED_FIELDS)]
        if fields["prev_hash"] != expected_prev:
            problem = (
                "the first row does not start the chain (rows before it were deleted, or it was inserted)"
                if last_id == 0
                else f"its prev_hash does not match row #{last_id}'s hash: a row between them was deleted or "
                "inserted, or one of them was changed"
            )
            return ChainBreak(fields["id"], problem)
        try:
            fields["at"] = _parse_time(fields["at"])
            fields["before"] = _parse_json(fields["before"])
            fields["after"] = _parse_json(fields["after"])
            recomputed = row_hash(fields)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            return ChainBreak(fields["id"], f"its content cannot be read ({exc}): it was changed")
        if recomputed != stored_hash:
            return ChainBreak(fields["id"], "its content does not match its hash: it was changed after it was written")
        expected_prev = stored_hash
        last_id = fields["id"]
    seq = _sqlite_sequence(session)
    if seq is not None and seq > last_id:
        first = last_id + 1
        return ChainBreak(first, f"rows #{first} to #{seq} were deleted (the trail had reached #{seq})")
    return None


class AuditTrail:
    """Reading and checking the audit trail. Appending happens inside the changes themselves (append_event)."""

    def __init__(self, maker: sessionmaker[Session]) -> None:
        self._maker = maker

    def verify(self) -> ChainBreak | None:
        """The first row that does not fit the chain (with the reason), or None when the trail is intact."""
        with reading(self._maker, "check the audit trail") as session:
            return find_break(session)

    def verify_chain(self) -> int | None:
        """The id of the first row that does not fit the chain, or None when the trail is intact."""
        broken = self.verify()
        return broken.id if broken is not None else None

    def head(self) -> AuditEventInfo | None:
        """The newest event (its hash, kept outside the station, lets a later check prove nothing was rewritten)."""
        with reading(self._maker, "read the audit trail") as session:
            row = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
            return event_info(row) if row is not None else None

    def count(self) -> int:
        with reading(self._maker, "read the audit trail") as session:
            return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    def list(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = 500,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[AuditEventInfo]:
        """Events matching every given filter (``end`` exclusive, ``target`` exact or a ``prefix:``)."""
        query = select(AuditEvent)
        if actor is not None:
            query = query.where(AuditEvent.actor == actor)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        if target is not None:
            query = query.where(
                AuditEvent.target.startswith(target) if target.endswith(":") else AuditEvent.target == target
            )
        if start is not None:
            query = query.where(AuditEvent.at >= ensure_utc(start, "start"))
        if end is not None:
            query = query.where(AuditEvent.at < ensure_utc(end, "end"))
        query = query.order_by(AuditEvent.id.desc() if newest_first else AuditEvent.id)
        if limit is not None:
            query = query.limit(int(limit)).offset(int(offset))
        with reading(self._maker, "read the audit trail") as session:
            return [event_info(r) for r in session.scalars(query).all()]


__all__ = [
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "AuditEventInfo",
    "AuditTrail",
    "ChainBreak",
    "append_event",
    "canonical_bytes",
    "find_break",
    "json_value",
    "row_hash",
]
