"""identity: users, clients, refresh_tokens; ratings of subtasks

Revision ID: 0002_identity
Revises: 0001_core
Create Date: 2026-11-23 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import genloom.core.db

revision = "0002_identity"
down_revision = "0001_core"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("preferences", JSON, nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", genloom.core.db.UTCDateTime(), nullable=True),
        sa.Column("last_login_at", genloom.core.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    # unique without regard to case; NULL emails do not collide on either database
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)

    op.create_table(
        "clients",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("first_seen_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
    )

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("family_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("issued_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", genloom.core.db.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", genloom.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_refresh_tokens_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
    )
    op.create_index("ix_refresh_tokens_user", "refresh_tokens", ["user_id"], unique=False)
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["family_id"], unique=False)
    op.create_index("ix_refresh_tokens_expires", "refresh_tokens", ["expires_at"], unique=False)

    op.create_table(
        "ratings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_ratings_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("job_id", name=op.f("uq_ratings_job_id")),
    )
    op.create_index("ix_ratings_owner", "ratings", ["owner_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ratings_owner", table_name="ratings")
    op.drop_table("ratings")
    op.drop_index("ix_refresh_tokens_expires", table_name="refresh_tokens")
    op.drop_index("ix_refresh_tokens_family", table_name="refresh_tokens")
    op.drop_index("ix_refresh_tokens_user", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_table("clients")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_index("uq_users_username_lower", table_name="users")
    op.drop_table("users")
