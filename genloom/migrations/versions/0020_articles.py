"""genflow: articles, article_versions, article_collaborators

Revision ID: 0020_articles
Revises: 0002_identity
Create Date: 2026-12-03 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import genloom.core.db

revision = "0020_articles"
down_revision = "0002_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("published_at", genloom.core.db.UTCDateTime(), nullable=True),
        sa.Column("deleted_at", genloom.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_articles_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
    )
    op.create_index("ix_articles_author_updated", "articles", ["author_id", "deleted_at", "updated_at"])
    op.create_index("ix_articles_status_updated", "articles", ["status", "deleted_at", "updated_at"])

    op.create_table(
        "article_versions",
        sa.Column("article_id", sa.String(length=36), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=True),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE",
                                name=op.f("fk_article_versions_article_id_articles")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_article_versions_author_id_users")),
        sa.PrimaryKeyConstraint("article_id", "n", name=op.f("pk_article_versions")),
    )

    op.create_table(
        "article_collaborators",
        sa.Column("article_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("added_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE",
                                name=op.f("fk_article_collaborators_article_id_articles")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_article_collaborators_user_id_users")),
        sa.PrimaryKeyConstraint("article_id", "user_id", name=op.f("pk_article_collaborators")),
    )
    op.create_index("ix_article_collaborators_user", "article_collaborators", ["user_id", "article_id"])


def downgrade() -> None:
    op.drop_index("ix_article_collaborators_user", table_name="article_collaborators")
    op.drop_table("article_collaborators")
    op.drop_table("article_versions")
    op.drop_index("ix_articles_status_updated", table_name="articles")
    op.drop_index("ix_articles_author_updated", table_name="articles")
    op.drop_table("articles")
