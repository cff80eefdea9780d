"""The GenFlow article routes over HTTP: status codes, ETags, problem+json errors, and the visibility matrix."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from genloom.articles.models import Article, ArticleVersion
from genloom.runtime import Runtime
from tests.articles.conftest import Cast, token_for

PROBLEM = "application/problem+json"


async def test_crud_versions_diff_restore(client: httpx.AsyncClient, cast: Cast) -> None:
    me = await token_for(client, "author")
    r = await client.post("/articles", json={"title": "人工智能的发展", "content": "# 标题\n初稿\n"}, headers=me)
    assert r.status_code == 201, r.text
    body, etag = r.json(), r.headers["etag"]
    assert r.headers["location"] == f"/articles/{body['id']}"
    assert (body["version"], body["status"], body["authorId"]) == (1, "draft", cast.author.user_id)
    url = f"/articles/{body['id']}"
    assert (await client.get(url, headers={**me, "If-None-Match": etag})).status_code == 304
    r = await client.put(url, json={"content": "# 标题\n第二稿\n", "message": "second"},
                         headers={**me, "If-Match": etag})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] != etag
    r = await client.put(url, json={"content": "stale"}, headers={**me, "If-Match": etag})
    assert r.status_code == 412 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "precondition_failed" and r.json()["field"] == "If-Match"
    r = await client.put(url, json={"content": "stale", "version": 1}, headers=me)
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    r = await client.put(url, json={"content": "no precondition"}, headers=me)
    assert r.status_code == 428 and r.json()["code"] == "precondition_required"
    versions = (await client.get(f"{url}/versions", headers=me)).json()
    assert [v["n"] for v in versions["items"]] == [2, 1] and "content" not in versions["items"][0]
    assert versions["items"][0]["message"] == "second" and versions["nextCursor"] is None
    page = (await client.get(f"{url}/versions?limit=1", headers=me)).json()
    assert [v["n"] for v in page["items"]] == [2]
    page = (await client.get(f"{url}/versions?limit=1&cursor={page['nextCursor']}", headers=me)).json()
    assert [v["n"] for v in page["items"]] == [1]
    v1 = (await client.get(f"{url}/versions/1", headers=me)).json()
    assert v1["content"] == "# 标题\n初稿\n"
    assert (await client.get(f"{url}/versions/9", headers=me)).json()["code"] == "version_not_found"
    diff = (await client.get(f"{url}/diff?from=1&to=2", headers=me)).json()
    assert diff["from"] == 1 and diff["to"] == 2 and "-初稿\n+第二稿\n" in diff["unified"]
    assert [ln["op"] for ln in diff["hunks"][0]["lines"]] == ["equal", "delete", "insert"]
    r = await client.post(f"{url}/versions/1/restore", headers=me)
    assert r.status_code == 200 and r.json()["version"] == 3 and r.json()["content"] == "# 标题\n初稿\n"
    r = await client.patch(url, json={"status": "published"}, headers=me)
    assert r.status_code == 200 and r.json()["status"] == "published" and r.json()["publishedAt"]
    assert r.json()["version"] == 3  # a status change is not a new text version


async def test_bad_input_is_a_problem_and_leaves_nothing(client: httpx.AsyncClient, runtime: Runtime,
                                                         cast: Cast) -> None:
    me = await token_for(client, "author")
    for body, code, field in (({"title": ""}, "validation_error", "title"),
                              ({"title": "t" * 201}, "validation_error", "title"),
                              ({"title": "t", "status": "live"}, "validation_error", "status"),
                              ({"title": "t", "extra": 1}, "validation_error", "extra"),
                              ({"title": "t", "content": "字" * 400_000}, "content_too_large", "content")):
        r = await client.post("/articles", json=body, headers=me)
        assert r.status_code in (400, 413) and r.headers["content-type"] == PROBLEM, r.text
        assert (r.json()["code"], r.json()["field"]) == (code, field)
    assert (await client.post("/articles", json={"title": "t"})).status_code == 401
    assert (await client.get("/articles?cursor=nonsense", headers=me)).json()["field"] == "cursor"
    assert (await client.get("/articles/search?q=x&cursor=zz", headers=me)).json()["field"] == "cursor"
    async with runtime.db.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(Article))).scalar_one() == 0
        assert (await s.execute(select(func.count()).select_from(ArticleVersion))).scalar_one() == 0


async def test_visibility_matrix(client: httpx.AsyncClient, cast: Cast) -> None:
    author, collab = await token_for(client, "author"), await token_for(client, "collab")
    other, admin = await token_for(client, "other"), await token_for(client, "admin")
    draft = (await client.post("/articles", json={"title": "draft", "content": "d"}, headers=author)).json()["id"]
    pub = (await client.post("/articles", json={"title": "pub", "content": "p", "status": "published"},
                             headers=author)).json()["id"]
    r = await client.put(f"/articles/{draft}/collaborators/{cast.collaborator.user_id}", headers=author)
    assert r.status_code == 200 and r.json()["collaborators"] == [cast.collaborator.user_id]
    assert (await client.put(f"/articles/{draft}/collaborators/{cast.author.user_id}",
                             headers=author)).json()["code"] == "invalid_collaborator"
    assert (await client.put(f"/articles/{draft}/collaborators/{cast.other.user_id}",
                             headers=collab)).json()["code"] == "author_only"
    # reads
    for who, status in ((author, 200), (collab, 200), (admin, 200), (other, 404), ({}, 401)):
        assert (await client.get(f"/articles/{draft}", headers=who)).status_code == status
    for who, status in ((author, 200), (collab, 200), (admin, 200), (other, 200), ({}, 401)):
        assert (await client.get(f"/articles/{pub}", headers=who)).status_code == status
    # writes
    r = await client.put(f"/articles/{draft}", json={"content": "by collab", "version": 1}, headers=collab)
    assert r.status_code == 200 and r.json()["version"] == 2
    assert (await client.patch(f"/articles/{draft}", json={"status": "published"},
                               headers=collab)).json()["code"] == "author_only"
    assert (await client.delete(f"/articles/{draft}", headers=collab)).json()["code"] == "author_only"
    assert (await client.put(f"/articles/{draft}", json={"content": "x", "version": 2},
                             headers=other)).status_code == 404
    r = await client.put(f"/articles/{pub}", json={"content": "x", "version": 1}, headers=other)
    assert r.status_code == 403 and r.json()["code"] == "article_read_only"
    assert (await client.delete(f"/articles/{pub}", headers=other)).status_code == 403
    r = await client.put(f"/articles/{pub}", json={"content": "by admin", "version": 1}, headers=admin)
    assert r.status_code == 200 and r.json()["version"] == 2
    # lists
    for who, expected in ((author, {draft, pub}), (collab, {draft, pub}), (other, {pub}), (admin, {draft, pub})):
        items = (await client.get("/articles", headers=who)).json()["items"]
        assert {a["id"] for a in items} == expected
    # collaborator removed: the draft is gone for them
    assert (await client.delete(f"/articles/{draft}/collaborators/{cast.collaborator.user_id}",
                                headers=author)).json()["collaborators"] == []
    assert (await client.get(f"/articles/{draft}", headers=collab)).status_code == 404


async def test_soft_delete_if_match_and_restore(client: httpx.AsyncClient, cast: Cast) -> None:
    author, other = await token_for(client, "author"), await token_for(client, "other")
    r = await client.post("/articles", json={"title": "t", "content": "c", "status": "published"}, headers=author)
    url, etag = f"/articles/{r.json()['id']}", r.headers["etag"]
    await client.patch(url, json={"title": "t2"}, headers=author)
    assert (await client.delete(url, headers={**author, "If-Match": etag})).status_code == 412
    assert (await client.delete(url, headers=author)).status_code == 204
    assert (await client.get(url, headers=author)).status_code == 404
    assert (await client.get(url, headers=other)).status_code == 404
    deleted = (await client.get("/articles?status=deleted", headers=author)).json()["items"]
    assert [a["id"] for a in deleted] == [url.rsplit("/", 1)[1]] and deleted[0]["deletedAt"]
    assert (await client.post(f"{url}/restore", headers=other)).status_code == 404
    r = await client.post(f"{url}/restore", headers=author)
    assert r.status_code == 200 and r.json()["title"] == "t2"
    assert (await client.get(url, headers=other)).status_code == 200


async def test_search_route(client: httpx.AsyncClient, cast: Cast) -> None:
    author, other = await token_for(client, "author"), await token_for(client, "other")
    for title, content, status in (("人工智能入门", "机器学习基础", "published"), ("随笔", "谈谈人工智能的发展", "published"),
                                   ("私密", "人工智能草稿", "draft")):
        await client.post("/articles", json={"title": title, "content": content, "status": status}, headers=author)
    r = await client.get("/articles/search", params={"q": "人工智能", "limit": 1}, headers=other)
    assert r.status_code == 200
    page = r.json()
    assert [h["title"] for h in page["items"]] == ["人工智能入门"] and page["nextCursor"]
    page2 = (await client.get("/articles/search", params={"q": "人工智能", "limit": 1, "cursor": page["nextCursor"]},
                              headers=other)).json()
    assert [h["title"] for h in page2["items"]] == ["随笔"] and page2["nextCursor"] is None
    assert "<mark>人工智能</mark>" in page2["items"][0]["snippet"]
    assert set(page2["items"][0]) == {"id", "title", "snippet", "score", "status", "updatedAt"}
    mine = (await client.get("/articles/search", params={"q": "人工智能"}, headers=author)).json()["items"]
    assert len(mine) == 3
    r = await client.get("/articles/search", params={"q": ""}, headers=other)
    assert r.status_code == 400 and r.json()["field"] == "q"
