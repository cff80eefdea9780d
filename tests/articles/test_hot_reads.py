"""The lean GenFlow reads: ``GET /articles/{id}`` and ``GET /articles/search`` answered before routing.

What they must keep: the documented bodies (the same JSON the validated response models give), the visibility
rules (a draft is never shown to someone who may not read it, whatever was read before), every write seen by
the next read, and the route's own error shapes for everything the fast path hands on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from genloom.articles import collaborators as sharing
from genloom.articles import service
from genloom.articles.reads import read_visible
from genloom.runtime import Runtime
from genloom.search.service import search_articles
from genloom.surfaces.genflow.reads import HOT_READS
from genloom.surfaces.genflow.schemas import ArticleOut, SearchPage, article_of, hit_of
from genloom.system.hot_reads import HotReadMiddleware
from tests.articles.conftest import Cast, token_for
from tests.surfaces.test_metrics import scrape, value

FELL_THROUGH = 599


@pytest.fixture
async def fast_only(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The hot reads alone in front of an app that answers 599: a 599 means the fast path handed the request
    on to the full app."""
    from genloom.app import create_app

    app = create_app(runtime=runtime, workers=0)

    async def rest_of_the_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": FELL_THROUGH, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    hot = HotReadMiddleware(rest_of_the_app, reads=HOT_READS)

    async def with_app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app  # what Starlette sets before the middleware stack runs
        await hot(scope, receive, send)

    async with app.router.lifespan_context(app):
        app.state.runtime = runtime
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=with_app), base_url="http://testserver") as c:
            yield c


async def _draft_with_collaborators(runtime: Runtime, cast: Cast) -> str:
    async with runtime.db.session() as s:
        article = await service.create_article(s, cast.author, title="人工智能的发展", content="# 草稿\n机器学习")
        await sharing.add_collaborator(s, cast.author, article.id, cast.other.user_id or "")
        await sharing.add_collaborator(s, cast.author, article.id, cast.collaborator.user_id or "")
        return article.id


async def test_article_body_is_the_documented_model(client: httpx.AsyncClient, runtime: Runtime, cast: Cast,
                                                    fast_only: httpx.AsyncClient) -> None:
    article_id = await _draft_with_collaborators(runtime, cast)
    me = await token_for(client, "author")
    r = await fast_only.get(f"/articles/{article_id}", headers=me)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    async with runtime.db.read_session() as s:
        article = await service.get_visible(s, cast.author, article_id)
        expected = article_of(article, await sharing.collaborator_ids(s, article_id))
    assert r.json() == expected.model_dump(mode="json", by_alias=True)
    # invitation order, as the collaborator list has it
    assert r.json()["collaborators"] == [cast.other.user_id, cast.collaborator.user_id]
    assert ArticleOut.model_validate(r.json()).id == article_id
    assert r.headers["etag"] == service.etag_for(article)
    assert r.headers["cache-control"] == "private, no-cache"
    r = await fast_only.get(f"/articles/{article_id}", headers={**me, "If-None-Match": r.headers["etag"]})
    assert r.status_code == 304 and r.headers["etag"] == service.etag_for(article)


async def test_search_body_is_the_documented_model(client: httpx.AsyncClient, runtime: Runtime, cast: Cast,
                                                   fast_only: httpx.AsyncClient) -> None:
    me = await token_for(client, "author")
    for title in ("人工智能入门", "人工智能的发展", "机器学习"):
        assert (await client.post("/articles", json={"title": title, "content": f"{title} <b>正文</b>",
                                                     "status": "published"}, headers=me)).status_code == 201
    r = await fast_only.get("/articles/search", params={"q": "人工智能", "limit": 1}, headers=me)
    assert r.status_code == 200
    async with runtime.db.read_session() as s:
        hits, more = await search_articles(s, cast.author, "人工智能", limit=1)
    assert more
    expected = SearchPage(items=[hit_of(h) for h in hits], next_cursor=r.json()["nextCursor"])
    assert r.json() == expected.model_dump(mode="json", by_alias=True)
    assert r.json()["nextCursor"] is not None
    second = await fast_only.get("/articles/search", params={"q": "人工智能", "cursor": r.json()["nextCursor"]},
                                 headers=me)
    assert [h["id"] for h in second.json()["items"]] != [h["id"] for h in r.json()["items"]]
    assert len(second.json()["items"]) == 1 and second.json()["nextCursor"] is None


async def test_a_draft_is_never_served_to_someone_who_may_not_read_it(
        client: httpx.AsyncClient, cast: Cast, fast_only: httpx.AsyncClient) -> None:
    author, collab = await token_for(client, "author"), await token_for(client, "collab")
    other, admin = await token_for(client, "other"), await token_for(client, "admin")
    draft = (await client.post("/articles", json={"title": "私密草稿", "content": "人工智能草稿"},
                               headers=author)).json()["id"]
    url = f"/articles/{draft}"
    await client.put(f"{url}/collaborators/{cast.collaborator.user_id}", headers=author)
    for who in (author, collab, admin):  # readers first, so anything kept from their reads would show
        assert (await fast_only.get(url, headers=who)).status_code == 200
    # the fast path hands the others on; the full app answers them as the route does
    assert (await fast_only.get(url, headers=other)).status_code == FELL_THROUGH
    assert (await fast_only.get(url, headers={})).status_code == FELL_THROUGH
    r = await client.get(url, headers=other)
    assert r.status_code == 404 and r.json()["code"] == "article_not_found"
    assert (await client.get(url, headers={})).status_code == 401
    search = await fast_only.get("/articles/search", params={"q": "人工智能"}, headers=other)
    assert search.status_code == 200 and search.json()["items"] == []
    found = (await fast_only.get("/articles/search", params={"q": "人工智能"}, headers=collab)).json()["items"]
    assert [h["id"] for h in found] == [draft]


async def test_every_write_is_seen_by_the_next_read(client: httpx.AsyncClient, cast: Cast,
                                                    fast_only: httpx.AsyncClient) -> None:
    author, collab, other = (await token_for(client, "author"), await token_for(client, "collab"),
                             await token_for(client, "other"))
    r = await client.post("/articles", json={"title": "t", "content": "v1"}, headers=author)
    url = f"/articles/{r.json()['id']}"
    assert (await fast_only.get(url, headers=author)).headers["etag"] == r.headers["etag"]
    r = await client.put(url, json={"content": "v2", "version": 1}, headers=author)
    read = await fast_only.get(url, headers=author)
    assert (read.json()["content"], read.json()["version"], read.headers["etag"]) == ("v2", 2, r.headers["etag"])
    # published: readable by others at once; back to draft: gone for them at once
    await client.patch(url, json={"status": "published"}, headers=author)
    assert (await fast_only.get(url, headers=other)).json()["status"] == "published"
    await client.patch(url, json={"status": "draft"}, headers=author)
    assert (await fast_only.get(url, headers=other)).status_code == FELL_THROUGH
    assert (await client.get(url, headers=other)).status_code == 404
    # invited, then uninvited
    await client.put(f"{url}/collaborators/{cast.collaborator.user_id}", headers=author)
    assert (await fast_only.get(url, headers=collab)).json()["collaborators"] == [cast.collaborator.user_id]
    await client.delete(f"{url}/collaborators/{cast.collaborator.user_id}", headers=author)
    assert (await fast_only.get(url, headers=collab)).status_code == FELL_THROUGH
    assert (await fast_only.get(url, headers=author)).json()["collaborators"] == []
    # deleted, then restored
    await client.delete(url, headers=author)
    assert (await fast_only.get(url, headers=author)).status_code == FELL_THROUGH
    assert (await client.get(url, headers=author)).status_code == 404
    await client.post(f"{url}/restore", headers=author)
    assert (await fast_only.get(url, headers=author)).json()["content"] == "v2"


@pytest.mark.parametrize(("query", "status"), [
    ({"q": ""}, 400), ({"limit": "5"}, 400), ({"q": "x" * 201}, 400), ({"q": "人工智能", "limit": "0"}, 400),
    ({"q": "人工智能", "limit": "51"}, 400), ({"q": "人工智能", "cursor": "zz"}, 400),
    # not refused, only unusual: the route's own validation decides
    ({"q": "人工智能", "limit": "+5"}, 200),
])
async def test_search_hands_on_what_the_route_may_refuse(client: httpx.AsyncClient, cast: Cast,
                                                         fast_only: httpx.AsyncClient, query: dict[str, Any],
                                                         status: int) -> None:
    me = await token_for(client, "other")
    assert (await fast_only.get("/articles/search", params=query, headers=me)).status_code == FELL_THROUGH
    r = await client.get("/articles/search", params=query, headers=me)
    assert r.status_code == status
    if status == 400:
        assert r.headers["content-type"] == "application/problem+json"


async def test_bad_tokens_and_ids_are_handed_on(client: httpx.AsyncClient, runtime: Runtime, cast: Cast,
                                                fast_only: httpx.AsyncClient) -> None:
    article_id = await _draft_with_collaborators(runtime, cast)
    bad = {"Authorization": "Bearer not-a-token"}
    for path in (f"/articles/{article_id}", "/articles/not-a-uuid", "/articles/search?q=x"):
        assert (await fast_only.get(path, headers=bad)).status_code == FELL_THROUGH
    assert (await client.get(f"/articles/{article_id}", headers=bad)).status_code == 401
    r = await client.get("/articles/not-a-uuid", headers=await token_for(client, "author"))
    assert r.status_code == 404 and r.json()["code"] == "article_not_found"


async def test_read_visible_on_a_connection(runtime: Runtime, cast: Cast) -> None:
    article_id = await _draft_with_collaborators(runtime, cast)
    async with runtime.db.reader.connect() as conn:
        for who in (cast.author, cast.collaborator, cast.other, cast.admin):
            record = await read_visible(conn, who, article_id)
            assert record is not None and record.collaborators == (cast.other.user_id, cast.collaborator.user_id)
        assert await read_visible(conn, cast.anonymous, article_id) is None
        assert await read_visible(conn, cast.author, "not-a-uuid") is None
    async with runtime.db.session() as s:
        await sharing.remove_collaborator(s, cast.author, article_id, cast.other.user_id or "")
    async with runtime.db.reader.connect() as conn:
        assert await read_visible(conn, cast.other, article_id) is None
        record = await read_visible(conn, cast.collaborator, article_id)
        assert record is not None and record.collaborators == (cast.collaborator.user_id,)


async def test_fast_reads_are_counted_by_route_template(client: httpx.AsyncClient, runtime: Runtime,
                                                        cast: Cast) -> None:
    article_id = await _draft_with_collaborators(runtime, cast)
    me = await token_for(client, "author")
    await client.get(f"/articles/{article_id}", headers=me)
    await client.get("/articles/search", params={"q": "人工智能"}, headers=me)
    samples = await scrape(client)
    name = "genloom_http_requests_total"
    assert value(samples, name, method="GET", route="/articles/{article_id}", status="200") == 1
    assert value(samples, name, method="GET", route="/articles/search", status="200") == 1


def test_the_routes_stay_documented() -> None:
    from genloom.app import create_app

    app: FastAPI = create_app(workers=0)
    paths = app.openapi()["paths"]
    assert "/articles/{article_id}" in paths and "/articles/search" in paths
    assert paths["/articles/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SearchPage"}
