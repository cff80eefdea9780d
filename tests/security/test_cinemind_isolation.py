"""Owner isolation on every cineMind route: nodes, tasks, results, the media browser, image nodes and WS /ws/tasks.

Each test runs with two distinct callers: two client ids (open mode, where an X-Client-Id still identifies the
caller, and client mode) and two signed-in users (user mode, and a Bearer token sent in open mode)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from genloom.core.settings import AuthMode
from genloom.runtime import Runtime
from tests.conftest import drain
from tests.identity.conftest import bearer, create_user, login

UNKNOWN = "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"


async def _callers(client: httpx.AsyncClient, runtime: Runtime, mode: str, who: str) -> tuple[dict[str, str], dict[str, str]]:
    runtime.settings.auth_mode_cinemind = AuthMode(mode)
    if who == "client":
        return {"X-Client-Id": "device-aaaa-1"}, {"X-Client-Id": "device-bbbb-2"}
    await create_user(runtime, "alice")
    await create_user(runtime, "bob")
    return bearer(await login(client, "alice")), bearer(await login(client, "bob"))


async def _make(client: httpx.AsyncClient, runtime: Runtime, headers: dict[str, str]) -> dict[str, Any]:
    """A node and a finished generation related to it, owned by the caller in ``headers``."""
    node = (await client.post("/nodes", json={"content": "雨夜的霓虹街道"}, headers=headers)).json()["data"]
    r = await client.post("/tasks/generate", json={"主体": "猫", "数量": 1, "关联节点": [node["id"]]}, headers=headers)
    assert r.status_code == 202, r.text
    accepted = r.json()["data"]
    await drain(runtime)
    task = (await client.get(f"/tasks/{accepted['taskId']}", headers=headers)).json()["data"]
    assert task["status"] == "completed", task
    return {"node": node, "task": task, "graph": accepted["graphIds"][0], "image": task["result"]["images"][0]}


def _same_as_unknown(hidden: httpx.Response, unknown: httpx.Response) -> None:
    assert hidden.status_code == unknown.status_code == 404, (hidden.text, unknown.text)
    h, u = hidden.json(), unknown.json()
    assert (h.get("code"), h.get("field")) == (u.get("code"), u.get("field"))


async def _assert_hidden(client: httpx.AsyncClient, mine: dict[str, Any], other: dict[str, str]) -> None:
    node_id, task_id, graph = mine["node"]["id"], mine["task"]["taskId"], mine["graph"]
    etag = {"If-Match": '"1"'}
    for method, path, body, headers in (
        ("GET", "/nodes/{}", None, {}), ("PUT", "/nodes/{}", {"content": "taken"}, etag),
        ("DELETE", "/nodes/{}", None, {}), ("POST", "/nodes/{}/restore", None, {}),
        ("GET", "/nodes/{}/keywords", None, {}),
    ):
        hidden = await client.request(method, path.format(node_id), json=body, headers={**other, **headers})
        unknown = await client.request(method, path.format(UNKNOWN), json=body, headers={**other, **headers})
        _same_as_unknown(hidden, unknown)
    listed = (await client.get("/nodes", params={"size": 100}, headers=other)).json()["data"]
    assert node_id not in json.dumps(listed)
    # someone else's node cannot be linked to a generation either
    r = await client.post("/tasks/generate", json={"主体": "狗", "关联节点": [node_id]}, headers=other)
    r2 = await client.post("/tasks/generate", json={"主体": "狗", "关联节点": [UNKNOWN]}, headers=other)
    assert r.status_code == r2.status_code and r.status_code >= 400 and r.json()["code"] == r2.json()["code"]
    _same_as_unknown(await client.get(f"/tasks/{task_id}", headers=other),
                     await client.get(f"/tasks/{UNKNOWN}", headers=other))
    for path in ("/results/{}", "/media/file-meta/{}"):
        _same_as_unknown(await client.get(path.format(graph), headers=other),
                         await client.get(path.format(UNKNOWN), headers=other))
    hidden = await client.get(f"/results/{graph}", headers={**other, "Accept": "image/png"})
    assert hidden.status_code == 404
    for params in ({}, {"nodeId": node_id}):
        nodes = (await client.get("/image-nodes", params=params, headers=other)).json()["data"]
        assert graph not in json.dumps(nodes)
    tree = (await client.get("/media/tree", params={"depth": 10}, headers=other)).json()["data"]
    assert graph not in json.dumps(tree)
    folder = mine["image"]["url"].split("?")[0].removeprefix("/media/").rsplit("/", 1)[0]
    for d in (folder, "images", "thumbs"):
        files = (await client.get("/media/files", params={"dir": d}, headers=other)).json()["data"]
        assert graph not in json.dumps(files), d
        tree = (await client.get("/media/tree", params={"dir": d}, headers=other)).json()["data"]
        assert graph not in json.dumps(tree), d


async def _recv(ws: Any) -> dict[str, Any]:
    """The next message that is not a heartbeat."""
    while True:
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if msg.get("type") != "heartbeat":
            return msg


CASES = [("open", "client"), ("client", "client"), ("user", "user"), ("open", "user")]


@pytest.mark.parametrize("mode, who", CASES)
async def test_cinemind_routes_are_owner_scoped(client: httpx.AsyncClient, runtime: Runtime, mode: str, who: str) -> None:
    a, b = await _callers(client, runtime, mode, who)
    mine_a = await _make(client, runtime, a)
    mine_b = await _make(client, runtime, b)
    await _assert_hidden(client, mine_a, b)
    await _assert_hidden(client, mine_b, a)
    if mode == "open":  # nor to an anonymous caller (the shared public owner)
        await _assert_hidden(client, mine_a, {})
    # the owner still sees and changes everything the other could not
    node_id = mine_a["node"]["id"]
    assert (await client.get(f"/nodes/{node_id}", headers=a)).status_code == 200
    assert (await client.get(f"/results/{mine_a['graph']}", headers=a)).status_code == 200
    tree = (await client.get("/media/tree", params={"depth": 10}, headers=a)).json()["data"]
    assert mine_a["graph"] in json.dumps(tree) and mine_b["graph"] not in json.dumps(tree)
    nodes = (await client.get("/image-nodes", headers=a)).json()["data"]
    assert [n["id"] for n in nodes] == [mine_a["graph"]]
    # the other's failed attempts changed nothing
    node = (await client.get(f"/nodes/{node_id}", headers=a)).json()["data"]
    assert node["content"] == "雨夜的霓虹街道"


async def test_ws_tasks_only_carries_own_tasks(client: httpx.AsyncClient, runtime: Runtime, live_server: Any) -> None:
    runtime.settings.auth_mode_cinemind = AuthMode.client
    async with live_server(workers=0) as url:
        ws_base = url.replace("http://", "ws://")
        async with connect(f"{ws_base}/ws/tasks?clientId=device-bbbb-2") as ws_b, \
                connect(f"{ws_base}/ws/tasks?client_id=device-aaaa-1") as ws_a:
            a = {"X-Client-Id": "device-aaaa-1"}
            mine_a = await _make(client, runtime, a)
            task_id = mine_a["task"]["taskId"]
            got_a: list[dict[str, Any]] = []
            while not any(m.get("type") == "completed" for m in got_a):
                got_a.append(await _recv(ws_a))
            assert {m["taskId"] for m in got_a if m.get("eventId")} == {task_id}
            # B explicitly subscribes to A's task: refused like an unknown id, and no event of it arrives
            await ws_b.send(json.dumps({"subscribe": [task_id]}))
            seen_b: list[dict[str, Any]] = []
            for _ in range(2):
                seen_b.append(await _recv(ws_b))
            await ws_b.send(json.dumps({"type": "ping"}))
            while (msg := await _recv(ws_b))["type"] != "pong":
                seen_b.append(msg)
            assert [m["type"] for m in seen_b] == ["subscribed", "error"], seen_b
            assert seen_b[1]["data"]["code"] == "task_not_found"
            assert not any(m.get("eventId") for m in seen_b)
            # resuming from the start of the log replays nothing of A's to B
        async with connect(f"{ws_base}/ws/tasks?clientId=device-bbbb-2&after=0") as ws_b2:
            await ws_b2.send(json.dumps({"type": "ping"}))
            while (msg := await _recv(ws_b2))["type"] != "pong":
                assert msg.get("taskId") != task_id, msg
