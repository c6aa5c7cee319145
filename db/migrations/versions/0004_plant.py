"""On the line: each inspection keeps the PLC's part id, and result messages wait in a durable MQTT outbox.

``inspections.part_id`` is a plain ADD COLUMN (nullable: rows of the window have none). ``outbox_messages`` holds
each result's JSON message, written in the inspection's own transaction and marked sent once the broker
acknowledged it (line/mqtt/publisher.py).

Revision ID: 0004_plant
Revises: 0003_line_mode
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_plant"
down_revision: str | None = "0003_line_mode"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("inspections", sa.Column("part_id", sa.String(length=100), nullable=True))
    op.create_index("ix_inspections_part_id", "inspections", ["part_id"])
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("topic", sa.String(length=400), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name=op.f("fk_outbox_messages_inspection_id_inspections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_messages_sent_at_id", "outbox_messages", ["sent_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_sent_at_id", table_name="outbox_messages")
    op.drop_table("outbox_messages")
    op.drop_index("ix_inspections_part_id", table_name="inspections")
    with op.batch_alter_table("inspections") as batch:
        batch.drop_column("part_id")
