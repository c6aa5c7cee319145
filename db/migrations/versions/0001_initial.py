"""Initial schema: products, reference images, inspections, chat messages.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("calibration", sa.JSON(), nullable=True),
        sa.Column("threshold_override", sa.Float(), nullable=True),
        sa.Column("threshold_override_by", sa.String(length=200), nullable=True),
        sa.Column("threshold_override_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("name", name=op.f("uq_products_name")),
    )
    op.create_table(
        "reference_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("image_path", sa.String(length=400), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("original_name", sa.String(length=400), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_reference_images_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_images")),
        sa.UniqueConstraint("product_id", "image_sha256", name="uq_reference_images_product_id_image_sha256"),
    )
    op.create_index("ix_reference_images_product_id_active", "reference_images", ["product_id", "active"])
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time", TS, nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("station", sa.String(length=200), nullable=False),
        sa.Column("operator", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("source_name", sa.String(length=400), nullable=True),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("threshold_overridden", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("calibration_id", sa.String(length=100), nullable=False),
        sa.Column("encoder_id", sa.String(length=100), nullable=False),
        sa.Column("model_ids", sa.JSON(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("image_path", sa.String(length=400), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("heatmap_path", sa.String(length=400), nullable=True),
        sa.Column("heatmap_sha256", sa.String(length=64), nullable=True),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("review_status", sa.String(length=20), server_default=sa.text("'none'"), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.CheckConstraint("verdict IN ('PASS', 'FAIL')", name=op.f("ck_inspections_verdict")),
        sa.CheckConstraint(
            "review_status IN ('none', 'confirmed_defect', 'false_alarm')", name=op.f("ck_inspections_review_status")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_inspections_product_id_products"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
    )
    op.create_index("ix_inspections_time", "inspections", ["time"])
    op.create_index("ix_inspections_product_id_time", "inspections", ["product_id", "time"])
    op.create_index("ix_inspections_verdict_time", "inspections", ["verdict", "time"])
    op.create_index("ix_inspections_review_status_time", "inspections", ["review_status", "time"])
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("time", TS, nullable=False),
        sa.CheckConstraint("role IN ('user', 'assistant', 'system')", name=op.f("ck_chat_messages_role")),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name=op.f("fk_chat_messages_inspection_id_inspections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_chat_messages_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    op.create_index("ix_chat_messages_inspection_id_time", "chat_messages", ["inspection_id", "time"])
    op.create_index("ix_chat_messages_product_id_time", "chat_messages", ["product_id", "time"])


def downgrade() -> None:
    op.drop_index("ix_chat_messages_product_id_time", table_name="chat_messages")
    op.drop_index("ix_chat_messages_inspection_id_time", table_name="chat_messages")
    op.drop_table("chat_messages")
    op.drop_index("ix_inspections_review_status_time", table_name="inspections")
    op.drop_index("ix_inspections_verdict_time", table_name="inspections")
    op.drop_index("ix_inspections_product_id_time", table_name="inspections")
    op.drop_index("ix_inspections_time", table_name="inspections")
    op.drop_table("inspections")
    op.drop_index("ix_reference_images_product_id_active", table_name="reference_images")
    op.drop_table("reference_images")
    op.drop_table("products")
