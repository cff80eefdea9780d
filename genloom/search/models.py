"""The search index's content table: one row of segmented text per article.

The engines' own structures are created by the migration, not by this model: on SQLite an FTS5
external-content table ``article_search_fts`` over this table (kept in sync by triggers), on PostgreSQL a
generated ``tsv`` column (title weighted A, body B) with a GIN index.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base


class ArticleSearchDoc(Base):
    __tablename__ = "article_search"

    #: integer key: FTS5's external content is addressed by rowid
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(String(36), ForeignKey("articles.id", ondelete="CASCADE"), unique=True)
    title_terms: Mapped[str] = mapped_column(Text, default="")
    body_terms: Mapped[str] = mapped_column(Text, default="")
