"""Isolation matrix entries of cineMind: nodes, tasks, results, the media browser, WS /ws/tasks (README.md here)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from websockets.asyncio.client import connect

from tests.security.isolation.matrix import Case, Context, Custom, Listing, Owned, Unowned

OWNER = "owner"


async def create(ctx: Context, owner: str) -> dict[str, str]:
    """A node whose text carries the marker, and a finished generation related to it."""
    marker = f"isolation-{uuid.uuid4().hex[:12]}"
    headers = ctx.headers[owner]
    node = (await ctx.client.post("/nodes", json={"content": f"雨夜 {marker}"}, headers=headers)).json()["data"]
    r = await ctx.client.post("/tasks/generate", json={"主体": "猫", "数量": 1, "关联节点": [node["id"]]},
                              headers=headers)
    assert r.status_code == 202, r.text
    accepted = r.json()["data"]
    await ctx.drain()
    return {"marker": marker, "node_id": node["id"], "task_id": accepted["taskId"], "graph_id": accepted["graphIds"][0]}


async def _ws_tasks_yields_nothing(ctx: Context, mine: dict[str, str]) -> None:
    """Subscribing to another's task on WS /ws/tasks (and replaying from 0) delivers nothing of it."""
    base = ctx.url.replace("http://", "ws://") + "/ws/tasks"
    token = {c: ctx.headers[c].get("Authorization", "").removeprefix("Bearer ") for c in ctx.headers}
    for caller, query in {"other_user": f"?token={token['other_user']}&after=0",
                          "other_client": "?clientId=isolation-other-0002&after=0", "anonymous": "?after=0"}.items():
        got: list[dict[str, Any]] = []
        async with connect(base + query) as ws:
            await ws.send(json.dumps({"subscribe": [mine["task_id"]]}))
            await ws.send(json.dumps({"type": "ping"}))
            while not any(m.get("type") == "pong" for m in got):
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
        about = [m for m in got if m.get("taskId") == mine["task_id"] and m.get("type") != "error"]
        assert not about, f"WS /ws/tasks as {caller} received another's task: {about}"


ROUTES: dict[str, Case] = {
    "POST /nodes": Unowned("creates the caller's own node; the reads below prove the scoping"),
    "GET /nodes": Listing(query={"size": 100}, shows=("node_id", "marker")),
    "GET /nodes/{node_id}": Owned(),
    "PUT /nodes/{node_id}": Owned(json={"content": "taken over", "version": 1}, admin_sees=False, destructive=True),
    "DELETE /nodes/{node_id}": Owned(destructive=True),
    "POST /nodes/{node_id}/restore": Owned(ok=(200, 409), admin_sees=False),
    "GET /nodes/{node_id}/keywords": Owned(),
    "POST /tasks/generate": Unowned("creates the caller's own task (naming another's node is the 400 of an "
                                    "unknown node: tests/security/test_cinemind_isolation.py)"),
    "POST /generate": Unowned("the same handler as POST /tasks/generate"),
    "GET /tasks/{task_id}": Owned(),
    "GET /results/{graph_id}": Owned(),
    "GET /media/file-meta/{graph_id}": Owned(),
    "GET /media/tree": Listing(query={"depth": 10}, shows=("graph_id",)),
    "GET /media/files": Custom(lambda ctx, mine: _files_hidden(ctx, mine)),
    "GET /image-nodes": Listing(shows=("graph_id",)),
    "WS /ws/tasks": Custom(_ws_tasks_yields_nothing),
    "GET /health/redis": Unowned("Redis reachability"),
}


async def _files_hidden(ctx: Context, mine: dict[str, str]) -> None:
    """The files of the folder holding the owner's image: listed for the owner, never for anyone else."""
    meta = (await ctx.client.get(f"/media/file-meta/{mine['graph_id']}", headers=ctx.headers["owner"])).json()["data"]
    folder = meta["url"].split("?")[0].removeprefix("/media/").rsplit("/", 1)[0]
    for caller in ("other_user", "other_client", "anonymous"):
        r = await ctx.client.get("/media/files", params={"dir": folder}, headers=ctx.headers[caller])
        assert r.status_code == 200 and mine["graph_id"] not in r.text, (caller, r.text[:300])
    r = await ctx.client.get("/media/files", params={"dir": folder}, headers=ctx.headers["owner"])
    assert mine["graph_id"] in r.text, r.text[:300]
