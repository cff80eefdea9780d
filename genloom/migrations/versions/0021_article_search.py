"""genflow: article_search (segmented text) + SQLite FTS5 external-content index / PostgreSQL tsvector + GIN

Revision ID: 0021_article_search
Revises: 0020_articles
Create Date: 2026-12-03 11:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_article_search"
down_revision = "0020_articles"
branch_labels = None
depends_on = None

#: FTS5 external content: the index stores no text of its own; triggers mirror every change of article_search
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE article_search_fts USING fts5("
    "title_terms, body_terms, content='article_search', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER article_search_ai AFTER INSERT ON article_search BEGIN "
    "INSERT INTO article_search_fts(rowid, title_terms, body_terms) "
    "VALUES (new.id, new.title_terms, new.body_terms); END",
    "CREATE TRIGGER article_search_ad AFTER DELETE ON article_search BEGIN "
    "INSERT INTO article_search_fts(article_search_fts, rowid, title_terms, body_terms) "
    "VALUES ('delete', old.id, old.title_terms, old.body_terms); END",
    "CREATE TRIGGER article_search_au AFTER UPDATE ON article_search BEGIN "
    "INSERT INTO article_search_fts(article_search_fts, rowid, title_terms, body_terms) "
    "VALUES ('delete', old.id, old.title_terms, old.body_terms); "
    "INSERT INTO article_search_fts(rowid, title_terms, body_terms) "
    "VALUES (new.id, new.title_terms, new.body_terms); END",
]

#: the terms are segmented already: the 'simple' configuration only splits on spaces and lower-cases
PG_TSV = [
    "ALTER TABLE article_search ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple', title_terms), 'A') || "
    "setweight(to_tsvector('simple', body_terms), 'B')) STORED",
    "CREATE INDEX ix_article_search_tsv ON article_search USING gin (tsv)",
]


def upgrade() -> None:
    op.create_table(
        "article_search",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(length=36), nullable=False),
        sa.Column("title_terms", sa.Text(), nullable=False),
        sa.Column("body_terms", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE",
                                name=op.f("fk_article_search_article_id_articles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_search")),
        sa.UniqueConstraint("article_id", name=op.f("uq_article_search_article_id")),
    )
    statements = SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else PG_TSV
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("article_search_au", "article_search_ad", "article_search_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS article_search_fts")
    op.drop_table("article_search")
