"""Collaborative editing with standard Yjs clients (npm ``yjs`` + ``y-websocket`` in Node) over real sockets."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from genloom.articles.models import Article, ArticleVersion
from genloom.assembly import build_runtime, start_runtime
from genloom.collab.models import CollabUpdate
from genloom.runtime import Runtime
from tests.conftest import serve_app
from tests.genflow_live.conftest import genflow_app, make_article, make_user, run_yjs


async def _tokens(runtime: Runtime, url: str, *names: str) -> list[str]:
    import httpx

    from tests.genflow_live.conftest import PASSWORD

    async with httpx.AsyncClient(base_url=url) as client:
        out = []
        for name in names:
            r = await client.post("/auth/login", json={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            out.append(r.json()["access_token"])
        return out


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws/articles"


async def _versions(runtime: Runtime, article_id: str) -> list[ArticleVersion]:
    async with runtime.db.read_session() as s:
        return list((await s.execute(select(ArticleVersion).where(ArticleVersion.article_id == article_id)
                                     .order_by(ArticleVersion.n))).scalars())


async def _wait_version(runtime: Runtime, article_id: str, n: int, timeout: float = 15.0) -> ArticleVersion:
    deadline = time.monotonic() + timeout
    while True:
        versions = await _versions(runtime, article_id)
        if len(versions) >= n:
            return versions[n - 1]
        assert time.monotonic() < deadline, f"no version {n}: {[v.message for v in versions]}"
        await asyncio.sleep(0.1)


async def test_two_editors_converge_and_the_text_becomes_a_version(runtime: Runtime, yjs_clients: Path) -> None:
    alice = await make_user(runtime, "alice")
    await make_user(runtime, "bob")
    article_id = await make_article(runtime, alice, title="Together", content="Start. ")
    from genloom.articles import collaborators

    async with runtime.db.session() as s:
        await collaborators.add_collaborator(s, alice, article_id, (await _user_id(runtime, "bob")))
    async with serve_app(genflow_app(runtime)) as url:
        tokens = await _tokens(runtime, url, "alice", "bob")
        result = await run_yjs(yjs_clients, url=_ws(url), doc=article_id, tokens=tokens, mode="edit", edits=10)
        assert result["converged"], result
        text = result["text"]
        assert "Start. " in text  # seeded from the article's latest version
        assert all(f"[e{i}.{k}]" in text for i in range(2) for k in range(10))
        # the last editor left: within the leave delay the text is saved as a version
        version = await _wait_version(runtime, article_id, 2)
        assert version.content == text and version.message == "collaborative edit"
        assert version.author_id in {await _user_id(runtime, "alice"), await _user_id(runtime, "bob")}
        async with runtime.db.read_session() as s:
            article = await s.get(Article, article_id)
            assert article is not None and article.content == text and article.version == 2
        # a new client starts from the stored document, not from scratch
        again = await run_yjs(yjs_clients, url=_ws(url), doc=article_id, tokens=tokens[:1], mode="read")
        assert again == {"text": text, "title": "Together"}


async def test_twenty_editors_converge(runtime: Runtime, yjs_clients: Path) -> None:
    owner = await make_user(runtime, "owner")
    article_id = await make_article(runtime, owner, title="Crowd", content="")
    async with serve_app(genflow_app(runtime)) as url:
        token = (await _tokens(runtime, url, "owner"))[0]
        result = await run_yjs(yjs_clients, url=_ws(url), doc=article_id, tokens=[token] * 20, mode="edit", edits=5,
                               timeoutMs=60000)
    assert result["converged"] and result["distinct"] == 1, result
    assert sum(result["text"].count(f"[e{i}.") for i in range(20)) == 100


async def test_idle_document_is_saved_while_editors_stay(runtime: Runtime, yjs_clients: Path) -> None:
    owner = await make_user(runtime, "owner")
    article_id = await make_article(runtime, owner, title="Idle", content="x")
    async with serve_app(genflow_app(runtime)) as url:
        token = (await _tokens(runtime, url, "owner"))[0]
        # settleMs keeps the editors connected past the idle period (1 s in these tests)
        result = await run_yjs(yjs_clients, url=_ws(url), doc=article_id, tokens=[token], mode="edit", edits=3,
                               settleMs=2500)
        versions = await _versions(runtime, article_id)
        assert len(versions) >= 2 and versions[1].content == result["text"]


async def test_unauthorised_and_read_only_joins(runtime: Runtime, yjs_clients: Path) -> None:
    author = await make_user(runtime, "author")
    await make_user(runtime, "reader")
    draft = await make_article(runtime, author, title="Draft", content="secret")
    published = await make_article(runtime, author, title="Public", content="open text", status="published")
    async with serve_app(genflow_app(runtime)) as url:
        author_token, reader_token = await _tokens(runtime, url, "author", "reader")
        ws = _ws(url)
        assert await run_yjs(yjs_clients, url=ws, doc=draft, tokens=[""], mode="join") == {"closed": 4401}
        assert await run_yjs(yjs_clients, url=ws, doc=draft, tokens=["not-a-jwt"], mode="join") == {"closed": 4401}
        assert await run_yjs(yjs_clients, url=ws, doc=draft, tokens=[reader_token], mode="join") == {"closed": 4403}
        # a reader of a published article joins read-only: its edits never reach the document
        joined = await run_yjs(yjs_clients, url=ws, doc=published, tokens=[reader_token, author_token], mode="join",
                               tryEdit=True)
        assert joined == {"synced": True, "changed": False}
    async with runtime.db.read_session() as s:
        assert (await s.get(Article, published)).content == "open text"  # type: ignore[union-attr]


async def test_edits_survive_a_server_restart(runtime: Runtime, yjs_clients: Path) -> None:
    owner = await make_user(runtime, "owner")
    article_id = await make_article(runtime, owner, title="Durable", content="")
    runtime.settings.collab_leave_seconds = 5.0  # no version is saved before the restart
    async with serve_app(genflow_app(runtime)) as url:
        token = (await _tokens(runtime, url, "owner"))[0]
        result = await run_yjs(yjs_clients, url=_ws(url), doc=article_id, tokens=[token, token], mode="edit",
                               edits=8, settleMs=50)
    async with runtime.db.read_session() as s:
        stored = (await s.execute(select(func.count()).where(CollabUpdate.doc_id == article_id))).scalar_one()
    assert stored > 0
    # a fresh process on the same database: the document comes back from the update log
    second = build_runtime(runtime.settings)
    await start_runtime(second, migrate=False)
    try:
        async with serve_app(genflow_app(second)) as url:
            token = (await _tokens(second, url, "owner"))[0]
            again = await run_yjs(yjs_clients, url=_ws(url), doc=article_id, tokens=[token], mode="read")
    finally:
        await second.close()
    assert again["text"] == result["text"]


async def _user_id(runtime: Runtime, name: str) -> str:
    from genloom.identity.models import User

    async with runtime.db.read_session() as s:
        return (await s.execute(select(User.id).where(User.username == name))).scalar_one()


async def test_rest_save_reaches_the_open_document_and_presence_lists_the_editor(runtime: Runtime,
                                                                                  yjs_clients: Path) -> None:
    import json

    import httpx

    owner = await make_user(runtime, "owner")
    article_id = await make_article(runtime, owner, title="Mixed", content="First line.\nSecond line.")
    runtime.settings.collab_idle_seconds = 30.0  # no idle snapshot between the REST client's read and its save
    async with serve_app(genflow_app(runtime)) as url:
        token = (await _tokens(runtime, url, "owner"))[0]
        proc = await asyncio.create_subprocess_exec(
            "node", str(yjs_clients), json.dumps({"url": _ws(url), "doc": article_id, "tokens": [token],
                                                  "mode": "hold", "holdMs": 3000, "name": "Owner"}),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        ready = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert json.loads(ready) == {"ready": True}
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers) as client:
            await asyncio.sleep(0.3)
            presence = (await client.get(f"/articles/{article_id}/presence")).json()
            assert presence["editors"][0]["username"] == "owner"
            assert [s["name"] for s in presence["states"]] == ["Owner"]
            current = (await client.get(f"/articles/{article_id}")).json()
            # the REST client edits the first line of the version it read; the editor's unsaved marker stays
            r = await client.put(f"/articles/{article_id}", json={
                "content": current["content"].replace("First line.", "First line, edited over REST."),
                "version": current["version"]})
            assert r.status_code == 200, r.text
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        final = json.loads(out.decode().splitlines()[-1])
        assert "First line, edited over REST." in final["text"] and "[held]" in final["text"]
        version = await _wait_version(runtime, article_id, 3)  # REST (2), then the editor leaving (3)
        assert version.content == final["text"]


async def test_a_document_over_the_size_limit_keeps_its_edits_and_says_why_it_is_not_saved(
        runtime: Runtime, yjs_clients: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Typed past the article limit (1 MiB): no version (the save is refused, once, not every second), the room
    still unloads, the text stays in the update log, and presence tells the next editor why nothing is saved."""
    import json
    import logging

    import httpx

    from genloom.articles.service import MAX_CONTENT_BYTES
    from genloom.surfaces.genflow.collab import collab_of

    caplog.set_level(logging.WARNING, logger="genloom.collab")
    owner = await make_user(runtime, "owner")
    article_id = await make_article(runtime, owner, title="Huge", content="Small start. ")
    async with serve_app(genflow_app(runtime)) as url:
        token = (await _tokens(runtime, url, "owner"))[0]
        big = MAX_CONTENT_BYTES + 50_000
        result = await run_yjs(yjs_clients, url=_ws(url), doc=article_id, tokens=[token], mode="edit", edits=1,
                               bigEdit=big)
        assert result["converged"], {k: v for k, v in result.items() if k not in ("text", "texts")}
        manager = collab_of(runtime)
        deadline = time.monotonic() + 10
        while article_id in manager.rooms and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert article_id not in manager.rooms  # unloaded after the leave delay, though nothing was saved
        assert len(await _versions(runtime, article_id)) == 1
        refused = [r for r in caplog.records if "collab.snapshot_refused" in r.getMessage()]
        assert len(refused) == 1 and "content_too_large" in refused[0].getMessage()
        assert not [r for r in caplog.records if "collab.snapshot_failed" in r.getMessage()]
        assert all("xxxx" not in r.getMessage() for r in caplog.records)  # no user text in the log

        # the next editor gets the whole text back from the log, and presence says why it is not saved
        proc = await asyncio.create_subprocess_exec(
            "node", str(yjs_clients), json.dumps({"url": _ws(url), "doc": article_id, "tokens": [token],
                                                  "mode": "hold", "holdMs": 4000, "name": "Owner"}),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        assert json.loads(await asyncio.wait_for(proc.stdout.readline(), 30)) == {"ready": True}
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            error = None
            deadline = time.monotonic() + 3.5
            while error is None and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                error = (await client.get(f"/articles/{article_id}/presence")).json()["saveError"]
        assert error is not None and error["code"] == "content_too_large" and error["message"], error
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        final = json.loads(out.decode().splitlines()[-1])
        assert len(final["text"]) > big and "[held]" in final["text"] and "Small start. " in final["text"]
        assert len(await _versions(runtime, article_id)) == 1
