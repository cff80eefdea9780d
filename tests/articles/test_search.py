"""Search through the service on both engines: Chinese, English and mixed text, ranking, snippets, visibility,
the index kept in step with every save, and a rebuild."""

from __future__ import annotations

import pytest

from genloom.articles import service
from genloom.core.errors import InvalidInput
from genloom.runtime import Runtime
from genloom.search.service import search_articles
from tests.articles.conftest import Cast


async def _article(runtime: Runtime, cast: Cast, title: str, content: str, status: str = "published") -> str:
    async with runtime.db.session() as s:
        return (await service.create_article(s, cast.author, title=title, content=content, status=status)).id


async def _ids(runtime: Runtime, who: object, q: str) -> list[str]:
    async with runtime.db.read_session() as s:
        hits, _ = await search_articles(s, who, q)  # type: ignore[arg-type]
        return [h.id for h in hits]


async def test_chinese_english_and_mixed(runtime: Runtime, cast: Cast) -> None:
    ai = await _article(runtime, cast, "技术趋势", "本文讨论人工智能的发展与未来。")
    run = await _article(runtime, cast, "Weekend notes", "She was Running along the river, happily.")
    mixed = await _article(runtime, cast, "混合 Mixed", "使用 GPU 训练深度学习模型 training models fast")
    assert await _ids(runtime, cast.other, "人工智能") == [ai]
    assert await _ids(runtime, cast.other, "智") == [ai]  # one Han character
    assert await _ids(runtime, cast.other, "发展") == [ai]
    assert await _ids(runtime, cast.other, "runs") == [run]  # stemmed
    assert await _ids(runtime, cast.other, "RUNNING") == [run]  # case-folded
    assert await _ids(runtime, cast.other, "gpu 模型") == [mixed]
    assert await _ids(runtime, cast.other, "train 深度学习") == [mixed]
    assert await _ids(runtime, cast.other, "人工智能 river") == []  # every word must match


async def test_title_ranks_above_body_and_snippets_mark_hits(runtime: Runtime, cast: Cast) -> None:
    body = await _article(runtime, cast, "杂谈", "今天聊聊机器学习，以及<b>别的</b>东西。" + "填充文字。" * 30)
    title = await _article(runtime, cast, "机器学习入门", "从零开始。")
    async with runtime.db.read_session() as s:
        hits, more = await search_articles(s, cast.other, "机器学习")
    assert [h.id for h in hits] == [title, body] and not more
    assert hits[0].score > hits[1].score > 0
    assert "<mark>机器学习</mark>" in hits[1].snippet
    assert "&lt;b&gt;别的&lt;/b&gt;" in hits[1].snippet and "<b>" not in hits[1].snippet
    async with runtime.db.read_session() as s:
        hits, _ = await search_articles(s, cast.other, "running")
    assert hits == []
    await _article(runtime, cast, "Runner", "The runners kept running.")
    async with runtime.db.read_session() as s:
        hits, _ = await search_articles(s, cast.other, "run")
    assert "<mark>running</mark>" in hits[0].snippet


async def test_private_drafts_are_never_found_by_others(runtime: Runtime, cast: Cast) -> None:
    draft = await _article(runtime, cast, "秘密计划", "尚未发布的秘密计划", status="draft")
    assert await _ids(runtime, cast.author, "秘密") == [draft]
    assert await _ids(runtime, cast.admin, "秘密") == [draft]
    assert await _ids(runtime, cast.other, "秘密") == []
    assert await _ids(runtime, cast.anonymous, "秘密") == []
    async with runtime.db.session() as s:
        from genloom.articles import collaborators

        await collaborators.add_collaborator(s, cast.author, draft, cast.collaborator.user_id or "")
    assert await _ids(runtime, cast.collaborator, "秘密") == [draft]
    async with runtime.db.session() as s:
        await service.delete_article(s, cast.author, draft)
    assert await _ids(runtime, cast.author, "秘密") == []


async def test_index_follows_every_save_in_the_same_transaction(runtime: Runtime, cast: Cast) -> None:
    article_id = await _article(runtime, cast, "Draft", "apples")
    async with runtime.db.session() as s:
        await service.save_version(s, cast.author, article_id, content="bananas", expected_version=1)
    assert await _ids(runtime, cast.other, "banana") == [article_id]
    assert await _ids(runtime, cast.other, "apple") == []
    with pytest.raises(RuntimeError):
        async with runtime.db.session() as s:
            await service.save_version(s, cast.author, article_id, content="cherries", expected_version=2)
            raise RuntimeError("the request failed after the save")
    assert await _ids(runtime, cast.other, "cherry") == []
    assert await _ids(runtime, cast.other, "banana") == [article_id]
    async with runtime.db.session() as s:
        await service.restore_version(s, cast.author, article_id, 1)
    assert await _ids(runtime, cast.other, "apple") == [article_id]


async def test_paging_and_bad_queries(runtime: Runtime, cast: Cast) -> None:
    ids = {await _article(runtime, cast, f"报告 {i}", "季度报告") for i in range(5)}
    seen: list[str] = []
    async with runtime.db.read_session() as s:
        offset = 0
        while True:
            hits, more = await search_articles(s, cast.other, "报告", offset=offset, limit=2)
            seen += [h.id for h in hits]
            offset += len(hits)
            if not more:
                break
        assert sorted(seen) == sorted(ids) and len(seen) == 5
        for q, limit in (("", 10), ("x" * 201, 10), ("报告", 0), ("报告", 51)):
            with pytest.raises(InvalidInput):
                await search_articles(s, cast.other, q, limit=limit)
        # no searchable word (punctuation, symbols): nothing matches, the query is not an error
        assert await search_articles(s, cast.other, "!!! ，。") == ([], False)
        hits, _ = await search_articles(s, cast.other, '"报告" | & \' * ( NEAR')
        assert hits == []  # operators are words to match ("near"), never syntax
        hits, _ = await search_articles(s, cast.other, '"报告" | & \' * (')
        assert len(hits) == 5


async def test_a_chinese_word_matches_its_characters_side_by_side_not_scattered(runtime: Runtime, cast: Cast) -> None:
    """A word the article's segmentation split differently still matches (its characters stand together), but an
    article that only has the characters apart does not: before, "every character somewhere" matched ~40 % of a
    corpus for a common word."""
    together = await _article(runtime, cast, "笔记", "我们研究人工智能。")
    scattered = await _article(runtime, cast, "游记", "工人们在智慧城里出发去展开工作。")  # 工 … 智, 发 … 展
    assert await _ids(runtime, cast.other, "工智") == [together]  # not a word of the article: a phrase of its characters
    assert await _ids(runtime, cast.other, "发展") == []
    assert scattered in await _ids(runtime, cast.other, "出发")
