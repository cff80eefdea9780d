"""POST /assistant/complete as a stored turn, against the streaming OpenAI-compatible fake on a real socket:
history, usage and rate limits, a disconnect that lets it finish, resume with Last-Event-ID, cancel."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genloom.assistant.models import AssistantMessage
from genloom.core.settings import Settings
from genloom.runtime import Runtime
from tests.conftest import serve_app
from tests.fakes.chat_stream import ChatStreamFake
from tests.genflow_live.conftest import (
    assistant_settings,
    bearer,
    genflow_app,
    make_article,
    make_user,
    sse_events,
    token_for,
)

ARTICLE = "First paragraph about openings.\n\nSecond paragraph about structure. It ends here."


@pytest.fixture
def settings(database_url: str, tmp_path: Path, chat_fake: tuple[ChatStreamFake, str]) -> Settings:
    return assistant_settings(database_url, tmp_path, chat_fake[1])


@pytest.fixture
async def live(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app served on a real socket."""
    async with serve_app(genflow_app(runtime)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield client


async def _writer(runtime: Runtime, client: httpx.AsyncClient, name: str = "mei",
                  content: str = ARTICLE) -> tuple[str, dict[str, str]]:
    author = await make_user(runtime, name)
    article_id = await make_article(runtime, author, title="Openings", content=content)
    return article_id, bearer(await token_for(runtime, client, name))


async def _stored(runtime: Runtime, message_id: str, timeout: float = 30.0) -> AssistantMessage:
    deadline = time.monotonic() + timeout
    while True:
        async with runtime.db.read_session() as s:
            row = await s.get(AssistantMessage, message_id)
            if row is not None and row.status != "streaming":
                return row
        assert time.monotonic() < deadline, "the reply was not stored"
        await asyncio.sleep(0.05)


def _sent_chats(state: ChatStreamFake) -> list[dict[str, Any]]:
    return [r.json() for r in state.seen("POST", "/chat/completions") if r.json().get("stream")]


async def test_a_completion_is_stored_in_the_articles_completions_session(
        runtime: Runtime, live: httpx.AsyncClient, chat_fake: tuple[ChatStreamFake, str]) -> None:
    state, _ = chat_fake
    article_id, headers = await _writer(runtime, live)
    body = {"articleId": article_id, "cursor": ARTICLE.index("\n\n"), "instruction": "Continue this paragraph"}
    r = await live.post("/assistant/complete", json=body, headers={**headers, "Accept": "text/event-stream"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    start = events[0]
    assert start["event"] == "start" and start["data"]["messageId"] == r.headers["X-Message-Id"]
    sid = start["data"]["sessionId"]
    assert r.headers["X-Session-Id"] == sid
    assert [e["data"]["delta"] for e in events if e["event"] == "token"] == state.pieces
    assert events[-1]["event"] == "done" and events[-1]["data"]["messageId"] == start["data"]["messageId"]
    # the provider saw the article around the cursor and the instruction with where the cursor is
    first = _sent_chats(state)[-1]["messages"]
    assert "First paragraph about openings." in first[0]["content"]
    assert first[-1]["content"].startswith("Continue this paragraph\n(The cursor is after: ")
    assert "openings.\")" in first[-1]["content"]
    # stored as a turn of the caller's completions session of the article
    sessions = (await live.get("/assistant/sessions", headers=headers)).json()["items"]
    assert [(x["id"], x["kind"], x["articleId"], x["title"]) for x in sessions] == [
        (sid, "completions", article_id, "Openings")]
    history = (await live.get(f"/assistant/sessions/{sid}/messages", headers=headers)).json()["items"]
    assert [(m["role"], m["content"], m["status"]) for m in history] == [
        ("user", "Continue this paragraph", "complete"), ("assistant", "Hello, writer!", "complete")]
    # a second one goes to the same session, and the model sees the first as history
    r = await live.post("/assistant/complete", json={**body, "instruction": "Shorter, please"}, headers=headers)
    assert sse_events(r.text)[0]["data"]["sessionId"] == sid
    second = _sent_chats(state)[-1]["messages"]
    assert [m["content"] for m in second[1:3]] == ["Continue this paragraph", "Hello, writer!"]
    history = (await live.get(f"/assistant/sessions/{sid}/messages", headers=headers)).json()["items"]
    assert [m["seq"] for m in history] == [1, 2, 3, 4]
    usage = (await live.get("/assistant/usage", headers=headers)).json()
    assert usage["byKind"]["complete"] == {"requests": 2, "promptTokens": 100, "completionTokens": 8}


async def _message_count(runtime: Runtime) -> int:
    from sqlalchemy import func, select

    async with runtime.db.read_session() as s:
        return int((await s.execute(select(func.count()).select_from(AssistantMessage))).scalar_one())


async def test_a_completion_goes_into_a_named_session(runtime: Runtime, live: httpx.AsyncClient) -> None:
    article_id, headers = await _writer(runtime, live)
    chat = (await live.post("/assistant/sessions", json={"articleId": article_id}, headers=headers)).json()["id"]
    r = await live.post("/assistant/complete", headers={**headers, "Accept": "application/json"},
                        json={"articleId": article_id, "instruction": "Rewrite the ending", "sessionId": chat})
    assert r.status_code == 200, r.text
    assert r.json()["message"]["sessionId"] == chat and r.json()["message"]["content"] == "Hello, writer!"
    assert r.json()["userMessage"]["content"] == "Rewrite the ending"
    kinds = {x["kind"] for x in (await live.get("/assistant/sessions", headers=headers)).json()["items"]}
    assert kinds == {"chat"}  # no completions session was made
    loose = (await live.post("/assistant/sessions", json={}, headers=headers)).json()["id"]
    r = await live.post("/assistant/complete", headers=headers,
                        json={"articleId": article_id, "instruction": "Go on", "sessionId": loose})
    assert r.status_code == 200 and sse_events(r.text)[0]["data"]["sessionId"] == loose  # a session about no article


async def test_a_completion_is_refused_before_anything_is_stored(runtime: Runtime, live: httpx.AsyncClient) -> None:
    article_id, headers = await _writer(runtime, live)
    second = (await live.post("/articles", json={"title": "Two", "content": "Another text."},
                              headers=headers)).json()["id"]
    chat = (await live.post("/assistant/sessions", json={"articleId": article_id}, headers=headers)).json()["id"]
    lins_draft, lin = await _writer(runtime, live, "lin")
    lins_chat = (await live.post("/assistant/sessions", json={}, headers=lin)).json()["id"]
    stored = await _message_count(runtime)
    refusals = [
        ({"articleId": second, "sessionId": chat}, headers, 400, "invalid_input"),  # the session is about another
        ({"articleId": article_id, "sessionId": lins_chat}, headers, 404, "session_not_found"),  # not mine
        ({"articleId": lins_draft}, headers, 404, "article_not_found"),  # another user's draft
        ({"articleId": lins_draft, "sessionId": chat}, headers, 404, "article_not_found"),
        ({"articleId": article_id}, {}, 401, "not_authenticated"),
    ]
    for fields, who, status, code in refusals:
        r = await live.post("/assistant/complete", json={**fields, "instruction": "Go on"}, headers=who)
        assert (r.status_code, r.json()["code"]) == (status, code), (fields, r.text)
    assert await _message_count(runtime) == stored
    assert [x["kind"] for x in (await live.get("/assistant/sessions", headers=headers)).json()["items"]] == ["chat"]


async def test_a_completion_survives_a_disconnect_and_resumes_with_last_event_id(
        runtime: Runtime, live: httpx.AsyncClient, chat_fake: tuple[ChatStreamFake, str]) -> None:
    state, _ = chat_fake
    state.pieces, state.gated = ["aaa", "bbb", "ccc", "ddd", "eee"], True
    article_id, headers = await _writer(runtime, live)
    state.release(2)
    body = {"articleId": article_id, "instruction": "Continue"}
    async with live.stream("POST", "/assistant/complete", json=body,
                           headers={**headers, "Accept": "text/event-stream"}) as response:
        message_id, sid = response.headers["X-Message-Id"], response.headers["X-Session-Id"]
        ids = []
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                ids.append(int(line[4:]))
                if len(ids) == 2:
                    break  # the client goes away after two pieces
    assert ids == [3, 6]
    state.release(3)  # the provider goes on after the client left
    r = await live.get(f"/assistant/sessions/{sid}/messages/{message_id}/stream",
                       headers={**headers, "Last-Event-ID": "6"})
    events = sse_events(r.text)
    assert "".join(e["data"]["delta"] for e in events if e["event"] == "token") == "cccdddeee"
    assert events[-1]["event"] == "done" and events[-1]["data"]["status"] == "complete"
    row = await _stored(runtime, message_id)
    assert row.status == "complete" and row.content == "aaabbbcccdddeee"
    assert state.finished == 1 and state.aborted == 0


async def test_a_completion_is_canceled_like_a_reply(runtime: Runtime, live: httpx.AsyncClient,
                                                     chat_fake: tuple[ChatStreamFake, str]) -> None:
    state, _ = chat_fake
    state.pieces, state.gated = [f"w{i} " for i in range(10)], True
    article_id, headers = await _writer(runtime, live)
    state.release(3)
    events: list[str] = []
    async with live.stream("POST", "/assistant/complete", json={"articleId": article_id, "instruction": "Go on"},
                           headers={**headers, "Accept": "text/event-stream"}) as response:
        message_id, sid = response.headers["X-Message-Id"], response.headers["X-Session-Id"]
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                events.append(line[7:])
                if events[-1] == "token" and events.count("token") == 3:
                    r = await live.post(f"/assistant/sessions/{sid}/messages/{message_id}/cancel", headers=headers)
                    assert r.status_code == 200, r.text
                    assert r.json()["status"] == "incomplete" and r.json()["content"] == "w0 w1 w2 "
    assert events[-1] == "done"
    deadline = time.monotonic() + 30
    while state.aborted == 0:  # the provider's stream was closed
        assert time.monotonic() < deadline, "the provider's stream stayed open"
        await asyncio.sleep(0.05)
    assert len(state.sent) == 3 and state.finished == 0


async def test_completions_count_in_the_rate_limit(runtime: Runtime, live: httpx.AsyncClient) -> None:
    runtime.settings.assistant_requests_per_minute = 2
    article_id, headers = await _writer(runtime, live)
    chat = (await live.post("/assistant/sessions", json={}, headers=headers)).json()["id"]
    assert (await live.post(f"/assistant/sessions/{chat}/messages", json={"content": "x"},
                            headers=headers)).status_code == 201
    body = {"articleId": article_id, "instruction": "Go on"}
    assert (await live.post("/assistant/complete", json=body, headers=headers)).status_code == 200
    r = await live.post("/assistant/complete", json=body, headers=headers)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    sessions = (await live.get("/assistant/sessions", headers=headers)).json()["items"]
    done = [x for x in sessions if x["kind"] == "completions"]
    history = (await live.get(f"/assistant/sessions/{done[0]['id']}/messages", headers=headers)).json()["items"]
    assert len(history) == 2  # the refused one stored nothing


async def test_first_completions_at_once_make_one_session(runtime: Runtime, live: httpx.AsyncClient) -> None:
    article_id, headers = await _writer(runtime, live)
    body = {"articleId": article_id, "instruction": "Go on"}
    answers = await asyncio.gather(*(live.post("/assistant/complete", json=body, headers=headers)
                                     for _ in range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    sids = {sse_events(a.text)[0]["data"]["sessionId"] for a in answers}
    assert len(sids) == 1
    history = (await live.get(f"/assistant/sessions/{sids.pop()}/messages", headers=headers)).json()["items"]
    assert sorted(m["seq"] for m in history) == list(range(1, 9))


async def test_a_long_article_is_cut_around_the_cursor(runtime: Runtime, live: httpx.AsyncClient,
                                                        chat_fake: tuple[ChatStreamFake, str]) -> None:
    from genloom.assistant.tokens import counter_for

    state, _ = chat_fake
    words = " ".join(f"w{i:06d}" for i in range(120_000))  # ~960,000 characters, far over the excerpt
    article_id, headers = await _writer(runtime, live, content=words)
    cursor = words.index("w060000")
    r = await live.post("/assistant/complete", json={"articleId": article_id, "cursor": cursor,
                                                     "instruction": "Go on"}, headers=headers)
    assert sse_events(r.text)[-1]["event"] == "done"
    system = _sent_chats(state)[-1]["messages"][0]["content"]
    excerpt = system.split("Article: Openings\n", 1)[1]
    assert excerpt.startswith("…") and excerpt.endswith("…") and "w059999 w060000" in excerpt
    assert counter_for("gpt-4o-mini")(excerpt) <= 100
    assert json.dumps(_sent_chats(state)[-1]).count("w0") < 200
