"""The writing assistant over HTTP against a streaming OpenAI-compatible fake on a real socket."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from genloom.assistant.models import AssistantMessage
from genloom.core.settings import Settings
from genloom.runtime import Runtime
from tests.fakes.chat_stream import ChatStreamFake
from tests.genflow_live.conftest import assistant_settings, bearer, make_article, make_user, sse_events, token_for


@pytest.fixture
def settings(database_url: str, tmp_path: Path, chat_fake: tuple[ChatStreamFake, str]) -> Settings:
    return assistant_settings(database_url, tmp_path, chat_fake[1])


async def _session(runtime: Runtime, client: httpx.AsyncClient, name: str = "alice", **body: object) -> tuple[str, dict[str, str]]:
    await make_user(runtime, name)
    headers = bearer(await token_for(runtime, client, name))
    r = await client.post("/assistant/sessions", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"], headers


async def _wait_status(runtime: Runtime, message_id: str, timeout: float = 10.0) -> AssistantMessage:
    deadline = time.monotonic() + timeout
    while True:
        async with runtime.db.read_session() as s:
            row = await s.get(AssistantMessage, message_id)
            assert row is not None
            if row.status != "streaming":
                return row
        assert time.monotonic() < deadline, "the reply did not finish"
        await asyncio.sleep(0.05)


async def test_reply_streams_as_sse_and_is_stored(runtime: Runtime, app_client: httpx.AsyncClient,
                                                  chat_fake: tuple[ChatStreamFake, str]) -> None:
    state, _ = chat_fake
    sid, headers = await _session(runtime, app_client)
    r = await app_client.post(f"/assistant/sessions/{sid}/messages", json={"content": "How do I start?"},
                              headers={**headers, "Accept": "text/event-stream"})
    assert r.status_code == 201 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[0]["event"] == "start" and events[0]["data"]["messageId"] == r.headers["X-Message-Id"]
    tokens = [e for e in events if e["event"] == "token"]
    assert [t["data"]["delta"] for t in tokens] == state.pieces  # each piece as the provider sent it
    assert [int(t["id"]) for t in tokens] == [5, 7, 13, 14]  # ids: the reply's length after each piece
    done = events[-1]
    assert done["event"] == "done" and done["data"]["finishReason"] == "stop"
    assert done["data"]["usage"] == {"promptTokens": 50, "completionTokens": 4}
    history = (await app_client.get(f"/assistant/sessions/{sid}/messages", headers=headers)).json()["items"]
    assert [(m["role"], m["content"], m["status"]) for m in history] == [
        ("user", "How do I start?", "complete"), ("assistant", "Hello, writer!", "complete")]
    sent = state.seen("POST", "/chat/completions")[-1].json()
    assert sent["stream"] is True and sent["messages"][-1] == {"role": "user", "content": "How do I start?"}


async def test_tokens_arrive_before_the_reply_ends(runtime: Runtime, chat_fake: tuple[ChatStreamFake, str]) -> None:
    """Over a real socket, each piece reaches the client while the provider still holds the next one back: the
    fake sends a piece only once the test releases it, and the test releases one only after the previous
    piece arrived. A buffer anywhere between (reply task, SSE body, middleware, server) would keep the first
    piece from arriving, so nothing more would be released and the reply would end short."""
    from tests.conftest import serve_app
    from tests.genflow_live.conftest import genflow_app

    state, _ = chat_fake
    state.pieces, state.gated, state.gate_timeout = ["one ", "two ", "three ", "four"], True, 30.0
    async with serve_app(genflow_app(runtime)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            sid, headers = await _session(runtime, client)
            state.release()  # the first piece
            got: list[str] = []
            async with client.stream("POST", f"/assistant/sessions/{sid}/messages", json={"content": "hi"},
                                     headers={**headers, "Accept": "text/event-stream"}) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: {\"delta\""):
                        got.append(json.loads(line[6:])["delta"])
                        # only the pieces released so far have left the provider: this one was not held back
                        assert [piece for _, piece in state.sent] == got
                        state.release()
    assert got == state.pieces  # every piece, each on its own


async def test_json_reply_when_not_streaming(runtime: Runtime, app_client: httpx.AsyncClient) -> None:
    sid, headers = await _session(runtime, app_client)
    r = await app_client.post(f"/assistant/sessions/{sid}/messages", json={"content": "hi"}, headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["message"]["content"] == "Hello, writer!" and body["message"]["status"] == "complete"
    assert body["userMessage"]["content"] == "hi"


async def test_disconnect_lets_the_reply_finish_and_resume_replays(runtime: Runtime, app_client: httpx.AsyncClient,
                                                                  chat_fake: tuple[ChatStreamFake, str]) -> None:
    state, _ = chat_fake
    state.pieces, state.delay = ["a" * 3, "b" * 3, "c" * 3, "d" * 3, "e" * 3], 0.15
    sid, headers = await _session(runtime, app_client)
    got: list[dict[str, object]] = []
    async with app_client.stream("POST", f"/assistant/sessions/{sid}/messages", json={"content": "go"},
                                 headers={**headers, "Accept": "text/event-stream"}) as response:
        message_id = response.headers["X-Message-Id"]
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                got.append({"id": int(line[4:])})
                if len(got) == 2:
                    break  # the client goes away after two pieces
    # resume while it is still being generated: what was missed, then live, then done
    r = await app_client.get(f"/assistant/sessions/{sid}/messages/{message_id}/stream",
                             headers={**headers, "Last-Event-ID": "6"})
    events = sse_events(r.text)
    assert "".join(e["data"]["delta"] for e in events if e["event"] == "token") == "cccdddeee"
    assert events[-1]["event"] == "done"
    row = await _wait_status(runtime, message_id)
    assert row.status == "complete" and row.content == "aaabbbcccdddeee"
    assert state.finished == 1 and state.aborted == 0
    # after the end, the stored row answers a resume from any offset
    r = await app_client.get(f"/assistant/sessions/{sid}/messages/{message_id}/stream?after=12", headers=headers)
    events = sse_events(r.text)
    assert events[0]["data"]["delta"] == "eee" and events[0]["id"] == "15" and events[-1]["event"] == "done"


async def test_cancel_stops_the_provider_and_stores_the_partial_reply(
        runtime: Runtime, app_client: httpx.AsyncClient, chat_fake: tuple[ChatStreamFake, str]) -> None:
    state, _ = chat_fake
    state.pieces, state.delay = [f"w{i} " for i in range(40)], 0.1
    sid, headers = await _session(runtime, app_client)

    async def consume() -> list[dict[str, Any]]:
        r = await app_client.post(f"/assistant/sessions/{sid}/messages", json={"content": "long"},
                                  headers={**headers, "Accept": "text/event-stream"})
        return sse_events(r.text)

    reader = asyncio.create_task(consume())
    while len(state.sent) < 3:
        await asyncio.sleep(0.02)
    async with runtime.db.read_session() as s:
        from sqlalchemy import select

        message_id = (await s.execute(select(AssistantMessage.id).where(AssistantMessage.role == "assistant"))).scalar_one()
    r = await app_client.post(f"/assistant/sessions/{sid}/messages/{message_id}/cancel", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "incomplete" and r.json()["finishReason"] == "canceled"
    events = await asyncio.wait_for(reader, 10)
    assert events[-1]["event"] == "done" and events[-1]["data"]["status"] == "incomplete"
    await asyncio.sleep(0.3)
    assert state.aborted == 1 and len(state.sent) < 40  # the provider's stream was closed
    stored = r.json()["content"]
    assert stored and stored == "".join(p for _, p in state.sent)[: len(stored)]
    again = await app_client.post(f"/assistant/sessions/{sid}/messages/{message_id}/cancel", headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "reply_finished"


async def test_provider_failure_is_an_error_event(runtime: Runtime, app_client: httpx.AsyncClient,
                                                  chat_fake: tuple[ChatStreamFake, str]) -> None:
    state, _ = chat_fake
    state.fail(503, times=5)
    sid, headers = await _session(runtime, app_client)
    r = await app_client.post(f"/assistant/sessions/{sid}/messages", json={"content": "hi"},
                              headers={**headers, "Accept": "text/event-stream"})
    events = sse_events(r.text)
    assert [e["event"] for e in events] == ["start", "error"]
    assert events[1]["data"]["code"] == "provider_unavailable"
    row = await _wait_status(runtime, events[0]["data"]["messageId"])
    assert row.status == "failed" and row.error_code == "provider_unavailable"
    r = await app_client.post(f"/assistant/sessions/{sid}/messages", json={"content": "again"}, headers=headers)
    assert r.status_code == 503 and r.json()["code"] == "provider_unavailable"


async def test_long_history_is_folded_into_a_summary_within_the_budget(
        runtime: Runtime, app_client: httpx.AsyncClient, chat_fake: tuple[ChatStreamFake, str]) -> None:
    from genloom.assistant.tokens import counter_for

    state, _ = chat_fake
    state.pieces = ["A fairly long answer about openings and structure. " * 3]
    sid, headers = await _session(runtime, app_client)
    for i in range(8):
        r = await app_client.post(f"/assistant/sessions/{sid}/messages",
                                  json={"content": f"Question {i}: how should paragraph {i} open? " * 3},
                                  headers=headers)
        assert r.status_code == 201
    count = counter_for("gpt-4o-mini")
    streamed = [r.json() for r in state.seen("POST", "/chat/completions") if r.json().get("stream")]
    summaries = [r.json() for r in state.seen("POST", "/chat/completions") if not r.json().get("stream")]
    assert summaries, "older turns were folded into a summary"
    for body in streamed:
        total = sum(count(m["content"]) + 4 for m in body["messages"])
        assert total <= 400
    last = streamed[-1]["messages"]
    assert state.summary in last[0]["content"]  # the summary stands in for the folded turns
    assert "Question 0" not in " ".join(m["content"] for m in last)
    chat = (await app_client.get(f"/assistant/sessions/{sid}", headers=headers)).json()
    assert chat["summary"] == state.summary


async def test_sessions_are_private_and_articles_must_be_readable(runtime: Runtime,
                                                                  app_client: httpx.AsyncClient) -> None:
    alice = await make_user(runtime, "alice")
    draft = await make_article(runtime, alice, title="Secret", content="私密草稿。")
    headers_a = bearer(await token_for(runtime, app_client, "alice"))
    r = await app_client.post("/assistant/sessions", json={"articleId": draft}, headers=headers_a)
    assert r.status_code == 201
    sid = r.json()["id"]
    await make_user(runtime, "bob")
    headers_b = bearer(await token_for(runtime, app_client, "bob"))
    assert (await app_client.get(f"/assistant/sessions/{sid}", headers=headers_b)).status_code == 404
    r = await app_client.post("/assistant/sessions", json={"articleId": draft}, headers=headers_b)
    assert r.status_code == 404 and r.json()["code"] == "article_not_found"
    assert (await app_client.get("/assistant/sessions", headers=headers_b)).json()["items"] == []
    assert (await app_client.get("/assistant/sessions")).status_code == 401
    r = await app_client.post(f"/assistant/sessions/{sid}/messages", json={"content": ""}, headers=headers_a)
    assert r.status_code == 400


async def test_rate_limit_answers_429_with_retry_after(runtime: Runtime, app_client: httpx.AsyncClient) -> None:
    runtime.settings.assistant_requests_per_minute = 2
    sid, headers = await _session(runtime, app_client)
    for _ in range(2):
        assert (await app_client.post(f"/assistant/sessions/{sid}/messages", json={"content": "x"},
                                      headers=headers)).status_code == 201
    r = await app_client.post(f"/assistant/sessions/{sid}/messages", json={"content": "x"}, headers=headers)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    usage = (await app_client.get("/assistant/usage", headers=headers)).json()
    assert usage["byKind"]["chat"]["requests"] == 2 and usage["completionTokens"] == 8
