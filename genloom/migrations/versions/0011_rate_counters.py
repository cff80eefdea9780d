"""rate limits: fixed-window counters with an expiry (swept by the janitor)

Revision ID: 0011_rate_counters
Revises: 0001_core
Create Date: 2026-12-03 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import genloom.core.db

revision = "0011_rate_counters"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_counters")),
    )
    op.create_index("ix_rate_counters_expires", "rate_counters", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_counters_expires", table_name="rate_counters")
    op.drop_table("rate_counters")
