"""Nodes over HTTP: envelope, ETag/304, If-Match 412/428, version 409, soft delete and restore, paging, filters."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


async def _create(client: httpx.AsyncClient, content: str = "雨夜的霓虹街道", **extra: Any) -> httpx.Response:
    r = await client.post("/nodes", json={"content": content, **extra})
    assert r.status_code == 201, r.text
    return r


class TestCreateAndRead:
    async def test_create_returns_envelope_and_etag(self, client: httpx.AsyncClient) -> None:
        r = await _create(client, status="archived")
        body = r.json()
        assert body["code"] == 0 and body["message"] == "ok"
        node = body["data"]
        assert set(node) == {"id", "content", "status", "version", "createdAt", "updatedAt", "deletedAt"}
        assert node["status"] == "archived" and node["version"] == 1 and node["deletedAt"] is None
        assert r.headers["etag"].startswith('"') and r.headers["location"] == f"/nodes/{node['id']}"

    async def test_get_etag_and_304(self, client: httpx.AsyncClient) -> None:
        node = (await _create(client)).json()["data"]
        r = await client.get(f"/nodes/{node['id']}")
        assert r.status_code == 200 and r.json()["data"]["content"] == "雨夜的霓虹街道"
        etag = r.headers["etag"]
        r304 = await client.get(f"/nodes/{node['id']}", headers={"If-None-Match": etag})
        assert r304.status_code == 304 and r304.content == b"" and r304.headers["etag"] == etag
        other = await client.get(f"/nodes/{node['id']}", headers={"If-None-Match": '"1-nope"'})
        assert other.status_code == 200

    async def test_validation_errors(self, client: httpx.AsyncClient) -> None:
        for payload, field in (({"content": ""}, "content"), ({"content": "x" * 20_001}, "content"),
                               ({"content": "ok", "status": "gone"}, "status"), ({}, "content"),
                               ({"content": "   "}, "content")):
            r = await client.post("/nodes", json=payload)
            assert r.status_code == 400, (payload, r.text)
            body = r.json()
            assert body["code"] == 40001 and body["data"]["field"] == field and body["message"]
        assert (await client.post("/nodes", json={"content": "x" * 20_000})).status_code == 201

    async def test_unknown_node_is_404(self, client: httpx.AsyncClient) -> None:
        for node_id in ("0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", "not-a-uuid"):
            r = await client.get(f"/nodes/{node_id}")
            assert r.status_code == 404
            assert r.json() == {"code": 40401, "message": f"node {node_id} not found",
                                "data": {"error": "node_not_found", "field": "id"}}


class TestUpdate:
    async def test_if_match_success_then_stale_412(self, client: httpx.AsyncClient) -> None:
        r = await _create(client)
        node_id, etag = r.json()["data"]["id"], r.headers["etag"]
        ok = await client.put(f"/nodes/{node_id}", json={"content": "新的内容"}, headers={"If-Match": etag})
        assert ok.status_code == 200, ok.text
        assert ok.json()["data"]["version"] == 2 and ok.json()["data"]["content"] == "新的内容"
        new_etag = ok.headers["etag"]
        assert new_etag != etag
        stale = await client.put(f"/nodes/{node_id}", json={"content": "again"}, headers={"If-Match": etag})
        assert stale.status_code == 412
        assert stale.json()["code"] == 41201 and stale.json()["data"]["error"] == "precondition_failed"
        weak = await client.put(f"/nodes/{node_id}", json={"content": "x"}, headers={"If-Match": f"W/{new_etag}"})
        assert weak.status_code == 412  # If-Match uses strong comparison
        current = await client.get(f"/nodes/{node_id}")
        assert current.json()["data"]["content"] == "新的内容" and current.headers["etag"] == new_etag

    async def test_version_in_body_and_409(self, client: httpx.AsyncClient) -> None:
        node_id = (await _create(client)).json()["data"]["id"]
        ok = await client.put(f"/nodes/{node_id}", json={"status": "archived", "version": 1})
        assert ok.status_code == 200 and ok.json()["data"]["status"] == "archived"
        stale = await client.put(f"/nodes/{node_id}", json={"content": "late", "version": 1})
        assert stale.status_code == 409
        body = stale.json()
        assert body["code"] == 40901 and body["data"]["error"] == "version_conflict"
        assert body["data"]["field"] == "version" and body["data"]["currentVersion"] == 2

    async def test_neither_given_is_428(self, client: httpx.AsyncClient) -> None:
        node_id = (await _create(client)).json()["data"]["id"]
        r = await client.put(f"/nodes/{node_id}", json={"content": "x"})
        assert r.status_code == 428 and r.json()["code"] == 42801
        assert (await client.get(f"/nodes/{node_id}")).json()["data"]["version"] == 1

    async def test_concurrent_updates_one_wins(self, client: httpx.AsyncClient) -> None:
        r = await _create(client)
        node_id, etag = r.json()["data"]["id"], r.headers["etag"]
        results = await asyncio.gather(*(client.put(f"/nodes/{node_id}", json={"content": f"v{i}"},
                                                    headers={"If-Match": etag}) for i in range(4)))
        statuses = sorted(x.status_code for x in results)
        assert statuses.count(200) == 1 and statuses.count(412) == 3
        assert (await client.get(f"/nodes/{node_id}")).json()["data"]["version"] == 2


class TestSoftDelete:
    async def test_delete_hides_and_restore_brings_back(self, client: httpx.AsyncClient) -> None:
        node = (await _create(client)).json()["data"]
        keep = (await _create(client, "另一个节点")).json()["data"]
        r = await client.delete(f"/nodes/{node['id']}")
        assert r.status_code == 200 and r.json()["data"]["deletedAt"] is not None
        assert (await client.get(f"/nodes/{node['id']}")).status_code == 404
        put = await client.put(f"/nodes/{node['id']}", json={"content": "x", "version": 2})
        assert put.status_code == 404
        assert (await client.delete(f"/nodes/{node['id']}")).status_code == 404
        listed = (await client.get("/nodes")).json()["data"]
        assert [n["id"] for n in listed["items"]] == [keep["id"]] and listed["total"] == 1
        with_deleted = (await client.get("/nodes", params={"includeDeleted": "true"})).json()["data"]
        assert {n["id"] for n in with_deleted["items"]} == {node["id"], keep["id"]}
        restored = await client.post(f"/nodes/{node['id']}/restore")
        assert restored.status_code == 200 and restored.json()["data"]["deletedAt"] is None
        assert restored.json()["data"]["version"] == 3
        assert (await client.get(f"/nodes/{node['id']}")).status_code == 200
        assert (await client.get("/nodes")).json()["data"]["total"] == 2
        assert (await client.post("/nodes/0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b/restore")).status_code == 404


class TestList:
    async def test_paging_filters_and_sort(self, client: httpx.AsyncClient) -> None:
        ids = []
        for i in range(7):
            node = (await _create(client, f"节点 {i} {'猫' if i % 2 else '狗'}",
                                  status="archived" if i == 6 else "active")).json()["data"]
            ids.append(node["id"])
        page1 = (await client.get("/nodes", params={"page": 1, "size": 3})).json()["data"]
        page3 = (await client.get("/nodes", params={"page": 3, "size": 3})).json()["data"]
        assert page1["total"] == 7 and page1["page"] == 1 and page1["size"] == 3
        assert [n["id"] for n in page1["items"]] == ids[::-1][:3]  # newest change first
        assert [n["id"] for n in page3["items"]] == [ids[0]]
        oldest_first = (await client.get("/nodes", params={"sort": "createdAt", "size": 2})).json()["data"]
        assert [n["id"] for n in oldest_first["items"]] == ids[:2]
        cats = (await client.get("/nodes", params={"q": "猫"})).json()["data"]
        assert cats["total"] == 3 and all("猫" in n["content"] for n in cats["items"])
        archived = (await client.get("/nodes", params={"status": "archived"})).json()["data"]
        assert [n["id"] for n in archived["items"]] == [ids[6]]
        touched = await client.put(f"/nodes/{ids[0]}", json={"content": "改过 猫", "version": 1})
        since = touched.json()["data"]["updatedAt"]
        recent = (await client.get("/nodes", params={"updatedSince": since})).json()["data"]
        assert [n["id"] for n in recent["items"]] == [ids[0]]
        literal = (await client.get("/nodes", params={"q": "%"})).json()["data"]
        assert literal["total"] == 0  # LIKE wildcards are matched literally

    async def test_bad_paging_is_400(self, client: httpx.AsyncClient) -> None:
        for params, field in (({"size": 101}, "size"), ({"size": 0}, "size"), ({"page": 0}, "page"),
                              ({"sort": "name"}, "sort"), ({"updatedSince": "yesterday"}, "updatedSince")):
            r = await client.get("/nodes", params=params)
            assert r.status_code == 400, params
            assert r.json()["code"] == 40001 and r.json()["data"]["field"] == field
