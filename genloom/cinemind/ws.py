"""``WS /ws/tasks``: live cineMind task messages, resumable by event id.

Messages are ``{"type": "queued|running|completed|failed|heartbeat", "taskId", "progress", "data", "eventId"}``,
translated from the queue's ``job_events`` log (only ``cinemind.generate`` jobs the caller owns). A client sends
``{"subscribe": [taskIds]}`` to narrow the stream (``{"unsubscribe": […]}`` widens it again; an empty
subscription means every task) and reconnects with ``?after=<last eventId>`` to receive everything it missed.
A heartbeat goes out every ``GENLOOM_HEARTBEAT_SECONDS`` (15 s) of silence.

The log is tailed by id, woken by the process's event signals (PostgreSQL NOTIFY / Redis / in-process) with a
polling fallback. On PostgreSQL ids are assigned before commit, so a slow transaction can commit an id lower
than one already sent: each read looks back a window of ids and skips those already delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy import func, select

from genloom.cinemind import pipeline
from genloom.cinemind.service import STATUS_WORDS, task_result
from genloom.core.db import utc_now
from genloom.core.principal import Principal, scoped
from genloom.jobs.models import Job, JobEvent
from genloom.runtime import Runtime

log = logging.getLogger("genloom.cinemind.ws")

BATCH = 200
LOOKBACK_IDS = 100  # PostgreSQL only: ids below the high-water mark still re-read (late commits)
MAX_SUBSCRIPTIONS = 1000

RUNNING_TYPES = {"started", "phase", "progress"}


def message_for(runtime: Runtime, event_id: int, job_id: str, type_: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """One job event as a cineMind task message (None for events clients don't need, such as logs)."""
    progress = data.get("progress")
    if type_ == "queued" or type_ == "retrying":
        kind, body = "queued", {"status": "queued", "attempts": data.get("attempts"), "retrying": type_ == "retrying"}
    elif type_ in RUNNING_TYPES:
        kind, body = "running", {"status": "running", "phase": data.get("phase"), "attempts": data.get("attempts")}
    elif type_ == "succeeded":
        kind, body = "completed", {"status": "completed", "result": task_result(runtime, data.get("result"))}
        progress = 100
    elif type_ in ("failed", "canceled"):
        error = data.get("error") or {}
        kind = "failed"
        body = {"status": STATUS_WORDS.get(type_, "failed"), "canceled": type_ == "canceled",
                "error": {"code": error.get("code", type_), "message": error.get("message", type_)}}
    else:
        return None
    return {"type": kind, "taskId": job_id, "progress": progress, "data": body, "eventId": event_id}


class TaskStream:
    """One connection's cursor over the event log."""

    def __init__(self, runtime: Runtime, principal: Principal, after: int | None) -> None:
        self.runtime = runtime
        self.principal = principal
        self.last = after
        self.sent: set[int] = set()
        self.subscribed: set[str] = set()
        #: newly subscribed task ids whose current state is sent once (they may have finished already)
        self.fresh: list[str] = []

    async def snapshots(self) -> list[dict[str, Any]]:
        from genloom.cinemind.errors import TaskNotFound
        from genloom.cinemind.service import get_task

        out = []
        for task_id in self.fresh[:MAX_SUBSCRIPTIONS]:
            try:
                task = await get_task(self.runtime, self.principal, task_id)
            except TaskNotFound:
                out.append({"type": "error", "taskId": task_id, "progress": None,
                            "data": {"message": "task not found", "code": "task_not_found"}})
                continue
            data: dict[str, Any] = {"status": task["status"], "phase": task["phase"], "snapshot": True}
            if task["status"] == "completed":
                data["result"] = task["result"]
            if task["error"]:
                data["error"] = task["error"]
            out.append({"type": task["status"], "taskId": task_id, "progress": task["progress"], "data": data,
                        "eventId": None})
        self.fresh = []
        return out

    async def start_position(self) -> None:
        if self.last is None:  # a fresh client gets what happens from now on
            async with self.runtime.db.reader.connect() as conn:
                self.last = int((await conn.execute(select(func.coalesce(func.max(JobEvent.id), 0)))).scalar_one())

    async def fetch(self) -> list[dict[str, Any]]:
        assert self.last is not None
        low = self.last - LOOKBACK_IDS if not self.runtime.db.is_sqlite else self.last
        stmt = (
            select(JobEvent.id, JobEvent.job_id, JobEvent.type, JobEvent.data)
            .join(Job, Job.id == JobEvent.job_id)
            .where(JobEvent.id > max(low, 0), Job.kind == pipeline.KIND)
            .order_by(JobEvent.id)
            .limit(BATCH + LOOKBACK_IDS)
        )
        stmt = scoped(stmt, JobEvent.owner_id, self.principal, "jobs")
        if self.subscribed:
            stmt = stmt.where(JobEvent.job_id.in_(sorted(self.subscribed)))
        async with self.runtime.db.reader.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        out: list[dict[str, Any]] = []
        for row in rows:
            if row.id in self.sent:
                continue
            self.sent.add(row.id)
            self.last = max(self.last, row.id)
            message = message_for(self.runtime, row.id, row.job_id, row.type, row.data or {})
            if message is not None:
                out.append(message)
        floor = self.last - LOOKBACK_IDS
        self.sent = {i for i in self.sent if i > floor}
        return out

    def handle_control(self, raw: str) -> dict[str, Any] | None:
        """Apply a client message; returns an acknowledgement (or an error message) to send back."""
        try:
            msg = json.loads(raw)
        except ValueError:
            return {"type": "error", "taskId": None, "progress": None, "data": {"message": "messages must be JSON"}}
        if not isinstance(msg, dict):
            return {"type": "error", "taskId": None, "progress": None, "data": {"message": "messages must be objects"}}
        for key, add in (("subscribe", True), ("unsubscribe", False)):
            ids = msg.get(key)
            if ids is None:
                continue
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                return {"type": "error", "taskId": None, "progress": None,
                        "data": {"message": f"{key} must be a list of task ids", "field": key}}
            if add:
                self.fresh.extend(i for i in ids if i not in self.subscribed)
                self.subscribed.update(ids)
            else:
                self.subscribed.difference_update(ids)
            if len(self.subscribed) > MAX_SUBSCRIPTIONS:
                self.subscribed = set(sorted(self.subscribed)[:MAX_SUBSCRIPTIONS])
        if msg.get("type") == "ping":
            return {"type": "pong", "taskId": None, "progress": None, "data": {}}
        return {"type": "subscribed", "taskId": None, "progress": None,
                "data": {"taskIds": sorted(self.subscribed)}}


async def serve(websocket: WebSocket, runtime: Runtime, principal: Principal, after: int | None) -> None:
    """Run one ``/ws/tasks`` connection until the client leaves."""
    await websocket.accept()
    stream = TaskStream(runtime, principal, after)
    await stream.start_position()
    heartbeat = runtime.settings.heartbeat_seconds
    poll = max(0.05, runtime.settings.event_poll_seconds)
    signals = runtime.signals
    wake = asyncio.Event()
    send_lock = asyncio.Lock()  # the reader and the pump both send; one frame at a time

    async def send(message: dict[str, Any]) -> None:
        async with send_lock:
            await websocket.send_json(message)

    async def reader() -> None:
        while True:
            raw = await websocket.receive_text()
            reply = stream.handle_control(raw)
            if reply is not None:
                await send(reply)
            for snapshot in await stream.snapshots():
                await send(snapshot)
            wake.set()

    reader_task = asyncio.create_task(reader())
    loop = asyncio.get_running_loop()
    last_sent = loop.time()
    seen = signals.events_seq
    try:
        while not reader_task.done():
            for message in await stream.fetch():
                await send(message)
                last_sent = loop.time()
            if loop.time() - last_sent >= heartbeat:
                await send({"type": "heartbeat", "taskId": None, "progress": None,
                                           "data": {"time": utc_now().isoformat().replace("+00:00", "Z"),
                                                    "lastEventId": stream.last}})
                last_sent = loop.time()
            timeout = min(poll * 4, max(0.01, heartbeat - (loop.time() - last_sent)))
            waiter = asyncio.create_task(signals.wait_events_since(seen, timeout))
            woken = asyncio.create_task(wake.wait())
            done, pending = await asyncio.wait({waiter, woken, reader_task}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                if task is not reader_task:
                    task.cancel()
            if waiter in done:
                seen = waiter.result()
            wake.clear()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        reader_task.cancel()
        with contextlib.suppress(BaseException):
            await reader_task
