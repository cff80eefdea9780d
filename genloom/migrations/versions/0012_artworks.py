"""artworks: artworks, artwork_uploads (presigned keys), artwork_generations (phase checkpoints)

Revision ID: 0012_artworks
Revises: 0001_core
Create Date: 2026-12-03 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import genloom.core.db

revision = "0012_artworks"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def _asset(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=36), sa.ForeignKey("assets.id", ondelete="SET NULL",
                                                                  name=f"fk_artworks_{name}_assets"), nullable=True)


def upgrade() -> None:
    op.create_table(
        "artworks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        _asset("cover_asset_id"), _asset("thumb_asset_id"), _asset("audio_asset_id"), _asset("video_asset_id"),
        _asset("poster_asset_id"),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("transcript_source", sa.String(length=16), nullable=True),
        sa.Column("story", sa.Text(), nullable=True),
        sa.Column("video_prompt", sa.Text(), nullable=True),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artworks")),
    )
    op.create_index("ix_artworks_owner_status", "artworks", ["owner_id", "status", "id"])
    op.create_index("ix_artworks_status_created", "artworks", ["status", "created_at"])
    op.create_table(
        "artwork_uploads",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=False),
        sa.Column("artwork_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["artwork_id"], ["artworks.id"], ondelete="CASCADE",
                                name=op.f("fk_artwork_uploads_artwork_id_artworks")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_artwork_uploads")),
        sa.UniqueConstraint("artwork_id", "type", "version", name="uq_artwork_uploads_version"),
    )
    op.create_index("ix_artwork_uploads_state_created", "artwork_uploads", ["state", "created_at"])
    op.create_index("ix_artwork_uploads_artwork", "artwork_uploads", ["artwork_id"])
    op.create_table(
        "artwork_generations",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=False),
        sa.Column("artwork_id", sa.String(length=36), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("transcript_source", sa.String(length=16), nullable=True),
        sa.Column("story", sa.Text(), nullable=True),
        sa.Column("video_prompt", sa.Text(), nullable=True),
        sa.Column("provider_task_id", sa.String(length=128), nullable=True),
        sa.Column("video_asset_id", sa.String(length=36), nullable=True),
        sa.Column("poster_asset_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["artwork_id"], ["artworks.id"], ondelete="CASCADE",
                                name=op.f("fk_artwork_generations_artwork_id_artworks")),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_artwork_generations")),
    )
    op.create_index("ix_artwork_generations_artwork", "artwork_generations", ["artwork_id", "created_at"])


def downgrade() -> None:
    op.drop_table("artwork_generations")
    op.drop_table("artwork_uploads")
    op.drop_table("artworks")
