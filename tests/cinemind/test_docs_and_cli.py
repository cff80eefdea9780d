"""Docs and commands: the committed Postman collection is fresh, OpenAPI has examples and tags, seed-demo fills
the node list and the media tree, ``GET /health`` carries the envelope and ``/health/redis`` pings for real."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from genloom.cinemind.seed import DEMO_NODES, seed_demo
from genloom.core.settings import Settings
from genloom.postman import build_collection, collection_text
from genloom.runtime import Runtime
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "docs" / "genloom.postman_collection.json"
CINEMIND_ROUTES = [
    ("POST", "nodes"), ("GET", "nodes"), ("GET", "nodes/:node_id"), ("PUT", "nodes/:node_id"),
    ("DELETE", "nodes/:node_id"), ("POST", "nodes/:node_id/restore"), ("GET", "nodes/:node_id/keywords"),
    ("POST", "tasks/generate"), ("POST", "generate"), ("GET", "tasks/:task_id"), ("GET", "results/:graph_id"),
    ("GET", "media/tree"), ("GET", "media/files"), ("GET", "media/file-meta/:graph_id"), ("GET", "image-nodes"),
    ("GET", "health"), ("GET", "health/redis"), ("GET", "ws/tasks"),
]


def test_postman_collection_is_fresh() -> None:
    """Fails when docs/genloom.postman_collection.json is stale, after writing the fresh one (rerun to pass)."""
    fresh = collection_text()
    current = COLLECTION.read_text(encoding="utf-8") if COLLECTION.exists() else ""
    if current != fresh:
        COLLECTION.parent.mkdir(parents=True, exist_ok=True)
        COLLECTION.write_text(fresh, encoding="utf-8")
        pytest.fail("docs/genloom.postman_collection.json was stale and has been regenerated (genloom postman); "
                    "commit it")


def test_collection_covers_every_cinemind_route() -> None:
    collection = json.loads(collection_text())
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    requests = [(item["request"]["method"], "/".join(item["request"]["url"]["path"]))
                for folder in collection["item"] for item in folder["item"]]
    for route in CINEMIND_ROUTES:
        assert route in requests, route
    folders = {f["name"] for f in collection["item"]}
    assert {"Nodes", "Tasks", "Results", "Media", "WebSocket", "Health"} <= folders
    generate = next(i for f in collection["item"] for i in f["item"]
                    if "/".join(i["request"]["url"]["path"]) == "tasks/generate")
    assert "主体" in json.loads(generate["request"]["body"]["raw"])


def test_build_collection_is_deterministic() -> None:
    doc = {"info": {"title": "t"}, "paths": {"/a/{id}": {"get": {"tags": ["X"], "summary": "A",
                                                                  "parameters": [{"name": "id", "in": "path"}]}}}}
    assert build_collection(doc) == build_collection(doc)
    item = next(f for f in build_collection(doc)["item"] if f["name"] == "X")["item"][0]
    assert item["request"]["url"]["raw"] == "{{baseUrl}}/a/:id"


def _with_refs(doc: dict[str, Any], node: Any, depth: int = 0) -> str:
    """The operation's JSON with the component schemas it references inlined (a few levels deep)."""
    text = json.dumps(node, ensure_ascii=False)
    if depth > 3:
        return text
    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        text += _with_refs(doc, doc["components"]["schemas"][ref], depth + 1)
    return text


async def test_openapi_examples_and_tags(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    tags = {"nodes": "Nodes", "tasks": "Tasks", "generate": "Tasks", "results": "Results", "media": "Media",
            "image-nodes": "Results", "health": "Health"}
    for method, postman_path in CINEMIND_ROUTES:
        if postman_path == "ws/tasks":
            continue
        path = "/" + re.sub(r":(\w+)", r"{\1}", postman_path)
        operation = doc["paths"][path][method.lower()]
        assert tags[postman_path.split("/")[0]] in operation["tags"], path
        if path != "/health":  # Studio Core's route (the infra module documents it)
            assert "example" in _with_refs(doc, operation), (method, path)
    assert {"Nodes", "Tasks", "Results", "Media", "WebSocket", "Health"} <= {t["name"] for t in doc["tags"]}


async def test_seed_demo_fills_nodes_and_media_tree(client: httpx.AsyncClient, runtime: Runtime) -> None:
    result = await seed_demo(runtime)
    assert all(t["status"] == "completed" and t["graphIds"] for t in result["tasks"])
    again = await seed_demo(runtime)  # running it twice adds nothing
    assert again["nodes"] == result["nodes"] and [t["taskId"] for t in again["tasks"]] == [
        t["taskId"] for t in result["tasks"]]
    nodes = (await client.get("/nodes")).json()["data"]
    assert nodes["total"] == len(DEMO_NODES)
    tree = (await client.get("/media/tree")).json()["data"]
    text = json.dumps(tree)
    for task in result["tasks"]:
        for graph_id in task["graphIds"]:
            assert f"{graph_id}.png" in text and f"{graph_id}_thumb.jpg" in text
    images = (await client.get("/image-nodes")).json()["data"]
    assert len(images) == sum(len(t["graphIds"]) for t in result["tasks"])


async def test_health_has_the_envelope(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["status"] == "ok" and body["database"] == "healthy"  # Studio Core's fields stay
    assert body["code"] == 0 and body["message"] == "ok"
    data = body["data"]
    assert data["database"] == "healthy" and data["storage"]["status"] == "healthy"
    assert data["queue"]["status"] == "healthy" and data["providers"]["image"]["provider"] == "local"
    redis = await client.get("/health/redis")
    assert redis.status_code == 200 and redis.json() == {"code": 0, "message": "ok", "data": {"redis": "disabled"}}


@pytest.fixture
def redis_settings(database_url: str, tmp_path: Path, redis_url: str) -> Settings:
    return make_settings(database_url=database_url, data_dir=tmp_path, media_dir=tmp_path / "media", use_redis=True,
                         redis_url=redis_url)


async def test_health_redis_pings_when_enabled(redis_settings: Settings) -> None:
    from genloom.app import create_app
    from genloom.assembly import build_runtime, start_runtime

    rt = build_runtime(redis_settings)
    await start_runtime(rt, migrate=False)
    app = create_app(runtime=rt, workers=0)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                r = await c.get("/health/redis")
                assert r.status_code == 200 and r.json()["data"]["redis"] == "healthy"
    finally:
        await rt.close()
    bad = make_settings(database_url=redis_settings.database_url, data_dir=redis_settings.data_dir, use_redis=True,
                        redis_url="redis://127.0.0.1:1/0")
    rt = build_runtime(bad)
    app = create_app(runtime=rt, workers=0)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                r = await c.get("/health/redis")
                assert r.status_code == 503 and r.json()["code"] == 50301
    finally:
        await rt.close()
