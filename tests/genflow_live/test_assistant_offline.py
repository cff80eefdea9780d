"""The assistant with no keys: the offline writer streams a rule-based answer; analyze and complete."""

from __future__ import annotations

import httpx

from genloom.runtime import Runtime
from tests.genflow_live.conftest import bearer, make_article, make_user, sse_events, token_for

ARTICLE = ("人工智能正在改变写作。很多作者用它整理提纲、检查语法。"
           "但是，人工智能写出的文字常常缺少个人经验。好的文章仍然需要作者自己的观察。")


async def test_offline_writer_streams_from_the_article(runtime: Runtime, app_client: httpx.AsyncClient) -> None:
    author = await make_user(runtime, "mei")
    article_id = await make_article(runtime, author, title="AI 与写作", content=ARTICLE)
    headers = bearer(await token_for(runtime, app_client, "mei"))
    sid = (await app_client.post("/assistant/sessions", json={"articleId": article_id}, headers=headers)).json()["id"]
    r = await app_client.post(f"/assistant/sessions/{sid}/messages", json={"content": "请帮我总结这篇文章"},
                              headers={**headers, "Accept": "text/event-stream"})
    events = sse_events(r.text)
    tokens = [e for e in events if e["event"] == "token"]
    text = "".join(t["data"]["delta"] for t in tokens)
    assert len(tokens) > 5  # piece by piece, not one block
    assert text == "摘要：人工智能正在改变写作。 很多作者用它整理提纲、检查语法。"
    assert events[-1]["data"]["finishReason"] == "stop"
    again = await app_client.post(f"/assistant/sessions/{sid}/messages", json={"content": "请帮我总结这篇文章"},
                                  headers=headers)
    assert again.json()["message"]["content"] == text  # deterministic
    assert again.json()["message"]["provider"] == "local"


async def test_analyze_and_complete(runtime: Runtime, app_client: httpx.AsyncClient) -> None:
    author = await make_user(runtime, "mei")
    article_id = await make_article(runtime, author, title="AI 与写作", content=ARTICLE)
    headers = bearer(await token_for(runtime, app_client, "mei"))
    r = await app_client.post("/assistant/analyze", json={"content": ARTICLE}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "人工智能" in body["keywords"] and body["summary"].startswith("摘要：")
    assert body["readability"]["language"] == "zh" and body["readability"]["sentences"] == 4
    assert body["suggestions"]
    r = await app_client.post("/assistant/complete", json={"articleId": article_id, "cursor": len(ARTICLE),
                                                           "instruction": "续写下一段"}, headers=headers)
    events = sse_events(r.text)
    text = "".join(e["data"]["delta"] for e in events if e["event"] == "token")
    assert text.startswith("接着「好的文章仍然需要作者自己的观察。」") and events[-1]["event"] == "done"
    await make_user(runtime, "other")
    other = bearer(await token_for(runtime, app_client, "other"))
    r = await app_client.post("/assistant/complete", json={"articleId": article_id, "instruction": "续写"},
                              headers=other)
    assert r.status_code == 404 and r.json()["code"] == "article_not_found"
    usage = (await app_client.get("/assistant/usage", headers=headers)).json()
    assert set(usage["byKind"]) == {"analyze", "complete"}
