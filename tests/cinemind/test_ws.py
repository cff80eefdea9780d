"""``WS /ws/tasks`` over a real socket (uvicorn in the test's loop): messages in order, subscribe filter,
heartbeats, and resume with ``?after=<eventId>`` without missing anything."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from genloom.app import create_app
from genloom.core.settings import Settings
from genloom.runtime import Runtime
from tests.conftest import drain, make_settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url=database_url, data_dir=tmp_path, media_dir=tmp_path / "media",
                         heartbeat_seconds=0.3, event_poll_seconds=0.05, poll_interval_seconds=0.05)


@pytest.fixture
async def base_url(runtime: Runtime) -> AsyncIterator[str]:
    app = create_app(runtime=runtime, workers=0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def _submit(base: str, body: dict[str, Any]) -> str:
    async with httpx.AsyncClient(base_url=f"http://{base}") as http:
        r = await http.post("/tasks/generate", json=body)
        assert r.status_code == 202, r.text
        return str(r.json()["data"]["taskId"])


async def _until_done(ws: ClientConnection, task_ids: set[str], timeout: float = 30.0) -> list[dict[str, Any]]:
    """Messages (heartbeats and acknowledgements left out) until every task in ``task_ids`` finished."""
    got: list[dict[str, Any]] = []
    pending = set(task_ids)
    async with asyncio.timeout(timeout):
        while pending:
            msg = json.loads(await ws.recv())
            if msg["type"] in ("heartbeat", "subscribed"):
                continue
            got.append(msg)
            if msg["type"] in ("completed", "failed") and msg.get("eventId") is not None:
                pending.discard(msg["taskId"])
    return got


async def test_messages_in_order(base_url: str, runtime: Runtime) -> None:
    async with connect(f"ws://{base_url}/ws/tasks") as ws:
        task_id = await _submit(base_url, {"主体": "猫", "分辨率": "128x128"})
        await drain(runtime)
        messages = await _until_done(ws, {task_id})
    assert {m["taskId"] for m in messages} == {task_id}
    types = [m["type"] for m in messages]
    assert types[0] == "queued" and types[-1] == "completed" and set(types[1:-1]) == {"running"}
    ids = [m["eventId"] for m in messages]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    done = messages[-1]
    assert done["progress"] == 100
    image = done["data"]["result"]["images"][0]
    assert image["url"].startswith("/media/images/") and image["thumbUrl"].startswith("/media/thumbs/")
    progress = [m["progress"] for m in messages if m["progress"] is not None]
    assert progress == sorted(progress)


async def test_resume_after_event_id_misses_nothing(base_url: str, runtime: Runtime) -> None:
    async with connect(f"ws://{base_url}/ws/tasks?after=0") as ws:
        task_id = await _submit(base_url, {"主体": "狗", "分辨率": "128x128"})
        await drain(runtime)
        full = await _until_done(ws, {task_id})
    assert len(full) >= 3
    # a client that saw only the first message reconnects with its id and gets exactly the rest
    async with connect(f"ws://{base_url}/ws/tasks?after={full[0]['eventId']}") as ws:
        rest = await _until_done(ws, {task_id})
    assert rest == full[1:]
    # an event written while nobody listens is delivered on reconnect
    second = await _submit(base_url, {"主体": "鸟", "分辨率": "128x128"})
    await drain(runtime)
    async with connect(f"ws://{base_url}/ws/tasks?after={full[-1]['eventId']}") as ws:
        later = await _until_done(ws, {second})
    assert later[0]["type"] == "queued" and later[-1]["type"] == "completed"
    assert {m["taskId"] for m in later} == {second}


async def test_after_out_of_range_is_refused(base_url: str) -> None:
    # past BIGINT PostgreSQL cannot compare it with an event id: refused at the handshake like a negative one
    for after in ("-1", str(2**64)):
        with pytest.raises(InvalidStatus):
            async with connect(f"ws://{base_url}/ws/tasks?after={after}"):
                pass


async def _next(ws: ClientConnection, *skip: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            msg: dict[str, Any] = json.loads(await ws.recv())
            if msg["type"] not in ("heartbeat", *skip):
                return msg


async def test_subscribe_filters_and_snapshots(base_url: str, runtime: Runtime) -> None:
    done_before = await _submit(base_url, {"主体": "山", "分辨率": "128x128"})
    await drain(runtime)
    seen: list[dict[str, Any]] = []
    async with connect(f"ws://{base_url}/ws/tasks") as ws:
        await ws.send(json.dumps({"subscribe": [done_before]}))
        ack = await _next(ws)
        assert ack["type"] == "subscribed" and ack["data"]["taskIds"] == [done_before]
        snapshot = await _next(ws)  # it finished before we connected: its current state is sent once
        assert snapshot["taskId"] == done_before and snapshot["type"] == "completed"
        assert snapshot["data"]["snapshot"] is True and snapshot["data"]["result"]["images"]
        wanted = await _submit(base_url, {"主体": "海", "分辨率": "128x128"})
        other = await _submit(base_url, {"主体": "云", "分辨率": "128x128"})
        await ws.send(json.dumps({"subscribe": [wanted]}))
        while (msg := await _next(ws))["type"] != "subscribed":
            seen.append(msg)
        assert set(msg["data"]["taskIds"]) == {wanted, done_before}
        await drain(runtime)
        seen += await _until_done(ws, {wanted})
    assert other not in {m["taskId"] for m in seen}
    assert seen[-1]["type"] == "completed" and seen[-1]["taskId"] == wanted


async def test_heartbeat_and_bad_messages(base_url: str) -> None:
    async with connect(f"ws://{base_url}/ws/tasks") as ws:
        async with asyncio.timeout(5):
            beat = json.loads(await ws.recv())
        assert beat["type"] == "heartbeat" and beat["taskId"] is None and "lastEventId" in beat["data"]
        await ws.send("not json")
        async with asyncio.timeout(5):
            reply = json.loads(await ws.recv())
            while reply["type"] == "heartbeat":
                reply = json.loads(await ws.recv())
        assert reply["type"] == "error"


async def test_the_native_spelling_works_and_unknown_ops_list_the_accepted(base_url: str, runtime: Runtime) -> None:
    task_id = await _submit(base_url, {"主体": "湖", "分辨率": "128x128"})
    async with connect(f"ws://{base_url}/ws/tasks") as ws:
        await ws.send(json.dumps({"op": "subscribe", "jobs": [task_id]}))
        # a fresh socket follows every public task, so the task's live queued event may come before the ack
        ack = await _next(ws, "queued")
        assert ack["type"] == "subscribed" and ack["data"]["taskIds"] == [task_id]
        snapshot = await _next(ws)  # its current state first, then every later event
        while snapshot["type"] == "queued" and not snapshot["data"].get("snapshot"):
            snapshot = await _next(ws)  # that live event, if it came after the ack
        assert (snapshot["taskId"], snapshot["type"], snapshot["data"]["snapshot"]) == (task_id, "queued", True)
        await ws.send(json.dumps({"type": "dance"}))
        error = await _next(ws, "queued")  # the live queued event may still be on its way
        assert error["type"] == "error" and error["data"]["code"] == "unknown_op"
        assert error["data"]["acceptedOps"] == ["subscribe", "unsubscribe", "ping"]
        await ws.send(json.dumps({"op": "ping"}))
        assert (await _next(ws, "queued"))["type"] == "pong"
        await drain(runtime)
        done = await _until_done(ws, {task_id})
        assert done[-1]["type"] == "completed" and done[-1]["eventId"] is not None
