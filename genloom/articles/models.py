"""Tables of articles: the live article, one row per saved version, and the users invited to edit it.

``articles.version`` is the number of the newest row in ``article_versions``; every save (create, edit,
title change, restore) appends a version, so the history is complete and a version's text never changes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base, UTCDateTime, utc_now


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    author_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    #: markdown, at most MAX_CONTENT_BYTES of UTF-8
    content: Mapped[str] = mapped_column(Text)
    #: draft | published
    status: Mapped[str] = mapped_column(String(16), default="draft")
    #: the newest version number (1 after create); the ETag derives from (id, version)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    #: first time the article became published (kept when it goes back to draft)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: soft delete; the author or an admin may restore
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_articles_author_updated", "author_id", "deleted_at", "updated_at"),
        Index("ix_articles_status_updated", "status", "deleted_at", "updated_at"),
    )


class ArticleVersion(Base):
    __tablename__ = "article_versions"

    article_id: Mapped[str] = mapped_column(String(36), ForeignKey("articles.id", ondelete="CASCADE"),
                                            primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    #: who made this change (null once that user is deleted)
    author_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("users.id", ondelete="SET NULL"),
                                                  nullable=True)
    #: a short note on the change ("restored version 3", the editor's commit message …)
    message: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ArticleCollaborator(Base):
    """A user the author invited: may read the article in any status and edit it, never publish or delete."""

    __tablename__ = "article_collaborators"

    article_id: Mapped[str] = mapped_column(String(36), ForeignKey("articles.id", ondelete="CASCADE"),
                                            primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (Index("ix_article_collaborators_user", "user_id", "article_id"),)
