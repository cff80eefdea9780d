"""Articles through the service API other features call: versions, diff, restore, locking, soft delete,
collaborators and visibility for every kind of caller."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from genloom.articles import collaborators, service
from genloom.articles.errors import (
    ArticleNotFound,
    ArticleReadOnly,
    AuthorOnly,
    ContentTooLarge,
    EtagMismatch,
    VersionConflict,
    VersionRequired,
)
from genloom.articles.listing import ArticleQuery, list_articles
from genloom.articles.models import Article, ArticleVersion
from genloom.core.errors import InvalidInput
from genloom.identity.errors import NotAuthenticated
from genloom.runtime import Runtime
from tests.articles.conftest import Cast


async def _create(runtime: Runtime, cast: Cast, **kw: str) -> str:
    async with runtime.db.session() as s:
        article = await service.create_article(s, cast.author, title=kw.get("title", "草稿"),
                                               content=kw.get("content", "line one\nline two\n"),
                                               status=kw.get("status", "draft"))
        return article.id


async def test_versions_diff_and_restore(runtime: Runtime, cast: Cast) -> None:
    article_id = await _create(runtime, cast, content="a\nb\nc\n")
    async with runtime.db.session() as s:
        article = await service.save_version(s, cast.author, article_id, content="a\nB\nc\nd\n", message="edit",
                                             expected_version=1)
        assert article.version == 2
        article = await service.save_version(s, cast.author, article_id, title="新标题", if_match=service.etag_for(article))
        assert article.version == 3
    async with runtime.db.session() as s:
        versions = await service.list_versions(s, cast.author, article_id)
        assert [v.n for v in versions] == [3, 2, 1]
        assert versions[1].message == "edit" and versions[1].author_id == cast.author.user_id
        from_n, to_n, diff = await service.diff_article(s, cast.author, article_id, from_n=1, to_n=2)
        assert (from_n, to_n, diff.added, diff.removed) == (1, 2, 2, 1)
        assert "-b\n+B\n" in diff.unified and diff.unified.startswith("--- v1\n+++ v2\n")
        ops = [(ln.op, ln.text) for h in diff.hunks for ln in h.lines]
        assert ops == [("equal", "a"), ("delete", "b"), ("insert", "B"), ("equal", "c"), ("insert", "d")]
        restored = await service.restore_version(s, cast.author, article_id, 1)
        assert (restored.version, restored.content, restored.title) == (4, "a\nb\nc\n", "草稿")
    async with runtime.db.session() as s:
        v4 = await service.get_version(s, cast.author, article_id, 4)
        assert v4.message == "restored version 1" and v4.content == "a\nb\nc\n"


async def test_optimistic_locking(runtime: Runtime, cast: Cast) -> None:
    article_id = await _create(runtime, cast)
    async with runtime.db.session() as s:
        article = await service.get_visible(s, cast.author, article_id)
        stale = service.etag_for(article)
        await service.save_version(s, cast.author, article_id, content="x", expected_version=1)
    async with runtime.db.session() as s:
        with pytest.raises(EtagMismatch):
            await service.save_version(s, cast.author, article_id, content="y", if_match=stale)
    async with runtime.db.session() as s:
        with pytest.raises(VersionConflict):
            await service.save_version(s, cast.author, article_id, content="y", expected_version=1)
    async with runtime.db.session() as s:
        with pytest.raises(VersionRequired):
            await service.save_version(s, cast.author, article_id, content="y")
    async with runtime.db.read_session() as s:
        assert (await service.get_visible(s, cast.author, article_id)).content == "x"


async def test_bad_input_leaves_nothing(runtime: Runtime, cast: Cast) -> None:
    for kw, error in (({"title": ""}, InvalidInput), ({"title": "t" * 201}, InvalidInput),
                      ({"content": "字" * 400_000}, ContentTooLarge), ({"status": "live"}, InvalidInput)):
        with pytest.raises(error):
            await _create(runtime, cast, **kw)
    with pytest.raises(NotAuthenticated):
        async with runtime.db.session() as s:
            await service.create_article(s, cast.anonymous, title="t", content="c")
    article_id = await _create(runtime, cast)
    with pytest.raises(ContentTooLarge):
        async with runtime.db.session() as s:
            await service.save_version(s, cast.author, article_id, content="x" * (1024 * 1024 + 1),
                                       expected_version=1)
    async with runtime.db.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(Article))).scalar_one() == 1
        assert (await s.execute(select(func.count()).select_from(ArticleVersion))).scalar_one() == 1


async def test_visibility_and_rights_for_each_caller(runtime: Runtime, cast: Cast) -> None:
    draft = await _create(runtime, cast, title="draft")
    published = await _create(runtime, cast, title="published", status="published")
    async with runtime.db.session() as s:
        await collaborators.add_collaborator(s, cast.author, draft, cast.collaborator.user_id or "")
    async with runtime.db.session() as s:
        for who, reads_draft, writes_draft in ((cast.author, True, True), (cast.collaborator, True, True),
                                               (cast.admin, True, True), (cast.other, False, False),
                                               (cast.anonymous, False, False)):
            assert await service.can_read(s, who, draft) is reads_draft, who
            assert await service.can_write(s, who, draft) is writes_draft, who
            assert await service.can_read(s, who, published) is True
        assert not await service.can_write(s, cast.other, published)
        assert not await service.can_write(s, cast.collaborator, published)  # shared the draft only
    async with runtime.db.session() as s:
        with pytest.raises(ArticleNotFound):
            await service.save_version(s, cast.other, draft, content="x", expected_version=1)
    async with runtime.db.session() as s:
        with pytest.raises(ArticleReadOnly):
            await service.save_version(s, cast.other, published, content="x", expected_version=1)
    async with runtime.db.session() as s:
        with pytest.raises(AuthorOnly):
            await service.update_meta(s, cast.collaborator, draft, status="published")
    async with runtime.db.session() as s:
        with pytest.raises(AuthorOnly):
            await service.delete_article(s, cast.collaborator, draft)
    async with runtime.db.session() as s:
        edited = await service.update_meta(s, cast.collaborator, draft, title="renamed by collaborator")
        assert edited.version == 2
    async with runtime.db.read_session() as s:
        for who, expected in ((cast.author, {draft, published}), (cast.collaborator, {draft, published}),
                              (cast.admin, {draft, published}), (cast.other, {published}),
                              (cast.anonymous, {published})):
            items, more = await list_articles(s, who, ArticleQuery())
            assert {a.id for a in items} == expected and not more


async def test_soft_delete_and_restore(runtime: Runtime, cast: Cast) -> None:
    article_id = await _create(runtime, cast, status="published")
    async with runtime.db.session() as s:
        await service.delete_article(s, cast.author, article_id)
    async with runtime.db.session() as s:
        for who in (cast.author, cast.other, cast.admin):
            assert not await service.can_read(s, who, article_id)
        with pytest.raises(ArticleNotFound):
            await service.restore_article(s, cast.other, article_id)
        items, _ = await list_articles(s, cast.author, ArticleQuery(status="deleted"))
        assert [a.id for a in items] == [article_id]
        items, _ = await list_articles(s, cast.other, ArticleQuery(status="deleted"))
        assert items == []
    async with runtime.db.session() as s:
        await service.restore_article(s, cast.admin, article_id)
    async with runtime.db.read_session() as s:
        assert await service.can_read(s, cast.other, article_id)


async def test_list_paging_and_filters(runtime: Runtime, cast: Cast) -> None:
    ids = [await _create(runtime, cast, title=f"Title {i}", status="published" if i % 2 else "draft")
           for i in range(5)]
    async with runtime.db.read_session() as s:
        page, more = await list_articles(s, cast.author, ArticleQuery(limit=2))
        assert [a.id for a in page] == ids[::-1][:2] and more
        page2, _ = await list_articles(s, cast.author, ArticleQuery(limit=2, after_id=page[-1].id))
        assert [a.id for a in page2] == ids[::-1][2:4]
        drafts, _ = await list_articles(s, cast.author, ArticleQuery(status="draft"))
        assert len(drafts) == 3
        found, _ = await list_articles(s, cast.other, ArticleQuery(q="title 3", author="me"))
        assert found == []
        found, _ = await list_articles(s, cast.other, ArticleQuery(q="TITLE 3", author=cast.author.user_id))
        assert [a.id for a in found] == [ids[3]]
