"""Both WebSocket protocols (``/v1/ws`` and cineMind's ``/ws/tasks``) accept the same spellings, name the
accepted ops in their errors, and never lose the first events of a job subscribed right after its POST."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import connect

from genloom.runtime import Runtime
from tests.events.conftest import finish, new_job, start_job
from tests.events.test_streams import ws_recv, ws_url


async def test_subscribing_right_after_the_post_sees_queued_and_started(runtime: Runtime, live_server: Any) -> None:
    async with live_server() as base:
        job_id = await new_job(runtime)
        await start_job(runtime, job_id)  # both events happened before the client subscribed
        async with connect(ws_url(base)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "jobs": [job_id]}))
            assert await ws_recv(ws) == {"type": "subscribed", "jobs": [job_id]}
            assert [(await ws_recv(ws))["event"] for _ in range(2)] == ["queued", "started"]
            await finish(runtime, job_id)
            assert (await ws_recv(ws))["event"] == "succeeded"


async def test_every_spelling_subscribes_and_unknown_ops_list_the_accepted(runtime: Runtime, live_server: Any) -> None:
    jobs = [await new_job(runtime) for _ in range(3)]
    frames = [{"op": "subscribe", "jobs": [jobs[0]]}, {"type": "subscribe", "jobs": [jobs[1]]},
              {"subscribe": [jobs[2]]}]
    async with live_server() as base, connect(ws_url(base)) as ws:
        for frame, job_id in zip(frames, jobs, strict=True):
            await ws.send(json.dumps(frame))
            assert await ws_recv(ws) == {"type": "subscribed", "jobs": [job_id]}
            assert (await ws_recv(ws))["event"] == "queued"
        await ws.send(json.dumps({"unsubscribe": [jobs[2]]}))
        assert await ws_recv(ws) == {"type": "unsubscribed", "jobs": [jobs[2]]}
        await ws.send(json.dumps({"type": "dance"}))
        error = await ws_recv(ws)
        assert (error["code"], error["accepted_ops"]) == ("unknown_op", ["subscribe", "unsubscribe", "ping"])
        assert "'dance'" in error["message"] and "subscribe, unsubscribe, ping" in error["message"]
        await ws.send(json.dumps({"type": "ping"}))
        assert await ws_recv(ws, skip_heartbeats=False) == {"type": "heartbeat"}
