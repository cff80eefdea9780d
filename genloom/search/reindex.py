"""Rebuilding the index from the articles: every article's text is segmented again (after a jieba upgrade or
a change of the rules in :mod:`genloom.search.text`), index rows of vanished articles are dropped, and on
SQLite the FTS5 table is rebuilt from its content table."""

from __future__ import annotations

from sqlalchemy import delete, select, text
from sqlalchemy.orm import load_only

from genloom.articles.models import Article
from genloom.core.db import Database
from genloom.search.index import index_article
from genloom.search.models import ArticleSearchDoc

BATCH = 200


async def reindex_articles(db: Database) -> int:
    """Re-segment every article (deleted ones too: a restore must find them indexed); returns how many."""
    done = 0
    after = ""
    while True:
        async with db.session() as session:
            batch = list((await session.execute(
                select(Article).options(load_only(Article.id, Article.title, Article.content))
                .where(Article.id > after).order_by(Article.id).limit(BATCH))).scalars().all())
            for article in batch:
                await index_article(session, article.id, article.title, article.content)
        if not batch:
            break
        done += len(batch)
        after = batch[-1].id
    async with db.session() as session:
        await session.execute(delete(ArticleSearchDoc).where(ArticleSearchDoc.article_id.not_in(select(Article.id))))
        if db.is_sqlite:
            await session.execute(text("INSERT INTO article_search_fts(article_search_fts) VALUES ('rebuild')"))
    return done
