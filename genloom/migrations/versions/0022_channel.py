"""genflow: channel_rooms, channel_messages (realtime channel history)

Revision ID: 0022_channel
Revises: 0001_core
Create Date: 2026-12-03 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import genloom.core.db

revision = "0022_channel"
down_revision = "0001_core"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "channel_rooms",
        sa.Column("room", sa.String(length=160), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("room", name=op.f("pk_channel_rooms")),
    )
    op.create_table(
        "channel_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("room", sa.String(length=160), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_user", sa.String(length=36), nullable=True),
        sa.Column("sender_client", sa.String(length=64), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_messages")),
        sa.UniqueConstraint("room", "seq", name="uq_channel_messages_room_seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_channel_messages_created", "channel_messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_channel_messages_created", table_name="channel_messages")
    op.drop_table("channel_messages")
    op.drop_table("channel_rooms")
