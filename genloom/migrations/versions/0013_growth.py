"""growth: ai_analyses (one per artwork), growth_profiles (one per owner)

Revision ID: 0013_growth
Revises: 0012_artworks
Create Date: 2026-12-03 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import genloom.core.db

revision = "0013_growth"
down_revision = "0012_artworks"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ai_analyses",
        sa.Column("artwork_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("boxes", JSON, nullable=False),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("abilities", JSON, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["artwork_id"], ["artworks.id"], ondelete="CASCADE",
                                name=op.f("fk_ai_analyses_artwork_id_artworks")),
        sa.PrimaryKeyConstraint("artwork_id", name=op.f("pk_ai_analyses")),
    )
    op.create_index("ix_ai_analyses_owner_status", "ai_analyses", ["owner_id", "status"])
    op.create_table(
        "growth_profiles",
        sa.Column("owner_id", sa.String(length=80), nullable=False),
        sa.Column("nickname", sa.String(length=40), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("avatar_asset_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["avatar_asset_id"], ["assets.id"], ondelete="SET NULL",
                                name=op.f("fk_growth_profiles_avatar_asset_id_assets")),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_growth_profiles")),
    )


def downgrade() -> None:
    op.drop_table("growth_profiles")
    op.drop_index("ix_ai_analyses_owner_status", table_name="ai_analyses")
    op.drop_table("ai_analyses")
