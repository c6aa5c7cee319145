"""Line mode's provenance on each inspection: whether the verdict came from the references alone ("cold") or from
the references and the product's pool of recent parts ("line"), and how many parts the pool held.

Revision ID: 0003_line_mode
Revises: 0002_users_audit
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_line_mode"
down_revision: str | None = "0002_users_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (a constant default is allowed on SQLite): no table rebuild, rows keep "cold" / 0.
    op.add_column(
        "inspections", sa.Column("mode", sa.String(length=8), nullable=False, server_default=sa.text("'cold'"))
    )
    op.add_column("inspections", sa.Column("pool_size", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("inspections") as batch:
        batch.drop_column("pool_size")
        batch.drop_column("mode")
