"""``WS /ws/{client_id}?token=<JWT>``: GenFlow's realtime channel — rooms, per-room seq, heartbeat, resume.

JSON text frames. Client → server::

    {"type": "join", "room": "article:<id>" | "user:<id>"}
    {"type": "resume", "room": …, "after": <last seq seen>}      join, and first get every message after it
    {"type": "leave", "room": …}
    {"type": "publish", "room": …, "data": <any JSON>}
    {"type": "ping"}

Server → client::

    {"type": "joined", "room", "seq", "recovered"}    seq: the room's newest; recovered false: history was pruned
    {"type": "message", "room", "seq", "from", "fromClient", "data", "at"}
    {"type": "published", "room", "seq"}               the acknowledgement of a publish
    {"type": "job", "id", "jobId", "event", "data", "at"}   events of your jobs, in your user:{id} room
    {"type": "left", "room"}   {"type": "pong"}   {"type": "heartbeat"} (every 15 s)
    {"type": "error", "code", "message"}               a bad frame or a refused room; the socket stays open

Close codes: 4401 no or bad token (before any frame), 4400 bad client id, 4000 ``replaced`` (a newer
connection with this client id), 4408 silent for three heartbeats, 1013 too slow (reconnect and resume),
1011 the database is unreachable, 1012 the server is shutting down (after a last
``{"type": "reconnect", "code": "server_restart", "rooms": {room: last seq}}``: reconnect and resume each room).
The rules (rooms, seq, history, fan-out between processes) are :mod:`genloom.channel`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import weakref
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from genloom.channel.connection import (
    Connection,
    ConnectionEnded,
    Delivered,
    Heartbeat,
    JobEvent,
    Joined,
    Output,
    Reply,
)
from genloom.channel.hub import ChannelConfig, ChannelHub
from genloom.channel.rooms import RoomRefused, authorize, user_room
from genloom.core.errors import GenloomError
from genloom.core.http import is_unavailable
from genloom.core.settings import AuthMode, Settings
from genloom.events.subscription import SubscriberOverflow
from genloom.identity.deps import resolve
from genloom.runtime import Runtime

log = logging.getLogger("genloom.genflow.channel")

router = APIRouter(tags=["WebSocket"])
CLOSE_REPLACED, CLOSE_BAD_CLIENT, CLOSE_UNAUTHORIZED, CLOSE_SILENT = 4000, 4400, 4401, 4408
CLOSE_TRY_AGAIN, CLOSE_GOING_AWAY, CLOSE_UNAVAILABLE, CLOSE_RESTART = 1013, 1001, 1011, 1012
CLOSE_FOR = {"replaced": (CLOSE_REPLACED, "replaced"), "silent": (CLOSE_SILENT, "silent"),
             "too_slow": (CLOSE_TRY_AGAIN, "too slow"), "closed": (CLOSE_GOING_AWAY, "server closing"),
             "restart": (CLOSE_RESTART, "service restart")}
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_ROOMS = 100
MAX_FRAME_CHARS = 256 * 1024
#: how long a closing connection may take to flush before it is cut (a client that stopped reading)
CLOSE_GRACE_SECONDS = 1.0

_HUBS: weakref.WeakKeyDictionary[Runtime, ChannelHub] = weakref.WeakKeyDictionary()


def config_of(settings: Settings) -> ChannelConfig:
    return ChannelConfig(heartbeat_seconds=settings.channel_heartbeat_seconds,
                         retention_seconds=settings.channel_retention_seconds,
                         retention_messages=settings.channel_retention_messages,
                         queue_size=settings.channel_queue_size, poll_seconds=max(0.05, settings.event_poll_seconds))


@contextlib.asynccontextmanager
async def lifespan(runtime: Runtime) -> AsyncIterator[None]:
    hub = ChannelHub(runtime.db, runtime.signals, config_of(runtime.settings))
    await hub.start()
    _HUBS[runtime] = hub
    stop_watching = runtime.shutdown.on_begin(hub.drain)
    try:
        yield
    finally:
        stop_watching()
        _HUBS.pop(runtime, None)
        await hub.close()


def hub_of(runtime: Runtime) -> ChannelHub:
    hub = _HUBS.get(runtime)
    if hub is None:
        raise RuntimeError("the GenFlow channel is not running in this app")
    return hub


def _error(code: str, message: str) -> Reply:
    return Reply({"type": "error", "code": code, "message": message})


def frame_of(out: Output) -> dict[str, Any]:
    if isinstance(out, Delivered):
        m = out.message
        return {"type": "message", "room": m.room, "seq": m.seq, "from": m.sender_user, "fromClient": m.sender_client,
                "data": m.data, "at": m.created_at.isoformat().replace("+00:00", "Z")}
    if isinstance(out, Joined):
        return {"type": "joined", "room": out.room, "seq": out.seq, "recovered": out.recovered}
    if isinstance(out, JobEvent):
        e = out.event
        return {"type": "job", "id": e["id"], "jobId": e["job_id"], "event": e["type"], "data": e["data"],
                "at": e["created_at"]}
    if isinstance(out, Heartbeat):
        return {"type": "heartbeat"}
    return out.frame


class Session:
    """One accepted connection: reads client frames, and follows the user's job events while the user room is
    joined."""

    def __init__(self, runtime: Runtime, hub: ChannelHub, conn: Connection) -> None:
        self.runtime = runtime
        self.hub = hub
        self.conn = conn
        self.jobs: asyncio.Task[None] | None = None

    def reply(self, item: Reply) -> None:
        if not self.conn.offer(item):
            self.hub.disconnect(self.conn)
            self.conn.end("too_slow")

    async def handle(self, raw: str | None) -> None:
        self.conn.touch()
        if raw is None or len(raw) > MAX_FRAME_CHARS:
            self.reply(_error("invalid_frame", f"send JSON text frames of at most {MAX_FRAME_CHARS} characters"))
            return
        try:
            frame = json.loads(raw)
        except ValueError:
            self.reply(_error("invalid_json", "the frame is not JSON"))
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        try:
            if kind == "ping":
                self.reply(Reply({"type": "pong"}))
            elif kind in ("join", "resume"):
                await self._join(frame, resume=kind == "resume")
            elif kind == "leave":
                room = frame.get("room")
                if isinstance(room, str) and room in self.conn.rooms:
                    self.hub.leave(self.conn, room)
                    self._stop_jobs_if(room)
                self.reply(Reply({"type": "left", "room": room}))
            elif kind == "publish":
                await self._publish(frame)
            else:
                self.reply(_error("unknown_type", "type must be join, resume, leave, publish or ping"))
        except RoomRefused as exc:
            self.reply(_error(exc.code, exc.message))
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("channel.unavailable error=%s", type(exc).__name__)
            self.reply(_error("unavailable", "the database is unavailable; try again shortly"))

    async def _join(self, frame: dict[str, Any], *, resume: bool) -> None:
        after = frame.get("after") if resume else None
        if resume and (not isinstance(after, int) or isinstance(after, bool) or after < 0):
            self.reply(_error("invalid_after", "after must be the last seq you saw (an integer ≥ 0)"))
            return
        room = await authorize(self.runtime.db, self.conn.principal, frame.get("room"), publish=False)
        if room not in self.conn.rooms and len(self.conn.rooms) >= MAX_ROOMS:
            self.reply(_error("too_many_rooms", f"one connection joins at most {MAX_ROOMS} rooms"))
            return
        self.hub.join(self.conn, room, after)
        if room == user_room(self.conn.principal.user_id or "") and self.jobs is None:
            self.jobs = asyncio.create_task(self._follow_jobs())

    async def _publish(self, frame: dict[str, Any]) -> None:
        room = await authorize(self.runtime.db, self.conn.principal, frame.get("room"), publish=True)
        data = frame.get("data")
        if len(json.dumps(data, ensure_ascii=False).encode()) > self.runtime.settings.channel_max_message_bytes:
            self.reply(_error("message_too_large", "data is larger than "
                                                   f"{self.runtime.settings.channel_max_message_bytes} bytes"))
            return
        message = await self.hub.publish(self.conn, room, data)
        self.reply(Reply({"type": "published", "room": room, "seq": message.seq}))

    async def _follow_jobs(self) -> None:
        """Job events of the user's jobs, into the connection's queue (their order is the job hub's)."""
        try:
            async with self.runtime.hub.subscribe(self.conn.principal) as sub:
                async for event in sub:
                    if not self.conn.offer(JobEvent(event)):
                        self.hub.disconnect(self.conn)
                        self.conn.end("too_slow")
                        return
        except SubscriberOverflow:
            self.conn.end("too_slow")
        except GenloomError:
            self.reply(_error("jobs_unavailable", "job events are not available right now"))

    def _stop_jobs_if(self, room: str) -> None:
        if self.jobs is not None and room == user_room(self.conn.principal.user_id or ""):
            self.jobs.cancel()
            self.jobs = None

    def close(self) -> None:
        if self.jobs is not None:
            self.jobs.cancel()


async def _serve(ws: WebSocket, session: Session) -> None:
    conn = session.conn

    async def reader() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            await session.handle(message.get("text"))

    async def writer() -> None:
        try:
            async for out in conn.outputs(session.hub.catch_up):
                await ws.send_text(json.dumps(frame_of(out), ensure_ascii=False))
        except ConnectionEnded as ended:
            code, reason = CLOSE_FOR.get(ended.reason, (CLOSE_GOING_AWAY, ended.reason))
            with contextlib.suppress(Exception):
                if ended.reason == "too_slow":
                    await ws.send_text(json.dumps({"type": "error", "code": "too_slow",
                                                   "message": "you fell behind; reconnect and resume"}))
                elif ended.reason == "restart":
                    await ws.send_text(json.dumps({"type": "reconnect", "code": "server_restart",
                                                   "message": "the server is restarting; reconnect and resume",
                                                   "rooms": dict(conn.floors)}))
                await ws.close(code=code, reason=reason)

    read, write = asyncio.create_task(reader()), asyncio.create_task(writer())
    ended = asyncio.create_task(conn.wait_ended())
    tasks = [read, write, ended]
    stuck = False
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if ended in done and not write.done():
            # the writer sends the close itself, unless it is stuck on a client that stopped reading
            await asyncio.wait({write}, timeout=CLOSE_GRACE_SECONDS)
            stuck = not write.done()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, Exception):
                await task
        if stuck:
            code, reason = CLOSE_FOR.get(conn.ended or "closed", (CLOSE_GOING_AWAY, "closed"))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=code, reason=reason), CLOSE_GRACE_SECONDS)


@router.websocket("/ws/{client_id}")
async def channel(ws: WebSocket, client_id: str) -> None:
    runtime: Runtime = ws.app.state.runtime
    token = ws.query_params.get("token") or ws.query_params.get("access_token")
    await ws.accept()
    try:
        principal = await resolve(runtime, AuthMode.user, token=token, client_id=None)
    except GenloomError as exc:
        await ws.close(code=CLOSE_UNAUTHORIZED, reason=exc.code)
        return
    if principal.user_id is None:
        await ws.close(code=CLOSE_UNAUTHORIZED, reason="not_authenticated")
        return
    if not CLIENT_ID.match(client_id):
        await ws.close(code=CLOSE_BAD_CLIENT, reason="invalid_client_id")
        return
    hub = hub_of(runtime)
    conn = Connection(principal, client_id, queue_size=hub.config.queue_size,
                      heartbeat=hub.config.heartbeat_seconds)
    session = Session(runtime, hub, conn)
    try:
        try:
            await hub.connect(conn)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            await ws.close(code=CLOSE_UNAVAILABLE, reason="unavailable")
            return
        await _serve(ws, session)
    finally:
        session.close()
        hub.disconnect(conn)
        with contextlib.suppress(Exception):
            await ws.close()
