"""Live job events: SSE ``GET /v1/jobs/{id}/events`` and ``GET /v1/events``, WebSocket ``/v1/ws``.

All three read from the process's event hub (:mod:`genloom.events.hub`) and resume by event id, so a client
can reconnect to any replica and miss nothing. WebSocket protocol (JSON text frames)::

    client → {"op": "subscribe", "jobs": ["<id>", …], "after": <event id, optional>}
             {"op": "unsubscribe", "jobs": ["<id>", …]}
             {"op": "ping"}
             ("type" is accepted for "op", and cineMind's {"subscribe": […]} / {"unsubscribe": […]} too)
    A subscribe without "after" replays each job's events from its first (queued), then every later one;
    with "after" only the events after that id. "after" may also be a "resume" token (below).
    server → {"type": "event", "id": 12, "job_id": "…", "event": "progress", "data": {…}, "created_at": "…"}
             {"type": "subscribed", "jobs": […]}   {"type": "unsubscribed", "jobs": […]}
             {"type": "heartbeat"}                  (every heartbeat_seconds, and in answer to a ping)
             {"type": "error", "code": "…", "message": "…"}   (bad messages; the socket stays open;
                                                                unknown_op also lists "accepted_ops")
             {"type": "reconnect", "code": "server_restart", "last_id": N, "resume": "N…", "retry_ms": …}
                 (the server is shutting down: close code 1012 follows; reconnect, subscribe with after=resume)
    An event frame carries "resume" only when ids below it are still owed (skipped as gaps on PostgreSQL, whose
    commits can become visible out of id order): resume with that token rather than the bare id.
SSE streams end the same way with ``event: reconnect`` (``id:``, ``retry:``), and EventSource resumes. An SSE
``id:`` is the subscription's resume token (``Subscription.resume_token``): the event id, plus the ids below it
skipped as gaps, so that a replica a client resumes on sends those if they commit late.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, WebSocket
from fastapi.responses import Response, StreamingResponse

from genloom.core.errors import InvalidInput, Unavailable
from genloom.core.paging import LAST_EVENT_ID_SCHEMA, MAX_DB_INT
from genloom.core.principal import Principal
from genloom.deps import RuntimeDep
from genloom.events import wsloop
from genloom.events.hub import TERMINAL_TYPES, Hub, SubscriberOverflow, Subscription, with_heartbeats
from genloom.identity.deps import NativeCaller, NativeWsCaller
from genloom.jobs.errors import JobNotFound
from genloom.runtime import Runtime

log = logging.getLogger("genloom.events")

router = APIRouter(prefix="/v1", tags=["Events"])
MAX_WS_JOBS = 1000  # jobs one WebSocket may follow
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def get_hub(runtime: Runtime) -> Hub:
    if not runtime.hub.running:
        raise Unavailable("the event hub is not running in this process")
    return runtime.hub


def _resume_from(last_event_id: str | None, after: int | None) -> tuple[int | None, list[tuple[int, int]]]:
    """``Last-Event-ID`` (sent by EventSource on reconnect) wins over ``?after=``. It is the stream's own resume
    token (``Subscription.resume_token``): the last id, then any ranges below it the client has not got yet
    (``"12:10-10,7-8"``). Returns (after, those ranges)."""
    if last_event_id is None or not last_event_id.strip():
        return after, []
    head, _, tail = last_event_id.strip().partition(":")
    value = _event_id(head)
    holes: list[tuple[int, int]] = []
    for part in tail.split(",") if tail else []:
        lo, sep, hi = part.partition("-")
        if not sep or len(holes) >= 64:
            raise InvalidInput("Last-Event-ID is not a resume position this server sent", field="Last-Event-ID")
        holes.append((_event_id(lo), _event_id(hi)))
    return value, holes


def _event_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidInput("Last-Event-ID must be an event id (an integer)", field="Last-Event-ID") from None
    if value < 0:
        raise InvalidInput("Last-Event-ID must not be negative", field="Last-Event-ID")
    if value > MAX_DB_INT:
        raise InvalidInput("Last-Event-ID is not an event id (too large)", field="Last-Event-ID")
    return value


#: how soon (ms) a client told to reconnect by a shutting-down server comes back, drawn per stream so that the
#: clients of one replica do not all land on the others in the same instant
RECONNECT_RETRY_MS = (250, 2000)


def reconnect_message(resume_id: int) -> dict[str, Any]:
    """What a stream's last frame says when its server shuts down: reconnect (any replica) after this id."""
    return {"code": "server_restart", "message": "this server is restarting; reconnect to resume",
            "last_id": resume_id, "retry_ms": random.randint(*RECONNECT_RETRY_MS)}


def sse_reconnect_frame(sub: Subscription) -> bytes:
    """``event: reconnect`` with ``id:`` (so EventSource sends it back as Last-Event-ID even if no event came
    before) and ``retry:``; the stream ends after it and EventSource reconnects by itself."""
    message = reconnect_message(sub.resume_id)
    data = json.dumps(message, separators=(",", ":"))
    return f"id: {sub.resume_token()}\nevent: reconnect\nretry: {message['retry_ms']}\ndata: {data}\n\n".encode()


def sse_frame(event: dict[str, Any], resume: str | None = None) -> bytes:
    """One event; ``resume`` is the ``id:`` to send instead of the event id (the subscription's resume token)."""
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"id: {resume or event['id']}\nevent: {event['type']}\ndata: {data}\n\n".encode()


async def _sse(request: Request, sub: Subscription, heartbeat: float, close_on_terminal_of: str | None,
               close_after: float | None = None) -> AsyncIterator[bytes]:
    deadline = None if close_after is None else asyncio.get_running_loop().time() + close_after
    if close_after is not None:
        heartbeat = min(heartbeat, close_after)
    try:
        yield b"retry: 2000\n\n"
        async for event in with_heartbeats(sub, heartbeat):
            if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                return
            if event is None:
                if await request.is_disconnected():
                    return
                yield b": ping\n\n"
                continue
            yield sse_frame(event, sub.resume_token())
            if close_on_terminal_of is not None and event["job_id"] == close_on_terminal_of \
                    and event["type"] in TERMINAL_TYPES:
                # A terminal event in the replayed history of a job that was retried since is not the end.
                later = await sub.hub.read_events(sub.principal, {close_on_terminal_of}, after=event["id"], limit=1)
                if not later:
                    return
        if sub.restarting:
            yield sse_reconnect_frame(sub)
    except SubscriberOverflow:
        # The client reconnects (EventSource does so by itself) and resumes from the last id it got.
        yield b"event: overflow\ndata: {\"code\":\"slow_consumer\"}\n\n"
    finally:
        sub.close()


CloseAfter = Annotated[float | None, Query(
    gt=0, le=3600, description="End the stream after this many seconds (for clients that wait for a response to "
                               "end, such as curl or Postman); EventSource clients leave it out")]
AfterQuery = Annotated[int | None, Query(ge=0, le=MAX_DB_INT, description="Resume after this event id (Last-Event-ID wins)")]
#: the ``id:`` these streams send and EventSource sends back: the last event id, then the ranges below it the client
#: has not been sent yet (ids another replica skipped while their commit was late), e.g. ``12`` or ``12:10-10,7-8``
RESUME_TOKEN_SCHEMA = {"anyOf": [*LAST_EVENT_ID_SCHEMA["anyOf"],
                                 {"type": "string", "pattern": r"^[0-9]{1,18}(:[0-9]{1,18}-[0-9]{1,18}(,[0-9]{1,18}-[0-9]{1,18}){0,63})?$"}]}
LastEventId = Annotated[str | None, Header(
    alias="Last-Event-ID", description="Sent by EventSource on reconnect: the `id:` of the last event seen (the last "
    "event id, then any ranges of ids below it still owed, e.g. `12:10-10`)", json_schema_extra=RESUME_TOKEN_SCHEMA)]
SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A text/event-stream: `id:`, `event: <type>`, JSON `data:`; `: ping` heartbeats.",
          "content": {"text/event-stream": {"example": 'id: 12\nevent: progress\ndata: {"id":12,"job_id":"…",'
                                                       '"type":"progress","data":{"progress":40},"created_at":"…"}\n\n'}}},
}


@router.get("/jobs/{job_id}/events", summary="Stream one job's events (SSE); ends after its terminal event",
            response_class=StreamingResponse, responses={**SSE_RESPONSES, 204: {"description": "Nothing left to send"},
                                                         404: {"description": "Job not found"}})
async def job_events(
    job_id: str,
    request: Request,
    runtime: RuntimeDep,
    caller: NativeCaller,
    after: AfterQuery = None,
    last_event_id: LastEventId = None,
    close_after: CloseAfter = None,
) -> Response:
    from genloom.core.principal import may_read

    hub = get_hub(runtime)
    row = await runtime.reads.get_job_row(job_id)
    if row is None or not may_read(caller, row["owner_id"], "jobs"):
        raise JobNotFound(field="job_id")
    resume, holes = _resume_from(last_event_id, after)
    start = resume or 0  # a fresh client gets the job's whole history
    sub = hub.subscribe(caller, job_ids={job_id}, after=start, holes=holes)
    if row["status"] in TERMINAL_TYPES:
        stored = await hub.read_events(caller, {job_id}, after=start, limit=1)
        if not stored and not holes:
            sub.close()
            return Response(status_code=204)  # finished and fully seen: EventSource stops reconnecting
    return StreamingResponse(_sse(request, sub, runtime.settings.heartbeat_seconds, job_id, close_after),
                             media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/events", summary="Stream every event the caller may see (SSE)", response_class=StreamingResponse,
            responses=SSE_RESPONSES)
async def all_events(
    request: Request,
    runtime: RuntimeDep,
    caller: NativeCaller,
    after: AfterQuery = None,
    last_event_id: LastEventId = None,
    close_after: CloseAfter = None,
) -> Response:
    hub = get_hub(runtime)
    resume, holes = _resume_from(last_event_id, after)
    sub = hub.subscribe(caller, job_ids=None, after=resume, holes=holes)
    return StreamingResponse(_sse(request, sub, runtime.settings.heartbeat_seconds, None, close_after),
                             media_type="text/event-stream", headers=SSE_HEADERS)


# --- WebSocket ------------------------------------------------------------------------------------------------


WsCaller = NativeWsCaller


class _BadMessage(Exception):
    def __init__(self, code: str, message: str, *, accepted: tuple[str, ...] | None = None) -> None:
        self.code, self.message, self.accepted = code, message, accepted
        super().__init__(message)

    def frame(self) -> str:
        body: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.accepted is not None:
            body["accepted_ops"] = list(self.accepted)
        return json.dumps(body)


#: the ops ``/v1/ws`` accepts, named in every ``unknown_op`` error
WS_OPS = ("subscribe", "unsubscribe", "ping")


def ws_op(msg: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The op of a client message and its arguments, in any of the spellings both WebSocket protocols accept:
    ``{"op": "subscribe", "jobs": […]}``, ``{"type": "subscribe", "jobs": […]}`` or cineMind's
    ``{"subscribe": […]}`` (``taskIds`` is read as ``jobs`` too)."""
    op = msg.get("op", msg.get("type"))
    if op is None:
        for name in ("subscribe", "unsubscribe"):
            if name in msg:
                return name, {**msg, "jobs": msg[name]}
    if "jobs" not in msg and "taskIds" in msg:
        msg = {**msg, "jobs": msg["taskIds"]}
    return (op if isinstance(op, str) else None), msg


def _job_list(msg: dict[str, Any]) -> list[str]:
    jobs = msg.get("jobs")
    # NUL never occurs in an id and PostgreSQL cannot even look it up (the socket would die)
    if not isinstance(jobs, list) or not jobs or \
            not all(isinstance(j, str) and 0 < len(j) <= 64 and "\x00" not in j for j in jobs):
        raise _BadMessage("invalid_message", "'jobs' must be a non-empty list of job ids")
    if len(jobs) > MAX_WS_JOBS:
        raise _BadMessage("too_many_jobs", f"follow at most {MAX_WS_JOBS} jobs per connection")
    return list(dict.fromkeys(jobs))


class NativeWs:
    """The ``/v1/ws`` protocol (module docstring) for :func:`genloom.events.wsloop.run`."""

    def __init__(self, runtime: Runtime, caller: Principal, sub: Subscription) -> None:
        self.runtime, self.caller, self.sub = runtime, caller, sub

    async def on_message(self, raw: str | None) -> list[str]:
        try:
            if raw is None:
                raise _BadMessage("invalid_message", "send JSON text frames")
            return await self._handle(raw)
        except _BadMessage as bad:
            return [bad.frame()]

    async def on_event(self, event: dict[str, Any]) -> str | None:
        frame = ws_frame(event)
        token = self.sub.resume_token()
        if ":" not in token:
            return frame  # the usual case: no id below is owed, the last id is the resume position (shared frame)
        # ids below this one are still owed (skipped as gaps here): the client resumes with the token instead
        return f'{frame[:-1]},"resume":"{token}"}}'

    def heartbeat(self) -> str:
        return '{"type":"heartbeat"}'

    def overflow(self) -> str:
        return json.dumps({"type": "error", "code": "slow_consumer",
                           "message": "too far behind; reconnect and resume with 'after'"})

    def restart(self) -> str:
        return json.dumps({"type": "reconnect", **reconnect_message(self.sub.resume_id),
                           "resume": self.sub.resume_token()})

    async def _handle(self, raw: str) -> list[str]:
        from genloom.core.principal import may_read

        runtime, caller, sub = self.runtime, self.caller, self.sub
        try:
            msg = json.loads(raw)
        except ValueError:
            raise _BadMessage("invalid_json", "messages must be JSON objects") from None
        if not isinstance(msg, dict):
            raise _BadMessage("invalid_message", "messages must be JSON objects")
        op, msg = ws_op(msg)
        if op == "ping":
            return ['{"type":"heartbeat"}']
        if op == "subscribe":
            jobs = _job_list(msg)
            after, holes = _ws_resume(msg.get("after"))
            if len(sub.job_ids or ()) + len(jobs) > MAX_WS_JOBS:
                raise _BadMessage("too_many_jobs", f"follow at most {MAX_WS_JOBS} jobs per connection")
            readable: list[str] = []
            missing: list[str] = []
            for job_id in jobs:
                row = await runtime.reads.get_job_row(job_id)
                (readable if row is not None and may_read(caller, row["owner_id"], "jobs") else missing).append(job_id)
            out = []
            if readable:
                # no 'after': replay each job from its first event, so a subscription made right after the POST
                # still sees queued and started (the log keeps them); 'after' skips what the client has
                sub.add_jobs(readable, after=0 if after is None else after, holes=holes)
                out.append(json.dumps({"type": "subscribed", "jobs": readable}))
            if missing:
                out.append(json.dumps({"type": "error", "code": "job_not_found", "message": "job not found",
                                       "jobs": missing}))
            return out
        if op == "unsubscribe":
            jobs = _job_list(msg)
            sub.remove_jobs(jobs)
            return [json.dumps({"type": "unsubscribed", "jobs": jobs})]
        raise _BadMessage("unknown_op", f"unknown op {op!r}: send one of {', '.join(WS_OPS)} as 'op' (or 'type')",
                          accepted=WS_OPS)


def _ws_resume(after: Any) -> tuple[int | None, list[tuple[int, int]]]:
    """A subscribe's ``after``: an event id, or the ``resume`` token of an event or reconnect frame."""
    if after is None:
        return None, []
    if isinstance(after, int) and not isinstance(after, bool) and 0 <= after <= MAX_DB_INT:
        return after, []
    if isinstance(after, str) and after.strip():
        try:
            return _resume_from(after, None)
        except InvalidInput:
            pass
    raise _BadMessage("invalid_message", "'after' must be a non-negative event id or a 'resume' token")


#: recent WS frames by (event id, job id): one event fans out to many sockets, encode it once
_ws_frames: collections.OrderedDict[tuple[int, str], str] = collections.OrderedDict()


def ws_frame(event: dict[str, Any]) -> str:
    key = (event["id"], event["job_id"])
    text = _ws_frames.get(key)
    if text is None:
        text = json.dumps({
            "type": "event", "id": event["id"], "job_id": event["job_id"], "event": event["type"],
            "data": event["data"], "created_at": event["created_at"],
        }, separators=(",", ":"), ensure_ascii=False)
        _ws_frames[key] = text
        if len(_ws_frames) > 2048:
            _ws_frames.popitem(last=False)
    return text


@router.websocket("/ws")
async def events_ws(ws: WebSocket, caller: WsCaller) -> None:
    """Follow jobs over one WebSocket (see the module docstring for the protocol)."""
    runtime: Runtime = ws.app.state.runtime
    await ws.accept()
    try:
        sub = get_hub(runtime).subscribe(caller, job_ids=set())
    except Unavailable as exc:
        await ws.send_text(json.dumps({"type": "error", "code": exc.code, "message": exc.message}))
        await ws.close(code=wsloop.TRY_AGAIN)
        return
    await wsloop.run(ws, sub, NativeWs(runtime, caller, sub), heartbeat=runtime.settings.heartbeat_seconds)
