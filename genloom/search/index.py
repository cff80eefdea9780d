"""Keeping the index current: called by the articles service inside the transaction that saves the article, so
an article and its index entry commit (or roll back) together; ``genloom reindex articles`` rebuilds all."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.search.models import ArticleSearchDoc
from genloom.search.text import segment_document


async def index_article(session: AsyncSession, article_id: str, title: str, content: str) -> None:
    """Store the article's segmented text (the engine's index follows: FTS5 triggers, generated tsvector)."""
    title_terms, body_terms = await asyncio.to_thread(segment_document, title, content)
    existing = (await session.execute(
        select(ArticleSearchDoc.id).where(ArticleSearchDoc.article_id == article_id))).scalar_one_or_none()
    if existing is None:
        session.add(ArticleSearchDoc(article_id=article_id, title_terms=title_terms, body_terms=body_terms))
    else:
        await session.execute(update(ArticleSearchDoc).where(ArticleSearchDoc.id == existing)
                              .values(title_terms=title_terms, body_terms=body_terms))
    await session.flush()


async def forget_article(session: AsyncSession, article_id: str) -> None:
    await session.execute(delete(ArticleSearchDoc).where(ArticleSearchDoc.article_id == article_id))
