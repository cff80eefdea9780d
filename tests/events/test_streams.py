"""SSE and WebSocket streams over real HTTP (uvicorn on a free port): order, resume by id, heartbeats,
visibility, and protocol errors that never break the socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect

from genloom.core.principal import Principal
from genloom.jobs.models import JobEvent
from genloom.runtime import Runtime
from tests.events.conftest import finish, new_job, progress, start_job

ALICE_ID, BOB_ID = "alice-client-1", "bob-client-22"
ALICE = Principal.for_client(ALICE_ID)
WAIT = 15.0


async def sse_frames(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parse an SSE body into frames: {"id", "event", "data"} or {"comment"}."""
    frame: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if frame:
                yield frame
            frame = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            key, _, value = line.partition(":")
            frame[key] = value.removeprefix(" ")


class SSE:
    """Reads one SSE response frame by frame (an httpx body can be iterated only once)."""

    def __init__(self, response: httpx.Response) -> None:
        self.frames = sse_frames(response)

    async def events(self, n: int | None = None) -> list[dict[str, Any]]:
        """Event frames until ``n`` were read or the stream ends."""
        out: list[dict[str, Any]] = []

        async def _read() -> None:
            async for frame in self.frames:
                if "data" in frame and "id" in frame:
                    out.append({"id": int(frame["id"]), "event": frame["event"], "data": json.loads(frame["data"])})
                    if n is not None and len(out) == n:
                        return

        await asyncio.wait_for(_read(), WAIT)
        return out


async def read_events(response: httpx.Response, n: int | None = None) -> list[dict[str, Any]]:
    return await SSE(response).events(n)


async def stored(runtime: Runtime, after: int = 0) -> list[tuple[int, str, str]]:
    async with runtime.db.reader.connect() as conn:
        rows = (await conn.execute(
            select(JobEvent.id, JobEvent.job_id, JobEvent.type).where(JobEvent.id > after).order_by(JobEvent.id)
        )).all()
    return [(int(r.id), r.job_id, r.type) for r in rows]


async def test_job_stream_delivers_in_order_and_ends_after_the_terminal_event(runtime: Runtime, live_server: Any) -> None:
    job_id = await new_job(runtime)
    async with live_server() as base, httpx.AsyncClient(base_url=base) as http:
        async with http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            sse = SSE(response)
            first = await sse.events(1)  # history first: the queued event
            await start_job(runtime, job_id)
            await progress(runtime, job_id, 50)
            await finish(runtime, job_id)
            rest = await sse.events()  # returns because the server closes the stream
    events = first + rest
    assert [(e["id"], job_id, e["event"]) for e in events] == await stored(runtime)
    assert [e["event"] for e in events] == ["queued", "started", "progress", "succeeded"]
    last = events[-1]["data"]
    assert last["type"] == "succeeded" and last["job_id"] == job_id and last["data"]["result"] == {"ok": True}


async def test_reconnect_with_last_event_id_gets_exactly_the_missed_events(runtime: Runtime, live_server: Any) -> None:
    a = await new_job(runtime)
    async with live_server() as base, httpx.AsyncClient(base_url=base) as http:
        async with http.stream("GET", "/v1/events", params={"after": 0}) as response:
            seen = await read_events(response, 1)
        # Disconnected: these happen while nobody listens.
        await start_job(runtime, a)
        b = await new_job(runtime)
        await progress(runtime, a, 20)
        await finish(runtime, a)
        async with http.stream("GET", "/v1/events", headers={"Last-Event-ID": str(seen[-1]["id"])}) as response:
            sse = SSE(response)
            missed = await sse.events(4)
            await start_job(runtime, b)
            live = await sse.events(1)
    got = [(e["id"], e["data"]["job_id"], e["event"]) for e in seen + missed + live]
    assert got == await stored(runtime)
    assert [e["event"] for e in missed] == ["started", "queued", "progress", "succeeded"]


async def test_job_stream_visibility_and_resume_edges(runtime: Runtime, live_server: Any) -> None:
    job_id = await new_job(runtime, ALICE)
    await start_job(runtime, job_id)
    await finish(runtime, job_id)
    async with live_server() as base, httpx.AsyncClient(base_url=base) as http:
        bob = await http.get(f"/v1/jobs/{job_id}/events", headers={"X-Client-Id": BOB_ID})
        assert bob.status_code == 404 and bob.json()["code"] == "job_not_found"
        missing = await http.get("/v1/jobs/nope/events", headers={"X-Client-Id": ALICE_ID})
        assert missing.status_code == 404
        bad = await http.get(f"/v1/jobs/{job_id}/events", headers={"X-Client-Id": ALICE_ID, "Last-Event-ID": "x"})
        assert bad.status_code == 400 and bad.json()["field"] == "Last-Event-ID"
        # Past BIGINT: PostgreSQL cannot even compare it with an event id, so it is bad input, not a crash.
        huge = await http.get(f"/v1/jobs/{job_id}/events", headers={"X-Client-Id": ALICE_ID, "Last-Event-ID": str(2**64)})
        assert huge.status_code == 400 and huge.json()["field"] == "Last-Event-ID"
        for path in (f"/v1/jobs/{job_id}/events", "/v1/events"):
            huge = await http.get(path, params={"after": 2**64}, headers={"X-Client-Id": ALICE_ID})
            assert huge.status_code == 400 and huge.json()["field"] == "after"
        last_id = (await stored(runtime))[-1][0]
        # Finished and fully seen: 204 tells EventSource to stop reconnecting.
        done = await http.get(f"/v1/jobs/{job_id}/events", headers={"X-Client-Id": ALICE_ID, "Last-Event-ID": str(last_id)})
        assert done.status_code == 204
        # Finished but not fully seen: the rest, then the end of the stream.
        async with http.stream("GET", f"/v1/jobs/{job_id}/events", params={"after": last_id - 1},
                               headers={"X-Client-Id": ALICE_ID}) as response:
            assert [e["event"] for e in await read_events(response)] == ["succeeded"]
        # Bob's firehose carries nothing of Alice's.
        async with http.stream("GET", "/v1/events", params={"after": 0}, headers={"X-Client-Id": BOB_ID}) as response:
            mine = await new_job(runtime, Principal.for_client(BOB_ID))
            got = await read_events(response, 1)
            assert [e["data"]["job_id"] for e in got] == [mine]


async def test_sse_heartbeats(runtime: Runtime, live_server: Any) -> None:
    runtime.settings.heartbeat_seconds = 0.1
    async with live_server() as base, httpx.AsyncClient(base_url=base) as http:
        async with http.stream("GET", "/v1/events") as response:
            comments = []

            async def _read() -> None:
                async for frame in sse_frames(response):
                    if frame.get("comment") == "ping":
                        comments.append(frame)
                        if len(comments) == 2:
                            return

            await asyncio.wait_for(_read(), WAIT)
        hub = runtime.hub
        for _ in range(500):  # the server notices the disconnect and drops the subscriber
            if hub.subscriber_count == 0:
                break
            await asyncio.sleep(0.01)
        assert hub.subscriber_count == 0


async def ws_recv(ws: Any, *, skip_heartbeats: bool = True) -> dict[str, Any]:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if not (skip_heartbeats and msg["type"] == "heartbeat"):
            return msg


def ws_url(base: str, **query: str) -> str:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return base.replace("http://", "ws://") + "/v1/ws" + (f"?{qs}" if qs else "")


async def test_websocket_subscribe_resume_unsubscribe(runtime: Runtime, live_server: Any) -> None:
    a = await new_job(runtime)
    b = await new_job(runtime)
    await start_job(runtime, a)  # both running
    async with live_server() as base, connect(ws_url(base)) as ws:
        await ws.send(json.dumps({"op": "subscribe", "jobs": [a], "after": 0}))
        assert await ws_recv(ws) == {"type": "subscribed", "jobs": [a]}
        replayed = [await ws_recv(ws), await ws_recv(ws)]
        assert [(m["job_id"], m["event"]) for m in replayed] == [(a, "queued"), (a, "started")]
        assert set(replayed[0]) == {"type", "id", "job_id", "event", "data", "created_at"}
        await ws.send(json.dumps({"type": "subscribe", "jobs": [b]}))  # no 'after': from b's first event
        assert await ws_recv(ws) == {"type": "subscribed", "jobs": [b]}
        assert [(m["job_id"], m["event"]) for m in [await ws_recv(ws), await ws_recv(ws)]] == [
            (b, "queued"), (b, "started")]
        await progress(runtime, b, 10)
        await progress(runtime, a, 20)
        live = [await ws_recv(ws), await ws_recv(ws)]
        assert [(m["job_id"], m["data"]["progress"]) for m in live] == [(b, 10), (a, 20)]
        assert live[0]["id"] < live[1]["id"]
        await ws.send(json.dumps({"op": "unsubscribe", "jobs": [a]}))
        assert await ws_recv(ws) == {"type": "unsubscribed", "jobs": [a]}
        await finish(runtime, a)
        await finish(runtime, b)
        msg = await ws_recv(ws)
        assert (msg["job_id"], msg["event"]) == (b, "succeeded")
        await ws.send(json.dumps({"op": "ping"}))
        assert await ws_recv(ws, skip_heartbeats=False) == {"type": "heartbeat"}


async def test_websocket_reconnect_resumes_after_the_last_id(runtime: Runtime, live_server: Any) -> None:
    job_id = await new_job(runtime)
    async with live_server() as base:
        async with connect(ws_url(base)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "jobs": [job_id], "after": 0}))
            await ws_recv(ws)
            last = (await ws_recv(ws))["id"]
        await start_job(runtime, job_id)
        await progress(runtime, job_id, 70)
        async with connect(ws_url(base)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "jobs": [job_id], "after": last}))
            await ws_recv(ws)
            missed = [await ws_recv(ws), await ws_recv(ws)]
            await finish(runtime, job_id)
            live = await ws_recv(ws)
    got = [(m["id"], m["job_id"], m["event"]) for m in missed + [live]]
    assert got == await stored(runtime, after=last)


@pytest.mark.parametrize("frame, code", [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_message"),
    ('{"op": "dance"}', "unknown_op"),
    ('{"op": "subscribe"}', "invalid_message"),
    ('{"op": "subscribe", "jobs": [1]}', "invalid_message"),
    ('{"op": "subscribe", "jobs": ["a\\u0000b"]}', "invalid_message"),
    ('{"op": "subscribe", "jobs": ["x"], "after": -1}', "invalid_message"),
    ('{"op": "subscribe", "jobs": ["x"], "after": 18446744073709551616}', "invalid_message"),
    ('{"op": "subscribe", "jobs": ["no-such-job"]}', "job_not_found"),
])
async def test_websocket_bad_messages_get_errors_and_the_socket_lives(
    runtime: Runtime, live_server: Any, frame: str, code: str
) -> None:
    async with live_server() as base, connect(ws_url(base)) as ws:
        await ws.send(frame)
        error = await ws_recv(ws)
        assert error["type"] == "error" and error["code"] == code and error["message"]
        await ws.send(b"binary")
        assert (await ws_recv(ws))["code"] == "invalid_message"
        await ws.send(json.dumps({"op": "ping"}))
        assert await ws_recv(ws, skip_heartbeats=False) == {"type": "heartbeat"}


async def test_websocket_owner_scoping_and_heartbeats(runtime: Runtime, live_server: Any) -> None:
    runtime.settings.heartbeat_seconds = 0.1
    alices = await new_job(runtime, ALICE)
    async with live_server() as base:
        async with connect(ws_url(base, client_id=BOB_ID)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "jobs": [alices], "after": 0}))
            error = await ws_recv(ws)
            assert error["code"] == "job_not_found" and error["jobs"] == [alices]
            assert await ws_recv(ws, skip_heartbeats=False) == {"type": "heartbeat"}
        async with connect(ws_url(base, client_id=ALICE_ID)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "jobs": [alices], "after": 0}))
            assert (await ws_recv(ws))["type"] == "subscribed"
            assert (await ws_recv(ws))["event"] == "queued"
            hub = runtime.hub
            assert hub.subscriber_count == 1
        for _ in range(500):  # the server notices the close and drops the subscriber
            if hub.subscriber_count == 0:
                break
            await asyncio.sleep(0.01)
        assert hub.subscriber_count == 0


async def test_job_stream_of_a_retried_job_ends_at_its_last_terminal_event(runtime: Runtime, live_server: Any) -> None:
    from genloom.core.principal import ANONYMOUS
    from genloom.jobs import queue, service
    from tests.events.conftest import WORKER

    job_id = await new_job(runtime)
    await start_job(runtime, job_id)
    assert await queue.fail(runtime, job_id, WORKER, code="boom", message="boom", retryable=False) == "failed"
    async with runtime.db.session() as s:
        await service.retry_job(s, runtime, ANONYMOUS, job_id)
    async with live_server() as base, httpx.AsyncClient(base_url=base) as http:
        async with http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            sse = SSE(response)
            history = await sse.events(4)
            await start_job(runtime, job_id)
            await finish(runtime, job_id)
            rest = await sse.events()  # ends after the final success, not after the first failure
    assert [e["event"] for e in history + rest] == ["queued", "started", "failed", "queued", "started", "succeeded"]
