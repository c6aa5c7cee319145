"""ORM models of the station (SQLAlchemy 2.x typed declarative). Portable: SQLite and PostgreSQL.

Rows hold file *paths relative to the image store* plus the file's SHA-256; the files themselves live in the
content-addressed store (see db/image_store.py). The UI never receives these ORM objects: the repository
returns plain dataclasses (db/records.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import UTCDateTime, utc_now

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

REVIEW_NONE = "none"
REVIEW_CONFIRMED_DEFECT = "confirmed_defect"
REVIEW_FALSE_ALARM = "false_alarm"
REVIEW_STATUSES = (REVIEW_NONE, REVIEW_CONFIRMED_DEFECT, REVIEW_FALSE_ALARM)
VERDICTS = ("PASS", "FAIL")
CHAT_ROLES = ("user", "assistant", "system")
USER_ROLES = ("operator", "engineer", "admin", "line")  # db/roles.py says what each may do
REVIEW_NEEDS_REVIEW = "needs_review"  # an operator's request, not a label
REVIEW_LABELS = (REVIEW_CONFIRMED_DEFECT, REVIEW_FALSE_ALARM, REVIEW_NEEDS_REVIEW)

NAME_LEN = 200
PATH_LEN = 400
SHA_LEN = 64
PART_ID_LEN = 100


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    calibration: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    threshold_override: Mapped[float | None] = mapped_column(Float, default=None)
    threshold_override_by: Mapped[str | None] = mapped_column(String(NAME_LEN), default=None)
    threshold_override_at: Mapped[datetime | None] = mapped_column(default=None)

    references: Mapped[list[ReferenceImage]] = relationship(
        back_populates="product", cascade="all, delete-orphan", passive_deletes=True, order_by="ReferenceImage.id"
    )


class ReferenceImage(Base):
    __tablename__ = "reference_images"
    __table_args__ = (
        UniqueConstraint("product_id", "image_sha256", name="uq_reference_images_product_id_image_sha256"),
        Index("ix_reference_images_product_id_active", "product_id", "active"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    image_path: Mapped[str] = mapped_column(String(PATH_LEN))
    image_sha256: Mapped[str] = mapped_column(String(SHA_LEN))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(default=utc_now)
    source: Mapped[str] = mapped_column(String(40))  # "file", "camera", "false_alarm", ...
    original_name: Mapped[str | None] = mapped_column(String(PATH_LEN), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    product: Mapped[Product] = relationship(back_populates="references")


class Inspection(Base):
    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint("verdict IN ('PASS', 'FAIL')", name="verdict"),
        CheckConstraint("review_status IN ('none', 'confirmed_defect', 'false_alarm')", name="review_status"),
        Index("ix_inspections_time", "time"),
        Index("ix_inspections_product_id_time", "product_id", "time"),
        Index("ix_inspections_verdict_time", "verdict", "time"),
        Index("ix_inspections_review_status_time", "review_status", "time"),
        Index("ix_inspections_part_id", "part_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column()
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    station: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    operator: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    source: Mapped[str] = mapped_column(String(40), default="")  # "camera", "file", "folder", "demo"
    source_name: Mapped[str | None] = mapped_column(String(PATH_LEN), default=None)  # original file name
    verdict: Mapped[str] = mapped_column(String(8))
    probability: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    threshold_overridden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    calibration_id: Mapped[str] = mapped_column(String(100), default="")
    encoder_id: Mapped[str] = mapped_column(String(100), default="")
    model_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Line mode's provenance of the verdict: "cold" (references only) or "line" (references + pool), pool size.
    mode: Mapped[str] = mapped_column(String(8), default="cold", server_default=text("'cold'"))
    pool_size: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The product's own map (core/own_map.py): how many of its parts its features were fitted on; 0 = shipped.
    adapted_parts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    part_id: Mapped[str | None] = mapped_column(String(PART_ID_LEN), default=None)  # the PLC's id of the part
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    image_path: Mapped[str] = mapped_column(String(PATH_LEN))
    image_sha256: Mapped[str] = mapped_column(String(SHA_LEN))
    heatmap_path: Mapped[str | None] = mapped_column(String(PATH_LEN), default=None)
    heatmap_sha256: Mapped[str | None] = mapped_column(String(SHA_LEN), default=None)
    regions: Mapped[list[Any]] = mapped_column(default=list)
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    review_status: Mapped[str] = mapped_column(String(20), default=REVIEW_NONE, server_default=text("'none'"))
    reviewed_by: Mapped[str | None] = mapped_column(String(NAME_LEN), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    review_note: Mapped[str | None] = mapped_column(Text, default=None)

    product: Mapped[Product] = relationship()


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant', 'system')", name="role"),
        Index("ix_chat_messages_inspection_id_time", "inspection_id", "time"),
        Index("ix_chat_messages_product_id_time", "product_id", "time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), default=None)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), default=None)
    role: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(default=utc_now)


class User(Base):
    """A person (or the line runner / PLC, role "line") who logs in. Only an argon2 hash of the password is kept."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('operator', 'engineer', 'admin', 'line')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class AuditEvent(Base):
    """One append-only, hash-chained entry of the audit trail (db/audit.py computes ``hash``)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_target", "target"),
        {"sqlite_autoincrement": True},  # ids are never reused, so a deleted last row leaves a trace
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(NAME_LEN))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(PATH_LEN), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    prev_hash: Mapped[str] = mapped_column(String(SHA_LEN))
    hash: Mapped[str] = mapped_column(String(SHA_LEN))


class Review(Base):
    """A review of an inspection. Never edited: a later review supersedes an earlier one, and the inspection's
    own verdict is never changed. ``label`` is confirmed_defect / false_alarm, or needs_review (a request)."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint("label IN ('confirmed_defect', 'false_alarm', 'needs_review')", name="label"),
        Index("ix_reviews_inspection_id_id", "inspection_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utc_now)
    by: Mapped[str] = mapped_column(String(NAME_LEN))
    label: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="SET NULL"), default=None)
    added_reference: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class StationSetting(Base):
    """A station-wide setting an admin changes (e.g. the idle logout time); every change is audited."""

    __tablename__ = "station_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)  # any JSON value
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_by: Mapped[str] = mapped_column(String(NAME_LEN), default="")


class OutboxMessage(Base):
    """A result message waiting for (or sent to) the MQTT broker, written in the inspection's own transaction, so
    a broker that is down loses nothing: the line runner sends them in id order once it is back."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_sent_at_id", "sent_at", "id"),
        {"sqlite_autoincrement": True},  # ids are never reused: their order is the order of the results
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    topic: Mapped[str] = mapped_column(String(PATH_LEN))
    payload: Mapped[dict[str, Any]] = mapped_column()
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


__all__ = [
    "CHAT_ROLES",
    "PART_ID_LEN",
    "REVIEW_CONFIRMED_DEFECT",
    "REVIEW_FALSE_ALARM",
    "REVIEW_LABELS",
    "REVIEW_NEEDS_REVIEW",
    "REVIEW_NONE",
    "REVIEW_STATUSES",
    "USER_ROLES",
    "VERDICTS",
    "AuditEvent",
    "Base",
    "ChatMessage",
    "Inspection",
    "OutboxMessage",
    "Product",
    "ReferenceImage",
    "Review",
    "StationSetting",
    "User",
]
