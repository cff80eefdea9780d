"""One WebSocket loop for every event protocol (``/v1/ws``, cineMind's ``/ws/tasks``, …).

A connection runs two tasks: a reader that hands each client message to the protocol and sends its replies,
and a writer that pumps the hub subscription through the protocol's translation, with a heartbeat after
``heartbeat`` seconds of silence. Both send through one lock (one frame at a time). The loop ends when the
client leaves or either task fails; a subscriber the hub dropped for being slow gets the protocol's overflow
frame and close code ``TRY_AGAIN`` (1013), so it reconnects and resumes from the last event id it handled.
When the server shuts down gracefully the hub ends every subscription; the client gets the protocol's restart
frame (with the id to resume after) and close code ``SERVICE_RESTART`` (1012), and reconnects elsewhere.

A protocol only says what its frames look like; order, resume, back-pressure and cleanup are the loop's and
the hub's, the same for every protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from fastapi import WebSocket, WebSocketDisconnect

from genloom.events.subscription import SubscriberOverflow, Subscription, with_heartbeats

TRY_AGAIN = 1013  # close code: too slow, or the hub is not ready; reconnect and resume
SERVICE_RESTART = 1012  # close code: this server is shutting down; reconnect (to another) and resume


class WsProtocol(Protocol):
    async def on_message(self, raw: str | None) -> list[str]:
        """Frames to send in answer to one client message (``raw`` is None for a binary frame)."""
        ...

    async def on_event(self, event: dict[str, Any]) -> str | None:
        """The frame for one hub event, or None to send nothing."""
        ...

    def heartbeat(self) -> str: ...

    def overflow(self) -> str: ...

    def restart(self) -> str:
        """The last frame before close code 1012: reconnect and resume after ``sub.resume_id``."""
        ...


async def run(ws: WebSocket, sub: Subscription, protocol: WsProtocol, *, heartbeat: float) -> None:
    """Serve one accepted WebSocket until it ends; closes ``sub`` and the socket."""
    lock = asyncio.Lock()

    async def send(frame: str) -> None:
        async with lock:
            await ws.send_text(frame)

    async def reader() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            for frame in await protocol.on_message(message.get("text")):
                await send(frame)

    async def writer() -> None:
        try:
            async for event in with_heartbeats(sub, heartbeat):
                frame = protocol.heartbeat() if event is None else await protocol.on_event(event)
                if frame is not None:
                    await send(frame)
            if sub.restarting:
                with contextlib.suppress(Exception):
                    await send(protocol.restart())
                    await ws.close(code=SERVICE_RESTART, reason="service restart")
        except SubscriberOverflow:
            with contextlib.suppress(Exception):
                await send(protocol.overflow())
                await ws.close(code=TRY_AGAIN)

    tasks = [asyncio.create_task(reader()), asyncio.create_task(writer())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sub.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, Exception):
                await task
        with contextlib.suppress(Exception):
            await ws.close()
