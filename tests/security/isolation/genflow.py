"""Isolation matrix entries of GenFlow (README.md here). Its callers are signed-in users.

``AWAITING`` lists the routes nobody has described yet: they are not covered. Move each into ``ROUTES`` (with
``create`` making an owned article or assistant session) as the surface settles; the coverage test refuses any
route in neither."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.security.isolation.matrix import Case, Context, Custom, Owned, Unowned

OWNER = "owner"
#: every GenFlow route needs a signed-in user: callers without one are turned away before any lookup
NO_USER = ("other_client", "anonymous")
AWAITING: tuple[str, ...] = ()


async def create(ctx: Context, owner: str) -> dict[str, str]:
    """A draft article of the owner's whose title and text carry the marker (drafts are private)."""
    marker = f"isolation{uuid.uuid4().hex[:12]}"
    r = await ctx.client.post("/articles", json={"title": f"草稿 {marker}", "content": f"{marker}\n第一行\n"},
                              headers=ctx.headers[owner])
    assert r.status_code == 201, r.text
    article = r.json()
    r = await ctx.client.put(f"/articles/{article['id']}", json={"content": f"{marker}\n第二行\n", "version": 1},
                             headers=ctx.headers[owner])
    assert r.status_code == 200, r.text
    r = await ctx.client.post("/assistant/sessions", json={"articleId": article["id"], "title": f"会话 {marker}"},
                              headers=ctx.headers[owner])
    assert r.status_code == 201, r.text
    session_id = r.json()["id"]
    r = await ctx.client.post(f"/assistant/sessions/{session_id}/messages", json={"content": f"总结 {marker}"},
                              headers={**ctx.headers[owner], "Accept": "application/json"})
    assert r.status_code == 201, r.text
    return {"marker": marker, "article_id": article["id"], "n": "1", "user_id": article["authorId"],
            "client_id": "isolation-device", "session_id": session_id, "message_id": r.json()["message"]["id"],
            "user_message_id": r.json()["userMessage"]["id"]}


async def _channel_room_refused(ctx: Context, mine: dict[str, str]) -> None:
    """Another user joining (or resuming) the owner's draft room gets an error frame and no message of it."""
    token = ctx.headers["other_user"].get("Authorization", "").removeprefix("Bearer ")
    base = ctx.url.replace("http://", "ws://") + f"/ws/isolation-other?token={token}"
    room = f"article:{mine['article_id']}"
    async with connect(base) as ws:
        for frame in ({"type": "join", "room": room}, {"type": "resume", "room": room, "after": 0},
                      {"type": "publish", "room": room, "data": "x"}):
            await ws.send(json.dumps(frame))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert answer == {"type": "error", "code": "room_forbidden", "message": answer["message"]}, answer
    for caller in ("other_client", "anonymous"):  # no user token: closed before any frame
        async with connect(ctx.url.replace("http://", "ws://") + "/ws/isolation-anon") as ws:
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 20)
            assert info.value.rcvd is not None and info.value.rcvd.code == 4401, caller


async def _lists_hide_drafts(ctx: Context, mine: dict[str, str]) -> None:
    """Lists and search never show another's draft (id or marker); the owner's and an admin's do. (A Listing
    would also look for the version number "1" among the values, which every answer contains.)"""
    secret = {mine["article_id"], mine["marker"]}
    for path, query in (("/articles", {"limit": 100}), ("/articles/search", {"q": mine["marker"]})):
        for caller in ("other_user", "other_client", "anonymous"):
            r = await ctx.client.get(path, params=query, headers=ctx.headers[caller])
            assert r.status_code in ((200,) if caller == "other_user" else (401,)), (path, caller, r.text[:300])
            assert not any(s in r.text for s in secret), (path, caller, r.text[:300])
        for caller in ("owner", "admin"):
            r = await ctx.client.get(path, params=query, headers=ctx.headers[caller])
            assert r.status_code == 200 and all(s in r.text for s in secret), (path, caller, r.text[:300])


async def _assistant_lists_hide(ctx: Context, mine: dict[str, str]) -> None:
    """Another user's session list and message list never hold the owner's session, messages or marker (their
    message list of the owner's session is a 404); the owner's and an administrator's do. (A Listing would look
    for the version number "1" too.)"""
    sid = mine["session_id"]
    secret = {sid, mine["message_id"], mine["user_message_id"], mine["marker"]}
    for path in ("/assistant/sessions", f"/assistant/sessions/{sid}/messages"):
        for caller in ("other_user", "other_client", "anonymous"):
            r = await ctx.client.get(path, params={"limit": 100}, headers=ctx.headers[caller])
            expected = (401,) if caller in NO_USER else ((200,) if path == "/assistant/sessions" else (404,))
            assert r.status_code in expected, (path, caller, r.status_code, r.text[:300])
            # a 401 or 404 names the path asked for (``instance``); nothing else of the owner's may appear
            hidden = secret - {sid} if r.status_code in (401, 404) else secret
            assert not any(s in r.text for s in hidden), (path, caller, r.text[:300])
    for caller in ("owner", "admin"):
        r = await ctx.client.get(f"/assistant/sessions/{sid}/messages", headers=ctx.headers[caller])
        assert r.status_code == 200 and all(s in r.text for s in secret), (caller, r.text[:300])
    r = await ctx.client.get("/assistant/sessions", params={"limit": 100}, headers=ctx.headers["owner"])
    assert r.status_code == 200 and sid in r.text and mine["marker"] in r.text, r.text[:300]


def _token(ctx: Context, caller: str) -> str:
    return ctx.headers[caller].get("Authorization", "").removeprefix("Bearer ")


async def _collab_socket_refused(ctx: Context, mine: dict[str, str]) -> None:
    """Another user's socket to the owner's draft is closed with 4403 before any document frame, a caller with no
    user token with 4401; the owner's socket gets the Yjs sync frames."""
    base = ctx.url.replace("http://", "ws://") + f"/ws/articles/{mine['article_id']}"
    for caller, code in (("other_user", 4403), ("other_client", 4401), ("anonymous", 4401)):
        token = _token(ctx, caller)
        async with connect(base + (f"?token={token}" if token else "")) as ws:
            with pytest.raises(ConnectionClosed) as info:
                frame = await asyncio.wait_for(ws.recv(), 20)
                raise AssertionError(f"{caller} got a frame of the owner's draft: {frame!r}")
            assert info.value.rcvd is not None and info.value.rcvd.code == code, (caller, info.value.rcvd)
    async with connect(base + f"?token={_token(ctx, 'owner')}") as ws:
        frame = await asyncio.wait_for(ws.recv(), 20)
        assert isinstance(frame, bytes) and frame, frame


async def _reply_stream_refused(ctx: Context, mine: dict[str, str]) -> None:
    """Following the owner's reply: 404 for another user, 401 without a user, never its text; the owner's (and
    an administrator's) stream replays it."""
    r = await ctx.client.get(f"/assistant/sessions/{mine['session_id']}/messages/{mine['message_id']}",
                             headers=ctx.headers["owner"])
    assert r.status_code == 200, r.text
    reply = r.json()["content"]
    assert reply, r.text
    path = f"/assistant/sessions/{mine['session_id']}/messages/{mine['message_id']}/stream"
    async with httpx.AsyncClient(base_url=ctx.url, timeout=20) as http:
        for caller in ("other_user", "other_client", "anonymous"):
            r = await http.get(path, params={"after": 0}, headers=ctx.headers[caller])
            assert r.status_code == (404 if caller == "other_user" else 401), (caller, r.status_code, r.text[:300])
            assert mine["marker"] not in r.text and json.dumps(reply)[1:-1][:20] not in r.text, (caller, r.text[:300])
        for caller in ("owner", "admin"):
            r = await http.get(path, params={"after": 0}, headers=ctx.headers[caller])
            assert r.status_code == 200, (caller, r.status_code, r.text[:300])
            deltas = [json.loads(line[6:]).get("delta", "") for line in r.text.splitlines() if line.startswith("data: ")]
            assert "".join(deltas) == reply, (caller, r.text[:300])


async def _complete_refused(ctx: Context, mine: dict[str, str]) -> None:
    """A continuation of the owner's draft: 404 for another user, 401 without a user; the owner's streams."""
    body = {"articleId": mine["article_id"], "instruction": "续写一句"}
    for caller in ("other_user", "other_client", "anonymous"):
        r = await ctx.client.post("/assistant/complete", json=body, headers=ctx.headers[caller])
        assert r.status_code == (404 if caller == "other_user" else 401), (caller, r.status_code, r.text[:300])
        assert mine["marker"] not in r.text, (caller, r.text[:300])
    r = await ctx.client.post("/assistant/complete", json=body, headers=ctx.headers["owner"])
    assert r.status_code == 200 and "event: done" in r.text, r.text[:300]


async def _usage_is_per_user(ctx: Context, mine: dict[str, str]) -> None:
    """Usage counts the caller's own calls only: the owner's chat shows in the owner's totals, not another
    user's (who made none) nor an administrator's own; callers without a user get 401."""
    r = await ctx.client.get("/assistant/usage", headers=ctx.headers["owner"])
    assert r.status_code == 200 and r.json()["byKind"].get("chat", {}).get("requests", 0) >= 1, r.text
    for caller in ("other_user", "admin"):
        r = await ctx.client.get("/assistant/usage", headers=ctx.headers[caller])
        assert r.status_code == 200 and "chat" not in r.json()["byKind"], (caller, r.text)
    for caller in NO_USER:
        r = await ctx.client.get("/assistant/usage", headers=ctx.headers[caller])
        assert r.status_code == 401, (caller, r.text)


ROUTES: dict[str, Case] = {
    "POST /articles": Unowned("creates the caller's own article; the reads below prove the scoping"),
    "GET /articles": Custom(_lists_hide_drafts),
    "GET /articles/search": Custom(_lists_hide_drafts),
    "GET /articles/{article_id}": Owned(refused=NO_USER),
    "PUT /articles/{article_id}": Owned(refused=NO_USER, json={"content": "taken over", "version": 2}, destructive=True),
    "PATCH /articles/{article_id}": Owned(refused=NO_USER, json={"title": "taken over"}, destructive=True),
    "DELETE /articles/{article_id}": Owned(refused=NO_USER, ok=(204,), destructive=True),
    "POST /articles/{article_id}/restore": Owned(refused=NO_USER),
    "GET /articles/{article_id}/versions": Owned(refused=NO_USER),
    "GET /articles/{article_id}/versions/{n}": Owned(refused=NO_USER),
    "GET /articles/{article_id}/diff": Owned(refused=NO_USER),
    "POST /articles/{article_id}/versions/{n}/restore": Owned(refused=NO_USER, destructive=True),
    "PUT /articles/{article_id}/collaborators/{user_id}": Owned(refused=NO_USER, ok=(400,), admin_sees=False),
    "DELETE /articles/{article_id}/collaborators/{user_id}": Owned(refused=NO_USER, destructive=True),
    "WS /ws/{client_id}": Custom(_channel_room_refused),
    "POST /assistant/sessions": Unowned("starts the caller's own session; the reads below prove the scoping"),
    "GET /assistant/sessions": Custom(_assistant_lists_hide),
    "GET /assistant/sessions/{session_id}": Owned(refused=NO_USER),
    "DELETE /assistant/sessions/{session_id}": Owned(refused=NO_USER, ok=(204,), destructive=True),
    "GET /assistant/sessions/{session_id}/messages": Custom(_assistant_lists_hide),
    "POST /assistant/sessions/{session_id}/messages": Owned(
        refused=NO_USER, ok=(201,), json={"content": "再来一次"}, headers={"Accept": "application/json"},
        admin_sees=False),
    "GET /assistant/sessions/{session_id}/messages/{message_id}": Owned(refused=NO_USER),
    "GET /assistant/sessions/{session_id}/messages/{message_id}/stream": Custom(_reply_stream_refused),
    "POST /assistant/analyze": Unowned("analyzes the text in its body; it reads nothing stored"),
    "POST /assistant/complete": Custom(_complete_refused),
    "GET /assistant/usage": Custom(_usage_is_per_user),
    "GET /articles/{article_id}/presence": Owned(refused=NO_USER),
    "WS /ws/articles/{article_id}": Custom(_collab_socket_refused),
    # a finished reply: the owner is told so (409); foreign callers get 404 before that
    "POST /assistant/sessions/{session_id}/messages/{message_id}/cancel": Owned(refused=NO_USER, ok=(409,),
                                                                               admin_sees=False),
}
