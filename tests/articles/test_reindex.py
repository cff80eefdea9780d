"""``genloom reindex articles`` rebuilds a lost or stale index on both engines."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner
from sqlalchemy import delete, update

from genloom.articles import service
from genloom.cli import main
from genloom.runtime import Runtime
from genloom.search.models import ArticleSearchDoc
from genloom.search.service import search_articles
from tests.articles.conftest import Cast


async def _found(runtime: Runtime, cast: Cast, q: str) -> int:
    async with runtime.db.read_session() as s:
        return len((await search_articles(s, cast.author, q))[0])


async def test_reindex_rebuilds_lost_and_stale_entries(runtime: Runtime, cast: Cast, database_url: str) -> None:
    async with runtime.db.session() as s:
        for i in range(3):
            await service.create_article(s, cast.author, title=f"第{i}篇", content="关于深度学习的笔记")
    assert await _found(runtime, cast, "深度学习") == 3
    async with runtime.db.session() as s:
        first = (await s.execute(ArticleSearchDoc.__table__.select().limit(1))).first()
        assert first is not None
        await s.execute(update(ArticleSearchDoc).where(ArticleSearchDoc.id == first.id).values(body_terms="stale"))
        await s.execute(delete(ArticleSearchDoc).where(ArticleSearchDoc.id != first.id))
    assert await _found(runtime, cast, "深度学习") == 0
    env = {"GENLOOM_DATABASE_URL": database_url, "GENLOOM_ENV": "test"}
    result = await asyncio.to_thread(CliRunner().invoke, main, ["reindex", "articles"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "reindexed 3 articles"
    assert await _found(runtime, cast, "深度学习") == 3
    assert await _found(runtime, cast, "stale") == 0
