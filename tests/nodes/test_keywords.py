"""Keywords: jieba TF-IDF over the live nodes (IDF refreshed as nodes change), and the text-provider way
against the fake DashScope server (Qwen's OpenAI-compatible chat) on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from genloom.app import create_app
from genloom.assembly import build_runtime, start_runtime
from genloom.core.settings import Settings
from genloom.nodes.keywords import parse_keywords, tfidf, tokenize
from genloom.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.base import FakeServer
from tests.fakes.dashscope import DashScopeFake
from tests.fakes.dashscope import create_app as dashscope_app


async def _node(client: httpx.AsyncClient, content: str) -> str:
    r = await client.post("/nodes", json={"content": content})
    assert r.status_code == 201
    return str(r.json()["data"]["id"])


def test_tokenize_drops_stop_words_and_punctuation() -> None:
    terms = tokenize("雨夜的霓虹街道，一位撑伞的少女 in the rain 2026")
    assert "的" not in terms and "，" not in terms and "the" not in terms and "2026" not in terms
    assert {"雨夜", "霓虹", "街道", "少女", "rain"} <= set(terms)


def test_tfidf_weights_rare_terms_higher() -> None:
    from collections import Counter

    items = tfidf(["霓虹", "霓虹", "城市"], docs=10, df=Counter({"霓虹": 1, "城市": 9}), top=5)
    assert [i["word"] for i in items] == ["霓虹", "城市"]
    assert items[0]["weight"] > items[1]["weight"] > 0


class TestDatabaseKeywords:
    async def test_top_keywords_sorted_by_weight(self, client: httpx.AsyncClient) -> None:
        target = await _node(client, "霓虹街道上的霓虹，雨夜里霓虹闪烁，少女撑伞走过")
        await _node(client, "少女在森林里奔跑")
        await _node(client, "少女和猫在窗边")
        r = await client.get(f"/nodes/{target}/keywords", params={"top": 3})
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["source"] == "database" and data["nodeId"] == target
        words = [i["word"] for i in data["items"]]
        weights = [i["weight"] for i in data["items"]]
        assert len(words) == 3 and words[0] == "霓虹"
        assert weights == sorted(weights, reverse=True)
        assert "少女" not in words  # in every node: low IDF

    async def test_idf_refreshes_when_nodes_change(self, client: httpx.AsyncClient) -> None:
        target = await _node(client, "城堡 龙 骑士 城堡")
        await _node(client, "森林 小鹿")
        first = (await client.get(f"/nodes/{target}/keywords")).json()["data"]["items"]
        w_first = {i["word"]: i["weight"] for i in first}
        assert w_first["城堡"] > w_first["龙"]
        # more nodes mentioning 城堡 lower its IDF; the cached statistics must notice
        others = [await _node(client, f"城堡 第{i}座") for i in range(4)]
        second = {i["word"]: i["weight"] for i in (await client.get(f"/nodes/{target}/keywords")).json()["data"]["items"]}
        assert second["城堡"] < w_first["城堡"]
        for node_id in others:
            assert (await client.delete(f"/nodes/{node_id}")).status_code == 200
        third = {i["word"]: i["weight"] for i in (await client.get(f"/nodes/{target}/keywords")).json()["data"]["items"]}
        assert third["城堡"] == pytest.approx(w_first["城堡"])  # deleted nodes no longer count

    async def test_top_bounds_and_missing_node(self, client: httpx.AsyncClient) -> None:
        target = await _node(client, "星空 宇宙 飞船")
        for top in (0, 51):
            r = await client.get(f"/nodes/{target}/keywords", params={"top": top})
            assert r.status_code == 400 and r.json()["data"]["field"] == "top"
        assert (await client.get(f"/nodes/{target}/keywords", params={"top": 50})).status_code == 200
        await client.delete(f"/nodes/{target}")
        assert (await client.get(f"/nodes/{target}/keywords")).status_code == 404


def test_parse_keywords_accepts_common_reply_shapes() -> None:
    assert parse_keywords('[{"word": "霓虹", "weight": 0.9}, {"word": "雨夜", "weight": 0.5}]')[0] == \
        {"word": "霓虹", "weight": 0.9}
    assert [i["word"] for i in parse_keywords('```json\n{"keywords": ["猫", "窗"]}\n```')] == ["猫", "窗"]
    assert [i["word"] for i in parse_keywords("猫，窗边、阳光")] == ["猫", "窗边", "阳光"]


@pytest.fixture
def dashscope_fake() -> Iterator[tuple[DashScopeFake, str]]:
    state = DashScopeFake(api_key="test-key")
    with FakeServer(dashscope_app(state)) as server:
        yield state, server.url


@pytest.fixture
async def ai_client(database_url: str, tmp_path: Any, dashscope_fake: tuple[DashScopeFake, str]) -> AsyncIterator[httpx.AsyncClient]:
    from genloom.providers import dashscope

    _, url = dashscope_fake
    settings: Settings = make_settings(database_url=database_url, data_dir=tmp_path, media_dir=tmp_path / "media",
                                       is_full_by_ai=True, dashscope_base_url=url, dashscope_api_key="test-key",
                                       provider_max_retries=0)
    rt: Runtime = build_runtime(settings)
    rt.providers.text = dashscope.build(settings, "text", rt.guards)
    await start_runtime(rt, migrate=False)
    app = create_app(runtime=rt, workers=0)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
                yield c
    finally:
        await rt.close()


class TestAiKeywords:
    async def test_keywords_come_from_the_text_provider(self, ai_client: httpx.AsyncClient,
                                                        dashscope_fake: tuple[DashScopeFake, str]) -> None:
        state, _ = dashscope_fake
        target = await _node(ai_client, "猫，窗边、阳光")
        r = await ai_client.get(f"/nodes/{target}/keywords", params={"top": 2})
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["source"] == "ai"
        # the fake answers "refined: <user text>"; the reply is parsed as a word list, best first
        assert [i["word"] for i in data["items"]] == ["refined: 猫", "窗边"]
        weights = [i["weight"] for i in data["items"]]
        assert weights == sorted(weights, reverse=True)
        calls = state.seen("POST", "/compatible-mode/v1/chat/completions")
        assert len(calls) == 1
        sent = calls[0].json()
        assert sent["messages"][0]["role"] == "system" and "keywords" in sent["messages"][0]["content"]
        assert sent["messages"][1]["content"] == "猫，窗边、阳光"

    async def test_provider_failure_is_502(self, ai_client: httpx.AsyncClient,
                                           dashscope_fake: tuple[DashScopeFake, str]) -> None:
        state, _ = dashscope_fake
        target = await _node(ai_client, "星空")
        state.fail(400, times=5, path="/compatible-mode")
        r = await ai_client.get(f"/nodes/{target}/keywords")
        assert r.status_code == 502, r.text
        assert r.json()["code"] == 50201
