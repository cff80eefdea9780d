"""An event id one replica skipped as a gap (its transaction committed late) still reaches a client that resumes
on another replica, which had delivered that id in order and so would never send it as a late event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from genloom.assembly import build_runtime, start_runtime
from genloom.core.db import utc_now
from genloom.core.settings import Settings
from genloom.jobs.models import Job, JobEvent
from genloom.runtime import Runtime

events_t = JobEvent.__table__


async def frames(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    frame: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in frame and "id" in frame:
                yield frame
            frame = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            frame[name] = value.lstrip(" ")


async def log_event(conn: Any, job: Job, text: str) -> int:
    result = await conn.execute(insert(events_t).values(job_id=job.id, owner_id=job.owner_id, type="log",
                                                        data={"message": text}, created_at=utc_now())
                                .returning(events_t.c.id))
    return int(result.scalar_one())


async def test_a_late_commit_skipped_on_one_replica_reaches_a_client_resuming_on_another(
        settings: Settings, runtime: Runtime, live_server: Any) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite commits ids in order: no id becomes visible after a greater one")
    async with live_server(workers=0) as a, httpx.AsyncClient(timeout=httpx.Timeout(30, read=60)) as http:
        r = await http.post(f"{a}/v1/jobs", json={"kind": "noop", "input": {}})
        job_id = r.json()["id"]
        async with runtime.db.read_session() as session:
            job = (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()
        last_on_a: str | None = None
        async with http.stream("GET", f"{a}/v1/jobs/{job_id}/events") as stream:
            seen = frames(stream)
            first = await anext(seen)
            assert json.loads(first["data"])["type"] == "queued"
            # a slow transaction takes the next id; a quicker one commits the id after it
            slow = await runtime.db.engine.connect()
            await slow.begin()
            late_id = await log_event(slow, job, "committed late")
            async with runtime.db.write() as conn:
                after_id = await log_event(conn, job, "committed first")
            assert after_id > late_id
            # A's hub waits for the missing id, then skips it and sends the later one
            frame = await anext(seen)
            assert json.loads(frame["data"])["id"] == after_id
            last_on_a = frame["id"]
        await slow.commit()
        await slow.close()

        # replica B starts after the late commit: it reads the log in order, so nothing is late for it
        other = build_runtime(settings)
        await start_runtime(other, migrate=False)
        try:
            async with live_server(workers=0, rt=other) as b, \
                    http.stream("GET", f"{b}/v1/jobs/{job_id}/events", headers={"Last-Event-ID": last_on_a}) as resumed:
                assert resumed.status_code == 200  # subscribed: what commits from now on is live
                async with runtime.db.write() as conn:
                    marker = await log_event(conn, job, "marker")
                got: list[int] = []
                async for frame in frames(resumed):
                    got.append(json.loads(frame["data"])["id"])
                    if got[-1] == marker:
                        break
                assert late_id in got, (late_id, got)
                assert after_id not in got  # the client had it from A
        finally:
            await other.close()


async def test_the_websocket_resume_token_carries_a_skipped_id_to_another_replica(
        settings: Settings, runtime: Runtime, live_server: Any) -> None:
    """The same over ``/v1/ws``: the event frame after a skipped id carries a ``resume`` token naming it, and a
    subscribe on another replica with ``after`` = that token gets the late event (the bare id would lose it)."""
    if runtime.db.is_sqlite:
        pytest.skip("SQLite commits ids in order: no id becomes visible after a greater one")
    from websockets.asyncio.client import connect

    async def frames_of(ws: Any, job_id: str) -> AsyncIterator[dict[str, Any]]:
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == "event" and frame["job_id"] == job_id:
                yield frame

    async with live_server(workers=0) as a, httpx.AsyncClient(timeout=30) as http:
        job_id = (await http.post(f"{a}/v1/jobs", json={"kind": "noop", "input": {}})).json()["id"]
        async with runtime.db.read_session() as session:
            job = (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()
        async with connect(f"{a.replace('http', 'ws', 1)}/v1/ws") as ws:
            await ws.send(json.dumps({"op": "subscribe", "jobs": [job_id]}))
            seen = frames_of(ws, job_id)
            assert (await anext(seen))["event"] == "queued"
            slow = await runtime.db.engine.connect()
            await slow.begin()
            late_id = await log_event(slow, job, "committed late")
            async with runtime.db.write() as conn:
                after_id = await log_event(conn, job, "committed first")
            frame = await anext(seen)
            assert frame["id"] == after_id
            token = frame["resume"]  # the skipped id is still owed: named in the token
            assert token.startswith(f"{after_id}:") and f"{late_id}-{late_id}" in token
        await slow.commit()
        await slow.close()

        other = build_runtime(settings)
        await start_runtime(other, migrate=False)
        try:
            async with live_server(workers=0, rt=other) as b, connect(f"{b.replace('http', 'ws', 1)}/v1/ws") as ws:
                await ws.send(json.dumps({"op": "subscribe", "jobs": [job_id], "after": token}))
                async with runtime.db.write() as conn:
                    marker = await log_event(conn, job, "marker")
                got: list[int] = []
                async for frame in frames_of(ws, job_id):
                    got.append(frame["id"])
                    if got[-1] == marker:
                        break
                assert late_id in got, (late_id, got)
                assert after_id not in got  # the client had it from A
                await ws.send(json.dumps({"op": "subscribe", "jobs": [job_id], "after": "not-a-token"}))
                while (answer := json.loads(await ws.recv()))["type"] != "error":
                    pass
                assert answer["code"] == "invalid_message"
        finally:
            await other.close()
