"""collab: collab_documents, collab_updates (Yjs update log of collaborative editing)

Revision ID: 0025_collab
Revises: 0001_core
Create Date: 2026-12-03 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import genloom.core.db

revision = "0025_collab"
down_revision = "0001_core"
branch_labels = None
depends_on = None

UPDATE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "collab_documents",
        sa.Column("doc_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("state_through", UPDATE_ID, nullable=False),
        sa.Column("synced_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("doc_id", name=op.f("pk_collab_documents")),
    )
    op.create_table(
        "collab_updates",
        sa.Column("id", UPDATE_ID, autoincrement=True, nullable=False),
        sa.Column("doc_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collab_updates")),
    )
    op.create_index("ix_collab_updates_doc_id", "collab_updates", ["doc_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_collab_updates_doc_id", table_name="collab_updates")
    op.drop_table("collab_updates")
    op.drop_table("collab_documents")
