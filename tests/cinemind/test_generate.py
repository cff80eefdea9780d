"""The whole generation flow with the offline providers: 202 → worker → image and thumbnail stored under the
cineMind key layout → graph_results row → task completed; then results (content negotiation), file meta and
image nodes."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select

from genloom.cinemind.models import GraphResult, GraphResultNode
from genloom.runtime import Runtime
from tests.conftest import drain

KEY_IMAGE = re.compile(r"^images/\d{4}/\d{2}/\d{2}/([0-9a-f-]{36})\.png$")
KEY_THUMB = re.compile(r"^thumbs/\d{4}/\d{2}/\d{2}/([0-9a-f-]{36})_thumb\.jpg$")


async def generate(client: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any], path: str = "/tasks/generate") -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 202, r.text
    accepted = r.json()["data"]
    assert accepted["status"] == "queued" and len(accepted["graphIds"]) == body.get("数量", 1)
    await drain(runtime)
    task = await client.get(f"/tasks/{accepted['taskId']}")
    assert task.status_code == 200
    return {"accepted": accepted, "task": task.json()["data"]}


class TestFlow:
    async def test_generation_to_stored_image_and_thumbnail(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        node_id = (await client.post("/nodes", json={"content": "雨夜的霓虹街道"})).json()["data"]["id"]
        out = await generate(client, runtime, {"主体": "雨夜的霓虹街道，一位撑伞的少女", "比例": "16:9", "风格": "电影感",
                                               "数量": 2, "种子": 7, "关联节点": [node_id]})
        accepted, task = out["accepted"], out["task"]
        assert task["status"] == "completed" and task["progress"] == 100 and task["error"] is None
        assert task["createdAt"] and task["startedAt"] and task["finishedAt"]
        result = task["result"]
        assert result["graphIds"] == accepted["graphIds"]
        assert result["promptZh"].startswith("主体：雨夜的霓虹街道") and "风格：电影感" in result["promptZh"]
        assert result["promptEn"].startswith("Subject: rainy night neon street")
        assert result["styleHints"] == ["电影感"]
        assert [i["graphId"] for i in result["images"]] == accepted["graphIds"]
        for image in result["images"]:
            assert image["url"].startswith("/media/images/") and image["thumbUrl"].startswith("/media/thumbs/")
            full = await client.get(image["url"])
            assert full.status_code == 200 and full.headers["content-type"] == "image/png"
            assert Image.open(io.BytesIO(full.content)).size == (1024, 576)
            small = await client.get(image["thumbUrl"])
            assert small.status_code == 200 and max(Image.open(io.BytesIO(small.content)).size) <= 320
        async with runtime.db.session() as s:
            rows = (await s.execute(select(GraphResult).order_by(GraphResult.id))).scalars().all()
            links = (await s.execute(select(GraphResultNode))).scalars().all()
        assert sorted(r.id for r in rows) == sorted(accepted["graphIds"])
        for row in rows:
            assert KEY_IMAGE.match(row.storage_path).group(1) == row.id  # type: ignore[union-attr]
            assert KEY_THUMB.match(row.thumbnail_path or "").group(1) == row.id  # type: ignore[union-attr]
            data = await runtime.blobs.get(row.storage_path)
            assert row.checksum == hashlib.sha256(data).hexdigest() and row.size == len(data)
            assert row.mime == "image/png" and (row.width, row.height) == (1024, 576)
            assert row.related_nodes == [node_id] and row.task_id == accepted["taskId"]
            assert row.params["seed"] == 7 and row.params["ratio"] == "16:9" and row.provider == "local"
        assert {(link.graph_id, link.node_id) for link in links} == {(g, node_id) for g in accepted["graphIds"]}

    async def test_alias_and_frontend_prompts(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        out = await generate(client, runtime, {"prompts": {"zh": "月光下的竹林", "en": "a bamboo forest under moonlight"},
                                               "分辨率": "512x384"}, path="/generate")
        task = out["task"]
        assert task["status"] == "completed"
        assert task["result"]["promptEn"] == "a bamboo forest under moonlight"
        meta = (await client.get(f"/media/file-meta/{out['accepted']['graphIds'][0]}")).json()["data"]
        assert (meta["width"], meta["height"]) == (512, 384)

    async def test_unknown_task_is_404(self, client: httpx.AsyncClient) -> None:
        for task_id in ("0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", "nope"):
            r = await client.get(f"/tasks/{task_id}")
            assert r.status_code == 404 and r.json()["code"] == 40401
            assert r.json()["data"]["error"] == "task_not_found"

    async def test_idempotency_key_returns_the_first_task(self, client: httpx.AsyncClient) -> None:
        headers = {"Idempotency-Key": "brief-1"}
        first = (await client.post("/tasks/generate", json={"主体": "猫"}, headers=headers)).json()["data"]
        again = (await client.post("/tasks/generate", json={"主体": "猫"}, headers=headers)).json()["data"]
        assert again["taskId"] == first["taskId"] and again["graphIds"] == first["graphIds"]


class TestResults:
    async def test_content_negotiation_etag_and_304(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        out = await generate(client, runtime, {"主体": "猫", "分辨率": "256x256"})
        graph_id = out["accepted"]["graphIds"][0]
        meta = await client.get(f"/results/{graph_id}")
        assert meta.status_code == 200 and meta.headers["content-type"].startswith("application/json")
        data = meta.json()["data"]
        assert data["graphId"] == graph_id and data["url"].startswith("/media/") and data["mime"] == "image/png"
        assert data["promptZh"] == "主体：猫" and data["relatedNodes"] == [] and data["checksum"]
        assert (await client.get(f"/results/{graph_id}", headers={"Accept": "*/*"})).headers["content-type"].startswith(
            "application/json")
        image = await client.get(f"/results/{graph_id}", headers={"Accept": "image/*"})
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert hashlib.sha256(image.content).hexdigest() == data["checksum"]
        assert "max-age" in image.headers["cache-control"] and "Accept" in image.headers["vary"]
        etag = image.headers["etag"]
        again = await client.get(f"/results/{graph_id}", headers={"Accept": "image/png", "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        prefers_json = await client.get(f"/results/{graph_id}", headers={"Accept": "image/*;q=0.5, application/json"})
        assert prefers_json.headers["content-type"].startswith("application/json")
        thumb = await client.get(f"/results/{graph_id}", params={"thumb": 1}, headers={"Accept": "image/*"})
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(thumb.content)).size == (256, 256) or max(
            Image.open(io.BytesIO(thumb.content)).size) <= 320
        assert thumb.headers["etag"] != etag

    async def test_unknown_result_is_404(self, client: httpx.AsyncClient) -> None:
        for accept in ("application/json", "image/*"):
            r = await client.get("/results/0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", headers={"Accept": accept})
            assert r.status_code == 404 and r.json()["data"]["error"] == "result_not_found"
        assert (await client.get("/media/file-meta/0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b")).status_code == 404

    async def test_image_nodes_newest_first_and_filter(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        node_a = (await client.post("/nodes", json={"content": "A"})).json()["data"]["id"]
        node_b = (await client.post("/nodes", json={"content": "B"})).json()["data"]["id"]
        first = await generate(client, runtime, {"主体": "猫", "分辨率": "128x128", "关联节点": [node_a]})
        second = await generate(client, runtime, {"主体": "狗", "分辨率": "128x128", "关联节点": [node_a, node_b]})
        items = (await client.get("/image-nodes")).json()["data"]
        assert [i["id"] for i in items] == second["accepted"]["graphIds"] + first["accepted"]["graphIds"]
        item = items[0]
        assert set(item) >= {"id", "type", "url", "thumbUrl", "relatedNodes", "prompt", "createdAt"}
        assert item["type"] == "image" and item["relatedNodes"] == [node_a, node_b] and item["prompt"] == "主体：狗"
        only_b = (await client.get("/image-nodes", params={"nodeId": node_b})).json()["data"]
        assert [i["id"] for i in only_b] == second["accepted"]["graphIds"]
        assert (await client.get("/image-nodes", params={"nodeId": "x"})).status_code == 400
