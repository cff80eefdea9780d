"""``WS /ws/tasks``: live cineMind task messages, resumable by event id.

Messages are ``{"type": "queued|running|completed|failed|heartbeat", "taskId", "progress", "data", "eventId"}``,
translated from the queue's job events (only ``cinemind.generate`` jobs the caller may read). A client sends
``{"subscribe": [taskIds]}`` to narrow the stream (``{"unsubscribe": […]}`` widens it again; no subscription
means every task), and reconnects with ``?after=<last eventId>`` to receive everything it missed. A heartbeat
goes out after ``GENLOOM_HEARTBEAT_SECONDS`` (15 s) of silence. The native spelling is accepted too:
``{"op"|"type": "subscribe"|"unsubscribe", "jobs"|"taskIds": […]}`` and ``{"op"|"type": "ping"}``; an unknown op
answers ``unknown_op`` with ``acceptedOps``. Subscribing sends each task's current state at once (a message with
``"snapshot": true`` and ``eventId`` null), then every later event. A server that shuts down sends
``{"type": "reconnect", "data": {"code": "server_restart", "lastEventId": N}}`` and closes with 1012: reconnect
(any replica) with ``?after=N``.

Events come from the process's event hub (:mod:`genloom.events.hub`), which delivers them in id order with no gap
and replays from the log for ``after``; this module only filters and translates. Which jobs are cineMind tasks
is looked up once per job and cached for the process.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

from fastapi import WebSocket
from sqlalchemy import select

from genloom.cinemind import pipeline
from genloom.cinemind.service import STATUS_WORDS, task_result
from genloom.core.db import utc_now
from genloom.core.errors import Unavailable
from genloom.core.principal import Principal
from genloom.events import wsloop
from genloom.events.streams import WS_OPS, ws_op
from genloom.events.subscription import Subscription
from genloom.jobs.models import Job
from genloom.runtime import Runtime

log = logging.getLogger("genloom.cinemind.ws")

MAX_SUBSCRIPTIONS = 1000
KIND_CACHE_SIZE = 100_000  # job id -> "is a cineMind task", per process
#: a job's kind never changes and ids are never reused, so one cache serves every app in the process
_task_kinds: OrderedDict[str, bool] = OrderedDict()
RUNNING_TYPES = {"started", "phase", "progress"}
CLOSE_TRY_AGAIN = 1013  # the client fell behind: reconnect with ?after=<last eventId>
CLOSE_UNAVAILABLE = 1011


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


def _message(type_: str, data: dict[str, Any], task_id: str | None = None) -> dict[str, Any]:
    return {"type": type_, "taskId": task_id, "progress": None, "data": data}


async def is_task(runtime: Runtime, job_id: str) -> bool:
    """Whether ``job_id`` is a ``cinemind.generate`` job (cached; a job's kind never changes)."""
    cache = _task_kinds
    hit = cache.get(job_id)
    if hit is not None:
        cache.move_to_end(job_id)
        return hit
    async with runtime.db.reader.connect() as conn:
        kind = (await conn.execute(select(Job.kind).where(Job.id == job_id))).scalar_one_or_none()
    found = kind == pipeline.KIND
    if kind is not None:  # unknown ids are not cached: the row may not be visible yet
        cache[job_id] = found
        while len(cache) > KIND_CACHE_SIZE:
            cache.popitem(last=False)
    return found


class Control:
    """One connection's subscription set, changed by client messages."""

    def __init__(self, runtime: Runtime, principal: Principal) -> None:
        self.runtime = runtime
        self.principal = principal
        self.subscribed: set[str] = set()
        #: newly subscribed task ids whose current state is sent once (they may have finished already)
        self.fresh: list[str] = []

    def wants(self, job_id: str) -> bool:
        return not self.subscribed or job_id in self.subscribed

    def handle(self, raw: str) -> dict[str, Any]:
        """Apply a client message; returns the reply to send (an acknowledgement or an error)."""
        try:
            msg = json.loads(raw)
        except ValueError:
            return _message("error", {"message": "messages must be JSON", "code": "invalid_message"})
        if not isinstance(msg, dict):
            return _message("error", {"message": "messages must be JSON objects", "code": "invalid_message"})
        op = msg.get("op", msg.get("type"))
        if op == "ping":
            return _message("pong", {})
        if op is not None and op not in ("subscribe", "unsubscribe"):
            return _message("error", {"message": f"unknown op {op!r}: send one of {', '.join(WS_OPS)} as 'op' "
                                                 "(or 'type'), or {\"subscribe\": [taskIds]}",
                                      "code": "unknown_op", "acceptedOps": list(WS_OPS)})
        if op is not None:  # the native spelling: {"op": "subscribe", "jobs": […]} (or "taskIds")
            _, native = ws_op(msg)
            msg = {op: native.get("jobs")}
        for key, add in (("subscribe", True), ("unsubscribe", False)):
            ids = msg.get(key)
            if ids is None:
                continue
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                return _message("error", {"message": f"{key} must be a list of task ids", "field": key,
                                          "code": "invalid_message"})
            if add:
                self.fresh.extend(i for i in ids if i not in self.subscribed)
                self.subscribed.update(ids)
            else:
                self.subscribed.difference_update(ids)
            if len(self.subscribed) > MAX_SUBSCRIPTIONS:
                return _message("error", {"message": f"at most {MAX_SUBSCRIPTIONS} subscriptions", "field": key,
                                          "code": "too_many_subscriptions"})
        return _message("subscribed", {"taskIds": sorted(self.subscribed)})

    async def snapshots(self) -> list[dict[str, Any]]:
        """The current state of each newly subscribed task (``eventId`` null: not part of the event stream)."""
        from genloom.cinemind.errors import TaskNotFound
        from genloom.cinemind.service import get_task

        out = []
        for task_id in self.fresh:
            try:
                task = await get_task(self.runtime, self.principal, task_id)
            except TaskNotFound:
                out.append(_message("error", {"message": "task not found", "code": "task_not_found"}, task_id))
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


class CinemindWs:
    """The ``/ws/tasks`` protocol (module docstring) for :func:`genloom.events.wsloop.run`."""

    def __init__(self, runtime: Runtime, principal: Principal, sub: Subscription) -> None:
        self.runtime = runtime
        self.control = Control(runtime, principal)
        self.sub = sub

    async def on_message(self, raw: str | None) -> list[str]:
        if raw is None:
            reply = _message("error", {"message": "send JSON text frames", "code": "invalid_message"})
            return [json.dumps(reply)]
        replies = [self.control.handle(raw), *await self.control.snapshots()]
        return [json.dumps(r) for r in replies]

    async def on_event(self, event: dict[str, Any]) -> str | None:
        job_id = event["job_id"]
        if not self.control.wants(job_id) or not await is_task(self.runtime, job_id):
            return None
        message = message_for(self.runtime, event["id"], job_id, event["type"], event.get("data") or {})
        return None if message is None else json.dumps(message)

    def heartbeat(self) -> str:
        return json.dumps(_message("heartbeat", {"time": utc_now().isoformat().replace("+00:00", "Z"),
                                                 "lastEventId": self.sub.last_id}))

    def overflow(self) -> str:
        return json.dumps(_message("error", {"message": "too slow: reconnect with ?after=<lastEventId>",
                                             "code": "overflow", "lastEventId": self.sub.last_id}))

    def restart(self) -> str:
        return json.dumps(_message("reconnect", {"message": "the server is restarting: reconnect with "
                                                            "?after=<lastEventId>",
                                                 "code": "server_restart", "lastEventId": self.sub.resume_id}))


async def serve(websocket: WebSocket, runtime: Runtime, principal: Principal, after: int | None) -> None:
    """Run one ``/ws/tasks`` connection until the client leaves."""
    await websocket.accept()
    if not runtime.hub.running:
        await websocket.close(CLOSE_UNAVAILABLE, "the event hub is not running in this process")
        return
    try:
        sub = runtime.hub.subscribe(principal, job_ids=None, after=after)
    except Unavailable as exc:  # starting up, or shutting down
        await websocket.close(CLOSE_UNAVAILABLE, exc.message)
        return
    await wsloop.run(websocket, sub, CinemindWs(runtime, principal, sub),
                     heartbeat=runtime.settings.heartbeat_seconds)
