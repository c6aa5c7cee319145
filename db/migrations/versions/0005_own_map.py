"""Line mode's own map on each inspection: how many of the product's own parts its features were fitted on (0: the
shipped features; core/own_map.py). A plain ADD COLUMN with a constant default: earlier rows keep 0.

Revision ID: 0005_own_map
Revises: 0004_plant
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_own_map"
down_revision: str | None = "0004_plant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("inspections", sa.Column("adapted_parts", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("inspections") as batch:
        batch.drop_column("adapted_parts")
